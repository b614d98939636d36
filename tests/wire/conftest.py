"""Wire tests of pbxd: a real pbxd process spoken to over 127.0.0.1.

Run with Debian's python (the one that sees python3-pytest), inside a private
network namespace so that nothing leaves the machine and ports never collide:

    PBXD_BIN=build/src/pbxd tools/netns-run /usr/bin/python3 -m pytest tests/wire

This file holds the fixture that starts pbxd (`pbxd`), the process wrapper the
CLI tests use directly (`Pbxd`), and small SIP helpers shared by the tests:
`sip_udp_request`/`sip_udp_exchange` (one datagram out, the final response back),
`make_request`/`make_options` (a fresh, valid request), a stream reader for
SIP over TCP (`SipStream`), and `Api`, a JSON client of the REST API
(`Pbxd.api()`, `.sysadmin()`, `.tenant_admin()`).
"""

import os
import re
import select
import signal
import socket
import sys
import subprocess
import time
import uuid
from pathlib import Path

import pytest

# tests/sipdigest.py (the digest client every suite shares) is imported from tests/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
TORTURE = SHARED / "testdata" / "sip-torture"

# How long pbxd may take to come up / go down. Generous: ASan builds are slow to start.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

ADMIN_PASSWORD = "Wire-test-1"  # what Pbxd passes as --admin-password
DEFAULT_DOMAIN = "pbx.local"    # the default tenant's SIP domain (its admin: pbxadmin)

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")


# --------------------------------------------------------------------------- netns guard

def _interfaces():
    """Network interfaces of *this* process's namespace (/proc/self/net is per netns;
    /sys/class/net is not, it shows the namespace sysfs was mounted in)."""
    names = []
    with open("/proc/self/net/dev") as f:
        for line in f.readlines()[2:]:
            names.append(line.split(":", 1)[0].strip())
    return names


def pytest_sessionstart(session):
    ifs = _interfaces()
    if ifs != ["lo"]:
        pytest.exit(
            "refusing to run the wire tests outside a private network namespace "
            f"(interfaces here: {', '.join(ifs)}). Run them as: "
            "tools/netns-run /usr/bin/python3 -m pytest tests/wire",
            returncode=3,
        )


# --------------------------------------------------------------------------- pbxd process

def pbxd_bin():
    b = os.environ.get("PBXD_BIN")
    if b:
        return str(Path(b).resolve())
    for cand in (REPO / "build" / "pbxd", REPO / "build" / "src" / "pbxd"):
        if cand.exists():
            return str(cand)
    pytest.fail("PBXD_BIN is not set and no build/pbxd exists")


def free_port(kind=socket.SOCK_DGRAM, avoid=()):
    """A port free on 127.0.0.1 for `kind`, from the kernel's ephemeral range."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in avoid:
            return port
    raise RuntimeError("no free port")


def udp_port_bound(port):
    """Whether a UDP socket of this network namespace is bound to `port` (any
    address), from /proc/net/udp and udp6; None when they cannot be read."""
    suffix = f":{port:04X}"
    seen = False
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        seen = True
        if any(len(fields) > 1 and fields[1].endswith(suffix) for fields in map(str.split, lines)):
            return True
    return False if seen else None


def free_port_both(avoid=()):
    """A port free on 127.0.0.1 for UDP and TCP at once, and the next one for TCP
    (a phone that listens on all three, as baresip's sip_listen does: SIP over TLS
    on the port after; a client connection's ephemeral port there made its TLS
    transport fail, and the phone with it)."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM, avoid)
        if port + 1 > 65535 or port + 1 in avoid:
            continue
        socks = []
        try:
            for p in (port, port + 1):
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(t)
                t.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no port free for both UDP and TCP")


def free_port_pair():
    """(udp, tcp) ports, both free, distinct."""
    u = free_port(socket.SOCK_DGRAM)
    t = free_port(socket.SOCK_STREAM, avoid=(u,))
    return u, t


