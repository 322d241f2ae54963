# The harness the Perl sessions share (session.pl, session_frontier.pl): the facts the test
# writes on stdin, one step at a time printed as "ok STEP" or "FAIL STEP: why", and checks
# on the values a library hands back. Nothing here speaks XML-RPC.
package Steps;
use strict;
use warnings;
use Exporter 'import';
use Data::Dumper;

our @EXPORT = qw(read_facts step finish value show is_num is_true is_false);

my $failed = 0;

# "key value" lines on stdin (see xmlrpc_interop.rs) as a hash.
sub read_facts {
    my %facts;
    while (my $line = <STDIN>) {
        chomp $line;
        next unless length $line;
        my ($k, $v) = split / /, $line, 2;
        $facts{$k} = $v;
    }
    return %facts;
}

# Runs $check: undef means the step passed, anything else (or a die) is why it failed.
sub step {
    my ($name, $check) = @_;
    my $why = eval { $check->() };
    $why = $@ if $@;
    if (!defined $why) {
        print "ok $name\n";
    } else {
        chomp $why;
        print "FAIL $name: $why\n";
        $failed++;
    }
}

# Exits 1 if any step failed, else 0.
sub finish { exit($failed ? 1 : 0) }

# The value of an answer {ok => value} or {fault => code, string => text}; dies on a fault.
sub value {
    my ($answer, $method) = @_;
    die "$method: fault $answer->{fault} $answer->{string}\n" if exists $answer->{fault};
    return $answer->{ok};
}

sub show {
    local $Data::Dumper::Indent   = 0;
    local $Data::Dumper::Terse    = 1;
    local $Data::Dumper::Sortkeys = 1;
    return Dumper($_[0]);
}

sub is_num { defined $_[0] && !ref $_[0] && $_[0] =~ /^-?\d+(?:\.\d+)?$/ }
sub is_true { my $v = shift; defined $v && !ref $v && $v eq '1' }
sub is_false { my $v = shift; defined $v && !ref $v && ($v eq '0' || $v eq '') }

1;
