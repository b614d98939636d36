"""A SIP user agent for calls, for the call engine's wire tests (issue 12): one UDP
socket per UA (a phone), digest REGISTER, outgoing calls that answer pbxd's 407,
incoming calls answered with 100/180/183/200 or an error, BYE and CANCEL both
ways, and a small RTP endpoint per call.

    a = CallUA(p.udp_port, "101", "pw-101", display="Alice")
    b = CallUA(p.udp_port, "102", "pw-102")
    assert a.register().code == 200 and b.register().code == 200
    call = a.invite("102")                  # INVITE, 407, ACK, INVITE with credentials
    inc = b.wait_invite()                   # pbxd's INVITE (the UA sent 100 Trying)
    inc.ringing(); inc.answer()             # 180, 200 with SDP (retransmitted until ACK)
    assert call.wait_final().code == 200    # the UA ACKed it
    assert inc.wait_ack() is not None
    assert call.bye().code == 200
    assert inc.wait_request("BYE")          # the UA answered it 200
    a.close(); b.close()

What a phone's SIP stack does by itself is done by a thread per UA, so that it
happens while a test waits on something else: 100 Trying to a new INVITE, the last
response again to a retransmitted request, 2xx (and non-2xx) finals to an INVITE
retransmitted until their ACK (RFC 3261 13.3.1.4, 17.2.1), the ACK of a non-2xx
final (17.1.1.3), the ACK of a 2xx (13.2.2.4; again for each retransmitted 2xx),
200 and 487 for a CANCEL of a ringing INVITE (9.2), 200 for a BYE of a dialog it
has (481 otherwise) and 200 for OPTIONS. Everything else arriving is kept in an
inbox that tests take from with bounded waits; every datagram in and out is kept
in `trace` (`dump()` formats it for assertion messages). Retransmissions are
traced but not put in the inbox.

Over UDP requests go to pbxd (127.0.0.1:pbx_port), in-dialog requests to the
dialog's first Route or remote target. With transport="TCP", "TLS", "WS" or "WSS"
the UA opens one connection to pbx_port (sipstream.SipStream) and everything goes
over it, as for a phone behind NAT or a browser; WS and WSS write a made-up
.invalid host in Via and Contact, as RFC 7118 has browsers do. Nothing here waits longer than the timeout
given (3 s by default).
"""

import re
import secrets
import select
import socket
import struct
import threading
import time
from collections import namedtuple

from conftest import SipMsg
from sipstream import SipStream
from sipdigest import digest_header, md5_challenge_of

DOMAIN = "pbx.local"
T1, T2 = 0.5, 4.0          # RFC 3261 timers (s)
RETRANSMIT_FOR = 64 * T1   # Timer H / 13.3.1.4: a final is retransmitted this long at most

REASONS = {100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 183: "Session Progress",
           200: "OK", 404: "Not Found", 480: "Temporarily Unavailable",
           481: "Call/Transaction Does Not Exist",
           486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 600: "Busy Everywhere",
           603: "Decline"}


# --------------------------------------------------------------------------- header helpers

def new_branch():
    return "z9hG4bK" + secrets.token_hex(10)


def new_tag():
    return secrets.token_hex(6)


def param(value, name):
    """The value of ;name=... in a header value (None if absent)."""
    m = re.search(r";\s*" + re.escape(name) + r"\s*=\s*([^;,>\s]+)", value or "", re.I)
    return m.group(1) if m else None


def tag_of(value):
    """The tag of a From/To value (outside the <...>), or None."""
    if not value:
        return None
    return param(value[value.rfind(">") + 1:] if ">" in value else value, "tag")


def uri_of(value):
    """The URI of a name-addr (<...>) or addr-spec header value."""
    if value is None:
        return None
    m = re.search(r"<([^>]*)>", value)
    return m.group(1) if m else value.split(";")[0].strip()


def display_of(value):
    """The display name of a From/To value ('' if none), quotes removed."""
    m = re.match(r'\s*"((?:[^"\\]|\\.)*)"\s*<', value or "")
    if m:
        return m.group(1)
    m = re.match(r"\s*([^<\"]*?)\s*<", value or "")
    return m.group(1) if m else ""


def hostport_of(uri, default_port=5060):
    """(host, port) of a sip: URI."""
    m = re.match(r"sips?:(?:[^@]*@)?(\[[^\]]*\]|[^:;>?]+)(?::(\d+))?", uri or "", re.I)
    if not m:
        return None, None
    return m.group(1), int(m.group(2)) if m.group(2) else default_port


def split_values(values):
    """Header values, each possibly a comma list of <...> entries, as single entries."""
    out = []
    for v in values:
        out += [p.strip() for p in re.findall(r'(?:[^,"<]|"[^"]*"|<[^>]*>)+', v) if p.strip()]
    return out


def method_of(msg):
    return None if msg.code is not None else msg.start.split(" ", 1)[0]