class Pbxd:
    """One pbxd process. Its stdout and stderr both go to `logpath`."""

    def __init__(self, workdir, udp_port=None, tcp_port=None, args=None, ports_in_args=True):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.datadir = self.workdir / "data"
        self.logpath = self.workdir / "pbxd.log"
        if udp_port is None or tcp_port is None:
            u, t = free_port_pair()
            udp_port = udp_port or u
            tcp_port = tcp_port or t
        self.udp_port = udp_port
        self.tcp_port = tcp_port
        self.argv = [pbxd_bin(), f"--data-dir={self.datadir}"]
        self.http_port = None
        self.tls_port = self.wss_port = None
        if ports_in_args:
            self.http_port = free_port(socket.SOCK_STREAM, avoid=(udp_port, tcp_port))
            # SIP over TLS and WSS on free ports too (their defaults, 5061 and
            # 5065, would collide between two pbxd running at once)
            self.tls_port = free_port(socket.SOCK_STREAM, avoid=(udp_port, tcp_port, self.http_port))
            self.wss_port = free_port(socket.SOCK_STREAM, avoid=(udp_port, tcp_port, self.http_port,
                                                                 self.tls_port))
            self.argv += [
                "--sip-address=127.0.0.1",
                f"--sip-udp-port={udp_port}",
                f"--sip-tcp-port={tcp_port}",
                f"--sip-tls-port={self.tls_port}",
                f"--sip-wss-port={self.wss_port}",
                "--log-level=debug",
                "--sip-trace=on",
                # the REST API on its own free port, so several pbxd can run at once
                "--http-address=127.0.0.1",
                f"--http-port={self.http_port}",
                "--http-tls=off",
                f"--admin-password={ADMIN_PASSWORD}",
                # Tests send from 127.0.0.1 faster than any phone: the per-source
                # request rate has tests of its own (they set it).
                "--sip-source-rate=0",
            ]
        self.argv += list(args or [])
        self.proc = None

    def start(self, wait=True):
        self._log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        if wait:
            self.wait_ready()
        return self

    def log_text(self):
        try:
            return self.logpath.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_ready(self, port=None, timeout=START_TIMEOUT):
        """Polls with UDP OPTIONS until pbxd answers 200 (bounded). No OPTIONS is
        sent before something listens on the port: one sent earlier is lost, and
        the next would wait for the 0.3 s of the lost one's answer first."""
        port = port or self.udp_port
        deadline = time.monotonic() + timeout
        code = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"pbxd exited with {self.proc.returncode} while starting:\n"
                            f"{' '.join(self.argv)}\n{self.log_tail()}")
            if udp_port_bound(port) is False:
                time.sleep(0.01)
                continue
            code = sip_udp_request(port, make_options(port), timeout=0.3)
            if code is not None:
                break
        if code != 200:
            self.kill()
            pytest.fail(f"pbxd did not answer OPTIONS on UDP {port} within {timeout}s "
                        f"(last answer: {code}):\n{self.log_tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig`, waits (bounded) and returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"pbxd did not exit within {timeout}s of signal {sig}:\n"
                            f"{self.log_tail()}")
        self._log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def sanitizer_reports(self):
        text = self.log_text()
        return [m for m in SANITIZER_MARKERS if m in text]

    def api(self, username=None, password=ADMIN_PASSWORD, domain=None):
        """A JSON client of this pbxd's REST API (plain HTTP on 127.0.0.1), signed in
        as `username` (of `domain`) when one is given."""
        c = Api(f"http://127.0.0.1:{self.http_port}/api")
        if username:
            c.sign_in(username, password, domain)
        return c

    def sysadmin(self):
        """The REST API signed in as the system admin `admin`."""
        return self.api("admin")

    def tenant_admin(self, domain=DEFAULT_DOMAIN):
        """The REST API signed in as the default tenant's admin `pbxadmin`."""
        return self.api("pbxadmin", domain=domain)

    def assert_clean_exit(self, sig=signal.SIGTERM):
        rc = self.stop(sig)
        bad = self.sanitizer_reports()
        assert not bad, f"pbxd log has sanitizer reports {bad}:\n{self.log_tail(80)}"
        assert rc == 0, f"pbxd exited with {rc} on signal {sig}:\n{self.log_tail()}"


