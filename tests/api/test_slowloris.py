"""Slowloris against the REST API (issue 17, item 3): many connections from a few
addresses, each sending a byte of a request every second or two so that it is
never silent, must neither lock legitimate clients out nor live for ever.

Method: 16 loopback addresses (127.0.0.2..17; lo answers for all of 127/8) each
open 16 connections, the most one source may hold, 256 in all. Over HTTP each
trickles an endless header; over HTTPS half trickle after a completed handshake
and half trickle the ClientHello itself. While they are all open, GET /api/info
from 127.0.0.1 must succeed every time; and each trickling connection must be
closed by pbxd once a whole request has not arrived within the request deadline
(--http-request-timeout: 10 s by default; shorter here, see DEADLINE), although
it never went quiet for long. FEATURES: SEC-04."""
import http.client
import select
import socket
import ssl
import threading
import time

import requests

# --http-request-timeout of each test's pbxd (the default is 10 s): long enough
# for the 256 connections to be opened and the 9 legitimate requests to be served
# while all are held (over HTTPS each of those is a handshake of its own, which
# takes up to ~5 s on a busy machine), and for each trickler to send 3 bytes.
DEADLINE = {"http": 5, "https": 7}
SOURCES = [f"127.0.0.{i}" for i in range(2, 18)]
PER_SOURCE = 16  # API_HTTP_PER_ADDRESS
PERIOD = 1.5  # seconds between two bytes of one connection
SLACK = 3.5  # the sweeper's period, scheduling, an ASan build


def client_tls():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client_hello(ctx):
    """The bytes of a ClientHello, made without a socket."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class Trickler:
    """One connection sending `data` a byte at a time; notes when pbxd closes it."""

    def __init__(self, port, source, data, ctx=None):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.bind((source, 0))
        raw.settimeout(10)
        raw.connect(("127.0.0.1", port))
        self.opened = time.monotonic()
        self.sock = ctx.wrap_socket(raw) if ctx else raw
        self.data = data
        self.sent = 0
        self.last = None
        self.max_gap = 0.0
        self.closed = None  # monotonic time pbxd was seen to close it
        self.step(time.monotonic())

    def poll_closed(self, now):
        if self.closed is None:
            p = select.poll()
            p.register(self.sock.fileno(), select.POLLIN | select.POLLRDHUP)
            for _, ev in p.poll(0):
                if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                    self.closed = now
        return self.closed is not None

    def step(self, now):
        if self.poll_closed(now):
            return
        try:
            self.sock.send(self.data[self.sent % len(self.data):][:1])
        except (OSError, ssl.SSLError):
            self.closed = now
            return
        self.sent += 1
        if self.last is not None:
            self.max_gap = max(self.max_gap, now - self.last)
        self.last = now


def trickle(conns, stop):
    """Sends a byte on each connection every PERIOD seconds until stop is set
    (conns grows while this runs)."""
    while not stop.is_set():
        start = time.monotonic()
        for t in list(conns):
            t.step(time.monotonic())
        stop.wait(max(0.0, PERIOD - (time.monotonic() - start)))


def get_info(p, source):
    if p.tls:
        c = http.client.HTTPSConnection("127.0.0.1", p.port, timeout=5, source_address=(source, 0),
                                        context=client_tls())
    else:
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=5, source_address=(source, 0))
    try:
        c.request("GET", "/api/info")
        return c.getresponse().status
    finally:
        c.close()


def slowloris(p, make_conn, deadline):
    conns = []
    stop = threading.Event()
    th = threading.Thread(target=trickle, args=(conns, stop))
    th.start()
    try:
        for source in SOURCES:
            for i in range(PER_SOURCE):
                conns.append(make_conn(source, i))
        # Every connection is held and trickling: a legitimate client is served.
        for i in range(9):
            r = requests.get(p.base + "/api/info", timeout=3, verify=False)
            assert r.status_code == 200 and r.json()["product"] == "pbxd", (i, r.status_code, r.text)
            time.sleep(0.2)
        assert time.monotonic() - conns[0].opened < deadline - 0.5, "too slow to test while all are open"
        assert not any(t.closed for t in conns), "closed before the deadline"
        # ... and every trickler is closed once its deadline has passed.
        until = conns[-1].opened + deadline + SLACK
        while time.monotonic() < until and not all(t.closed for t in conns):
            time.sleep(0.2)
        stop.set()
        th.join(10)
        for t in conns:
            t.poll_closed(time.monotonic())
        late = [round(time.monotonic() - t.opened, 1) for t in conns if t.closed is None]
        assert not late, f"{len(late)} trickling connections still open after {late[:5]} s"
        for t in conns:
            assert deadline - 1 <= t.closed - t.opened <= deadline + SLACK, t.closed - t.opened
            assert t.sent >= 3 and t.max_gap < 4, (t.sent, t.max_gap)  # never silent for long
        # The attack is over: its addresses are served again.
        assert get_info(p, SOURCES[0]) == 200
    finally:
        stop.set()
        if th.is_alive():
            th.join(10)
        for t in conns:
            t.sock.close()


def test_slowloris_http(make_pbxd):
    p = make_pbxd([f"--http-request-timeout={DEADLINE['http']}"])
    header = b"GET /api/info HTTP/1.1\r\nHost: pbxd\r\n" + b"X-Slow: " + b"a" * 4000

    def conn(source, i):
        return Trickler(p.port, source, header)

    slowloris(p, conn, DEADLINE["http"])


def test_slowloris_https(make_pbxd):
    p = make_pbxd([f"--http-request-timeout={DEADLINE['https']}"], tls=True)
    ctx = client_tls()
    hello = client_hello(ctx)
    header = b"GET /api/info HTTP/1.1\r\nHost: pbxd\r\n" + b"X-Slow: " + b"a" * 4000

    def conn(source, i):
        if i % 2:
            return Trickler(p.port, source, hello)  # a handshake that never ends
        return Trickler(p.port, source, header, ctx)  # a request that never ends

    slowloris(p, conn, DEADLINE["https"])
