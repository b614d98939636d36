"""SIP over TLS, WebSocket and secure WebSocket (issue 14, part 1; FEATURES SIP-03,
SIP-04, SIP-05): phones register and call over each transport, pbxd reaches them
over the connection they registered on (a browser's Via and Contact name a
made-up .invalid host), and bad input on each is refused clearly while pbxd goes
on serving: bad upgrade requests (HTTP errors with a reason), frames a client
must not send (close 1002), frames and messages over 65,535 bytes (close 1009), a
TLS or WebSocket handshake that never finishes (closed at
--sip-tcp-message-timeout), garbage on the TLS port. The certificate is replaced
while a TLS phone is registered: SIGHUP makes the next handshake show the new one,
the registration and the connection in progress stay; a bad pair is refused and
the old one kept.

pbxd uses its self-signed HTTPS pair (DATA_DIR/tls/) unless --sip-tls-cert is
given; the clients here do not verify it (sipstream.client_context)."""

import itertools
import os
import signal
import socket
import ssl
import struct
import subprocess
import time

import pytest

from callua import CallUA
from conftest import Pbxd, free_port, make_options
from sipstream import SipStream, client_context, ws_frame, ws_request

DOMAIN = "pbx.local"
MESSAGE_TIMEOUT = 2  # --sip-tcp-message-timeout here: handshakes and messages must be done in it


class Pbx:
    def __init__(self, p):
        self.p = p
        self.api = p.tenant_admin()
        self.numbers = itertools.count(301)
        self.passwords = {}
        self.ids = {}

    def new_ext(self):
        ext = str(next(self.numbers))
        pw = f"tls-Secret-{ext}"
        self.ids[ext] = self.api.create_user(ext, pw)
        self.passwords[ext] = pw
        return ext

    @property
    def wss_port(self):
        return self.p.wss_port

    def port(self, transport):
        return {"UDP": self.p.udp_port, "TCP": self.p.tcp_port, "TLS": self.p.tls_port,
                "WSS": self.p.wss_port, "WS": self.ws_port}[transport]


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    ws_port = free_port(socket.SOCK_STREAM)
    p = Pbxd(tmp_path_factory.mktemp("tlsws"),
             args=[f"--sip-ws-port={ws_port}", f"--sip-tcp-message-timeout={MESSAGE_TIMEOUT}",
                   "--auth-max-failures=1000"]).start()
    try:
        x = Pbx(p)
        x.ws_port = ws_port
        yield x
    finally:
        p.assert_clean_exit()


class Phones:
    def __init__(self, pbx):
        self.pbx, self.uas = pbx, []

    def ua(self, ext, transport="UDP", register=True):
        ua = CallUA(self.pbx.port(transport), ext, self.pbx.passwords[ext], transport=transport)
        self.uas.append(ua)
        if register:
            r = ua.register()
            assert r is not None and r.code == 200, f"{ext} did not register over {transport}: {r}\n{ua.dump()}"
        return ua

    def dump(self):
        return "\n".join(ua.dump() for ua in self.uas) + "\n--- pbxd log:\n" + self.pbx.p.log_tail(60)

    def close(self):
        for ua in self.uas:
            ua.hang_up_all()
        for ua in self.uas:
            ua.close()


@pytest.fixture
def phones(pbx):
    ph = Phones(pbx)
    try:
        yield ph
    finally:
        ph.close()


def still_serves(pbx):
    """pbxd answers OPTIONS over UDP and over a new TLS and WSS connection."""
    for tp in ("TLS", "WSS"):
        s = SipStream(tp, pbx.port(tp))
        try:
            s.send(make_options(pbx.port(tp), transport=tp))
            got = s.wait_messages(1)
            assert got and got[0].startswith(b"SIP/2.0 200 "), (tp, got, pbx.p.log_tail())
        finally:
            s.close()


# --------------------------------------------------------------------------- SIP over each


@pytest.mark.parametrize("tp", ["TLS", "WS", "WSS"])
def test_options_answered_over_the_connection(pbx, tp):
    """OPTIONS over the transport: 200 on the same connection, Via kept (its
    transport named), received= added; nothing needs the Via's host."""
    s = SipStream(tp, pbx.port(tp))
    try:
        req = make_options(pbx.port(tp), transport=tp).replace(f"SIP/2.0/{tp} 127.0.0.1:",
                                                               f"SIP/2.0/{tp} abc123.invalid:", 1)
        s.send(req)
        got = s.wait_messages(1)
        assert got and got[0].startswith(b"SIP/2.0 200 "), (got, pbx.p.log_tail())
        via = [ln for ln in got[0].split(b"\r\n") if ln.lower().startswith((b"via:", b"v:"))][0]
        assert f"SIP/2.0/{tp} abc123.invalid".encode() in via and b"received=127.0.0.1" in via, via
        if tp == "TLS":
            assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        s.close()