@pytest.fixture(scope="module")
def pbxd(tmp_path_factory):
    """A pbxd on 127.0.0.1 (free UDP and TCP ports), shared by a test module. On
    teardown: SIGTERM, exit status 0 and no sanitizer report in its log."""
    p = Pbxd(tmp_path_factory.mktemp("pbxd")).start()
    yield p
    p.assert_clean_exit()


# --------------------------------------------------------------------------- REST API

class Api:
    """A small JSON client of pbxd's REST API (python3-requests). `call` answers
    (status, parsed JSON body or None); `ok` asserts the status and returns the body.
    Sign-ins that meet 503 busy (two Argon2 checks at once) are retried."""

    def __init__(self, base, token=None):
        import requests

        self.base = base
        self.token = token
        self.http = requests.Session()

    def call(self, method, path, body=None, params=None, timeout=30):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for _ in range(50):
            r = self.http.request(method, self.base + path, json=body, params=params,
                                  headers=headers, timeout=timeout)
            if r.status_code != 503:
                break
            time.sleep(min(float(r.headers.get("Retry-After", "1")), 1.0) / 10)
        try:
            data = r.json() if r.content else None
        except ValueError:
            data = None
        return r.status_code, data

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body=body if body is not None else {}, **kw)

    def ok(self, method, path, body=None, status=None, **kw):
        code, data = self.call(method, path, body=body, **kw)
        want = status or ((200, 201, 204) if method == "POST" else (200,))
        want = want if isinstance(want, tuple) else (want,)
        assert code in want, f"{method} {path} answered {code}: {data}"
        return data

    def sign_in(self, username, password=ADMIN_PASSWORD, domain=None):
        body = {"username": username, "password": password}
        if domain:
            body["domain"] = domain
        self.token = None
        self.token = self.ok("POST", "/auth/sign_in", body, status=200)["token"]
        return self

    def create_user(self, ext, sip_password, username=None, domain=DEFAULT_DOMAIN):
        """Creates a user with extension `ext` (SIP password `sip_password`) in the
        signed-in tenant; returns its id."""
        username = username or f"u{ext}"
        body = {"username": username, "password": f"Login-pw-{ext}",
                "email": f"{username}@{domain}", "extension_number": str(ext),
                "extension_password": sip_password}
        return self.ok("POST", "/users", body, status=201)["id"]

    def devices(self, user_id):
        """The user's registered devices (GET /api/users/{id}/devices)."""
        data = self.ok("GET", f"/users/{user_id}/devices")
        assert data["count"] == len(data["items"]), data
        return data["items"]

    def bans(self):
        """Current SIP bans (GET /api/security/bans, system admin)."""
        return self.ok("GET", "/security/bans")["items"]


# --------------------------------------------------------------------------- SIP messages

def new_branch():
    return "z9hG4bK" + uuid.uuid4().hex


def make_request(method, port, transport="UDP", local_port=None, cseq=1, max_forwards=70,
                 version="SIP/2.0", call_id=None, extra=()):
    """A valid request to pbxd at 127.0.0.1:`port` with a fresh Call-ID, tag and branch.
    The Via names 127.0.0.1:`local_port` (a free port if not given), where
    sip_udp_request listens for the answer."""
    if local_port is None:
        local_port = free_port(socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM,
                               avoid=(port,))
    call_id = call_id or f"{uuid.uuid4().hex}@127.0.0.1"
    lines = [
        f"{method} sip:pbxd@127.0.0.1:{port} {version}",
        f"Via: SIP/2.0/{transport} 127.0.0.1:{local_port};branch={new_branch()};rport",
        f"Max-Forwards: {max_forwards}",
        f"From: <sip:wire-test@127.0.0.1>;tag={uuid.uuid4().hex[:12]}",
        f"To: <sip:pbxd@127.0.0.1:{port}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:wire-test@127.0.0.1:{local_port}>",
        *extra,
        "Accept: application/sdp",
        "User-Agent: pbxd-wire-tests",
        "Content-Length: 0",
    ]
    return "\r\n".join(lines) + "\r\n\r\n"


