<?php
// A whole nfctd session through PHP's ext/xmlrpc, sent the way pyctd's PHP frontend did:
// xmlrpc_encode_request + file_get_contents with a POST stream context + xmlrpc_decode.
// Values go out as PHP makes them: no filters as array() (<array><data/></array>) or null
// (<string/>), start/length as strings from a web form, big ints as PHP ints (ext/xmlrpc
// truncates them to 32 bits, so 3000000000 leaves as <int>-1294967296</int>).
// Usage: php session.php URL < facts   (facts: "key value" lines; see xmlrpc_interop.rs)
// Prints "ok STEP" or "FAIL STEP: why" per step; exits 1 if any step failed.

$url = $argv[1];
$facts = [];
foreach (file('php://stdin', FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
    [$k, $v] = explode(' ', trim($line), 2);
    $facts[$k] = $v;
}
$failed = 0;

function rpc($method, $params) {
    global $url;
    $ctx = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: text/xml\r\n",
        'content' => xmlrpc_encode_request($method, $params),
        'ignore_errors' => true,
    ]]);
    $raw = file_get_contents($url, false, $ctx);
    if ($raw === false) {
        throw new Exception("$method: no HTTP answer");
    }
    $v = xmlrpc_decode($raw);
    if (is_array($v) && xmlrpc_is_fault($v)) {
        return ['fault' => $v['faultCode'], 'string' => $v['faultString']];
    }
    return ['ok' => $v];
}

function step($name, $check) {
    global $failed;
    try {
        $why = $check();
    } catch (Throwable $e) {
        $why = $e->getMessage();
    }
    if ($why === null || $why === true) {
        echo "ok $name\n";
    } else {
        echo "FAIL $name: $why\n";
        $failed++;
    }
}

// A value, or why the call did not give one.
function value($answer, $method) {
    if (array_key_exists('fault', $answer)) {
        throw new Exception("$method: fault {$answer['fault']} {$answer['string']}");
    }
    return $answer['ok'];
}

function show($v) {
    return str_replace("\n", ' ', var_export($v, true));
}

// A number that may arrive as int, float (--xmlrpc-wide-int double) or string; NULL stays NULL.
function num($v) {
    if (is_int($v) || is_float($v) || (is_string($v) && is_numeric($v))) {
        return 0 + $v;
    }
    return null;
}

function row($sid, $id) {
    $v = value(rpc('view', [$sid, ['id' => (string)$id], '', '', '0', '1']), 'view');
    return $v['connections'][0] ?? null;
}

$sid = null;
step('login', function () use (&$sid) {
    $sid = value(rpc('login', []), 'login');
    return is_string($sid) && strlen($sid) >= 16 ? null : 'session id ' . show($sid);
});
if ($sid === null) {
    exit(1);
}
$total = (int)$facts['total'];