@pytest.mark.parametrize("caller_tp,callee_tp", [("UDP", "WSS"), ("WSS", "UDP"), ("TLS", "WS"),
                                                 ("WS", "TLS"), ("WSS", "WSS")])
def test_call_between_transports(pbx, phones, caller_tp, callee_tp):
    """Phones register over their transports (the devices list says which); a call
    between them rings the callee over the connection it registered on, is
    answered, carries RTP through pbxd, and is hung up from the callee's side (a
    BYE pbxd sends over the caller's connection)."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x, caller_tp)
    b = phones.ua(y, callee_tp)
    devs = pbx.api.devices(pbx.ids[y])
    assert [d.get("transport") for d in devs] == [callee_tp.lower()], devs
    call = a.invite(y)
    assert call.challenge is not None and call.challenge.code == 407, phones.dump()
    inc = b.wait_invite()
    assert inc is not None, f"no INVITE reached {y} over {callee_tp}:\n{phones.dump()}"
    assert f"SIP/2.0/{callee_tp} ".lower() in inc.req.get("via").lower(), inc.req.get("via")
    inc.ringing()
    assert call.wait_response(180) is not None, phones.dump()
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    assert inc.wait_ack() is not None, phones.dump()
    sent = call.rtp.send(call.media(), 10, pt=0)
    assert [p.payload for p in inc.rtp.recv(10)] == sent
    r = inc.bye()
    assert r is not None and r.code == 200, phones.dump()
    assert call.wait_request("BYE") is not None, f"no BYE reached the caller over {caller_tp}:\n{phones.dump()}"


def test_ws_keepalive_and_fragments(pbx):
    """A message of CRLFs is a keep-alive ("\\r\\n\\r\\n" answered "\\r\\n"); a SIP
    message in three fragments with a ping between them is one message (the ping
    answered with its payload); binary frames carry SIP as text frames do."""
    s = SipStream("WS", pbx.ws_port)
    try:
        s.send(b"\r\n\r\n")
        assert s.wait_messages(1) == [b"\r\n"], s.messages
        req = make_options(pbx.ws_port, transport="WS").encode()
        third = len(req) // 3
        s.send_raw(ws_frame(0x1, req[:third], fin=False))
        s.send_raw(ws_frame(0x9, b"are-you-there"))
        s.send_raw(ws_frame(0x0, req[third:2 * third], fin=False))
        s.send_raw(ws_frame(0x0, req[2 * third:], fin=True))
        assert s.wait_control(0xA) == b"are-you-there", s.controls
        got = s.wait_messages(2)
        assert len(got) == 2 and got[1].startswith(b"SIP/2.0 200 "), (got, pbx.p.log_tail())
        s.send_raw(ws_frame(0x2, make_options(pbx.ws_port, transport="WS").encode()))
        got = s.wait_messages(3)
        assert len(got) == 3 and got[2].startswith(b"SIP/2.0 200 "), got
    finally:
        s.close()


def test_ws_close_handshake(pbx):
    """A close from the client is echoed with its code, then the connection ends."""
    s = SipStream("WSS", pbx.wss_port)
    try:
        s.send_raw(ws_frame(0x8, struct.pack(">H", 1000) + b"bye"))
        assert s.wait_control(0x8) == struct.pack(">H", 1000), s.controls
        assert s.wait_eof(), "pbxd kept the connection after the close handshake"
    finally:
        s.close()


# --------------------------------------------------------------------------- bad input


def _raw_upgrade(pbx, request, tp="WS"):
    s = SipStream(tp, pbx.port(tp), upgrade=False)
    try:
        s.send_raw(request)
        s.wait_eof()
        return s.buf.decode("latin-1")
    finally:
        s.close()


UPGRADES = {
    "no-sip-protocol": (ws_request(protocols="chat")[0], 400, "Sec-WebSocket-Protocol"),
    "no-protocol": (ws_request(protocols=None)[0], 400, "Sec-WebSocket-Protocol"),
    "plain-get": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426, "Upgrade: websocket"),
    "version-8": (ws_request(version="8")[0], 426, "version 13"),
    "bad-key": (ws_request(key="c2hvcnQ=")[0], 400, "Sec-WebSocket-Key"),
    "post": (ws_request()[0].replace(b"GET ", b"POST ", 1), 400, "GET"),
    "http-1.0": (ws_request()[0].replace(b"HTTP/1.1", b"HTTP/1.0", 1), 400, "HTTP/1.1"),
    "sip-not-http": (make_options(5065, transport="WS").encode(), 400, "GET"),
    "huge-head": (ws_request(extra=[f"X-Pad-{i}: " + "a" * 100 for i in range(90)])[0], 431, "8 KiB"),
}


@pytest.mark.parametrize("name", list(UPGRADES))
def test_bad_upgrade_refused_with_reason(pbx, name):
    """A bad upgrade gets an HTTP error whose body says what is wrong, then the
    connection closes; pbxd goes on serving."""
    request, status, says = UPGRADES[name]
    answer = _raw_upgrade(pbx, request)
    assert answer.startswith(f"HTTP/1.1 {status} "), (answer, pbx.p.log_tail())
    assert says in answer, answer
    assert "Content-Length:" in answer
    still_serves(pbx)


FRAMES = {
    # what a client must not send, and the close code it earns
    "unmasked": (ws_frame(0x1, b"OPTIONS", mask=False), 1002),
    "reserved-bit": (ws_frame(0x1, b"OPTIONS", rsv=4), 1002),
    "unknown-opcode": (ws_frame(0x3, b"x"), 1002),
    "fragmented-ping": (ws_frame(0x9, b"x", fin=False), 1002),
    "long-ping": (ws_frame(0x9, b"x" * 126), 1002),
    "lone-continuation": (ws_frame(0x0, b"x"), 1002),
    "new-message-inside-one": (ws_frame(0x1, b"a", fin=False) + ws_frame(0x1, b"b"), 1002),
    "frame-over-64k": (ws_frame(0x1, b"", length=70000)[:14], 1009),
    "fragments-over-64k": (b"".join(ws_frame(0x1 if i == 0 else 0x0, b"x" * 60000, fin=False)
                                    for i in range(2)), 1009),
    "one-byte-close": (ws_frame(0x8, b"x"), 1002),
}


@pytest.mark.parametrize("name", list(FRAMES))
def test_bad_frame_closes_with_code(pbx, name):
    """RFC 6455: such a frame fails the connection with a close frame naming why
    (1002 protocol error, 1009 too big), then the TCP connection ends."""
    data, code = FRAMES[name]
    s = SipStream("WSS", pbx.wss_port)
    try:
        s.send_raw(data)
        payload = s.wait_control(0x8)
        assert payload is not None and struct.unpack(">H", payload[:2])[0] == code, (payload, pbx.p.log_tail())
        assert len(payload) > 2, "the close frame says nothing of why"
        assert s.wait_eof(), "pbxd kept the connection after failing it"
    finally:
        s.close()
    still_serves(pbx)


def test_garbage_on_the_tls_port(pbx):
    """Plain SIP and random bytes on the TLS port: the handshake fails, pbxd logs
    why, closes, and goes on serving."""
    for junk in (make_options(pbx.p.tls_port, transport="TLS").encode(), os.urandom(3000)):
        s = socket.create_connection(("127.0.0.1", pbx.p.tls_port), 3)
        try:
            s.sendall(junk)
            s.settimeout(3)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout) as e:
                assert not isinstance(e, socket.timeout), "pbxd kept a connection that sent garbage"
        finally:
            s.close()
    assert "TLS handshake failed" in pbx.p.log_text()
    still_serves(pbx)


@pytest.mark.parametrize("what", ["tls-silent", "tls-half-hello", "wss-no-upgrade", "ws-half-upgrade",
                                  "ws-message-never-ends"])
def test_unfinished_handshake_or_message_is_closed(pbx, what):
    """A TLS handshake, a WebSocket upgrade or a fragmented message that never
    completes is closed --sip-tcp-message-timeout after its first byte (here 2 s),
    well before the idle timeout (600 s)."""
    closed_before = pbx.p.log_text().count("not completed in")
    if what.startswith("tls"):
        s = socket.create_connection(("127.0.0.1", pbx.p.tls_port), 3)
        if what == "tls-half-hello":
            s.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]))
    elif what == "wss-no-upgrade":
        s = client_context().wrap_socket(socket.create_connection(("127.0.0.1", pbx.p.wss_port), 3))
    else:
        s = socket.create_connection(("127.0.0.1", pbx.ws_port), 3)
        if what == "ws-half-upgrade":
            s.sendall(ws_request()[0][:40])
        else:
            st = SipStream("WS", pbx.ws_port)
            s.close()
            s = st.sock
            s.sendall(ws_frame(0x1, b"OPTIONS sip:x SIP/2.0\r\n", fin=False))
    t0 = time.monotonic()
    s.settimeout(MESSAGE_TIMEOUT + 5)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                break
    except (ConnectionResetError, ssl.SSLError, OSError):
        pass
    took = time.monotonic() - t0
    s.close()
    assert took < MESSAGE_TIMEOUT + 4, f"not closed after {took:.1f} s:\n{pbx.p.log_tail()}"
    # closed by that deadline, not by anything sooner, and said so
    assert took >= MESSAGE_TIMEOUT - 0.5, f"closed after {took:.1f} s, before the deadline:\n{pbx.p.log_tail()}"
    deadline = time.monotonic() + 2
    while pbx.p.log_text().count("not completed in") <= closed_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pbx.p.log_text().count("not completed in") == closed_before + 1, pbx.p.log_tail()


# --------------------------------------------------------------------------- the certificate


def make_pair(directory, cn):
    cert, key = directory / "sip.crt", directory / "sip.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", f"/CN={cn}", "-keyout", str(key) + ".new",
                    "-out", str(cert) + ".new"], check=True, capture_output=True, timeout=30)
    # replaced as an administrator (or certbot) does: each file at once
    os.replace(str(key) + ".new", key)
    os.replace(str(cert) + ".new", cert)
    return cert, key


def test_certificate_replaced_on_sighup(tmp_path):
    """--sip-tls-cert/--sip-tls-key files replaced, then SIGHUP: a new handshake
    shows the new certificate; the phone registered over TLS before keeps its
    connection and registration (an OPTIONS over it is answered, a call reaches
    it over it). A broken pair then is refused and the one in use stays."""
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, key = make_pair(certs, "first.example")
    p = Pbxd(tmp_path / "p", args=[f"--sip-tls-cert={cert}", f"--sip-tls-key={key}"]).start()
    uas = []
    try:
        api = p.tenant_admin()
        api.create_user("401", "tls-Secret-401")
        api.create_user("402", "tls-Secret-402")
        old = SipStream("TLS", p.tls_port)
        first = old.peer_cert()
        old.close()
        b = CallUA(p.tls_port, "402", "tls-Secret-402", transport="TLS")
        uas.append(b)
        assert b.register().code == 200, b.dump()

        make_pair(certs, "second.example")
        p.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        second = first
        while second == first and time.monotonic() < deadline:
            time.sleep(0.1)
            s = SipStream("TLS", p.tls_port)
            second = s.peer_cert()
            s.close()
        assert second != first, f"the new handshake still shows the old certificate:\n{p.log_tail()}"
        assert b"second.example" in second

        a = CallUA(p.udp_port, "401", "tls-Secret-401")
        uas.append(a)
        assert a.register().code == 200
        call = a.invite("402")
        inc = b.wait_invite()
        assert inc is not None, f"the call did not reach the TLS phone over its connection:\n{b.dump()}\n{p.log_tail()}"
        inc.answer()
        assert call.wait_final().code == 200
        assert call.bye().code == 200

        (certs / "sip.crt").write_text("not a certificate\n")
        p.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "was not reloaded" not in p.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "was not reloaded" in p.log_text(), p.log_tail()
        s = SipStream("TLS", p.tls_port)
        assert s.peer_cert() == second
        s.close()
    finally:
        for ua in uas:
            ua.hang_up_all()
            ua.close()
        p.assert_clean_exit()


def test_default_certificate_is_the_https_one(tmp_path):
    """Without --sip-tls-cert, SIP over TLS and WSS show the HTTPS certificate (the
    self-signed pair pbxd made in DATA_DIR/tls/)."""
    p = Pbxd(tmp_path).start()
    try:
        pem = (p.datadir / "tls" / "cert.pem").read_text()
        der = ssl.PEM_cert_to_DER_cert(pem)
        for tp in ("TLS", "WSS"):
            s = SipStream(tp, p.tls_port if tp == "TLS" else p.wss_port)
            assert s.peer_cert() == der, tp
            s.close()
        assert oct((p.datadir / "tls" / "key.pem").stat().st_mode & 0o777) == "0o600"
    finally:
        p.assert_clean_exit()


@pytest.mark.parametrize("tp", ["TLS", "WSS"])
def test_device_gone_when_its_connection_closes(pbx, phones, tp):
    """A device registered over TLS or WSS is reachable over that connection only:
    when it closes (a browser tab closed), the device leaves the devices list at
    once (not at its expiry), and a call to it is answered 480; registering again
    over a new connection brings it back."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x, "UDP")
    b = phones.ua(y, tp)
    assert len(pbx.api.devices(pbx.ids[y])) == 1
    b.stream.close()
    deadline = time.monotonic() + 3
    while pbx.api.devices(pbx.ids[y]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pbx.api.devices(pbx.ids[y]) == [], pbx.p.log_tail()
    assert "its connection closed" in pbx.p.log_text()
    call = a.invite(y)
    final = call.wait_final()
    assert final is not None and final.code == 480, phones.dump()
    c = phones.ua(y, tp)
    assert [d["transport"] for d in pbx.api.devices(pbx.ids[y])] == [tp.lower()]
    call = a.invite(y)
    assert c.wait_invite() is not None, phones.dump()
