#!/usr/bin/perl
# A whole nfctd session through Perl's RPC::XML::Client, with values as Perl makes them:
# no filters as an empty hash ({} -> <struct></struct>) or undef (<string></string>),
# numbers typed by RPC::XML's smart encoding (integers beyond 32 bits -> <i8>, numeric
# strings -> <int>), faults as RPC::XML::fault objects.
# Usage: perl session.pl URL < facts   (facts: "key value" lines; see xmlrpc_interop.rs)
# Prints "ok STEP" or "FAIL STEP: why" per step; exits 1 if any step failed.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use RPC::XML;
use RPC::XML::Client;
use Steps;

my $url = shift @ARGV or die "usage: $0 URL < facts\n";
my %facts = read_facts();
my $client = RPC::XML::Client->new($url);

# {ok => value} or {fault => code, string => text}; dies on transport errors.
sub rpc {
    my ($method, @params) = @_;
    my $r = $client->send_request($method, @params);
    die "$method: $r\n" unless ref $r;
    return { fault => $r->code, string => $r->string } if $r->is_fault;
    return { ok => $r->value };
}

sub row {
    my ($sid, $id) = @_;
    my $v = value(rpc('view', $sid, { id => "$id" }, '', '', 0, 1), 'view');
    return $v->{connections}[0];
}

my $sid;
step('login', sub {
    $sid = value(rpc('login'), 'login');
    return defined $sid && !ref $sid && length $sid >= 16 ? undef : 'session id ' . show($sid);
});
exit 1 unless defined $sid;
my $total = $facts{total};

step('view_empty_hash', sub {
    my $v = value(rpc('view', $sid, {}, '', '', 0, 50), 'view');
    return "total " . show($v->{total}) . ", want $total" unless $v->{total} == $total;
    my $n = @{ $v->{connections} };
    return "connections $n" unless $n == ($total < 50 ? $total : 50);
    return undef;
});
step('view_undef_filters', sub {
    my $v = value(rpc('view', $sid, undef, '', '', 0, 10), 'view');
    return $v->{total} == $total ? undef : 'total ' . show($v->{total});
});
step('paging', sub {
    my (@seen, %uniq);
    for (my $start = 0; $start < $total + 7; $start += 7) {
        my $v = value(rpc('view', $sid, {}, 'id', 'ASC', $start, 7), 'view');
        push @seen, map { $_->{id} } @{ $v->{connections} };
    }
    @uniq{@seen} = ();
    return scalar(@seen) . " rows over all pages, want $total" unless @seen == $total;
    return keys(%uniq) == $total ? undef : 'pages overlap';
});
step('read_big_mark', sub {
    my $c = row($sid, $facts{big_mark_id});
    my $got = $c ? $c->{mark} : undef;
    return is_num($got) && $got == $facts{big_mark} ? undef
        : 'mark ' . show($got) . ", want $facts{big_mark}";
});
step('freeze', sub {
    my $r = value(rpc('set_autorefresh', $sid, 0), 'set_autorefresh');
    return 'set_autorefresh gave ' . show($r) unless is_true($r);
    my $v = value(rpc('view', $sid, {}, '', '', 0, 5), 'view');
    return 'autorefresh ' . show($v->{autorefresh}) unless is_false($v->{autorefresh});
    return 'frozen total ' . show($v->{total}) unless $v->{total} == $total;
    return 'snapshot ' . show($v->{snapshot}) unless ($v->{snapshot} // '') =~ /^\d{8}T\d\d:\d\d:\d\d/;
    $r = value(rpc('refresh', $sid), 'refresh');
    return 'refresh gave ' . show($r) unless is_true($r);
    $r = value(rpc('set_autorefresh', $sid, 1), 'set_autorefresh');
    return is_true($r) ? undef : 'set_autorefresh(1) gave ' . show($r);
});
step('change_mark', sub {
    # The id as the view gave it (a numeric string: RPC::XML sends <i8> or <int>), the mark
    # as a Perl number (<i8>).
    my $r = value(rpc('change', $sid, 'mark', $facts{mark_id}, 3000000000), 'change');
    return 'change gave ' . show($r) unless is_true($r);
    my $got = row($sid, $facts{mark_id});
    return is_num($got->{mark}) && $got->{mark} == 3000000000 ? undef : 'mark now ' . show($got->{mark});
});
step('change_timeout', sub {
    my $r = value(rpc('change', $sid, 'timeout', $facts{timeout_id}, 3600), 'change');
    return 'change gave ' . show($r) unless is_true($r);
    my $t = row($sid, $facts{timeout_id})->{timeout};
    return is_num($t) && $t > 3500 && $t <= 3600 ? undef : 'timeout now ' . show($t);
});
step('kill_big_id', sub {
    my $r = value(rpc('kill', $sid, [ 0 + $facts{kill_id} ]), 'kill');
    return 'killed ' . show($r) unless ($r->{killed} // -1) == 1;
    return @{ $r->{missing} } == 0 ? undef : 'missing ' . show($r->{missing});
});
step('kill_matching', sub {
    my $r = value(rpc('kill_matching', $sid, { orig_src => $facts{match_src}, proto => 'udp' }),
        'kill_matching');
    return ($r->{killed} // -1) == $facts{match_count} ? undef
        : 'killed ' . show($r) . ", want $facts{match_count}";
});
step('stats', sub {
    my $s = value(rpc('stats', $sid), 'stats');
    for my $k (qw(table_size table_limit buckets)) {
        return "$k " . show($s->{$k}) unless is_num($s->{$k});
    }
    for my $k (qw(found invalid insert_failed drop early_drop error search_restart clash_resolve chaintoolong)) {
        return "kernel.$k " . show($s->{kernel}{$k}) unless is_num($s->{kernel}{$k});
    }
    return defined $s->{accounting} ? undef : 'accounting absent';
});
step('fault_bad_session', sub {
    my $r = rpc('view', 'no-such-session', {}, '', '', 0, 10);
    return ($r->{fault} // 0) == 2 ? undef : 'got ' . show($r);
});
step('fault_bad_filter_key', sub {
    my $r = rpc('view', $sid, { no_such_key => 1 }, '', '', 0, 10);
    return 'got ' . show($r) unless ($r->{fault} // 0) == 4;
    return $r->{string} =~ /no_such_key/ ? undef : 'fault string ' . show($r->{string});
});
step('logout', sub {
    my $r = value(rpc('logout', $sid), 'logout');
    return 'logout gave ' . show($r) unless is_true($r);
    $r = rpc('stats', $sid);
    return ($r->{fault} // 0) == 2 ? undef : 'after logout: ' . show($r);
});
finish();
