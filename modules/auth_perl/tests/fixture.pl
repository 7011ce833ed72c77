# fixture.pl - the Perl script of the auth_perl unit tests: the user name
# picks the behaviour. $out (set by the start code) is a directory the
# helpers (nobody, when the tests run as root) may write to.
use strict;
use warnings;

our $out;
my $calls = 0;
my @leak;

sub record {
    my ($file, $line) = @_;
    open(my $fh, '>>', "$out/$file") or die "open $out/$file: $!";
    print $fh "$line\n";
    close $fh;
}

sub rss_kb {
    my $rss = 0;
    if (open(my $fh, '<', '/proc/self/status')) {
        while (<$fh>) { $rss = $1 if /^VmRSS:\s+(\d+)/ }
        close $fh;
    }
    return $rss;
}

my %simple = (
    nouser     => { result => 'NOUSER' },
    temp       => { result => 'TEMP' },
    bogus      => { result => 'MAYBE' },
    noresult   => { uid => 'nobody', gid => 'nogroup' },
    nouid      => { result => 'YES', gid => 'nogroup' },
    nogid      => { result => 'YES', uid => 'nobody' },
    ghost      => { result => 'YES', uid => '4000000000', gid => 'nogroup' },
    root       => { result => 'YES', uid => '0', gid => '0' },
    daemon     => { result => 'YES', uid => 'daemon', gid => 'daemon' },
    badmailbox => { result => 'YES', uid => 'nobody', gid => 'nogroup', mailbox => 'relative path' },
    carol      => { result => 'YES', uid => 'nobody', gid => 'nogroup',
                    mailbox => 'maildir:/srv/mail/carol/' },
    bob        => { result => 'YES', uid => '65534', gid => 'nogroup', mailbox => '/var/mail/bob',
                    mboxtype => 'bsd', domain => 'example.org', logmsg => 'bob is fine' },
);

sub pass {
    my ($r) = @_;
    $calls++;
    my $u = $r->{user};
    TPOP3D::log_print('request ' . join(' ', map {
        "$_=" . ($_ eq 'pass' ? length($r->{$_}) . 'bytes' : $r->{$_})
    } sort keys %$r));
    return $simple{$u} if exists $simple{$u};
    if ($u eq 'alice') {
        return { result => 'NO', logmsg => 'wrong password for alice' }
            unless $r->{pass} eq 'wonderland';
        return { result => 'YES', uid => 'nobody', gid => 'nogroup' };
    }
    die "database exploded\n" if $u eq 'dies';
    die "cannot check $r->{pass} today\n" if $u eq 'dies-with-password';
    return 'YES' if $u eq 'notahash';
    return undef if $u eq 'undef';
    if ($u eq 'loop') { record('looping', $$); 1 while 1; }
    if ($u eq 'huge') {
        return { result => 'YES', uid => 'nobody', gid => 'nogroup', logmsg => 'x' x (1 << 20) };
    }
    return { result => 'NO', map { ("k$_" => 1) } 1 .. 1000 } if $u eq 'manykeys';
    if ($u eq "j\xc3\xb6rg") {
        return { result => 'YES', uid => 'nobody', gid => 'nogroup', logmsg => "hallo $u" };
    }
    if ($u eq 'whoami') {
        return { result => 'NO', logmsg => "uid=$< euid=$> context=$ENV{TPOP3D_CONTEXT}" };
    }
    if ($u eq 'leak') {
        push @leak, 'x' x 20000;
        # Measured every 50th call and on the last one before recycling.
        return { result => 'NO' } if $calls % 50;
        return { result => 'NO', logmsg => 'rss_kb=' . rss_kb() . " pid=$$ calls=$calls" };
    }
    if ($u eq 'warns') { warn "careful now\n"; return { result => 'NO' } }
    if ($u eq 'level') { modpop3d::log('warning', 'a warning from perl'); return { result => 'NO' } }
    exit 3 if $u eq 'exits';
    return { result => 'NO' };
}

sub onlogin {
    my ($r) = @_;
    record('onlogin', join(' ', map { "$_=$r->{$_}" } sort keys %$r));
    return { result => 'ignored', logmsg => "welcome $r->{user}" };
}

1;
