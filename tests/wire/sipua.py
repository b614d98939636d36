"""A small SIP REGISTER user agent for the registrar's wire tests: one Call-ID per
UA (as a phone keeps), REGISTER over UDP or TCP from a chosen local address, and
MD5 digest with qop=auth (RFC 2617/7616) that answers pbxd's challenge and can
reuse a nonce with a growing nonce-count, as phones do on refresh.

    ua = RegUA(p.udp_port)                       # UDP from 127.0.0.1
    r = ua.register("101", "pw", "pbx.local")    # 401 answered: the final SipMsg
    assert r.code == 200
"""

import re
import secrets
import socket
import time

from conftest import SipMsg, SipStream
from sipdigest import digest_header, md5_challenge_of  # noqa: F401 (re-exported to tests)


def md5_challenge(resp):
    """The MD5 challenge (dict) of a 401 (or 407), or None."""
    return md5_challenge_of(resp.all("www-authenticate") + resp.all("proxy-authenticate"))


class RegUA:
    """One registering device: a socket (UDP, or a TCP connection to pbxd) from
    `bind`, its own Call-ID, From tag and CSeq, and the last MD5 challenge seen."""

    def __init__(self, port, transport="udp", bind="127.0.0.1", user_agent="pbxd-wire-tests/regua",
                 timeout=3.0):
        self.port = port
        self.transport = transport.lower()
        self.bind = bind
        self.user_agent = user_agent
        self.timeout = timeout
        if self.transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((bind, 0))
            self.stream = None
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind((bind, 0))
            self.sock.settimeout(timeout)
            self.sock.connect(("127.0.0.1", port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.stream = SipStream(self.sock)
        self.lport = self.sock.getsockname()[1]
        self.call_id = f"{secrets.token_hex(12)}@{bind}"
        self.tag = secrets.token_hex(6)
        self.cseq = 0
        self.challenge = None
        self.nc = 0
        self.sent = []   # every request sent, as text
        self.got = []    # every response received (SipMsg)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def contact(self, ext, params=""):
        return f"<sip:{ext}@{self.bind}:{self.lport};transport={self.transport}>{params}"

    def build(self, ext, domain, expires=None, contacts=None, auth=None, extra=(), ruri=None,
              cseq=None):
        """A REGISTER for ext@domain. `contacts`: list of Contact values (None: this
        UA's own; [] for none); `expires`: the Expires header (None: absent)."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        ruri = ruri or f"sip:{domain}"
        tp = self.transport.upper()
        lines = [
            f"REGISTER {ruri} SIP/2.0",
            f"Via: SIP/2.0/{tp} {self.bind}:{self.lport};branch=z9hG4bK{secrets.token_hex(10)};rport",
            "Max-Forwards: 70",
            f"From: <sip:{ext}@{domain}>;tag={self.tag}",
            f"To: <sip:{ext}@{domain}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} REGISTER",
        ]
        for c in (contacts if contacts is not None else [self.contact(ext)]):
            lines.append(f"Contact: {c}")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if auth:
            lines.append(f"Authorization: {auth}")
        if self.user_agent:
            lines.append(f"User-Agent: {self.user_agent}")
        lines += list(extra)
        lines.append("Content-Length: 0")
        return "\r\n".join(lines) + "\r\n\r\n"

    def send(self, text):
        self.sent.append(text)
        data = text.encode()
        if self.stream:
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, ("127.0.0.1", self.port))

    def recv_final(self, timeout=None, cseq=None):
        """The next final response (to CSeq `cseq` when given); None on timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if self.stream:
                m = self.stream.read_final(left)
                if m is None:
                    return None
            else:
                self.sock.settimeout(left)
                try:
                    data, _ = self.sock.recvfrom(65535)
                except (socket.timeout, BlockingIOError):
                    return None
                m = SipMsg(data)
                if m.code is None or m.code < 200:
                    continue
            self.got.append(m)
            if cseq is not None and (m.get("cseq") or "").split()[:1] != [str(cseq)]:
                continue
            return m

    def request(self, ext, domain, timeout=None, **kw):
        """Sends one REGISTER (see build) and returns its final response, or None."""
        text = self.build(ext, domain, **kw)
        self.send(text)
        cseq = int(re.search(r"CSeq: (\d+)", text).group(1))
        return self.recv_final(timeout, cseq=cseq)

    def auth_for(self, ext, password, domain, username=None, ruri=None, reuse=False):
        """An Authorization value for the last challenge: a fresh nc=1, or with
        `reuse` the next nonce-count of the same nonce."""
        assert self.challenge, "no challenge seen yet"
        self.nc = self.nc + 1 if reuse else 1
        return digest_header(self.challenge, username or ext, password, "REGISTER",
                             ruri or f"sip:{domain}", nc=self.nc)

    def register(self, ext, password, domain, expires=None, contacts=None, username=None, extra=(),
                 reuse_nonce=False, timeout=None):
        """Registers (or unregisters, with expires=0) as a phone does: with the last
        nonce and the next nonce-count when `reuse_nonce` and a challenge is known,
        otherwise first without credentials; a 401 is answered once. Returns the
        final response (SipMsg) or None on timeout."""
        if reuse_nonce and self.challenge:
            r = self.request(ext, domain, expires=expires, contacts=contacts, extra=extra,
                             auth=self.auth_for(ext, password, domain, username, reuse=True),
                             timeout=timeout)
        else:
            r = self.request(ext, domain, expires=expires, contacts=contacts, extra=extra,
                             timeout=timeout)
        if r is None or r.code != 401:
            return r
        ch = md5_challenge(r)
        assert ch, f"401 without an MD5 challenge:\n{r}"
        self.challenge = ch
        return self.request(ext, domain, expires=expires, contacts=contacts, extra=extra,
                            auth=self.auth_for(ext, password, domain, username), timeout=timeout)


def contact_expiries(resp):
    """{contact URI: expires} from the Contact headers of a 200 to a REGISTER."""
    out = {}
    for v in resp.all("contact"):
        for part in re.findall(r"<[^>]*>[^,]*", v):
            uri = part[1:part.index(">")]
            m = re.search(r";\s*expires\s*=\s*(\d+)", part[part.index(">"):], re.I)
            out[uri] = int(m.group(1)) if m else None
    return out
