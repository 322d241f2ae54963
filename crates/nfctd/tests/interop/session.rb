#!/usr/bin/ruby
# A whole nfctd session through Ruby's xmlrpc gem (XMLRPC::Client), with values as Ruby makes
# them: {} -> an empty <struct> for "no filters", Integers as <i4>, Strings as <string>.
# The gem refuses to send an Integer beyond signed 32 bits ("Integer is too big!") and nil,
# so ids go out as the strings view returns and marks of 2^31 and more as decimal strings;
# it reads <i8>, so the daemon runs with its defaults. Faults come from call2 as
# XMLRPC::FaultException.
# Usage: ruby session.rb URL < facts   (facts: "key value" lines; see xmlrpc_interop.rs)
# Prints "ok STEP" or "FAIL STEP: why" per step; exits 1 if any step failed.
require 'xmlrpc/client'

url = ARGV.fetch(0) { abort "usage: #{$PROGRAM_NAME} URL < facts" }
FACTS = $stdin.each_line.map(&:split).reject(&:empty?).to_h
CLIENT = XMLRPC::Client.new2(url)
$failed = 0

# [:ok, value] or [:fault, code, string]; raises on transport errors.
def rpc(method, *params)
  ok, r = CLIENT.call2(method, *params)
  ok ? [:ok, r] : [:fault, r.faultCode, r.faultString]
end

# A value, or raises why the call did not give one.
def value(answer, method)
  raise "#{method}: fault #{answer[1]} #{answer[2]}" unless answer[0] == :ok

  answer[1]
end

# Runs the block: nil means the step passed, a String (or a raise) is why it failed.
def step(name)
  why = begin
    yield
  rescue StandardError => e
    "#{e.class}: #{e.message}"
  end
  if why.nil?
    puts "ok #{name}"
  else
    puts "FAIL #{name}: #{why}"
    $failed += 1
  end
end

def row(sid, id)
  value(rpc('view', sid, { 'id' => id }, '', '', 0, 1), 'view')['connections'][0]
end

sid = nil
step('login') do
  sid = value(rpc('login'), 'login')
  sid.is_a?(String) && sid.length >= 16 ? nil : "session id #{sid.inspect}"
end
exit 1 if sid.nil?
total = Integer(FACTS['total'])

step('view_empty_hash') do
  v = value(rpc('view', sid, {}, '', '', 0, 50), 'view')
  next "total #{v['total'].inspect}, want #{total}" unless v['total'] == total
  next "connections #{v['connections'].length}" unless v['connections'].length == [total, 50].min
  v['connections'][0]['id'].is_a?(String) ? nil : "id #{v['connections'][0]['id'].inspect}"
end
step('paging') do
  seen = []
  (0...(total + 7)).step(7) do |start|
    v = value(rpc('view', sid, {}, 'id', 'ASC', start, 7), 'view')
    seen.concat(v['connections'].map { |c| c['id'] })
  end
  next "#{seen.length} rows over all pages, want #{total}" unless seen.length == total
  seen.uniq.length == total ? nil : 'pages overlap'
end
step('read_big_mark') do
  # An <i8>, read as an Integer.
  got = row(sid, FACTS['big_mark_id'])&.fetch('mark')
  want = Integer(FACTS['big_mark'])
  got.is_a?(Integer) && got == want ? nil : "mark #{got.inspect}, want #{want}"
end
step('freeze') do
  r = value(rpc('set_autorefresh', sid, 0), 'set_autorefresh')
  next "set_autorefresh gave #{r.inspect}" unless r == true
  v = value(rpc('view', sid, {}, '', '', 0, 5), 'view')
  next "autorefresh #{v['autorefresh'].inspect}" unless v['autorefresh'] == false
  next "frozen total #{v['total'].inspect}" unless v['total'] == total
  snap = v['snapshot']
  next "snapshot #{snap.inspect}" unless snap.is_a?(XMLRPC::DateTime) && snap.year >= 2000
  r = value(rpc('refresh', sid), 'refresh')
  next "refresh gave #{r.inspect}" unless r == true
  r = value(rpc('set_autorefresh', sid, 1), 'set_autorefresh')
  r == true ? nil : "set_autorefresh(1) gave #{r.inspect}"
end
step('change_mark') do
  # The id as the view gives it (a string); the mark as a string, since the gem will not
  # send 3000000000 as an Integer.
  r = value(rpc('change', sid, 'mark', FACTS['mark_id'], '3000000000'), 'change')
  next "change gave #{r.inspect}" unless r == true
  got = row(sid, FACTS['mark_id'])&.fetch('mark')
  got == 3_000_000_000 ? nil : "mark now #{got.inspect}"
end
step('change_timeout') do
  r = value(rpc('change', sid, 'timeout', FACTS['timeout_id'], 3600), 'change')
  next "change gave #{r.inspect}" unless r == true
  t = row(sid, FACTS['timeout_id'])&.fetch('timeout')
  t.is_a?(Integer) && t > 3500 && t <= 3600 ? nil : "timeout now #{t.inspect}"
end
step('kill_big_id') do
  # The id above 2^31 as the string view returns.
  r = value(rpc('kill', sid, [FACTS['kill_id']]), 'kill')
  next "killed #{r.inspect}" unless r['killed'] == 1
  r['missing'] == [] ? nil : "missing #{r['missing'].inspect}"
end
step('kill_matching') do
  r = value(rpc('kill_matching', sid, { 'orig_src' => FACTS['match_src'], 'proto' => 'udp' }),
            'kill_matching')
  want = Integer(FACTS['match_count'])
  r['killed'] == want ? nil : "killed #{r.inspect}, want #{want}"
end
step('stats') do
  s = value(rpc('stats', sid), 'stats')
  bad = %w[table_size table_limit buckets].find { |k| !s[k].is_a?(Integer) }
  next "#{bad} #{s[bad].inspect}" if bad
  bad = %w[found invalid insert_failed drop early_drop error search_restart clash_resolve chaintoolong].find do |k|
    !s['kernel'][k].is_a?(Integer)
  end
  next "kernel.#{bad} #{s['kernel'][bad].inspect}" if bad
  [true, false].include?(s['accounting']) ? nil : "accounting #{s['accounting'].inspect}"
end
step('fault_bad_session') do
  r = rpc('view', 'no-such-session', {}, '', '', 0, 10)
  r[0] == :fault && r[1] == 2 ? nil : "got #{r.inspect}"
end
step('fault_bad_filter_key') do
  r = rpc('view', sid, { 'no_such_key' => 1 }, '', '', 0, 10)
  next "got #{r.inspect}" unless r[0] == :fault && r[1] == 4
  r[2].include?('no_such_key') ? nil : "fault string #{r[2].inspect}"
end
step('logout') do
  r = value(rpc('logout', sid), 'logout')
  next "logout gave #{r.inspect}" unless r == true
  r = rpc('stats', sid)
  r[0] == :fault && r[1] == 2 ? nil : "after logout: #{r.inspect}"
end
exit($failed.positive? ? 1 : 0)