def make_options(port, **kw):
    return make_request("OPTIONS", port, **kw)


def _unfold(head):
    """Header section (bytes) to a list of (name, value) str pairs, folding undone."""
    text = head.decode("utf-8", errors="replace")
    lines = re.split(r"\r\n|\n", text)
    out = []
    for line in lines[1:]:
        if not line:
            break
        if line[0] in " \t" and out:
            out[-1][1] += " " + line.strip()
            continue
        if ":" in line:
            n, v = line.split(":", 1)
            out.append([n.strip(), v.strip()])
    return [(n, v) for n, v in out]


COMPACT = {"i": "call-id", "v": "via", "f": "from", "t": "to", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported", "e": "content-encoding",
           "s": "subject"}


class SipMsg:
    """A parsed SIP message, just enough for the tests: start line, headers by
    (long, lower-case) name, body."""

    def __init__(self, data):
        self.raw = data
        sep = re.search(rb"\r?\n\r?\n", data)
        head = data[:sep.start()] if sep else data
        self.body = data[sep.end():] if sep else b""
        self.start = re.split(rb"\r?\n", head, 1)[0].decode("utf-8", errors="replace")
        self.headers = []
        for n, v in _unfold(head):
            n = n.lower()
            self.headers.append((COMPACT.get(n, n), v))
        m = re.match(r"SIP/2\.0 (\d{3})(?: |$)", self.start)
        self.code = int(m.group(1)) if m else None

    def get(self, name):
        name = name.lower()
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n == name]

    def __str__(self):
        return self.raw.decode("utf-8", errors="replace")


def _norm(v):
    return " ".join(v.split()) if v is not None else None


def _top_via_port(req):
    """The port of the top Via's sent-by (5060 if absent), where an RFC 3261 §18.2.2
    server sends a UDP response when there is no rport."""
    via = req.get("via")
    if not via:
        return 5060
    m = re.match(r"SIP\s*/\s*[^/\s]+\s*/\s*\S+\s+(\[[^\]]*\]|[^;:,\s]+)\s*(?::\s*(\d+))?", via)
    if not m or not m.group(2):
        return 5060
    p = int(m.group(2))
    return p if 0 < p < 65536 else 5060


class _Listener:
    """Where responses to one request arrive: a UDP socket on 127.0.0.1 (the request is
    sent from it, so symmetric/rport answers come back here too), bound to the top
    Via's port when that is free, plus a best-effort TCP listener on the same port for
    a server that answers a Via of SIP/2.0/TCP over a new connection."""

    def __init__(self, via_port):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.udp.bind(("127.0.0.1", via_port))
        except OSError:
            self.udp.bind(("127.0.0.1", 0))
        port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.tcp.bind(("127.0.0.1", port))
            self.tcp.listen(8)
        except OSError:
            self.tcp.close()
            self.tcp = None
        self.conns = {}

    def close(self):
        for c in list(self.conns):
            c.close()
        if self.tcp:
            self.tcp.close()
        self.udp.close()

    def recv(self, deadline):
        """Next message received before `deadline`, or None."""
        while True:
            for c, st in self.conns.items():
                msg = st.pop()
                if msg is not None:
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            rd = [self.udp] + ([self.tcp] if self.tcp else []) + list(self.conns)
            r, _, _ = select.select(rd, [], [], left)
            for s in r:
                if s is self.udp:
                    data, _ = self.udp.recvfrom(65535)
                    return SipMsg(data)
                if s is self.tcp:
                    c, _ = self.tcp.accept()
                    self.conns[c] = SipStream(c)
                    continue
                if not self.conns[s].fill():
                    self.conns.pop(s).sock.close()


