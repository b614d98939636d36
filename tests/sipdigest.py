"""SIP digest (MD5, qop=auth) for the test suites, and the least SIP phone that
registers with it over UDP: one copy for tests/wire, tests/api and tests/pbxctl.
Each suite adds tests/ to sys.path to import it (they are run as separate pytest
sessions with their own conftest)."""
import hashlib
import re
import secrets
import socket


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def parse_challenge(value):
    """'Digest realm="x", nonce="y", ...' -> {'realm': 'x', 'nonce': 'y', ...}
    (names lower-cased, quotes removed)."""
    value = re.sub(r"^\s*Digest\s+", "", value, flags=re.I)
    out = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)', value):
        v = m.group(2)
        if v.startswith('"'):
            v = v[1:-1]
        out[m.group(1).lower()] = v
    return out


def md5_challenge_of(values):
    """The MD5 challenge (dict) among WWW-/Proxy-Authenticate values, or None."""
    for v in values:
        ch = parse_challenge(v)
        if ch.get("algorithm", "MD5").upper() == "MD5":
            return ch
    return None


def digest_header(ch, user, password, method, uri, nc=1, cnonce=None, username=None):
    """The Authorization value answering challenge `ch` (MD5, qop=auth)."""
    cnonce = cnonce or secrets.token_hex(8)
    ha1 = md5(f"{user}:{ch['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    ncs = f"{nc:08x}"
    resp = md5(f"{ha1}:{ch['nonce']}:{ncs}:{cnonce}:auth:{ha2}")
    opaque = f', opaque="{ch["opaque"]}"' if "opaque" in ch else ""
    return (f'Digest username="{username or user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", '
            f'uri="{uri}", response="{resp}", algorithm=MD5, qop=auth, nc={ncs}, '
            f'cnonce="{cnonce}"{opaque}')


class Phone:
    """Registers ext@domain over UDP from `source`, keeping its socket (port),
    Call-ID and CSeq as a phone does; answers a 401 once."""

    def __init__(self, sip_port, ext, password, domain="pbx.local", source="127.0.0.1",
                 user_agent="pbxd-tests/1"):
        self.sip_port, self.ext, self.password, self.domain = sip_port, ext, password, domain
        self.source, self.user_agent = source, user_agent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.port = self.sock.getsockname()[1]
        self.call_id = secrets.token_hex(8) + "@" + source
        self.tag = secrets.token_hex(4)
        self.cseq = 0

    def close(self):
        self.sock.close()

    def _request(self, expires, auth):
        self.cseq += 1
        return (f"REGISTER sip:{self.domain} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {self.source}:{self.port};rport;branch=z9hG4bK{secrets.token_hex(8)}\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:{self.ext}@{self.domain}>;tag={self.tag}\r\n"
                f"To: <sip:{self.ext}@{self.domain}>\r\nCall-ID: {self.call_id}\r\n"
                f"CSeq: {self.cseq} REGISTER\r\nContact: <sip:{self.ext}@{self.source}:{self.port}>\r\n"
                f"Expires: {expires}\r\nUser-Agent: {self.user_agent}\r\n"
                + (f"Authorization: {auth}\r\n" if auth else "") + "Content-Length: 0\r\n\r\n")

    def _send(self, text, timeout):
        """Sends one request; (status, response text) of its final answer."""
        self.sock.settimeout(timeout)
        self.sock.sendto(text.encode(), ("127.0.0.1", self.sip_port))
        while True:
            data = self.sock.recv(65535).decode(errors="replace")
            code = int(data.split(" ", 2)[1])
            cseq = re.search(r"^(?:CSeq):\s*(\d+)", data, re.I | re.M)
            if code >= 200 and cseq and int(cseq.group(1)) == self.cseq:
                return code, data

    def register(self, expires=3600, timeout=3):
        """The final status: 200 registered, 403 wrong credentials. socket.timeout
        when unanswered (a banned source)."""
        code, text = self._send(self._request(expires, None), timeout)
        if code != 401:
            return code
        values = re.findall(r"^(?:WWW-Authenticate):\s*(.*?)\r?$", text, re.I | re.M)
        ch = md5_challenge_of(values)
        assert ch, "no MD5 digest challenge in:\n" + text
        auth = digest_header(ch, self.ext, self.password, "REGISTER", f"sip:{self.domain}")
        return self._send(self._request(expires, auth), timeout)[0]


def register(sip_port, ext, password, domain="pbx.local", expires=3600, source="127.0.0.1",
             user_agent="pbxd-tests/1"):
    """One registration by a phone used once."""
    p = Phone(sip_port, ext, password, domain, source, user_agent)
    try:
        return p.register(expires)
    finally:
        p.close()
