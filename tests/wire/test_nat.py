"""A phone behind a real NAT calling through pbxd, and called through it (issue 12),
with no NAT setting given to pbxd.

The test runs in the network namespace tools/netns-run gives it; that one is
pbxd's ("the internet side"). It makes two more, held by file descriptors (they go
away with the test process):

    phone ns                 router ns                         pbxd ns (the test's)
    nat-phone 10.77.0.2 ---- nat-lan 10.77.0.1                 pbxd   198.51.100.1
      default via .1         nat-wan 198.51.100.2 ------------ nat-pbx  (and the outside
                               MASQUERADE (UDP to 40000-49999)           phone .20)
                               no unsolicited inbound                     default via .2

The router is a plain Linux NAT: iptables MASQUERADE out of nat-wan (UDP source
ports mapped into 40000-49999, the phone's own ports being 20000-29999, so every
mapping changes the port), no SIP helper (the kernel assigns none), and its
FORWARD chain lets in from the outside only what conntrack maps to a flow the
phone started. pbxd's namespace routes everything else, the inside subnet
included, to the router (as the internet would, to no avail).

The NATed phone (callua's CallUA, its sockets made inside the phone namespace)
writes its private address everywhere a real phone does: the Via, the REGISTER's
Contact, its INVITE's and 200's Contact, its SDP's c= line. The outside phone
(198.51.100.20) is in pbxd's namespace. They call each other both ways, and each
side hangs up in turn; every time RTP must flow both ways through pbxd (payload
bytes compared), which can reach the NATed phone only by latching to where its
RTP comes from, and SIP must reach it through the flow it registered or called
from. The NATed phone also moves its media by re-INVITE (a new private port),
and two baresips (one inside, one outside; test_baresip.py's setup) call each
other both ways, each having to hear the other's tone.

pbxd must send nothing towards the inside subnet: an iptables rule in pbxd's
namespace counts packets leaving for 10.77.0.0/24 (OUTPUT chain) and must stay at
0, and a packet socket on nat-pbx keeps any such packet (with pbxd's log lines
that name the address) for the failure message.

Skipped only when the machine cannot make network namespaces or iptables cannot
be used in them (the baresip tests also when baresip is not installed). Run:

    PBXD_BIN=build/pbxd tools/netns-run /usr/bin/python3 -m pytest tests/wire/test_nat.py"""

import ctypes
import ipaddress
import itertools
import os
import re
import select
import socket
import shutil
import struct
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest

from callua import CallUA, OutgoingCall, Rtp, Sdp, answer_sdp, branch_of, cseq_of, make_sdp, method_of, uri_of
from conftest import START_TIMEOUT, Pbxd, SipMsg, make_options
from sipdigest import digest_header, md5_challenge_of

DOMAIN = "pbx.local"
PBX_IP = "198.51.100.1"        # pbxd (SIP and RTP)
ROUTER_WAN_IP = "198.51.100.2"  # the NAT's public address
OUTSIDE_IP = "198.51.100.20"   # the phone on pbxd's side
LAN_NET = "10.77.0.0/24"
ROUTER_LAN_IP = "10.77.0.1"
PHONE_IP = "10.77.0.2"         # the NATed phone's private address
NAT_PORTS = (40000, 49999)     # where the router maps UDP source ports
PHONE_PORTS = (20000, 29999)   # the phone's own ephemeral ports
RTP_MIN, RTP_MAX = 32000, 32999
API_SETTLE = 3.0
COUNT_TAG = "pbxd-nat-test-to-inside"

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


# --------------------------------------------------------------------------- namespaces