step('view_empty_array', function () use ($sid, $total) {
    $v = value(rpc('view', [$sid, array(), '', '', '0', '50']), 'view');
    if ($v['total'] !== $total) return "total " . show($v['total']) . ", want $total";
    if (!is_array($v['connections']) || count($v['connections']) !== min(50, $total)) return 'connections ' . count($v['connections']);
    if (!is_string($v['connections'][0]['id'])) return 'id is not a string';
    return null;
});
step('view_null_filters', function () use ($sid, $total) {
    $v = value(rpc('view', [$sid, null, null, null, '0', '10']), 'view');
    return $v['total'] === $total ? null : 'total ' . show($v['total']);
});
step('paging', function () use ($sid, $total) {
    $seen = [];
    for ($start = 0; $start < $total + 7; $start += 7) {
        $v = value(rpc('view', [$sid, array(), 'id', 'asc', (string)$start, '7']), 'view');
        foreach ($v['connections'] as $c) $seen[] = $c['id'];
    }
    if (count($seen) !== $total) return count($seen) . " rows over all pages, want $total";
    if (count(array_unique($seen)) !== $total) return 'pages overlap';
    return null;
});
step('read_big_mark', function () use ($sid, $facts) {
    $c = row($sid, $facts['big_mark_id']);
    $want = (int)$facts['big_mark'];
    $got = num($c['mark'] ?? null);
    return $got !== null && $got == $want ? null : 'mark ' . show($c['mark'] ?? 'no row') . ", want $want";
});
step('freeze', function () use ($sid, $total) {
    $r = value(rpc('set_autorefresh', [$sid, 0]), 'set_autorefresh');
    if ($r !== true) return 'set_autorefresh gave ' . show($r);
    $v = value(rpc('view', [$sid, array(), '', '', '0', '5']), 'view');
    if ($v['autorefresh'] !== false) return 'autorefresh ' . show($v['autorefresh']);
    if ($v['total'] !== $total) return 'frozen total ' . show($v['total']);
    if (!is_object($v['snapshot']) || ($v['snapshot']->xmlrpc_type ?? '') !== 'datetime') return 'snapshot ' . show($v['snapshot']);
    $r = value(rpc('refresh', [$sid]), 'refresh');
    if ($r !== true) return 'refresh gave ' . show($r);
    $r = value(rpc('set_autorefresh', [$sid, 1]), 'set_autorefresh');
    return $r === true ? null : 'set_autorefresh(1) gave ' . show($r);
});
step('change_mark', function () use ($sid, $facts) {
    // The id as the view gave it (a string); the mark as a PHP int: it leaves wrapped.
    $r = value(rpc('change', [$sid, 'mark', $facts['mark_id'], 3000000000]), 'change');
    if ($r !== true) return 'change gave ' . show($r);
    $got = num(row($sid, $facts['mark_id'])['mark'] ?? null);
    return $got == 3000000000 ? null : 'mark now ' . show($got);
});
step('change_mark_wrapped_32bit', function () use ($sid, $facts) {
    // What a 32-bit PHP holds for 3000000000, and the id as an int, wrapped the same way.
    $id = (int)$facts['mark_id'];
    $r = value(rpc('change', [$sid, 'mark', $id, -1294967296]), 'change');
    return $r === true ? null : 'change gave ' . show($r);
});
step('change_timeout', function () use ($sid, $facts) {
    $r = value(rpc('change', [$sid, 'timeout', $facts['timeout_id'], '3600']), 'change');
    if ($r !== true) return 'change gave ' . show($r);
    $t = num(row($sid, $facts['timeout_id'])['timeout'] ?? null);
    return $t !== null && $t > 3500 && $t <= 3600 ? null : 'timeout now ' . show($t);
});
step('kill_big_id', function () use ($sid, $facts) {
    // The id as a PHP int: above 2^31 it leaves as a negative <int>.
    $r = value(rpc('kill', [$sid, [(int)$facts['kill_id']]]), 'kill');
    if (($r['killed'] ?? null) !== 1) return 'killed ' . show($r);
    return $r['missing'] === [] ? null : 'missing ' . show($r['missing']);
});
step('kill_matching', function () use ($sid, $facts) {
    $r = value(rpc('kill_matching', [$sid, ['orig_src' => $facts['match_src'], 'proto' => 'udp']]), 'kill_matching');
    $want = (int)$facts['match_count'];
    return ($r['killed'] ?? null) === $want ? null : 'killed ' . show($r) . ", want $want";
});
step('stats', function () use ($sid) {
    $s = value(rpc('stats', [$sid]), 'stats');
    foreach (['table_size', 'table_limit', 'buckets'] as $k) {
        if (num($s[$k] ?? null) === null) return "$k " . show($s[$k] ?? 'absent');
    }
    foreach (['found', 'invalid', 'insert_failed', 'drop', 'early_drop', 'error', 'search_restart', 'clash_resolve', 'chaintoolong'] as $k) {
        if (num($s['kernel'][$k] ?? null) === null) return "kernel.$k " . show($s['kernel'][$k] ?? 'absent');
    }
    return is_bool($s['accounting'] ?? null) ? null : 'accounting ' . show($s['accounting'] ?? 'absent');
});
step('fault_bad_session', function () {
    $r = rpc('view', ['no-such-session', array(), '', '', '0', '10']);
    return ($r['fault'] ?? null) === 2 ? null : 'got ' . show($r);
});
step('fault_bad_filter_key', function () use ($sid) {
    $r = rpc('view', [$sid, ['no_such_key' => '1'], '', '', '0', '10']);
    if (($r['fault'] ?? null) !== 4) return 'got ' . show($r);
    return strpos($r['string'], 'no_such_key') !== false ? null : 'fault string ' . show($r['string']);
});
step('logout', function () use ($sid) {
    $r = value(rpc('logout', [$sid]), 'logout');
    if ($r !== true) return 'logout gave ' . show($r);
    $r = rpc('stats', [$sid]);
    return ($r['fault'] ?? null) === 2 ? null : 'after logout: ' . show($r);
});
exit($failed > 0 ? 1 : 0);
