// The perl side of a ready job (ready-job.ts tells what it is for). One line each way on the
// control socket, its descriptor 3, which the exec closes; every field is hex.
//
// warden -> perl
//   V <NAME=value>...      the job's environment (NAME alone: unset)
//   N <slot> <trigger>     the names of the variables that tell the job its slot and its start
//   A <mark> <address>...  arm: watch these slots (index = position) and take the first to free,
//                          unless the file <mark> exists (a flock process used the pool)
//   D                      disarm: stop watching (answered "d", unless a take came first)
//   G <index> <address>    take this slot now (answered B, F or L)
//   X | R                  after L: exec the job | let the slot go
// perl -> warden
//   ready <pid>            up and waiting (its pid: a wrapper's child is of no use)
//   B | F <errno>          the take found the slot held | failed
//   L <index>              bound (after G); waits for X or R
//   T <index> <trigger>    bound while armed, and the exec follows
//   M <index>              bound while armed, but let go and disarmed: a flock process may have
//                          used the pool (warden looks; perl cannot), or warden is stopped
//                          (Ctrl-Z) or gone, and must not be served behind its back
//   E <errno>              the exec failed (it exits 127); end of file without E: it happened
// A connection refused (nothing bound) is a free slot; a full queue (EAGAIN) is asked again
// after a second; a name bound but not listening (EADDRINUSE on the take) after 50 ms.
// Descriptor <slotfd> is held from the start (whatever was there, an outer job's slot, is not
// the job's), so that no socket of perl's lands on it; the exec's dup finds it free. The slot
// is non-blocking, as a slot bound by Node is.
export const READY_PERL = String.raw`
use strict; use Socket qw(AF_UNIX SOCK_STREAM pack_sockaddr_un);
use Fcntl qw(F_SETFD F_GETFL F_SETFL F_DUPFD FD_CLOEXEC O_NONBLOCK); use Errno qw(EADDRINUSE ECONNREFUSED EINTR);
use Time::HiRes ();
my ($slotfd, @argv) = @ARGV; $slotfd += 0; my $parent = getppid();
open(my $ctl, '+<&=', 3) or exit 70; fcntl($ctl, F_SETFD, FD_CLOEXEC) or exit 70;
my $hold; unless (open($hold, '<&=', $slotfd)) { open(my $null, '<', '/dev/null') or exit 70; my $fd = fcntl($null, F_DUPFD, $slotfd);
  close $null; (defined $fd && $fd == $slotfd && open($hold, '<&=', $fd)) or exit 70 }
fcntl($hold, F_SETFD, FD_CLOEXEC) or exit 70;
select($ctl); $| = 1; print "ready $$\n";
my ($buf, %env, @names, $mark, @addr, %watch, %later) = ('');
sub hex2 { pack('H*', $_[0]) }
sub setenv { my $h = shift; for (@_) { my ($k, $v) = split /=/, hex2($_), 2; if (defined $v) { $h->{$k} = $v } else { delete $h->{$k} } } }
sub line { while ($buf !~ /\n/) { my $n = sysread($ctl, $buf, 65536, length $buf); if (!defined $n) { next if $! == EINTR; exit 0 } exit 0 unless $n; } $buf =~ s/^([^\n]*)\n//; return $1; }
sub now { my $t = Time::HiRes::time(); my @g = gmtime(int $t);
  sprintf('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', $g[5] + 1900, $g[4] + 1, @g[3, 2, 1, 0], int(($t - int $t) * 1000)) }
sub stopped { return 1 if getppid() != $parent; open(my $f, '<', "/proc/$parent/stat") or return 0; my $s = <$f>; return ($s =~ /\) ([Tt]) /) ? 1 : 0 }
sub bound { my ($i) = @_; socket(my $s, AF_UNIX, SOCK_STREAM, 0) or do { print 'F ', $! + 0, "\n"; return };
  if (!bind($s, $addr[$i])) { print $! == EADDRINUSE ? "B\n" : 'F ' . ($! + 0) . "\n" if !%watch && !$mark; return }
  listen($s, 4096) or return; return $s }
sub become { my ($s, $i, $at) = @_; close $hold; fcntl($s, F_SETFL, fcntl($s, F_GETFL, 0) | O_NONBLOCK); my $fd = fcntl($s, F_DUPFD, $slotfd);
  if (!defined $fd || $fd != $slotfd) { print 'E ', ($! + 0) || 9, "\n"; exit 127 }
  %ENV = %env; $ENV{$names[0]} = $i; $ENV{$names[1]} = $at;
  exec { $argv[0] } @argv; print 'E ', $! + 0, "\n"; exit 127 }
sub disarm { close($_) for values %watch; %watch = (); %later = (); $mark = undef }
sub watch { my ($i) = @_; socket(my $w, AF_UNIX, SOCK_STREAM, 0) or return; fcntl($w, F_SETFL, fcntl($w, F_GETFL, 0) | O_NONBLOCK);
  if (connect($w, $addr[$i])) { $watch{$i} = $w } elsif ($! == ECONNREFUSED) { take($i) } else { $later{$i} = Time::HiRes::time() + 1 } }
sub take { my ($i) = @_; my $s = bound($i); if (!$s) { $later{$i} = Time::HiRes::time() + 0.05; return }
  if (-e $mark || stopped()) { close $s; disarm(); print "M $i\n"; return }
  my $at = now(); print "T $i $at\n"; become($s, $i, $at) }
sub command { my ($c, @f) = split / /, $_[0];
  if ($c eq 'V') { setenv(\%env, @f) } elsif ($c eq 'N') { @names = map { hex2($_) } @f }
  elsif ($c eq 'D') { disarm(); print "d\n" }
  elsif ($c eq 'A') { $mark = hex2(shift @f); @addr = map { pack_sockaddr_un(hex2($_)) } @f; watch($_) for 0 .. $#addr }
  elsif ($c eq 'G') { my $i = $f[0]; $addr[$i] = pack_sockaddr_un(hex2($f[1])); my $s = bound($i) or return; print "L $i\n";
    if (line() eq 'X') { become($s, $i, now()) } } }
while (1) {
  command($1) while $buf =~ s/^([^\n]*)\n//;
  my $rin = ''; vec($rin, fileno($ctl), 1) = 1; vec($rin, fileno($_), 1) = 1 for values %watch;
  my $wait; for (values %later) { my $d = $_ - Time::HiRes::time(); $wait = $d if !defined $wait || $d < $wait } $wait = 0 if defined $wait && $wait < 0;
  my $n = select(my $rout = $rin, undef, undef, $wait); if ($n < 0) { next if $! == EINTR; exit 70 }
  if ($n > 0 && vec($rout, fileno($ctl), 1)) { my $r = sysread($ctl, $buf, 65536, length $buf); if (!$r) { next if !defined $r && $! == EINTR; exit 0 } }
  for my $i (keys %watch) { next unless $n > 0 && vec($rout, fileno($watch{$i}), 1); close(delete $watch{$i}); take($i) if defined $mark }
  for my $i (keys %later) { next if $later{$i} > Time::HiRes::time(); delete $later{$i}; watch($i) if defined $mark }
}
`;