def cseq_of(msg):
    """(number, method) of a message's CSeq."""
    parts = (msg.get("cseq") or "0 ?").split()
    return int(parts[0]) if parts[0].isdigit() else 0, parts[-1].upper()


def branch_of(msg):
    return param(msg.get("via"), "branch")


def _is_ip(host):
    try:
        socket.inet_aton(host)
        return host.count(".") == 3
    except OSError:
        return False


# --------------------------------------------------------------------------- SDP

STATIC_PTS = {0: "PCMU/8000", 3: "GSM/8000", 4: "G723/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000"}


class Sdp:
    """The first audio stream of an SDP body: `addr` (c=, media level over session
    level), `port`, `pts` (payload types in m= order), `rtpmap` {pt: 'PCMU/8000'}
    (static types filled in when not given), `direction`."""

    def __init__(self, text):
        self.text = text
        self.addr, self.port, self.proto, self.pts = None, None, None, []
        self.rtpmap, self.fmtp, self.direction = {}, {}, "sendrecv"
        in_audio, seen_m = False, False
        for line in re.split(r"\r?\n", text):
            if line.startswith("m="):
                parts = line[2:].split()
                in_audio = not seen_m and parts[0] == "audio"
                seen_m = True
                if in_audio:
                    self.port, self.proto = int(parts[1]), parts[2]
                    self.pts = [int(p) for p in parts[3:] if p.isdigit()]
            elif line.startswith("c=") and (in_audio or not seen_m):
                self.addr = line.split()[-1].split("/")[0]
            elif in_audio and line.startswith("a=rtpmap:"):
                pt, name = line[9:].split(None, 1)
                self.rtpmap[int(pt)] = name.strip()
            elif in_audio and line.startswith("a=fmtp:"):
                pt, f = (line[7:].split(None, 1) + [""])[:2]
                self.fmtp[int(pt)] = f.strip()
            elif in_audio and line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive"):
                self.direction = line[2:]
        for pt in self.pts:
            if pt not in self.rtpmap and pt in STATIC_PTS:
                self.rtpmap[pt] = STATIC_PTS[pt]

    @classmethod
    def parse(cls, body):
        """An Sdp of a message body (bytes or str), or None when there is no audio m=."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        if "m=" not in text:
            return None
        s = cls(text)
        return s if s.port is not None else None

    def codecs(self):
        """The encoding names in m= order, e.g. ['PCMU', 'PCMA', 'telephone-event']."""
        return [self.rtpmap.get(pt, "?").split("/")[0] for pt in self.pts]

    def pt_of(self, name):
        for pt in self.pts:
            if self.rtpmap.get(pt, "").split("/")[0].lower() == name.lower():
                return pt
        return None

    def __repr__(self):
        return f"Sdp({self.addr}:{self.port} {self.pts} {self.direction})"


DEFAULT_CODECS = ((0, "PCMU/8000"), (8, "PCMA/8000"), (101, "telephone-event/8000"))


def make_sdp(port, codecs=DEFAULT_CODECS, addr="127.0.0.1", direction="sendrecv"):
    """An SDP body for one audio stream; `codecs`: (payload type, 'NAME/clock')."""
    sess = secrets.randbelow(10**9)
    lines = ["v=0", f"o=callua {sess} {sess} IN IP4 {addr}", "s=callua", f"c=IN IP4 {addr}", "t=0 0",
             f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt, _ in codecs)}"]
    for pt, name in codecs:
        lines.append(f"a=rtpmap:{pt} {name}")
        if name.startswith("telephone-event/"):
            lines.append(f"a=fmtp:{pt} 0-16")
    lines += ["a=ptime:20", f"a={direction}"]
    return "\r\n".join(lines) + "\r\n"


def answer_sdp(offer, port, accept=("PCMU", "PCMA", "telephone-event"), addr="127.0.0.1"):
    """An answer to `offer` (Sdp): the offered codecs named in `accept`, with the
    offer's payload types and order (RFC 3264 6.1)."""
    acc = [a.lower() for a in accept]
    codecs = [(pt, offer.rtpmap[pt]) for pt in offer.pts
              if pt in offer.rtpmap and offer.rtpmap[pt].split("/")[0].lower() in acc]
    return make_sdp(port, codecs or [(0, "PCMU/8000")], addr)


# --------------------------------------------------------------------------- RTP

RtpPacket = namedtuple("RtpPacket", "pt marker seq ts ssrc payload src")