def _ack_for(req_line, resp):
    """The ACK of a non-2xx final response to an INVITE (RFC 3261 §17.1.1.3), so that
    pbxd stops retransmitting it. None if the response lacks what it needs."""
    parts = req_line.split()
    via, frm, to, cid, cseq = (resp.get(h) for h in ("via", "from", "to", "call-id", "cseq"))
    if len(parts) < 3 or not all((via, frm, to, cid, cseq)):
        return None
    num = cseq.split()[0]
    return (f"ACK {parts[1]} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {frm}\r\n"
            f"To: {to}\r\nCall-ID: {cid}\r\nCSeq: {num} ACK\r\nContent-Length: 0\r\n\r\n"
            ).encode("utf-8", errors="surrogateescape")


def sip_udp_exchange(port, text, timeout=2.0):
    """Sends `text` (str or bytes, sent byte for byte) as one UDP datagram from
    127.0.0.1 to 127.0.0.1:`port` and collects what comes back until the first final
    response that belongs to it (same Call-ID and CSeq where both sides have them;
    1xx are skipped). Returns (status code, SipMsg), or (None, None) on timeout."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    req = SipMsg(data)
    want_cid, want_cseq = _norm(req.get("call-id")), _norm(req.get("cseq"))
    lst = _Listener(_top_via_port(req))
    try:
        lst.udp.sendto(data, ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while True:
            msg = lst.recv(deadline)
            if msg is None:
                return None, None
            if msg.code is None or msg.code < 200:
                continue
            cid, cseq = _norm(msg.get("call-id")), _norm(msg.get("cseq"))
            if want_cid and cid and cid != want_cid:
                continue  # a late retransmission for an earlier request
            if want_cseq and cseq and cseq != want_cseq:
                continue
            if msg.code >= 300 and (cseq or "").upper().endswith(" INVITE"):
                ack = _ack_for(req.start, msg)
                if ack:
                    lst.udp.sendto(ack, ("127.0.0.1", port))
            return msg.code, msg
    finally:
        lst.close()


def sip_udp_request(port, text, timeout=2.0):
    """As sip_udp_exchange, but only the status code of the final response (None on
    timeout)."""
    return sip_udp_exchange(port, text, timeout)[0]


class SipStream:
    """SIP messages read from a stream socket, framed by Content-Length (RFC 3261
    §18.3). Keep-alive CRLFs between messages are collected in `pongs`."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.pongs = 0

    def fill(self):
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def pop(self):
        while self.buf.startswith(b"\r\n"):
            self.buf = self.buf[2:]
            self.pongs += 1
        sep = re.search(rb"\r\n\r\n", self.buf)
        if not sep:
            return None
        m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", self.buf[:sep.start()])
        n = int(m.group(1)) if m else 0
        end = sep.end() + n
        if len(self.buf) < end:
            return None
        msg, self.buf = SipMsg(self.buf[:end]), self.buf[end:]
        return msg

    def read_msg(self, timeout=2.0):
        """The next message, or None if none arrives within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.pop()
            if msg is not None:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if r and not self.fill():
                return self.pop()

    def read_final(self, timeout=2.0):
        """The next final (>= 200) response, skipping 1xx; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.read_msg(max(0.0, deadline - time.monotonic()))
            if msg is None or (msg.code is not None and msg.code >= 200):
                return msg

    def read_exact(self, n, timeout=2.0):
        """Exactly n raw bytes (for the keep-alive pong), or fewer on timeout."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if r and not self.fill():
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def tcp_connect(port, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return SipStream(s)
