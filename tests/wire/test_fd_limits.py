"""pbxd at its file descriptor limit (issue 17, item 4).

At the limit, accept(2) fails with EMFILE while the listener stays readable: pbxd
used to spin at 100% CPU and log the failure ~12 MB/s. Method: start pbxd under a
small RLIMIT_NOFILE (prlimit), open more TCP connections than the limit allows
(bounded: FLOOD) and hold them; over a HOLD-second window pbxd's CPU time (utime
+ stime from /proc/PID/stat) stays under a third of one core and its log grows
by less than LOG_BUDGET bytes; it answers OPTIONS over UDP meanwhile, and over a
new TCP connection once the flood is gone. Two ways to the limit:
- started at 256:256 with the default connection cap (8192): pbxd clamps the
  cap to its share of the limit and says so, so the flood is refused at accept;
- started at 256:4096 (so the cap is far above 256) and the limit lowered to
  256:256 while it runs: accept itself fails, and the listener must rest.
And a soft limit below the hard one is raised to it at start (/proc/PID/limits).
"""

import errno
import os
import re
import resource
import socket
import time

import pytest

from conftest import Pbxd, make_options, sip_udp_request, tcp_connect

FLOOD = 600
HOLD = 3.0
CPU_MAX = 0.3          # share of one core while the flood is held
LOG_BUDGET = 20000     # bytes the log may grow by over a whole flood
TICK = os.sysconf("SC_CLK_TCK")


@pytest.fixture(autouse=True)
def _enough_descriptors_here():
    """The flood's sockets are this process's descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = FLOOD + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"this process may hold only {hard} descriptors")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def _start(tmp_path, nofile, args=()):
    p = Pbxd(tmp_path, args=["--sip-tcp-max-per-address=100000", *args])
    # prlimit sets the limits and execs pbxd: same pid, as a service manager would
    p.argv = ["prlimit", f"--nofile={nofile}", "--"] + p.argv
    return p.start()


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def _nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no 'Max open files' in /proc/PID/limits")


def _flood(port, n):
    """n TCP connections to pbxd, opened without waiting on any of them."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        e = s.connect_ex(("127.0.0.1", port))
        assert e in (0, errno.EINPROGRESS, errno.EAGAIN), os.strerror(e)
        socks.append(s)
    return socks


def _closed_by_peer(socks):
    n = 0
    for s in socks:
        try:
            if s.recv(1) == b"":
                n += 1
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            n += 1  # reset
    return n


def _tcp_options(port, timeout=8.0):
    """Status of OPTIONS over a new TCP connection, retried until `timeout` (pbxd
    may be resting its listener for a moment after the flood)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            st = tcp_connect(port, timeout=1.0)
        except OSError:
            time.sleep(0.2)
            continue
        try:
            st.sock.sendall(make_options(port, transport="TCP").encode())
            msg = st.read_final(timeout=1.5)
            if msg is not None:
                return msg.code
        except OSError:
            pass
        finally:
            st.sock.close()
    return None


def _flood_and_measure(p):
    pid = p.proc.pid
    size0 = p.logpath.stat().st_size
    socks = _flood(p.tcp_port, FLOOD)
    try:
        time.sleep(1.0)  # pbxd takes in, refuses or sheds what it will
        cpu0, t0 = _cpu_seconds(pid), time.monotonic()
        time.sleep(HOLD)
        cpu = (_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        assert p.proc.poll() is None, f"pbxd died:\n{p.log_tail()}"
        assert cpu < CPU_MAX, f"pbxd used {cpu:.0%} of a core with the flood held:\n{p.log_tail()}"
        assert sip_udp_request(p.udp_port, make_options(p.udp_port), timeout=3) == 200
        grown = p.logpath.stat().st_size - size0
        assert grown < LOG_BUDGET, f"the log grew {grown} bytes during the flood:\n{p.log_tail()}"
        shed = _closed_by_peer(socks)
    finally:
        for s in socks:
            s.close()
    assert _tcp_options(p.tcp_port) == 200, p.log_tail()
    return shed


def test_flood_at_startup_limit_is_refused_at_the_cap(tmp_path):
    p = _start(tmp_path, "256:256")
    try:
        assert _nofile(p.proc.pid) == (256, 256)
        _flood_and_measure(p)
        log = p.log_text()
        m = re.search(r"SIP TCP connections capped at (\d+), not 8192", log)
        assert m, f"no warning about the clamped cap:\n{log}"
        assert int(m.group(1)) < 256 - 64
        assert "refused: connection limit" in log
    finally:
        p.assert_clean_exit()


def test_flood_when_accept_fails_rests_the_listener(tmp_path):
    p = _start(tmp_path, "256:4096")
    try:
        m = re.search(r"SIP TCP connections capped at (\d+)", p.log_text())
        assert not m or int(m.group(1)) > FLOOD  # so it is accept that fails, not the cap
        resource.prlimit(p.proc.pid, resource.RLIMIT_NOFILE, (256, 256))
        shed = _flood_and_measure(p)
        log = p.log_text()
        assert re.search(r"tcp accept on \S+: Too many open files; \d+ connection\(s\) closed unserved, "
                         r"retrying in \d+ ms", log), p.log_tail()
        assert "similar lines suppressed" in log
        # the spare descriptor lets pbxd close what it cannot serve, not leave it hanging
        assert shed > 0
    finally:
        p.assert_clean_exit()


def test_soft_limit_raised_to_hard(tmp_path):
    p = _start(tmp_path, "256:4096")
    try:
        assert _nofile(p.proc.pid) == (4096, 4096)
        assert "descriptor limit 4096 (raised from 256 to the hard limit)" in p.log_text()
    finally:
        p.assert_clean_exit()