def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def new_netns():
    """A new network namespace, as an open fd of it (made by a short-lived thread
    that unshares its own network namespace: this thread's stays as it is)."""
    out = {}

    def run():
        try:
            if _libc.unshare(CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"unshare(CLONE_NEWNET): {os.strerror(e)}")
            out["fd"] = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        except OSError as e:
            out["err"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "err" in out:
        raise out["err"]
    return out["fd"]


@contextmanager
def netns(fd):
    """Runs the block with this thread in namespace `fd`: sockets made and processes
    started there belong to it (a socket keeps its namespace afterwards)."""
    if fd is None:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


def sh(cmd, ns=None, check=True):
    """Runs an argv (list) in namespace `ns` (None: this one); its output."""
    with netns(ns):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


class Capture:
    """Packets leaving through an interface towards `net` (an AF_PACKET socket on it,
    read by a thread): (src, sport, dst, dport, proto, first payload bytes)."""

    def __init__(self, ifname, net):
        self.net = ipaddress.ip_network(net)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((ifname, 0))
        self.seen = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            try:
                frame = self.sock.recv(65535)
            except OSError:
                return
            if len(frame) < 34 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            proto = ip[9]
            src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
            if ipaddress.ip_address(dst) not in self.net:
                continue
            sport = dport = None
            payload = ip[ihl:]
            if proto in (6, 17) and len(payload) >= 4:
                sport, dport = struct.unpack("!HH", payload[:4])
                payload = payload[8:] if proto == 17 else payload[20:]
            self.seen.append((src, sport, dst, dport, {6: "TCP", 17: "UDP", 1: "ICMP"}.get(proto, proto),
                              bytes(payload[:48])))

    def close(self):
        self._stop = True
        self._t.join(timeout=2)
        self.sock.close()


class Nat:
    """The three namespaces and the NAT between them (see the module docstring)."""

    def __init__(self):
        self.home = None
        self.router = self.phone = None
        self.capture = None

    def setup(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self.router = new_netns()
        self.phone = new_netns()
        r, p = self.router, self.phone
        # pbxd's side
        sh(["ip", "link", "add", "nat-pbx", "type", "veth", "peer", "name", "nat-wan"])
        subprocess.run(["ip", "link", "set", "nat-wan", "netns", f"/proc/self/fd/{r}"], check=True,
                       pass_fds=(r,), timeout=20, capture_output=True)
        sh(["ip", "addr", "add", f"{PBX_IP}/24", "dev", "nat-pbx"])
        sh(["ip", "addr", "add", f"{OUTSIDE_IP}/24", "dev", "nat-pbx"])
        sh(["ip", "link", "set", "nat-pbx", "up"])
        # the router
        sh(["ip", "link", "set", "lo", "up"], r)
        sh(["ip", "addr", "add", f"{ROUTER_WAN_IP}/24", "dev", "nat-wan"], r)
        sh(["ip", "link", "set", "nat-wan", "up"], r)
        sh(["ip", "link", "add", "nat-lan", "type", "veth", "peer", "name", "nat-phone"], r)
        with netns(r):
            subprocess.run(["ip", "link", "set", "nat-phone", "netns", f"/proc/self/fd/{p}"], check=True,
                           pass_fds=(p,), timeout=20, capture_output=True)
        sh(["ip", "addr", "add", f"{ROUTER_LAN_IP}/24", "dev", "nat-lan"], r)
        sh(["ip", "link", "set", "nat-lan", "up"], r)
        sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"], r)
        sh(["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "nat-wan", "-p", "udp", "-j", "MASQUERADE",
            "--to-ports", f"{NAT_PORTS[0]}-{NAT_PORTS[1]}"], r)
        sh(["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "nat-wan", "-j", "MASQUERADE"], r)
        sh(["iptables", "-A", "FORWARD", "-i", "nat-wan", "-o", "nat-lan", "-m", "conntrack", "--ctstate",
            "ESTABLISHED,RELATED", "-j", "ACCEPT"], r)
        sh(["iptables", "-A", "FORWARD", "-i", "nat-wan", "-o", "nat-lan", "-j", "DROP"], r)
        # the phone
        sh(["ip", "link", "set", "lo", "up"], p)
        sh(["ip", "addr", "add", f"{PHONE_IP}/24", "dev", "nat-phone"], p)
        sh(["ip", "link", "set", "nat-phone", "up"], p)
        sh(["ip", "route", "add", "default", "via", ROUTER_LAN_IP], p)
        sh(["sysctl", "-qw", f"net.ipv4.ip_local_port_range={PHONE_PORTS[0]} {PHONE_PORTS[1]}"], p)
        # pbxd's namespace: the internet is beyond the router; count what goes inside
        sh(["ip", "route", "add", "default", "via", ROUTER_WAN_IP])
        sh(["iptables", "-I", "OUTPUT", "-d", LAN_NET, "-m", "comment", "--comment", COUNT_TAG])
        self.capture = Capture("nat-pbx", LAN_NET)
        self.wait_up()

    def wait_up(self, timeout=5.0):
        """UDP from the phone reaches pbxd's side through the NAT (addresses are
        usable once duplicate address detection and the links are done)."""
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        srv.bind((OUTSIDE_IP, 0))
        with netns(self.phone):
            cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cli.bind((PHONE_IP, 0))
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    cli.sendto(b"probe", srv.getsockname())
                except OSError:
                    pass
                if select.select([srv], [], [], 0.1)[0]:
                    data, src = srv.recvfrom(100)
                    assert src[0] == ROUTER_WAN_IP, f"the NAT did not masquerade: {src}"
                    assert NAT_PORTS[0] <= src[1] <= NAT_PORTS[1], f"the NAT kept the port: {src}"
                    return
            raise RuntimeError("no UDP through the NAT")
        finally:
            srv.close()
            cli.close()

    def to_inside(self):
        """Packets pbxd's namespace sent towards the inside subnet (the OUTPUT rule's
        counter)."""
        out = sh(["iptables", "-L", "OUTPUT", "-n", "-v", "-x"])
        for line in out.splitlines():
            if COUNT_TAG in line:
                return int(line.split()[0])
        raise AssertionError(f"counting rule gone from OUTPUT:\n{out}")

    def router_dropped(self):
        """Packets the router refused to let in (not part of a mapped flow)."""
        out = sh(["iptables", "-L", "FORWARD", "-n", "-v", "-x"], self.router)
        for line in out.splitlines():
            f = line.split()
            if len(f) > 2 and f[2] == "DROP":
                return int(f[0])
        return None

    def teardown(self):
        if self.capture:
            self.capture.close()
        if self.home is not None:
            sh(["iptables", "-D", "OUTPUT", "-d", LAN_NET, "-m", "comment", "--comment", COUNT_TAG], check=False)
            sh(["ip", "link", "del", "nat-pbx"], check=False)  # its peer, addresses and routes with it
        for fd in (self.router, self.phone, self.home):
            if fd is not None:
                os.close(fd)


@pytest.fixture(scope="module")
def nat():
    try:
        probe = new_netns()
        os.close(probe)
    except OSError as e:
        pytest.skip(f"cannot make network namespaces here: {e}")
    for tool in (["ip", "-V"], ["iptables", "-V"], ["sysctl", "-V"]):
        try:
            subprocess.run(tool, capture_output=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError) as e:
            pytest.skip(f"{tool[0]} is not available: {e}")
    r = subprocess.run(["iptables", "-t", "nat", "-L", "-n"], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        pytest.skip(f"iptables (nat table) is not usable here: {r.stderr.strip()}")
    n = Nat()
    try:
        n.setup()
    except Exception:
        n.teardown()
        raise
    try:
        yield n
    finally:
        n.teardown()


# --------------------------------------------------------------------------- pbxd


def wait_ready_at(p, addr, timeout=START_TIMEOUT):
    """pbxd answers OPTIONS at addr:udp_port (sent from the outside phone's address)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((OUTSIDE_IP, 0))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.proc.poll() is not None:
                pytest.fail(f"pbxd exited with {p.proc.returncode} while starting:\n{p.log_tail()}")
            s.sendto(make_options(p.udp_port, local_port=s.getsockname()[1]).encode(), (addr, p.udp_port))
            if select.select([s], [], [], 0.3)[0]:
                if SipMsg(s.recv(65535)).code == 200:
                    return
        p.kill()
        pytest.fail(f"pbxd did not answer OPTIONS at {addr}:{p.udp_port} within {timeout}s:\n{p.log_tail()}")
    finally:
        s.close()


class Pbx:
    def __init__(self, p):
        self.p = p
        self.api = p.tenant_admin()
        self.numbers = itertools.count(301)
        self.passwords, self.ids = {}, {}

    def new_ext(self):
        ext = str(next(self.numbers))
        pw = f"nat-Secret-{ext}"
        self.ids[ext] = self.api.create_user(ext, pw)
        self.passwords[ext] = pw
        return ext


@pytest.fixture(scope="module")
def pbx(nat, tmp_path_factory):
    """pbxd on 198.51.100.1 only (SIP and RTP), no NAT setting; the REST API on
    127.0.0.1. On teardown: exit 0, no sanitizer report."""
    p = Pbxd(tmp_path_factory.mktemp("nat-pbxd"),
             args=[f"--rtp-address={PBX_IP}", f"--rtp-ports={RTP_MIN}-{RTP_MAX}"])
    p.argv = [f"--sip-address={PBX_IP}" if a.startswith("--sip-address=") else a for a in p.argv]
    p.start(wait=False)
    wait_ready_at(p, PBX_IP)
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()


# --------------------------------------------------------------------------- phones


def sip_log(p):
    """pbxd's SIP trace: [(direction 'recv'|'send', addr, port, SipMsg text)]."""
    text = p.log_text()
    out = []
    heads = list(re.finditer(r"(?m)^\S+ \w+\s+SIP (recv from|send to) (?:UDP|TCP) (\S+):(\d+) \(\d+ bytes\)$",
                             text))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[m.end() + 1:end]
        nxt = re.search(r"(?m)^\d{4}-\d\d-\d\dT\S+ \w+ ", body)  # the next log line
        out.append((m.group(1).split()[0], m.group(2).strip("[]"), int(m.group(3)),
                    body[:nxt.start()] if nxt else body))
    return out


class Phones:
    """The test's two phones: `inside` (behind the NAT, sockets in the phone
    namespace) and `outside` (pbxd's namespace), each with a fresh extension and
    registered. On teardown calls left up are ended and the UAs closed."""

    def __init__(self, pbx, nat):
        self.pbx, self.nat = pbx, nat
        self.uas = []

    def ua(self, ext, bind, ns=None):
        with netns(ns):
            ua = CallUA(self.pbx.p.udp_port, ext, self.pbx.passwords[ext], bind=bind, pbx_host=PBX_IP)
        ua.ns = ns
        self.uas.append(ua)
        r = ua.register()
        assert r is not None and r.code == 200, f"{ext} did not register: {r}\n{self.dump()}"
        return ua

    def dump(self):
        cap = "\n".join(f"  {s}:{sp} -> {d}:{dp} {pr} {pl!r}" for s, sp, d, dp, pr, pl in self.nat.capture.seen)
        return ("\n".join(ua.dump() for ua in self.uas)
                + f"\n--- packets from pbxd's namespace to {LAN_NET}: {len(self.nat.capture.seen)}\n{cap}"
                + "\n--- pbxd log:\n" + self.pbx.p.log_tail(80))

    def close(self):
        for ua in self.uas:
            with netns(ua.ns):
                ua.hang_up_all()
        for ua in self.uas:
            ua.close()


@pytest.fixture
def phones(pbx, nat):
    ph = Phones(pbx, nat)
    before = nat.to_inside()
    try:
        yield ph
        assert_nothing_inside(pbx, nat, before, ph)
    finally:
        ph.close()


def assert_nothing_inside(pbx, nat, before, phones):
    time.sleep(0.2)  # what pbxd sends last (a retransmission, RTP in flight) counts too
    sent = nat.to_inside() - before
    leaked = [(d, a, port, text.split("\r\n", 1)[0].split("\n", 1)[0]) for d, a, port, text in sip_log(pbx.p)
              if d == "send" and ipaddress.ip_address(a) in ipaddress.ip_network(LAN_NET)]
    assert sent == 0 and not leaked, \
        f"pbxd's namespace sent {sent} packet(s) towards the phone's private subnet {LAN_NET}; " \
        f"pbxd's SIP log names it in: {leaked}\n{phones.dump()}"


def place_call(ua, target, timeout=None):
    """callua's invite(), with the offer naming ua.bind (its RTP socket made in the
    UA's namespace): INVITE, 407, ACK, INVITE with credentials."""
    with netns(ua.ns):
        call = OutgoingCall(ua, target)
    call.offer = make_sdp(call.rtp.port, addr=ua.bind)
    call.local_sdp = Sdp.parse(call.offer)
    call.send_invite()
    r = ua.take(lambda m: m.code is not None and m.code > 100 and branch_of(m) == call.branch
                and cseq_of(m)[1] == "INVITE", timeout)
    if r is not None and r.code in (401, 407):
        call.challenge = r
        ch = md5_challenge_of(r.all("proxy-authenticate") + r.all("www-authenticate"))
        assert ch, f"{r.code} without an MD5 challenge:\n{r}"
        call.send_invite(digest_header(ch, ua.ext, ua.password, "INVITE", call.ruri))
    elif r is not None:
        with ua._cv:
            ua.inbox.insert(0, r)
    return call


def take_call(ua, timeout=None):
    """The next incoming call (its RTP socket made in the UA's namespace)."""
    with netns(ua.ns):
        return ua.wait_invite(timeout)


def answer(inc):
    """200 with an answer naming the UA's own address."""
    inc.answer(sdp=answer_sdp(inc.offer, inc.rtp.port, addr=inc.ua.bind))


def relay_check(src_rtp, to, dst_rtp, via, n=10, what=""):
    """src_rtp sends n packets to pbxd at `to`; all arrive at dst_rtp, payloads
    unchanged, from pbxd's `via` (its address and port of dst_rtp's side)."""
    sent = src_rtp.send(to, n)
    got = dst_rtp.recv(n)
    assert [p.payload for p in got] == sent, f"{what}: {len(got)} of {n} RTP packets arrived intact"
    assert {p.src for p in got} == {via}, f"{what}: RTP came from {set(p.src for p in got)}, not pbxd's {via}"


def check_rtp(src_leg, dst_leg, n=10, what=""):
    """RTP from one call leg's phone to the other's, through pbxd (the addresses its
    SDPs gave each)."""
    relay_check(src_leg.rtp, src_leg.media(), dst_leg.rtp, dst_leg.media(), n, what)


def pbx_sdp(sdp):
    return sdp is not None and sdp.addr == PBX_IP and RTP_MIN <= sdp.port <= RTP_MAX


def check_registered_behind_nat(pbx, ua, ext):
    """The REGISTER named the private address (Contact, Via); pbxd saw it come from
    the NAT's public address and a mapped port, and keeps both."""
    reg = [t for t in ua.trace if t[1] == ">" and t[3].startswith("REGISTER ")]
    assert reg and f"Contact: <sip:{ext}@{PHONE_IP}:{ua.lport};" in reg[-1][3], reg[-1:]
    devs = pbx.api.devices(pbx.ids[ext])
    assert len(devs) == 1, devs
    d = devs[0]
    assert d["address"] == ROUTER_WAN_IP and NAT_PORTS[0] <= d["port"] <= NAT_PORTS[1], d
    assert f"@{PHONE_IP}:{ua.lport}" in d["contact"], d
    got = [t for d_, a, port, t in sip_log(pbx.p)
           if d_ == "recv" and t.startswith("REGISTER ") and f"sip:{ext}@{PHONE_IP}:{ua.lport}" in t]
    assert got, "pbxd's log has no REGISTER naming the private Contact (a SIP helper rewrote it?)"
    return d


def check_sdp_reached_pbxd(pbx, call_id):
    """pbxd received the NATed phone's SDP naming its private address, from the
    NAT's public address (nothing on the way rewrote it)."""
    got = [(a, t) for d, a, port, t in sip_log(pbx.p)
           if d == "recv" and f"Call-ID: {call_id}" in t and f"c=IN IP4 {PHONE_IP}" in t]
    assert got and all(a == ROUTER_WAN_IP for a, _ in got), got


def wait_cdr(pbx, sid, timeout=API_SETTLE):
    deadline = time.monotonic() + timeout
    while True:
        data = pbx.api.ok("GET", "/cdrs", params={"top": 100})
        hit = [c for c in data["items"] if c.get("session_id") == sid]
        if hit or time.monotonic() > deadline:
            assert len(hit) == 1, f"want one CDR of session {sid}: {data['items'][:5]}"
            return hit[0]
        time.sleep(0.1)


# --------------------------------------------------------------------------- calls


@pytest.mark.parametrize("ender", ["inside", "outside"])
def test_natted_phone_calls_outside(pbx, nat, phones, ender):
    """The NATed phone (SDP and Contact 10.77.0.2) calls the outside one. pbxd's 200
    reaches it through the NAT; RTP: the outside phone's first packets have nowhere
    to go (pbxd must not use the private SDP address), then the NATed phone's RTP
    reaches the outside, and the outside's RTP reaches the NATed phone through the
    NAT mapping pbxd latched to. Either side hangs up; BYE reaches the other."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x, PHONE_IP, nat.phone)
    b = phones.ua(y, OUTSIDE_IP)
    check_registered_behind_nat(pbx, a, x)

    call = place_call(a, y)
    assert call.challenge is not None and call.challenge.code == 407, phones.dump()
    assert call.local_sdp.addr == PHONE_IP
    inc = take_call(b)
    assert inc is not None, f"no INVITE reached the outside phone:\n{phones.dump()}"
    assert pbx_sdp(inc.offer), inc.offer
    sid = inc.req.get("x-session-id")
    inc.ringing()
    assert call.wait_response(180) is not None, f"180 did not reach the NATed caller:\n{phones.dump()}"
    answer(inc)
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, f"200 did not reach the NATed caller:\n{phones.dump()}"
    assert ok.src == (PBX_IP, pbx.p.udp_port), ok.src
    assert pbx_sdp(call.remote_sdp), call.remote_sdp
    assert inc.wait_ack() is not None, f"the outside callee got no ACK:\n{phones.dump()}"
    check_sdp_reached_pbxd(pbx, call.call_id)

    # the outside phone talks first: pbxd has no usable address for the NATed one yet
    inc.rtp.send(inc.media(), 5)
    time.sleep(0.2)
    call.rtp.drain()
    check_rtp(call, inc, what="NATed caller -> outside callee")
    check_rtp(inc, call, what="outside callee -> NATed caller (latched)")
    s1 = call.rtp.send(call.media(), 10)
    s2 = inc.rtp.send(inc.media(), 10)
    assert [p.payload for p in inc.rtp.recv(10)] == s1, "second round, NATed -> outside"
    assert [p.payload for p in call.rtp.recv(10)] == s2, "second round, outside -> NATed"

    if ender == "inside":
        r = call.bye()
        assert r is not None and r.code == 200, f"the NATed caller's BYE: {r}\n{phones.dump()}"
        assert inc.wait_request("BYE") is not None, f"no BYE to the outside callee:\n{phones.dump()}"
    else:
        r = inc.bye()
        assert r is not None and r.code == 200, f"the outside callee's BYE: {r}\n{phones.dump()}"
        assert call.wait_request("BYE") is not None, \
            f"pbxd's BYE did not reach the NATed caller (through its flow):\n{phones.dump()}"
    cdr = wait_cdr(pbx, sid)
    assert (cdr["caller"], cdr["callee"]) == (x, y), cdr
    assert cdr["ended_reason"] == ("caller_disconnect" if ender == "inside" else "callee_disconnect"), cdr
    assert cdr["answered_time"] != "0", cdr


@pytest.mark.parametrize("ender", ["inside", "outside"])
def test_outside_phone_calls_natted(pbx, nat, phones, ender):
    """The outside phone calls the NATed one: pbxd's INVITE reaches it through the
    NAT mapping of its REGISTER (never its Contact's private address); it answers
    with a Contact and SDP of 10.77.0.2; pbxd's ACK reaches it through the NAT
    (not at that Contact). RTP both ways (the NATed phone first,
    then the outside), then either side hangs up and the BYE reaches the other."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x, PHONE_IP, nat.phone)
    b = phones.ua(y, OUTSIDE_IP)
    dev = check_registered_behind_nat(pbx, a, x)

    call = place_call(b, x)
    assert call.challenge is not None and call.challenge.code == 407, phones.dump()
    inc = take_call(a)
    assert inc is not None, f"pbxd's INVITE did not reach the NATed phone:\n{phones.dump()}"
    assert inc.src == (PBX_IP, pbx.p.udp_port), inc.src
    assert pbx_sdp(inc.offer), inc.offer
    sent_to = [(a_, port) for d, a_, port, t in sip_log(pbx.p)
               if d == "send" and t.startswith("INVITE ") and f"Call-ID: {inc.call_id}" in t]
    assert sent_to and set(sent_to) == {(ROUTER_WAN_IP, dev["port"])}, sent_to
    sid = inc.req.get("x-session-id")
    inc.ringing()
    assert call.wait_response(180) is not None, phones.dump()
    answer(inc)
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    assert pbx_sdp(call.remote_sdp), call.remote_sdp
    ack = inc.wait_ack()
    assert ack is not None, f"pbxd's ACK did not reach the NATed callee:\n{phones.dump()}"
    check_sdp_reached_pbxd(pbx, inc.call_id)

    check_rtp(inc, call, what="NATed callee -> outside caller")
    check_rtp(call, inc, what="outside caller -> NATed callee (latched)")
    s1 = inc.rtp.send(inc.media(), 10)
    s2 = call.rtp.send(call.media(), 10)
    assert [p.payload for p in call.rtp.recv(10)] == s1, "second round, NATed -> outside"
    assert [p.payload for p in inc.rtp.recv(10)] == s2, "second round, outside -> NATed"

    if ender == "outside":
        r = call.bye()
        assert r is not None and r.code == 200, f"the outside caller's BYE: {r}\n{phones.dump()}"
        bye = inc.wait_request("BYE")
        assert bye is not None, f"pbxd's BYE did not reach the NATed callee:\n{phones.dump()}"
        assert bye.start.split()[1] == uri_of(a.contact()), bye.start  # its Contact, sent to its flow
    else:
        r = inc.bye()
        assert r is not None and r.code == 200, f"the NATed callee's BYE: {r}\n{phones.dump()}"
        assert call.wait_request("BYE") is not None, f"no BYE to the outside caller:\n{phones.dump()}"
    cdr = wait_cdr(pbx, sid)
    assert (cdr["caller"], cdr["callee"]) == (y, x), cdr
    assert cdr["ended_reason"] == ("caller_disconnect" if ender == "outside" else "callee_disconnect"), cdr


def test_natted_phone_moves_its_media(pbx, nat, phones):
    """The NATed caller moves its media mid-call (a re-INVITE whose SDP names a new
    port at its private address, as a phone that opens new RTP sockets on resume
    does): pbxd cannot use that address, but the re-INVITE came from the phone's
    NAT address, so the first packet from a new port there takes the latch at once
    (struct media_hint's move_from): nothing is lost, RTP flows both ways at the
    new port, and nothing is sent inside."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x, PHONE_IP, nat.phone)
    b = phones.ua(y, OUTSIDE_IP)
    call = place_call(a, y)
    inc = take_call(b)
    assert inc is not None, phones.dump()
    answer(inc)
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    assert inc.wait_ack() is not None, phones.dump()
    check_rtp(call, inc, what="NATed -> outside")
    check_rtp(inc, call, what="outside -> NATed")

    with netns(nat.phone):
        moved = Rtp(PHONE_IP)
    try:
        branch = call.request("INVITE", extra=[f"Contact: {a.contact()}"],
                              body=make_sdp(moved.port, addr=PHONE_IP))
        num = call.local_cseq
        inv = b.take(lambda m: method_of(m) == "INVITE" and m.get("call-id") == inc.call_id)
        assert inv is not None, f"the re-INVITE did not reach the outside phone:\n{phones.dump()}"
        assert pbx_sdp(Sdp.parse(inv.body)), inv.body
        with b._cv:
            st = b._stsx[(branch_of(inv), "INVITE")]
            b._respond(st, 200, body=make_sdp(inc.rtp.port, addr=OUTSIDE_IP))
        fin = a.wait_response(branch, "INVITE")
        assert fin is not None and fin.code == 200, f"the re-INVITE's 200 did not reach the NATed phone:\n" \
                                                     f"{phones.dump()}"
        call.request("ACK", cseq=num)
        assert b.take(lambda m: method_of(m) == "ACK" and m.get("call-id") == inc.call_id) is not None, \
            phones.dump()

        dest = (Sdp.parse(fin.body).addr, Sdp.parse(fin.body).port)
        sent = moved.send(dest, 10)
        got = [p.payload for p in inc.rtp.recv(10, timeout=1.0)]
        assert got == sent, \
            f"after the move, {len(got)} of 10 packets from the NATed phone's new port reached the outside"
        relay_check(inc.rtp, inc.media(), moved, dest, what="outside -> NATed phone's new port")
        assert call.rtp.recv(1, timeout=0.2) == [], "RTP still went to the old port after the move"
    finally:
        moved.close()
    r = call.bye()
    assert r is not None and r.code == 200, phones.dump()


# --------------------------------------------------------------------------- baresip behind the NAT


@pytest.mark.parametrize("caller", ["inside", "outside"])
def test_baresip_behind_nat(pbx, nat, phones, tmp_path, caller):
    """Real phones: a baresip behind the NAT (10.77.0.2, its SDP and Contact private)
    and one outside (198.51.100.20) call each other through pbxd, each playing its
    own tone (test_baresip.py's setup); each must hear the other's tone and not its
    own, the RTP each gets must come from pbxd's address and ports, and pbxd must
    send nothing towards the inside (checked as for every test here). The caller
    hangs up after a few seconds."""
    import test_baresip as tb

    exe, mods = shutil.which("baresip"), tb.module_dir()
    if not exe or not mods:
        pytest.skip(f"baresip or its modules {', '.join(tb.MODULES)} are not installed")
    x, y = pbx.new_ext(), pbx.new_ext()
    with netns(nat.phone):
        inside = tb.Baresip((exe, mods), tmp_path / "inside", x, pbx.passwords[x], pbx.p.udp_port,
                            tb.FREQ["caller" if caller == "inside" else "callee"], "PCMU", addr=PHONE_IP,
                            pbx_host=PBX_IP, rtp_ports=(21000, 21999))
    outside = None
    try:
        outside = tb.Baresip((exe, mods), tmp_path / "outside", y, pbx.passwords[y], pbx.p.udp_port,
                             tb.FREQ["caller" if caller == "outside" else "callee"], "PCMU", addr=OUTSIDE_IP,
                             pbx_host=PBX_IP)
        both = (inside, outside)

        def dump():
            return "\n".join(b.log_tail() for b in both) + "\n" + phones.dump()

        deadline = time.monotonic() + 10
        while True:
            di, do = pbx.api.devices(pbx.ids[x]), pbx.api.devices(pbx.ids[y])
            if di and do:
                break
            assert time.monotonic() < deadline, f"not both registered ({di}, {do}):\n{dump()}"
            time.sleep(0.1)
        # a real phone behind NAT: its Contact names its private address, pbxd saw the NAT's
        assert di[0]["address"] == ROUTER_WAN_IP and NAT_PORTS[0] <= di[0]["port"] <= NAT_PORTS[1], di
        assert f"@{PHONE_IP}:{inside.sip_port}" in di[0]["contact"], di
        assert do[0]["address"] == OUTSIDE_IP and do[0]["port"] == outside.sip_port, do

        a, b = (inside, outside) if caller == "inside" else (outside, inside)
        callee_ext = y if caller == "inside" else x
        r = a.ctrl.command("dial", f"sip:{callee_ext}@{DOMAIN}")
        assert r.get("ok"), f"dial refused: {r}\n{dump()}"
        ea = a.ctrl.wait_event("CALL_ESTABLISHED", timeout=10)
        eb = b.ctrl.wait_event("CALL_ESTABLISHED", timeout=10)
        assert ea is not None and eb is not None, f"call not established ({ea}, {eb}):\n{dump()}"
        time.sleep(tb.TALK)
        assert pbx.p.proc.poll() is None, f"pbxd died:\n{pbx.p.log_tail(80)}"
        assert a.ctrl.command("hangup").get("ok")
        ca, cb = a.ctrl.wait_event("CALL_CLOSED", timeout=5), b.ctrl.wait_event("CALL_CLOSED", timeout=5)
        assert ca is not None and cb is not None, f"call not closed on both sides ({ca}, {cb}):\n{dump()}"
        for p in both:
            p.stop()
        tb.check_sent(a, tb.FREQ["caller"], dump)
        tb.check_sent(b, tb.FREQ["callee"], dump)
        tb.check_heard(a, tb.FREQ["callee"], tb.FREQ["caller"], dump)
        tb.check_heard(b, tb.FREQ["caller"], tb.FREQ["callee"], dump)
        for p in both:
            tb.check_anchored(p, PBX_IP, RTP_MIN, RTP_MAX)
        got = [t for d, a_, port, t in sip_log(pbx.p)
               if d == "recv" and a_ == ROUTER_WAN_IP and f"c=IN IP4 {PHONE_IP}" in t]
        assert got, f"pbxd never got the inside baresip's SDP naming {PHONE_IP} (rewritten on the way?)"
    finally:
        for p in (inside, outside):
            if p is not None:
                p.stop()


def test_nothing_sent_inside_in_all(pbx, nat):
    """Over the whole module, pbxd's namespace sent nothing towards the inside subnet,
    and the router had to refuse nothing coming in (everything pbxd sent the NATed
    phone belonged to a flow the phone had opened)."""
    assert nat.to_inside() == 0, nat.capture.seen
    assert nat.capture.seen == []
    dropped = nat.router_dropped()
    assert dropped == 0, f"the NAT refused {dropped} packet(s) from outside (to unmapped ports)"