class Rtp:
    """One RTP endpoint: a UDP socket on `bind`. `send` sends G.711-sized packets
    (160 bytes every 20 ms of timestamp) whose payloads carry this endpoint's
    pattern and the sequence number, so that what arrives can be compared byte for
    byte with `sent`; `recv` collects packets (RTCP is skipped)."""

    def __init__(self, bind="127.0.0.1", pattern=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, 0))
        self.addr, self.port = self.sock.getsockname()
        self.pattern = pattern or secrets.token_hex(4).encode()
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts = secrets.randbits(32)
        self.sent = []  # payloads, in order

    def payload(self, seq, size=160):
        chunk = self.pattern + b":%05d:" % seq
        return (chunk * (size // len(chunk) + 1))[:size]

    def send(self, dest, count=10, pt=0, interval=0.005, size=160):
        """Sends `count` packets to `dest` (addr, port); returns their payloads."""
        out = []
        for i in range(count):
            self.seq = (self.seq + 1) & 0xFFFF
            self.ts = (self.ts + size) & 0xFFFFFFFF
            body = self.payload(self.seq, size)
            hdr = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | pt, self.seq, self.ts, self.ssrc)
            self.sock.sendto(hdr + body, dest)
            out.append(body)
            if interval:
                time.sleep(interval)
        self.sent += out
        return out

    def recv(self, count, timeout=2.0):
        """Up to `count` RTP packets arriving within `timeout` (RtpPacket each)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                break
            data, src = self.sock.recvfrom(65535)
            if len(data) < 12 or data[0] >> 6 != 2 or 72 <= (data[1] & 0x7F) <= 76:
                continue  # not RTP, or RTCP (PT 200-204)
            b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
            off = 12 + 4 * (b0 & 0x0F)
            if b0 & 0x10 and len(data) >= off + 4:
                off += 4 + 4 * struct.unpack("!H", data[off + 2:off + 4])[0]
            payload = data[off:]
            if b0 & 0x20 and payload:
                payload = payload[:-payload[-1]]
            out.append(RtpPacket(b1 & 0x7F, bool(b1 & 0x80), seq, ts, ssrc, payload, src))
        return out

    def drain(self):
        """Drops whatever has arrived; returns how many datagrams that was."""
        n = 0
        while select.select([self.sock], [], [], 0)[0]:
            self.sock.recvfrom(65535)
            n += 1
        return n

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------- dialogs

class Dialog:
    """What a call leg shares on both sides: the dialog (RFC 3261 12), its RTP
    endpoint, and requests within it."""

    def __init__(self, ua, call_id, local_tag):
        self.ua = ua
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = None
        self.local_hdr = None    # From of our requests (with our tag)
        self.remote_hdr = None   # To of our requests (with the peer's tag once known)
        self.remote_target = None
        self.route_set = []
        self.local_cseq = 0
        self.local_sdp = None    # Sdp we sent
        self.remote_sdp = None   # Sdp the other side sent
        self.rtp = Rtp(ua.bind)
        self.dest = ua.pbx       # where requests go when no Route or IP remote target says
        self.ended = False       # a BYE was answered (by us or to us)
        ua._dialogs[(call_id, local_tag)] = self

    # where in-dialog requests go: the first Route, else the remote target
    def _dest(self):
        uri = uri_of(self.route_set[0]) if self.route_set else self.remote_target
        host, port = hostport_of(uri)
        if host and _is_ip(host):
            return host, port
        return self.dest

    def request(self, method, extra=(), body="", ctype="application/sdp", to=None, cseq=None):
        """Sends a request within the dialog (new branch, next CSeq); returns its
        branch. `to` replaces the To header (e.g. a wrong tag)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        branch = new_branch()
        lines = [f"{method} {self.remote_target} SIP/2.0",
                 self.ua.via(branch),
                 "Max-Forwards: 70"]
        lines += [f"Route: {r}" for r in self.route_set]
        lines += [f"From: {self.local_hdr}", f"To: {to or self.remote_hdr}", f"Call-ID: {self.call_id}",
                  f"CSeq: {cseq} {method}"]
        lines += list(extra)
        self.ua._send_msg(lines, body, ctype, self._dest())
        return branch

    def bye(self, timeout=None, to=None, extra=()):
        """Sends BYE; returns its final response (None on timeout)."""
        branch = self.request("BYE", extra=extra, to=to)
        r = self.ua.wait_response(branch, "BYE", timeout=timeout)
        if r is not None and 200 <= r.code < 300:
            self.ended = True
        return r

    def wait_request(self, method, timeout=None):
        """The next request of this call (Call-ID) with that method, or None."""
        return self.ua.take(lambda m: method_of(m) == method and m.get("call-id") == self.call_id,
                            timeout)

    def media(self):
        """(addr, port) the other side's SDP asks RTP to be sent to."""
        s = self.remote_sdp
        return (s.addr, s.port) if s else None

    def history(self):
        """Every message of this Call-ID received, retransmissions aside."""
        return list(self.ua._by_call.get(self.call_id, []))

    def close(self):
        self.rtp.close()


class OutgoingCall(Dialog):
    """A call placed by the UA (the UAC side). `challenge`: the 407/401 answered
    (None when the INVITE was not challenged); `invite`: the last INVITE sent (bytes);
    `final`: the final response once seen. The INVITE, its CANCEL and the ACK of a
    non-2xx go to `dest` (the UA's pbxd unless changed before send_invite)."""

    def __init__(self, ua, target, sdp=None, codecs=DEFAULT_CODECS, auto_ack=True, ruri=None, extra=()):
        super().__init__(ua, f"{secrets.token_hex(10)}@{ua.bind}", new_tag())
        self.ruri = ruri or f"sip:{target}@{ua.domain}"
        disp = f'"{ua.display}" ' if ua.display else ""
        self.local_hdr = f"{disp}<sip:{ua.ext}@{ua.domain}>;tag={self.local_tag}"
        self.to_hdr = f"<{self.ruri}>"
        self.remote_hdr = self.to_hdr
        self.remote_target = self.ruri
        self.offer = sdp if sdp is not None else make_sdp(self.rtp.port, codecs, addr=self.rtp.addr)
        self.local_sdp = Sdp.parse(self.offer)
        self.auto_ack = auto_ack
        self.extra = list(extra)
        self.challenge = None
        self.auth = None
        self.branch = None
        self.invite = None         # the last INVITE sent (bytes)
        self.sent_invites = {}     # branch -> INVITE sent (bytes)
        self.final = None
        self.acks = 0  # ACKs sent for 2xx (retransmissions included)

    def send_invite(self, auth=None):
        self.local_cseq += 1
        self.branch = new_branch()
        self.auth = auth
        lines = [f"INVITE {self.ruri} SIP/2.0",
                 self.ua.via(self.branch),
                 "Max-Forwards: 70", f"From: {self.local_hdr}", f"To: {self.to_hdr}",
                 f"Call-ID: {self.call_id}", f"CSeq: {self.local_cseq} INVITE",
                 f"Contact: {self.ua.dialog_contact()}",
                 "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"]
        if auth:
            lines.append(f"Proxy-Authorization: {auth}")
        lines += self.extra
        data = self.ua._build(lines, self.offer, "application/sdp")
        with self.ua._cv:
            self.ua._invites[self.branch] = self
            self.sent_invites[self.branch] = data
            self.invite = data
            self.final = None
            self.ua._sendto(data, self.dest)

    def wait_response(self, code=None, timeout=None):
        """The next response to the current INVITE with that code (any if None)."""
        return self.ua.wait_response(self.branch, "INVITE", code=code, timeout=timeout, final=False)

    def wait_final(self, timeout=None):
        """The final response to the current INVITE (provisionals skipped but left
        for wait_response), or None on timeout."""
        return self.ua.wait_response(self.branch, "INVITE", timeout=timeout)

    def responses(self):
        """Every response to the current INVITE received so far (taken or not),
        in order, retransmissions aside: e.g. [100, 180, 200]."""
        with self.ua._cv:
            return [m for m in self.ua._by_call.get(self.call_id, [])
                    if m.code is not None and branch_of(m) == self.branch and cseq_of(m)[1] == "INVITE"]

    def cancel(self, timeout=None):
        """CANCEL of the current INVITE (RFC 3261 9.1); returns the CANCEL's final
        response. The INVITE's 487 is then taken with wait_final."""
        req = SipMsg(self.invite)
        lines = [f"CANCEL {self.ruri} SIP/2.0", f"Via: {req.get('via')}", "Max-Forwards: 70",
                 f"From: {self.local_hdr}", f"To: {self.to_hdr}", f"Call-ID: {self.call_id}",
                 f"CSeq: {cseq_of(req)[0]} CANCEL"]
        self.ua._send_msg(lines, "", None, self.dest)
        return self.ua.wait_response(self.branch, "CANCEL", timeout=timeout)

    def ack(self, resp=None):
        """Sends the ACK of a 2xx (the UA does it by itself unless auto_ack=False)."""
        resp = resp or self.final
        self._establish(resp)
        lines = [f"ACK {self.remote_target} SIP/2.0",
                 self.ua.via(new_branch()),
                 "Max-Forwards: 70"]
        lines += [f"Route: {r}" for r in self.route_set]
        lines += [f"From: {self.local_hdr}", f"To: {self.remote_hdr}", f"Call-ID: {self.call_id}",
                  f"CSeq: {cseq_of(resp)[0]} ACK"]
        if self.auth:  # 13.2.2.4: the ACK carries the INVITE's credentials
            lines.append(f"Proxy-Authorization: {self.auth}")
        data = self.ua._send_msg(lines, "", None, self._dest())
        with self.ua._cv:
            self.ua._acks[(self.call_id, cseq_of(resp)[0], tag_of(resp.get("to")))] = self
            self.acks += 1
        return data

    # called by the UA's thread (lock held)
    def _establish(self, resp):
        if self.remote_tag is None:
            self.remote_tag = tag_of(resp.get("to"))
            self.remote_hdr = resp.get("to")
            contact = resp.get("contact")
            if contact:
                self.remote_target = uri_of(split_values([contact])[0])
            self.route_set = list(reversed(split_values(resp.all("record-route"))))
            self.remote_sdp = Sdp.parse(resp.body)

    def _ack_non2xx(self, resp, branch):
        """17.1.1.3: same branch and Request-URI as the INVITE, To from the response."""
        req = SipMsg(self.sent_invites[branch])
        lines = [f"ACK {self.ruri} SIP/2.0", f"Via: {req.get('via')}", "Max-Forwards: 70",
                 f"From: {self.local_hdr}", f"To: {resp.get('to')}", f"Call-ID: {self.call_id}",
                 f"CSeq: {cseq_of(req)[0]} ACK"]
        self.ua._send_msg(lines, "", None, self.dest)


class IncomingCall(Dialog):
    """An INVITE the UA received (the UAS side): `req` the INVITE (SipMsg), `src`
    where it came from, `offer` its Sdp. Responses carry the UA's tag."""

    def __init__(self, ua, st):
        req = st.req
        super().__init__(ua, req.get("call-id"), st.tag)
        self.st = st
        self.req = req
        self.src = st.addr
        self.remote_tag = tag_of(req.get("from"))
        self.local_hdr = f"{req.get('to')};tag={self.local_tag}"
        self.remote_hdr = req.get("from")
        self.remote_target = uri_of(split_values([req.get("contact")])[0]) if req.get("contact") else \
            uri_of(req.get("from"))
        self.route_set = split_values(req.all("record-route"))
        self.local_cseq = secrets.randbelow(1000) + 1
        self.offer = Sdp.parse(req.body)
        self.remote_sdp = self.offer

    def respond(self, code, reason=None, sdp=None, extra=()):
        """Sends a response to the INVITE; `sdp`: a body, True for an answer to the
        offer on this call's RTP port. A final is retransmitted until its ACK."""
        if sdp is True:
            sdp = answer_sdp(self.offer, self.rtp.port, addr=self.rtp.addr) if self.offer else \
                make_sdp(self.rtp.port, addr=self.rtp.addr)
        if sdp:
            self.local_sdp = Sdp.parse(sdp)
        with self.ua._cv:
            self.ua._respond(self.st, code, reason, body=sdp or "", extra=extra)

    def trying(self):
        self.respond(100)

    def ringing(self):
        self.respond(180)

    def progress(self, sdp=True):
        """183 with SDP (early media)."""
        self.respond(183, sdp=sdp)

    def answer(self, sdp=True, extra=()):
        self.respond(200, sdp=sdp, extra=extra)

    def reject(self, code=486, reason=None):
        self.respond(code, reason)

    def wait_ack(self, timeout=None):
        """The ACK of our final response (2xx or not), or None."""
        num = cseq_of(self.req)[0]
        return self.ua.take(lambda m: method_of(m) == "ACK" and m.get("call-id") == self.call_id
                            and cseq_of(m)[0] == num, timeout)

    def wait_cancel(self, timeout=None):
        """The CANCEL of this INVITE (the UA answered it 200 and the INVITE 487)."""
        return self.wait_request("CANCEL", timeout)

    def acked(self):
        """Whether our final has been ACKed (the retransmissions stopped)."""
        with self.ua._cv:
            return self.st.acked


class _Stsx:
    """A server transaction as far as the UA needs one: the request, its source,
    the last response sent (for retransmitted requests) and the UAS tag."""

    def __init__(self, req, addr):
        self.req, self.addr = req, addr
        self.last = None
        self.final = None
        self.acked = False
        self.tag = new_tag()


# --------------------------------------------------------------------------- the UA

class CallUA:
    """A phone with extension `ext` of `domain`: a UDP socket on `bind`, sending to
    pbxd at 127.0.0.1:`pbx_port`. `contact_port`: the port its REGISTER's Contact
    names (its own by default; another one tests that pbxd sends to the source).
    `port`: the UDP port to bind (any free one by default)."""

    def __init__(self, pbx_port, ext, password=None, domain=DOMAIN, display=None, bind="127.0.0.1",
                 contact_port=None, pbx_host="127.0.0.1", auto_trying=True, auto_bye=True,
                 user_agent="pbxd-wire-tests/callua", timeout=3.0, transport="UDP", auth_user=None, port=0):
        self.pbx = (pbx_host, pbx_port)
        self.ext, self.password, self.domain, self.display = str(ext), password, domain, display
        self.auth_user = auth_user or self.ext  # a browser phone's credential: "101~id"
        self.bind, self.user_agent, self.timeout = bind, user_agent, timeout
        self.auto_trying, self.auto_bye = auto_trying, auto_bye
        self.transport = transport.upper()
        self.sock = self.stream = None
        if self.transport == "UDP":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((bind, port))
            self.lport = self.sock.getsockname()[1]
        else:
            # one connection to pbxd (pbx_port is that transport's port), as a
            # phone behind NAT or a browser has: everything goes over it
            self.stream = SipStream(self.transport, pbx_port, host=pbx_host, timeout=timeout)
            self.lport = self.stream.local()[1]
        # A browser knows no address of its own: RFC 7118 has it write a made-up
        # .invalid host in Via and Contact; pbxd must answer over the connection.
        self.via_host = f"{secrets.token_hex(6)}.invalid" if self.transport in ("WS", "WSS") else None
        self.contact_port = contact_port or self.lport
        self.reg_call_id = f"{secrets.token_hex(10)}@{bind}"
        self.reg_tag = new_tag()
        self.reg_cseq = 0
        self.trace = []      # (monotonic time, '<' in / '>' out, (addr, port), text)
        self.inbox = []      # SipMsg not yet taken by a test
        self._by_call = {}   # Call-ID -> [SipMsg] (what arrived, retransmissions aside)
        self._seen = set()   # responses seen (for retransmissions)
        self._stsx = {}      # (branch, method) -> _Stsx
        self._retx = {}      # (Call-ID, CSeq number) -> [data, addr, next at, interval, until]
        self._acks = {}      # (Call-ID, CSeq number, To tag) -> OutgoingCall: 2xx ACKed
        self._invites = {}   # branch -> OutgoingCall
        self._dialogs = {}   # (Call-ID, local tag) -> Dialog
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"callua-{ext}", daemon=True)
        self._thread.start()

    # ---- life

    def close(self):
        """Stops the thread, closes the socket and every call's RTP socket."""
        if self._stop:
            return
        self._stop = True
        self._thread.join(timeout=2)
        if self.sock is not None:
            self.sock.close()
        if self.stream is not None:
            self.stream.close()
        for d in list(self._dialogs.values()):
            d.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def hang_up_all(self, timeout=0.5):
        """Ends what a test left up (a failed one, mostly), so that no call outlives
        its test: INVITEs received and not answered get 480, calls placed and not
        answered are CANCELled, answered ones get a BYE. Bounded by `timeout` per call."""
        if self._stop:
            return
        with self._cv:
            for (_, meth), st in list(self._stsx.items()):
                if meth == "INVITE" and st.final is None:
                    self._respond(st, 480)
        for d in list(self._dialogs.values()):
            try:
                if isinstance(d, OutgoingCall) and d.invite is not None and d.final is None:
                    d.cancel(timeout=timeout)
                    continue
                final = d.final.code if isinstance(d, OutgoingCall) and d.final else \
                    getattr(getattr(d, "st", None), "final", None)
                if final is not None and 200 <= final < 300 and not d.ended:
                    d.bye(timeout=timeout)
            except OSError:
                pass

    def _uri_transport(self):
        return "ws" if self.transport in ("WS", "WSS") else self.transport.lower()

    def contact(self):
        if self.via_host:
            return f"<sip:{self.ext}@{self.via_host};transport=ws>"
        return f"<sip:{self.ext}@{self.bind}:{self.contact_port};transport={self._uri_transport()}>"

    def dialog_contact(self):
        if self.via_host:
            return f"<sip:{self.ext}@{self.via_host};transport=ws>"
        return f"<sip:{self.ext}@{self.bind}:{self.lport};transport={self._uri_transport()}>"

    def via(self, branch):
        sent_by = self.via_host or f"{self.bind}:{self.lport}"
        return f"Via: SIP/2.0/{self.transport} {sent_by};branch={branch};rport"

    def dump(self, last=40):
        """The last datagrams in and out, for assertion messages."""
        out = []
        t0 = self.trace[0][0] if self.trace else 0
        for t, d, addr, text in self.trace[-last:]:
            out.append(f"--- {t - t0:7.3f} {'received from' if d == '<' else 'sent to'} {addr[0]}:{addr[1]}\n"
                       + text.rstrip())
        return f"[UA {self.ext} on {self.bind}:{self.lport}]\n" + "\n".join(out)

    # ---- the thread

    def _run(self):
        while not self._stop:
            with self._cv:
                now = time.monotonic()
                nxt = min([r[2] for r in self._retx.values()] + [now + 0.05])
            if self.stream is not None:
                self._run_stream(max(0.0, nxt - now))
                continue
            r, _, _ = select.select([self.sock], [], [], max(0.0, nxt - now))
            with self._cv:
                if r:
                    try:
                        data, addr = self.sock.recvfrom(65535)
                    except OSError:
                        continue
                    if data.strip():  # CRLF keep-alives aside
                        self._on_datagram(data, addr)
                self._timers()

    def _run_stream(self, wait):
        if self.stream.closed:  # pbxd's end, or the test closed it (a tab closed)
            time.sleep(wait)
            return
        try:
            r = self.stream.pending() or select.select([self.stream], [], [], wait)[0]
        except (ValueError, OSError):  # closed meanwhile
            return
        with self._cv:
            if r and not self.stream.closed:
                for data in self.stream.poll():
                    self._on_datagram(data, self.pbx)
            self._timers()

    def _timers(self):
        now = time.monotonic()
        for key, r in list(self._retx.items()):
            if r[4] <= now:
                del self._retx[key]
            elif r[2] <= now:
                self._sendto(r[0], r[1])
                r[3] = min(r[3] * 2, T2)
                r[2] = now + r[3]

    def _sendto(self, data, addr):
        self.trace.append((time.monotonic(), ">", addr, data.decode("utf-8", "replace")))
        try:
            if self.stream is not None:
                self.stream.send(data)  # whatever addr: the one connection
            else:
                self.sock.sendto(data, addr)
        except OSError:
            pass

    def _enqueue(self, msg):
        self.inbox.append(msg)
        self._by_call.setdefault(msg.get("call-id"), []).append(msg)
        self._cv.notify_all()

    def _on_datagram(self, data, addr):
        self.trace.append((time.monotonic(), "<", addr, data.decode("utf-8", "replace")))
        try:
            msg = SipMsg(data)
        except Exception:  # noqa: BLE001 (not SIP: traced, dropped)
            return
        msg.src = addr
        if msg.code is not None:
            self._on_response(msg)
        elif " SIP/2.0" in msg.start:
            self._on_request(msg, addr)

    def _on_response(self, msg):
        num, meth = cseq_of(msg)
        branch = branch_of(msg)
        totag = tag_of(msg.get("to"))
        key = (branch, num, meth, msg.code, totag)
        dup = key in self._seen
        self._seen.add(key)
        call = self._invites.get(branch) if meth == "INVITE" else None
        if call is not None and msg.code >= 200 and branch == call.branch and call.final is None:
            call.final = msg
        if call is not None and msg.code >= 300:
            call._ack_non2xx(msg, branch)  # for the first one and every retransmission
        elif call is not None and msg.code >= 200:
            if (msg.get("call-id"), num, totag) in self._acks:
                call.ack(msg)  # a retransmitted 2xx: ACK again
            elif call.auto_ack and not dup:
                call.ack(msg)
        if not dup:
            self._enqueue(msg)

    def _on_request(self, msg, addr):
        meth = method_of(msg)
        branch = branch_of(msg)
        if meth == "ACK":
            num = cseq_of(msg)[0]
            self._retx.pop((msg.get("call-id"), num), None)
            for st in self._stsx.values():
                if st.req.get("call-id") == msg.get("call-id") and cseq_of(st.req) == (num, "INVITE"):
                    st.acked = True
            self._enqueue(msg)
            return
        st = self._stsx.get((branch, meth))
        if st is not None:  # a retransmission: the last response again
            if st.last:
                self._sendto(st.last, addr)
            return
        st = self._stsx[(branch, meth)] = _Stsx(msg, addr)
        if meth == "INVITE":
            if self.auto_trying:
                self._respond(st, 100)
        elif meth == "CANCEL":
            inv = self._stsx.get((branch, "INVITE"))
            if inv is None:
                self._respond(st, 481)
            else:
                st.tag = inv.tag
                self._respond(st, 200)
                if inv.final is None:
                    self._respond(inv, 487)
        elif meth == "BYE":
            if self.auto_bye:
                d = self._dialogs.get((msg.get("call-id"), tag_of(msg.get("to"))))
                self._respond(st, 200 if d is not None else 481)
                if d is not None:
                    d.ended = True
        elif meth == "OPTIONS":
            self._respond(st, 200)
            return
        self._enqueue(msg)

    def _respond(self, st, code, reason=None, body="", extra=()):
        """Sends a response in server transaction `st` (lock held)."""
        req = st.req
        num, meth = cseq_of(req)
        lines = [f"SIP/2.0 {code} {reason or REASONS.get(code, 'Whatever')}"]
        lines += [f"Via: {v}" for v in req.all("via")]
        if meth == "INVITE" and 100 < code < 300:
            lines += [f"Record-Route: {v}" for v in req.all("record-route")]
        to = req.get("to")
        if code > 100 and not tag_of(to):
            to = f"{to};tag={st.tag}"
        lines += [f"From: {req.get('from')}", f"To: {to}", f"Call-ID: {req.get('call-id')}",
                  f"CSeq: {req.get('cseq')}"]
        if meth == "INVITE" and 100 < code < 300:
            lines.append(f"Contact: {self.dialog_contact()}")
        lines += list(extra)
        data = self._build(lines, body, "application/sdp" if body else None)
        st.last = data
        self._sendto(data, st.addr)
        if meth == "INVITE" and code >= 200:
            st.final = code
            self._retx[(req.get("call-id"), num)] = [data, st.addr, time.monotonic() + T1, T1,
                                                      time.monotonic() + RETRANSMIT_FOR]

    def _build(self, lines, body="", ctype=None):
        body = body.encode() if isinstance(body, str) else (body or b"")
        lines = list(lines)
        if self.user_agent and not lines[0].startswith("SIP/2.0"):
            lines.append(f"User-Agent: {self.user_agent}")
        if body:
            lines.append(f"Content-Type: {ctype or 'application/sdp'}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _send_msg(self, lines, body, ctype, addr):
        data = self._build(lines, body, ctype)
        with self._cv:
            self._sendto(data, addr)
        return data

    # ---- waiting

    def take(self, pred, timeout=None):
        """Removes and returns the first message of the inbox for which pred(msg)
        holds, waiting at most `timeout` (the UA's default if None); None if none came."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cv:
            while True:
                for i, m in enumerate(self.inbox):
                    if pred(m):
                        return self.inbox.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(left)

    def wait_response(self, branch, method, code=None, timeout=None, final=True):
        """A response of the client transaction (branch, method): the final one by
        default, or the next one with `code` (any code if final=False and none)."""
        def pred(m):
            if m.code is None or branch_of(m) != branch or cseq_of(m)[1] != method:
                return False
            if code is not None:
                return m.code == code
            return m.code >= 200 if final else True
        return self.take(pred, timeout)

    def wait_invite(self, timeout=None):
        """The next new INVITE (outside a dialog) as an IncomingCall, or None."""
        m = self.take(lambda m: method_of(m) == "INVITE" and not tag_of(m.get("to")), timeout)
        if m is None:
            return None
        with self._cv:
            st = self._stsx[(branch_of(m), "INVITE")]
        return IncomingCall(self, st)

    def respond(self, req, code, reason=None, body="", extra=()):
        """Answers a request this UA received (e.g. a re-INVITE or UPDATE taken from
        the inbox) in its server transaction; a final to an INVITE is retransmitted
        until its ACK."""
        with self._cv:
            self._respond(self._stsx[(branch_of(req), method_of(req))], code, reason, body=body, extra=extra)

    def no_request(self, seconds, method=None):
        """True if no request (with `method`) arrives within `seconds`."""
        return self.take(lambda m: m.code is None and (method is None or method_of(m) == method),
                         seconds) is None

    # ---- out of dialog requests

    def register(self, expires=300, timeout=None):
        """Registers this UA's Contact (a 401 answered with digest); the final
        response, or None on timeout."""
        r = self._register(expires, None, timeout)
        if r is None or r.code != 401:
            return r
        ch = md5_challenge_of(r.all("www-authenticate"))
        assert ch, f"401 without an MD5 challenge:\n{r}"
        auth = digest_header(ch, self.auth_user, self.password, "REGISTER", f"sip:{self.domain}")
        return self._register(expires, auth, timeout)

    def unregister(self, timeout=None):
        return self.register(expires=0, timeout=timeout)

    def _register(self, expires, auth, timeout):
        self.reg_cseq += 1
        branch = new_branch()
        lines = [f"REGISTER sip:{self.domain} SIP/2.0",
                 self.via(branch), "Max-Forwards: 70",
                 f"From: <sip:{self.ext}@{self.domain}>;tag={self.reg_tag}",
                 f"To: <sip:{self.ext}@{self.domain}>",
                 f"Call-ID: {self.reg_call_id}", f"CSeq: {self.reg_cseq} REGISTER",
                 f"Contact: {self.contact()}", f"Expires: {expires}"]
        if auth:
            lines.append(f"Authorization: {auth}")
        self._send_msg(lines, "", None, self.pbx)
        return self.wait_response(branch, "REGISTER", timeout=timeout)

    def invite(self, target, sdp=None, codecs=DEFAULT_CODECS, auth=True, auto_ack=True, ruri=None, extra=(),
               timeout=None):
        """Places a call to `target` (a number of this UA's domain, or `ruri`): sends
        the INVITE and, when pbxd answers 407 (or 401) and `auth` (and the UA has a
        password), the INVITE again with credentials (same Call-ID, CSeq + 1, new
        branch; the challenge is ACKed by the UA). Returns the OutgoingCall then; its
        `challenge` is the 407 answered. Any other first answer is left for
        call.wait_response/wait_final."""
        call = OutgoingCall(self, target, sdp=sdp, codecs=codecs, auto_ack=auto_ack, ruri=ruri, extra=extra)
        call.send_invite()
        if not auth or self.password is None:
            return call  # nothing to answer a challenge with: the test takes what comes
        r = self.take(lambda m: m.code is not None and m.code > 100 and branch_of(m) == call.branch
                      and cseq_of(m)[1] == "INVITE", timeout)
        if r is not None and r.code in (401, 407) and auth:
            call.challenge = r
            ch = md5_challenge_of(r.all("proxy-authenticate") + r.all("www-authenticate"))
            assert ch, f"{r.code} without an MD5 challenge:\n{r}"
            call.send_invite(digest_header(ch, self.auth_user, self.password, "INVITE", call.ruri))
        elif r is not None:
            with self._cv:
                self.inbox.insert(0, r)  # not a challenge: left for wait_response/wait_final
        return call
