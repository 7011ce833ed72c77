# tpop3d-auth.pl - an example auth-perl script written to tpop3d's calling
# convention; it runs unchanged under tpop3d and under modpop3d's
# auth_perl module. Load it with
#
#   tpop3d.conf:     auth-perl-start: do '/etc/tpop3d/tpop3d-auth.pl';
#                    auth-perl-pass: pass
#                    auth-perl-apop: apop
#                    auth-perl-onlogin: onlogin
#   modpop3d.conf:   [auth_perl]
#                    start: do '/etc/modpop3d/tpop3d-auth.pl';
#                    pass: pass
#                    onlogin: onlogin
#
# Each sub receives one hash reference with the request (method, user,
# local_part, domain, clienthost, serverhost, and pass or timestamp +
# digest) and returns a hash reference with the reply: result (YES or NO),
# optional logmsg, and on YES uid, gid and optionally mailbox and mboxtype.
#
# Users come from a text file, one per line:
#     login:password:uid:gid[:mailbox[:mboxtype]]
# where login is what the client types (alice, or bob@example.org), uid and
# gid are names or numbers. Lines starting with # are comments. Set
# $users_file (and $relay_file, where onlogin records "time ip user" lines
# for POP-before-SMTP) in the start code before the do to move them.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

our $users_file;
$users_file = '/etc/tpop3d/users' unless defined $users_file;
our $relay_file;

my %users;
my $loaded_mtime = -1;

sub load_users {
    my @st = stat($users_file);
    die "cannot stat $users_file: $!\n" unless @st;
    return if $st[9] == $loaded_mtime;
    open(my $fh, '<', $users_file) or die "cannot open $users_file: $!\n";
    my %u;
    while (my $line = <$fh>) {
        chomp $line;
        next if $line =~ /^\s*(#|$)/;
        my ($login, $password, $uid, $gid, $mailbox, $mboxtype) = split(/:/, $line, 6);
        next unless defined $gid;
        $u{$login} = { password => $password, uid => $uid, gid => $gid,
                       mailbox => $mailbox, mboxtype => $mboxtype };
    }
    close($fh);
    %users = %u;
    $loaded_mtime = $st[9];
    TPOP3D::log_print("loaded " . scalar(keys %u) . " users from $users_file");
}

# The login as the user typed it, or local_part@domain when only those came.
sub login_of {
    my ($req) = @_;
    return $req->{user} if defined $req->{user};
    return "$req->{local_part}\@$req->{domain}";
}

sub grant {
    my ($entry) = @_;
    my %r = (result => 'YES', uid => $entry->{uid}, gid => $entry->{gid});
    $r{mailbox} = $entry->{mailbox} if defined $entry->{mailbox} && length $entry->{mailbox};
    $r{mboxtype} = $entry->{mboxtype} if defined $entry->{mboxtype} && length $entry->{mboxtype};
    return \%r;
}

sub pass {
    my ($req) = @_;
    load_users();
    my $entry = $users{login_of($req)};
    return { result => 'NO', logmsg => 'no such user' } unless $entry;
    return { result => 'NO', logmsg => 'wrong password' } unless $req->{pass} eq $entry->{password};
    return grant($entry);
}

sub apop {
    my ($req) = @_;
    load_users();
    my $entry = $users{login_of($req)};
    return { result => 'NO' } unless $entry;
    return { result => 'NO' } unless md5_hex($req->{timestamp} . $entry->{password}) eq lc $req->{digest};
    return grant($entry);
}

sub onlogin {
    my ($req) = @_;
    return {} unless defined $relay_file;
    open(my $fh, '>>', $relay_file) or return { logmsg => "cannot open $relay_file: $!" };
    print $fh join(' ', time(), $req->{clienthost} // '-', login_of($req)), "\n";
    close($fh);
    return {};
}

1;
