"""Client connections to pbxd for SIP over TCP, TLS, WebSocket and secure
WebSocket (RFC 7118), for the wire tests: what a phone or a browser's SIP stack
does on the wire, plus the pieces a test needs to misbehave on purpose
(ws_frame builds any frame, masked or not, fragmented or not).

    s = SipStream("WSS", p.wss_port)       # TLS handshake, then the HTTP upgrade
    s.send(b"OPTIONS sip:... SIP/2.0\\r\\n...")   # one text frame, masked
    msgs = s.wait_messages(1)              # [b"SIP/2.0 200 OK\\r\\n..."]

TLS does not verify pbxd's certificate (it is self-signed in tests); the peer's
certificate is there to compare (`peer_cert()`)."""

import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import time

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def ws_frame(op, payload=b"", mask=True, fin=True, rsv=0, length=None):
    """A WebSocket frame as a client sends it (masked) or not; `length` lies about
    the payload's length when given."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | op])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def ws_parse(buf):
    """The first server frame in buf: (fin, opcode, payload, bytes used), or None
    when it is not all there. Server frames are never masked."""
    if len(buf) < 2:
        return None
    fin, op, masked, n, at = bool(buf[0] & 0x80), buf[0] & 0x0F, bool(buf[1] & 0x80), buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack(">H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack(">Q", buf[2:10])[0], 10
    assert not masked, "pbxd sent a masked frame (RFC 6455 5.1: a server never masks)"
    if len(buf) < at + n:
        return None
    return fin, op, bytes(buf[at:at + n]), at + n


def ws_request(key=None, path="/", protocols="sip", version="13", extra=()):
    key = key or base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", f"Sec-WebSocket-Version: {version}"]
    if protocols:
        lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


def ws_accept(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


class SipStream:
    def __init__(self, kind, port, host="127.0.0.1", timeout=3.0, upgrade=True, context=None):
        self.kind, self.timeout = kind.upper(), timeout
        sock = socket.create_connection((host, port), timeout)
        if self.kind in ("TLS", "WSS"):
            sock = (context or client_context()).wrap_socket(sock)
        self.sock = sock
        self.buf = b""
        self.frag = None       # a fragmented message being put together
        self.messages = []     # SIP messages (bytes), in order
        self.controls = []     # (opcode, payload) of the control frames received
        self.closed = False    # the peer's end (EOF), or its close frame answered
        self.head = None       # the HTTP answer to the upgrade
        if self.kind in ("WS", "WSS") and upgrade:
            self.upgrade()

    @property
    def is_ws(self):
        return self.kind in ("WS", "WSS")

    def fileno(self):
        return self.sock.fileno()

    def pending(self):
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    def local(self):
        return self.sock.getsockname()

    def peer_cert(self):
        return self.sock.getpeercert(binary_form=True)

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- the upgrade

    def upgrade(self, request=None):
        """Sends the upgrade (ws_request() unless given) and reads the answer's
        head; returns its status code. Bytes after the head stay for the frames."""
        req, key = request or ws_request()
        self.sock.sendall(req)
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._read(deadline):
                break
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        self.head, self.buf = head.decode("latin-1"), rest
        self._frame()
        status = int(self.head.split(" ", 2)[1]) if self.head.startswith("HTTP/1.1 ") else None
        if status == 101:
            hdrs = {k.strip().lower(): v.strip() for k, _, v in
                    (line.partition(":") for line in self.head.split("\r\n")[1:])}
            assert hdrs.get("sec-websocket-accept") == ws_accept(key), self.head
            assert hdrs.get("sec-websocket-protocol") == "sip", self.head
        return status

    # ---- sending

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(ws_frame(0x1, data) if self.is_ws else data)

    def send_raw(self, data):
        self.sock.sendall(data)

    # ---- receiving

    def _read(self, deadline):
        """Reads what is there (waiting until deadline); False at EOF or time out."""
        if self.closed:
            return False
        if not self.pending():
            left = max(0.0, deadline - time.monotonic())
            if not select.select([self.sock], [], [], left)[0]:
                return False
        # Readable may mean a TLS record that is no data (a session ticket): the
        # read must not then wait for data, nor take the wait for an end.
        self.sock.settimeout(0.0)
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return True
        except (ssl.SSLError, OSError):
            data = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def poll(self, timeout=0.0):
        """Reads and frames what arrives within timeout (then what is already
        there); returns the new messages."""
        before = len(self.messages)
        deadline = time.monotonic() + timeout
        while self._read(deadline):
            self._frame()
            deadline = time.monotonic()
        self._frame()
        return self.messages[before:]

    def wait_messages(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.messages) < n and not self.closed:
            if not self._read(deadline):
                self._frame()
                break
            self._frame()
        return self.messages[:n]

    def wait_control(self, op, timeout=None):
        """The payload of the first control frame of opcode op received (None on
        time out or EOF first)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for o, p in self.controls:
                if o == op:
                    return p
            if not self._read(deadline):
                self._frame()
                return next((p for o, p in self.controls if o == op), None)
            self._frame()

    def wait_eof(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.closed and time.monotonic() < deadline:
            self._read(deadline)
            self._frame()
        return self.closed

    def _frame(self):
        if self.is_ws and self.head is None:
            return  # not upgraded (yet): the bytes stay raw, for a test to read
        if self.is_ws:
            while True:
                f = ws_parse(self.buf)
                if f is None:
                    return
                fin, op, payload, used = f
                self.buf = self.buf[used:]
                if op >= 0x8:
                    self.controls.append((op, payload))
                    if op == 0x9:
                        self.sock.sendall(ws_frame(0xA, payload))
                    continue
                self.frag = payload if op != 0 else (self.frag or b"") + payload
                if fin:
                    self.messages.append(self.frag)
                    self.frag = None
            return
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            clen = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() in (b"content-length", b"l"):
                    clen = int(v.strip())
            if len(rest) < clen:
                return
            self.messages.append(head + sep + rest[:clen])
            self.buf = rest[clen:]
