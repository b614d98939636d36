"""Call events delivered to tenants (issue 12 part 3), seen from outside: real calls
between two registered python phones (callua.py) through pbxd, a webhook receiver
(python's http.server on 127.0.0.1, started and stopped by the test) and a
WebSocket client (a raw socket: handshake and frames written here).

Method: the tenant admin configures webhooks through the REST API; each test
places calls and waits, bounded, for what the receiver records (arrival time,
path, headers, JSON body). Deliveries are at least once, so every check is
"each expected event arrived", never "exactly n requests". Retries run with
--webhook-retry-max=2 so that a receiver that comes back is retried within
2 s. The delivery latency printed (`latency:`) is from the caller's BYE being
answered to the receiver reading the call_cdr, both on this process's clock.

Features: CDR-02 (call_cdr within a second of the BYE), CDR-03 (enabled: events;
disabled: none), CDR-04 (basic, bearer, hmac as configured), CDR-05 (call_start's
exact keys), CDR-24 (the WebSocket subscriber gets call_cdr; a user is refused),
CDR-25 (a registered webhook gets the event types it lists), TEN-08 (tenant
admin only)."""

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from callua import CallUA
from conftest import Pbxd, free_port

DOMAIN = "pbx.local"
START_KEYS = {"event_type", "call_id", "callee", "callee_display_name", "caller", "caller_display_name", "cdr_id",
              "direction", "session_id", "tenant_id", "time"}
CDR_KEYS = {"event_type", "answered_time", "call_id", "callee", "callee_domain", "caller", "caller_display_name",
            "caller_domain", "did_cid", "direction", "ended_reason", "ended_time", "outbound_caller_id", "ring_time",
            "session_id", "start_time", "status_code", "tenant_id", "tenant_name", "trunk_name", "user_data",
            "call_targets"}
CDR_EXTRA = {"cdr_id"}  # the engine's record carries its id, as GET /api/cdrs does
WAIT = 10.0  # bound on any delivery wait (retries every 2 s at most)


# --------------------------------------------------------------------------- receiver

class Receiver:
    """An HTTP server on 127.0.0.1:port recording every POST: (monotonic time,
    path, headers (lower-case names), raw body, parsed JSON). `status` is what it
    answers. Stoppable and restartable on the same port."""

    def __init__(self, port=None):
        self.port = port or free_port(socket.SOCK_STREAM)
        self.got = []
        self.status = 200
        self.cv = threading.Condition()
        self.srv = None

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's name)
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                try:
                    doc = json.loads(raw)
                except ValueError:
                    doc = None
                with rec.cv:
                    rec.got.append((time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()},
                                    raw, doc))
                    rec.cv.notify_all()
                self.send_response(rec.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None

    def events(self, path=None):
        with self.cv:
            return [g for g in self.got if path is None or g[1] == path]

    def wait_for(self, pred, timeout=WAIT):
        """The first recorded request for which pred(request) holds, or None."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                hit = [g for g in self.got if pred(g)]
                if hit:
                    return hit[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)


def is_event(kind, sid, path=None):
    return lambda g: g[4] and g[4].get("event_type") == kind and g[4].get("session_id") == sid and \
        (path is None or g[1] == path)


# --------------------------------------------------------------------------- pbxd, phones

class Pbx:
    def __init__(self, p):
        self.p = p
        self.api = p.tenant_admin()
        self.numbers = iter(range(201, 300))
        self.passwords = {}

    def new_ext(self, display=None):
        ext = str(next(self.numbers))
        pw = f"wh-Secret-{ext}"
        uid = self.api.create_user(ext, pw)
        if display:
            self.api.ok("POST", f"/users/{uid}", {"display_name": display}, status=200)
        self.passwords[ext] = pw
        return ext

    def hook(self, url, events=("call_start", "call_cdr"), **kw):
        body = {"name": "test", "url": url, "events": list(events), **kw}
        return self.api.ok("POST", "/tenant/webhooks", body, status=201)["id"]

    def drop_hooks(self):
        for w in self.api.ok("GET", "/tenant/webhooks")["items"]:
            self.api.ok("POST", f"/tenant/webhooks/{w['id']}/destroy", {}, status=204)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("webhooks"),
             args=["--rtp-ports=31000-31999", "--auth-max-failures=1000", "--webhook-allow-private=on",
                   "--webhook-retry-max=2", "--webhook-timeout=2"]).start()
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()


@pytest.fixture
def phones(pbx):
    uas = []

    def ua(ext, display=None):
        u = CallUA(pbx.p.udp_port, ext, pbx.passwords[ext], display=display)
        uas.append(u)
        r = u.register()
        assert r is not None and r.code == 200, f"{ext} did not register: {r}\n{u.dump()}"
        return u
    yield ua
    for u in uas:
        u.hang_up_all()
    for u in uas:
        u.close()
    pbx.drop_hooks()


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def call(pbx, a, b, y):
    """a calls y (b's extension), b answers, a hangs up. Returns (session id, the
    monotonic time the caller sent its BYE: pbxd ends the call, and emits its
    call_cdr, as the BYE arrives)."""
    c = a.invite(y)
    assert c.challenge is not None and c.challenge.code == 407, a.dump()
    inc = b.wait_invite()
    assert inc is not None, f"no INVITE reached {y}:\n{b.dump()}\n{pbx.p.log_tail()}"
    sid = inc.req.get("x-session-id").strip()
    inc.ringing()
    inc.answer()
    ok = c.wait_final()
    assert ok is not None and ok.code == 200, a.dump()
    assert inc.wait_ack() is not None, b.dump()
    t = time.monotonic()
    r = c.bye()
    assert r is not None and r.code == 200, a.dump()
    assert inc.wait_request("BYE") is not None, b.dump()
    return sid, t


def two_phones(pbx, phones):
    x, y = pbx.new_ext("Alice Caller"), pbx.new_ext("Bob Callee")
    return x, y, phones(x, "Alice Caller"), phones(y)


# --------------------------------------------------------------------------- webhooks

def test_call_events_reach_the_webhook(pbx, phones, receiver):
    """CDR-02, CDR-03, CDR-05, CDR-25: a webhook for both events; one answered call.
    call_start comes with exactly the seeds' keys (callee sip:Y@pbx.local, caller
    sip:X@pbx.local), call_cdr with the seeds' keys, both JSON POSTs naming the
    event and a delivery id, the tenant's id in both; call_cdr arrives within a
    second of the BYE. The outbox is empty afterwards (pending 0)."""
    hid = pbx.hook(receiver.url())
    x, y, a, b = two_phones(pbx, phones)
    sid, t_bye = call(pbx, a, b, y)
    start = receiver.wait_for(is_event("call_start", sid))
    cdr = receiver.wait_for(is_event("call_cdr", sid))
    assert start and cdr, f"got {[(g[1], g[4]) for g in receiver.events()]}\n{pbx.p.log_tail()}"
    latency = cdr[0] - t_bye
    print(f"latency: call_cdr reached the webhook receiver {latency * 1000:.1f} ms after the BYE was sent")
    assert latency < 1.0, latency
    s, c = start[4], cdr[4]
    assert set(s) == START_KEYS, set(s) ^ START_KEYS
    assert s["callee"] == f"sip:{y}@{DOMAIN}" and s["caller"] == f"sip:{x}@{DOMAIN}", s
    assert s["caller_display_name"] == "Alice Caller" and s["direction"] == "ext", s
    assert CDR_KEYS <= set(c) <= CDR_KEYS | CDR_EXTRA, set(c) ^ CDR_KEYS
    assert (c["caller"], c["callee"], c["ended_reason"]) == (x, y, "caller_disconnect"), c
    assert c["tenant_id"] == s["tenant_id"] and c["session_id"] == sid, (s, c)
    for g in (start, cdr):
        h = g[2]
        assert h["content-type"] == "application/json", h
        assert h["x-pbxd-event"] == g[4]["event_type"] and h["x-pbxd-delivery"].isdigit(), h
        assert "authorization" not in h and "x-pbxd-signature" not in h, h
        assert h["user-agent"].startswith("pbxd/"), h
    assert int(start[2]["x-pbxd-delivery"]) < int(cdr[2]["x-pbxd-delivery"])
    assert start[0] <= cdr[0]  # in order
    deadline = time.monotonic() + 3
    while pbx.api.ok("GET", f"/tenant/webhooks/{hid}")["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pbx.api.ok("GET", f"/tenant/webhooks/{hid}")["pending"] == 0


def test_auth_methods_and_subscriptions(pbx, phones, receiver):
    """CDR-03, CDR-04: four webhooks on one receiver (a path each): basic sends
    Authorization: Basic of its username and password, bearer its token, hmac
    X-Pbxd-Signature: sha256= the HMAC-SHA256 of the exact body with its secret;
    the one for call_cdr alone gets no call_start; a disabled one gets nothing."""
    secret = "hmac-Secret-0123456789"
    pbx.hook(receiver.url("/basic"), auth={"method": "basic", "username": "pbx-user", "password": "p4ss word!"})
    pbx.hook(receiver.url("/bearer"), auth={"method": "bearer", "token": "tok.EN-123_~+/=="})
    pbx.hook(receiver.url("/hmac"), events=["call_cdr"], auth={"method": "hmac", "secret": secret})
    pbx.hook(receiver.url("/off"), enabled=False)
    x, y, a, b = two_phones(pbx, phones)
    sid, _ = call(pbx, a, b, y)
    for path in ("/basic", "/bearer", "/hmac"):
        assert receiver.wait_for(is_event("call_cdr", sid, path)), (path, receiver.events())
    basic = receiver.wait_for(is_event("call_start", sid, "/basic"))
    bearer = receiver.wait_for(is_event("call_start", sid, "/bearer"))
    assert basic and bearer, receiver.events()
    want = "Basic " + base64.b64encode(b"pbx-user:p4ss word!").decode()
    assert basic[2]["authorization"] == want, basic[2]
    assert bearer[2]["authorization"] == "Bearer tok.EN-123_~+/==", bearer[2]
    for g in receiver.events("/hmac"):
        mac = hmac.new(secret.encode(), g[3], hashlib.sha256).hexdigest()
        assert g[2]["x-pbxd-signature"] == "sha256=" + mac, g[2]
        assert "authorization" not in g[2]
    time.sleep(0.5)  # what would still come for the others
    assert not receiver.events("/off"), receiver.events("/off")
    assert all(g[4]["event_type"] == "call_cdr" for g in receiver.events("/hmac")), receiver.events("/hmac")


def test_events_wait_for_a_receiver_that_was_down(pbx, phones):
    """At-least-once: with the receiver down, two calls' events wait in the outbox
    (pending > 0, pbxd logs the failures) and are retried; once the receiver is
    back (same port) every one of them arrives, and the outbox empties."""
    rec = Receiver()  # not started: nothing listens on its port
    hid = pbx.hook(rec.url())
    x, y, a, b = two_phones(pbx, phones)
    sids = [call(pbx, a, b, y)[0] for _ in range(2)]
    deadline = time.monotonic() + 3
    while not (pbx.api.ok("GET", f"/tenant/webhooks/{hid}")["pending"] >= 4
               and "webhooks: delivery" in pbx.p.log_text() and "failed" in pbx.p.log_text()) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pbx.api.ok("GET", f"/tenant/webhooks/{hid}")["pending"] >= 4
    assert "webhooks: delivery" in pbx.p.log_text() and "failed" in pbx.p.log_text()
    rec.start()
    try:
        for sid in sids:
            for kind in ("call_start", "call_cdr"):
                assert rec.wait_for(is_event(kind, sid)), (kind, sid, rec.events(), pbx.p.log_tail())
        deadline = time.monotonic() + 3
        while pbx.api.ok("GET", f"/tenant/webhooks/{hid}")["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pbx.api.ok("GET", f"/tenant/webhooks/{hid}")["pending"] == 0
    finally:
        rec.stop()


def test_pending_events_survive_a_restart(pbx, phones):
    """Durable outbox: the receiver is down, a call's events wait; pbxd is stopped
    (SIGTERM, clean exit; an event stream open then gets close 1001) and started
    again on the same data dir; the receiver comes back; the events that waited
    arrive, delivered by the new process. A receiver answering 500 is retried
    the same way."""
    rec = Receiver()
    hid = pbx.hook(rec.url())
    x, y, a, b = two_phones(pbx, phones)
    sid, _ = call(pbx, a, b, y)
    deadline = time.monotonic() + 3  # the call's two events wait in the outbox
    while pbx.api.ok("GET", f"/tenant/webhooks/{hid}")["pending"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pbx.api.ok("GET", f"/tenant/webhooks/{hid}")["pending"] >= 2
    ws = Ws(pbx.p.http_port, f"/api/events?token={pbx.api.token}")
    assert ws.status == 101, ws.head
    rc = pbx.p.stop()
    try:
        assert rc == 0, pbx.p.log_tail()
        assert ws.frame(timeout=2) == (8, struct.pack(">H", 1001) + b"pbxd is stopping")
    finally:
        ws.close()
        pbx.p.start()  # whatever failed above, the module's other tests have their pbxd
        pbx.api = pbx.p.tenant_admin()
    rec.status = 500
    rec.start()
    try:
        # refused (500): retried, its webhook's later events held back behind it
        assert rec.wait_for(is_event("call_start", sid)), (rec.events(), pbx.p.log_tail())
        rec.status = 200
        n = len(rec.events())
        for kind in ("call_start", "call_cdr"):
            assert rec.wait_for(lambda g, k=kind: g in rec.events()[n:] and is_event(k, sid)(g)), \
                (kind, rec.events(), pbx.p.log_tail())
    finally:
        rec.stop()
    assert "HTTP 500" in pbx.p.log_text()


# --------------------------------------------------------------------------- WebSocket

class Ws:
    """A WebSocket client over a raw socket: the RFC 6455 handshake, masked frames
    out, frames in."""

    def __init__(self, port, path, token=None, header_token=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if header_token:
            lines.append(f"Authorization: Bearer {header_token}")
        self.s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(4096)
            if not chunk:
                break
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        self.head = head.decode()
        self.status = int(self.head.split()[1])
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.accept_ok = any(line.lower().startswith("sec-websocket-accept:") and
                             line.split(":", 1)[1].strip() == want.decode() for line in self.head.split("\r\n"))

    def send(self, op, payload=b""):
        mask = os.urandom(4)
        hdr = bytes([0x80 | op])
        n = len(payload)
        hdr += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def frame(self, timeout=WAIT):
        """(opcode, payload) of the next frame (server frames are not masked)."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        op, n = self.buf[0] & 0x0f, self.buf[1] & 0x7f
        at = 2
        if n == 126:
            self._need(4, deadline)
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        assert not self.buf[1] & 0x80, "a server frame must not be masked"
        self._need(at + n, deadline)
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        return op, payload

    def event(self, pred, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            op, p = self.frame(max(0.01, deadline - time.monotonic()))
            if op == 9:
                self.send(10, p)
                continue
            assert op == 1, (op, p)
            doc = json.loads(p)
            if pred(doc):
                return doc

    def close(self):
        self.s.close()


def test_websocket_streams_the_tenants_events(pbx, phones):
    """CDR-24: a tenant admin's WebSocket at /api/events (token as ?token=, and as
    an Authorization header) is answered 101 with the right Sec-WebSocket-Accept
    and receives call_start and call_cdr of a call as text frames holding the same
    JSON as the webhooks get; a ping is answered with a pong carrying its data."""
    tok = pbx.api.token
    ws1 = Ws(pbx.p.http_port, f"/api/events?token={tok}")
    ws2 = Ws(pbx.p.http_port, "/api/events", header_token=tok)
    try:
        for ws in (ws1, ws2):
            assert ws.status == 101 and ws.accept_ok, ws.head
        ws1.send(9, b"hello")
        assert ws1.frame() == (10, b"hello")
        x, y, a, b = two_phones(pbx, phones)
        sid, t_bye = call(pbx, a, b, y)
        for ws in (ws1, ws2):
            s = ws.event(lambda d: d.get("event_type") == "call_start" and d.get("session_id") == sid)
            assert set(s) == START_KEYS, s
            c = ws.event(lambda d: d.get("event_type") == "call_cdr" and d.get("session_id") == sid)
            assert CDR_KEYS <= set(c) <= CDR_KEYS | CDR_EXTRA and c["callee"] == y, c
            if ws is ws1:
                print(f"latency: call_cdr read from the WebSocket {(time.monotonic() - t_bye) * 1000:.1f} ms"
                      " after the BYE was sent (at most: read once the BYE's 200 was in)")
        ws1.send(8, struct.pack(">H", 1000))
        op, p = ws1.frame()
        assert op == 8 and p[:2] == struct.pack(">H", 1000), (op, p)
    finally:
        ws1.close()
        ws2.close()


def test_websocket_and_webhooks_refused_to_users(pbx):
    """TEN-08, CDR-24: a user (role user) is refused 403 on the stream and on the
    webhook routes; no token or a bad one 401; a system admin not switched into the
    tenant 403; a request that is not a WebSocket handshake 426."""
    ext = pbx.new_ext()
    user = pbx.p.api(f"u{ext}", password=f"Login-pw-{ext}", domain=DOMAIN)
    ws = Ws(pbx.p.http_port, f"/api/events?token={user.token}")
    assert ws.status == 403, ws.head
    ws.close()
    assert user.get("/tenant/webhooks")[0] == 403
    assert user.post("/tenant/webhooks", {"url": "http://127.0.0.1:1/x", "events": ["call_cdr"]})[0] == 403
    for path in ("/api/events", "/api/events?token=nonsense"):
        ws = Ws(pbx.p.http_port, path)
        assert ws.status == 401, ws.head
        ws.close()
    ws = Ws(pbx.p.http_port, f"/api/events?token={pbx.p.sysadmin().token}")
    assert ws.status == 403, ws.head
    ws.close()
    assert pbx.api.get("/events")[0] == 426
