"""A SIP carrier (a trunk provider) for pbxd's trunk tests: one UDP socket on an
address of its own (127.0.0.2, 127.0.0.3, ...; the whole of 127/8 is local inside
the test namespace), built on callua's CallUA, whose thread, transactions, dialogs,
RTP and trace it uses as they are. On top of them it is:

- a registrar: REGISTER challenged with 401 (digest MD5 and/or SHA-256, qop "auth"
  or none, as Kamailio does), verified, answered 200 with the bindings and their
  expiry (or 403 for a wrong password, 423 under `min_expires`); or every REGISTER
  answered with a fixed code, or not at all (`register_code`), for back-off tests;
- the far end of pbxd's outbound calls: INVITEs optionally challenged with 407
  (`invite_auth`; the ACK of the 407 is absorbed), then handed to the test as a
  CarrierCall (callua's IncomingCall with the Request-URI, From, P-Asserted-Identity
  picked apart) to answer with audio or reject; or every INVITE answered with a
  fixed code (`invite_code`);
- the origin of pbxd's inbound calls: `invite(pbx_port, did, caller=...)` from the
  carrier's own socket, unauthenticated (an IP-authenticated trunk), returning
  callua's OutgoingCall;
- OPTIONS answered 200 (or `options_code`), and counted.

    with Carrier("127.0.0.2", username="trunk1", password="s3cret", invite_auth=True) as c:
        ...pbxd is configured with a trunk to c.addr:c.port...
        reg = c.wait_registered()             # a Registration: contact, expires, auth, ...
        call = c.wait_call()                  # pbxd's INVITE, past the 407 (CarrierCall)
        assert call.ruri_user == "+4930123456" and call.from_user == "101"
        call.ringing(); call.answer()         # 180, 200 with SDP; RTP on call.rtp
        inbound = c.invite(pbxd.udp_port, "+15550100")  # a call from the carrier's number

Every attribute below that sets a behaviour (register_code, invite_code, expires,
...) may be changed while the carrier runs (e.g. from 503 to normal service).
Nothing waits longer than `timeout` (3 s) unless told. `dump()` is the trace of
every datagram in and out, for assertion messages.
"""

import hashlib
import secrets
import time
from collections import namedtuple

from callua import (DEFAULT_CODECS, CallUA, IncomingCall, OutgoingCall, _Stsx, branch_of, cseq_of,
                    display_of, method_of, param, split_values, tag_of, uri_of)
from sipdigest import parse_challenge

SILENT = "silent"  # as a *_code: no answer at all
REASONS = {401: "Unauthorized", 403: "Forbidden", 407: "Proxy Authentication Required",
           423: "Interval Too Brief", 500: "Server Internal Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Server Time-out"}

HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


# --------------------------------------------------------------------------- digest

def _h(algorithm, text):
    return HASHES[algorithm.upper()](text.encode()).hexdigest()


def digest_response(algorithm, user, realm, password, method, uri, nonce, qop=None, nc=None, cnonce=None):
    """The response value of RFC 7616 (MD5 or SHA-256; qop 'auth', or none as in RFC 2069)."""
    ha1 = _h(algorithm, f"{user}:{realm}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


def challenge_of(values, algorithm="MD5"):
    """The challenge (dict, as sipdigest.parse_challenge) with that algorithm among
    WWW-/Proxy-Authenticate values, or None."""
    for v in values:
        ch = parse_challenge(v)
        if ch.get("algorithm", "MD5").upper() == algorithm.upper():
            return ch
    return None


def authorization(ch, user, password, method, uri, algorithm=None, qop="auth", nc=1, cnonce=None):
    """An Authorization / Proxy-Authorization value answering challenge `ch` with
    `algorithm` (the challenge's by default) and `qop` ('auth', or None for none).
    sipdigest.digest_header is the MD5/qop=auth one the other suites use; this is for
    SHA-256 and qop-less answers, i.e. what pbxd's trunk client has to produce."""
    algorithm = algorithm or ch.get("algorithm", "MD5")
    cnonce = cnonce or secrets.token_hex(8)
    ncs = f"{nc:08x}"
    resp = digest_response(algorithm, user, ch["realm"], password, method, uri, ch["nonce"], qop, ncs, cnonce)
    out = (f'Digest username="{user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", uri="{uri}", '
           f'response="{resp}", algorithm={algorithm}')
    if qop:
        out += f', qop={qop}, nc={ncs}, cnonce="{cnonce}"'
    if "opaque" in ch:
        out += f', opaque="{ch["opaque"]}"'
    return out


# --------------------------------------------------------------------------- helpers

def user_of(uri):
    """The user part of a sip:/sips: URI as sent ('+4930123;npdi' stays so), the number
    of a tel: URI (parameters cut), None when there is none."""
    if not uri:
        return None
    scheme, _, rest = uri.partition(":")
    if scheme.lower() == "tel":
        return rest.split(";")[0]
    if scheme.lower() not in ("sip", "sips") or "@" not in rest:
        return None
    return rest.rsplit("@", 1)[0].split(":")[0]


def ruri_of(req):
    return req.start.split()[1] if len(req.start.split()) > 1 else None


Attempt = namedtuple("Attempt", "time request src")
Attempt.__doc__ = "A request the carrier received (retransmissions aside): monotonic time, SipMsg, (addr, port)."

Registration = namedtuple("Registration", "contact expires asked time auth request src")
Registration.__doc__ = """A binding the registrar accepted: `contact` its URI, `expires` the
seconds granted (0: removed), `asked` the seconds asked for, `time` monotonic time,
`auth` the verified Authorization (dict of its parameters; None without credentials
configured), `request` the REGISTER (SipMsg), `src` where it came from."""


class CarrierCall(IncomingCall):
    """An INVITE pbxd sent the carrier (an outbound call), past any 407: callua's
    IncomingCall (ringing, progress, answer, reject, respond, bye, wait_ack,
    wait_cancel, wait_request, rtp, media()) with what a trunk test reads:

    ruri, ruri_user      the Request-URI and its user (the number as sent)
    to_user              the To URI's user
    from_display, from_uri, from_user
    pai, pai_user        the first P-Asserted-Identity entry and its user (None if
                         absent); pais: every entry
    auth                 the Proxy-Authorization (dict) the carrier verified, or None
    header(name)         any header of the INVITE"""

    def __init__(self, ua, st):
        super().__init__(ua, st)
        req = self.req
        self.dest = self.src
        self.ruri = ruri_of(req)
        self.ruri_user = user_of(self.ruri)
        self.to_user = user_of(uri_of(req.get("to")))
        self.from_display = display_of(req.get("from"))
        self.from_uri = uri_of(req.get("from"))
        self.from_user = user_of(self.from_uri)
        self.pais = split_values(req.all("p-asserted-identity"))
        self.pai = self.pais[0] if self.pais else None
        self.pai_user = user_of(uri_of(self.pai)) if self.pai else None
        pa = req.get("proxy-authorization")
        self.auth = parse_challenge(pa) if pa and ua.invite_auth else None

    def header(self, name):
        return self.req.get(name)


# --------------------------------------------------------------------------- the carrier

class Carrier(CallUA):
    """A carrier on UDP (bind_addr, port); port 0: any free one. `.addr`, `.port`.

    Registrar (REGISTER):
      username, password  credentials it requires (None: every REGISTER accepted
                          without a challenge)
      realm               the digest realm (default: domain, default: bind_addr)
      algorithms          the challenges of a 401/407, in order, e.g. ("SHA-256",
                          "MD5"): one WWW-Authenticate each, same nonce
      qop                 "auth" (the challenge says qop="auth") or None (RFC 2069);
                          the answer may have qop=auth or none either way
      opaque              an opaque to put in challenges (and require back)
      check_uri           the digest uri must equal the Request-URI (else 403)
      expires             seconds granted whatever is asked (None: what is asked,
                          3600 when nothing is)
      max_expires         at most this many seconds granted (less than asked)
      min_expires         a shorter positive Expires is answered 423 + Min-Expires
      expires_in          where the 200 says the expiry: "contact" (;expires= on
                          each Contact) and/or "header" (Expires:)
      register_code       None: the above; an int: every REGISTER answered with it;
                          SILENT: not answered at all
      retry_after         a Retry-After value for fixed-code answers (None: none)
    Calls from pbxd (INVITE):
      invite_auth         challenge every new INVITE with 407 (needs username and
                          password), 403 to wrong credentials
      invite_code         None: the call goes to the test (wait_call); an int >= 300:
                          every INVITE answered with it after 100 (its ACK absorbed);
                          SILENT: only the 100, no final
    OPTIONS:
      options_code        None: 200; an int: that; SILENT: no answer
    Other: domain (From host of its own INVITEs; default bind_addr), name (Contact
    user), pbx_port/pbx_host (where in-dialog requests go when pbxd's Contact is no
    IP address), timeout (every wait's default), user_agent.

    Kept (read under no lock; lists only grow):
      register_attempts   [Attempt] every REGISTER (retransmissions aside)
      registrations       [Registration] every binding accepted (refreshes and
                          removals, expires 0, included), in order
      bindings            {contact URI: Registration} current ones
      auth_failures       [(time, reason, SipMsg)] credentials refused (403)
      invite_attempts     [Attempt] every new INVITE (challenged ones included)
      options             [Attempt] every OPTIONS
      trace, dump()       every datagram (callua)"""

    def __init__(self, bind_addr="127.0.0.2", port=0, username=None, password=None, realm=None, domain=None,
                 algorithms=("MD5",), qop="auth", opaque=None, check_uri=True, expires=None, max_expires=None,
                 min_expires=None, expires_in=("contact", "header"), register_code=None, retry_after=None,
                 invite_auth=False, invite_code=None, options_code=None, name="carrier", pbx_port=5060,
                 pbx_host="127.0.0.1", timeout=3.0, user_agent="pbxd-wire-tests/carrier"):
        assert not invite_auth or (username is not None and password is not None), \
            "invite_auth needs a username and a password"
        for a in algorithms:
            assert a.upper() in HASHES, f"unknown digest algorithm {a}"
        # everything the thread reads is set before CallUA starts it
        self.username, self.secret = username, password
        self.realm = realm or domain or bind_addr
        self.algorithms, self.qop, self.opaque, self.check_uri = tuple(algorithms), qop, opaque, check_uri
        self.expires, self.max_expires, self.min_expires = expires, max_expires, min_expires
        self.expires_in = tuple(expires_in)
        self.register_code, self.retry_after = register_code, retry_after
        self.invite_auth, self.invite_code, self.options_code = invite_auth, invite_code, options_code
        self.register_attempts, self.registrations, self.bindings = [], [], {}
        self.auth_failures, self.invite_attempts, self.options = [], [], []
        self._nonces = set()
        self._absorb = set()  # branches of INVITEs the carrier answered non-2xx itself
        super().__init__(pbx_port, name, password=None, domain=domain or bind_addr, bind=bind_addr, port=port,
                         pbx_host=pbx_host, timeout=timeout, user_agent=user_agent)

    @property
    def addr(self):
        return self.bind

    @property
    def port(self):
        return self.lport

    def __repr__(self):
        return f"Carrier({self.addr}:{self.port})"

    # ---- calls to pbxd (inbound calls)

    def invite(self, pbx_port, did, caller="+15551234567", pbx_host="127.0.0.1", display=None, pai=None,
               sdp=None, codecs=DEFAULT_CODECS, auto_ack=True, extra=(), from_host=None, ruri=None):
        """Sends an INVITE for `did` to pbxd at pbx_host:pbx_port from the carrier's
        socket: Request-URI and To sip:DID@pbx_host:pbx_port (or `ruri`), From
        ["display"] <sip:CALLER@domain>, no credentials, an SDP offer on a fresh RTP
        port of the carrier's address (or `sdp`). `pai`: a P-Asserted-Identity (a
        number, or a whole value with <...>); `extra`: more header lines. Returns
        callua's OutgoingCall (wait_response, wait_final, ack, cancel, bye, rtp,
        media()); the 2xx is ACKed by itself unless auto_ack=False, a non-2xx always."""
        from_host = from_host or self.domain
        hdrs = list(extra)
        if pai:
            hdrs.append(f"P-Asserted-Identity: {pai if '<' in pai else f'<sip:{pai}@{from_host}>'}")
        call = OutgoingCall(self, did, sdp=sdp, codecs=codecs, auto_ack=auto_ack,
                            ruri=ruri or f"sip:{did}@{pbx_host}:{pbx_port}", extra=hdrs)
        call.dest = (pbx_host, pbx_port)
        disp = f'"{display}" ' if display else ""
        call.local_hdr = f"{disp}<sip:{caller}@{from_host}>;tag={call.local_tag}"
        call.send_invite()
        return call

    # ---- calls from pbxd (outbound calls)

    def wait_invite(self, timeout=None):
        """The next new INVITE from pbxd (past the 407 when invite_auth) as a
        CarrierCall, or None. The carrier has sent 100 Trying."""
        m = self.take(lambda m: method_of(m) == "INVITE" and not tag_of(m.get("to")), timeout)
        if m is None:
            return None
        with self._cv:
            st = self._stsx[(branch_of(m), "INVITE")]
        return CarrierCall(self, st)

    wait_call = wait_invite

    # ---- waiting for what pbxd does

    def _wait_for(self, pred, timeout):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cv:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(left)

    def wait_registered(self, timeout=None, count=1):
        """The `count`-th binding accepted with expires > 0 (the first by default;
        count=2 waits for a refresh), or None."""
        def pred():
            regs = [r for r in self.registrations if r.expires > 0]
            return regs[count - 1] if len(regs) >= count else None
        return self._wait_for(pred, timeout)

    def wait_unregistered(self, timeout=None):
        """The first binding removed (REGISTER with expires 0) as a Registration, or None."""
        return self._wait_for(lambda: next((r for r in self.registrations if r.expires == 0), None), timeout)

    def wait_register_attempts(self, n, timeout=None):
        """The first `n` REGISTER attempts ([Attempt]) once there are that many, or None."""
        return self._wait_for(lambda: self.register_attempts[:n] if len(self.register_attempts) >= n else None,
                              timeout)

    def wait_invite_attempts(self, n, timeout=None):
        """The first `n` INVITEs received ([Attempt], challenged ones included), or None."""
        return self._wait_for(lambda: self.invite_attempts[:n] if len(self.invite_attempts) >= n else None,
                              timeout)

    def wait_options(self, n=1, timeout=None):
        """The first `n` OPTIONS received ([Attempt]), or None."""
        return self._wait_for(lambda: self.options[:n] if len(self.options) >= n else None, timeout)

    def registration(self):
        """The binding in force (the last accepted, not expired, not removed), or None."""
        with self._cv:
            now = time.monotonic()
            live = [r for r in self.bindings.values() if r.time + r.expires > now]
            return max(live, key=lambda r: r.time) if live else None

    def expire_nonces(self):
        """Forgets every nonce issued: the next credentials get a new challenge with
        stale=true (a carrier restarted, or its nonces timed out)."""
        with self._cv:
            self._nonces.clear()

    def dump(self, last=40):
        head = (f"[Carrier {self.addr}:{self.port} realm {self.realm}: {len(self.register_attempts)} REGISTER, "
                f"{len(self.registrations)} bindings accepted, {len(self.auth_failures)} refused, "
                f"{len(self.invite_attempts)} INVITE, {len(self.options)} OPTIONS]")
        return head + "\n" + super().dump(last).split("\n", 1)[-1]

    # ---- the thread (CallUA's; these run with self._cv held)

    def _on_request(self, msg, addr):
        meth = method_of(msg)
        branch = branch_of(msg)
        if meth == "ACK":
            if branch in self._absorb:  # the ACK of our own 407/403/fixed code
                self._retx.pop((msg.get("call-id"), cseq_of(msg)[0]), None)
                return
            return super()._on_request(msg, addr)
        if (branch, meth) in self._stsx:  # a retransmission: CallUA answers it again
            return super()._on_request(msg, addr)
        attempt = Attempt(time.monotonic(), msg, addr)
        if meth == "REGISTER":
            self.register_attempts.append(attempt)
            self._cv.notify_all()
            st = self._stsx[(branch, meth)] = _Stsx(msg, addr)
            self._on_register(st)
            return
        if meth == "OPTIONS":
            self.options.append(attempt)
            self._cv.notify_all()
            if self.options_code is None:
                return super()._on_request(msg, addr)
            st = self._stsx[(branch, meth)] = _Stsx(msg, addr)
            if self.options_code != SILENT:
                self._respond(st, self.options_code, REASONS.get(self.options_code), extra=self._retry())
            return
        if meth == "INVITE" and not tag_of(msg.get("to")):
            self.invite_attempts.append(attempt)
            self._cv.notify_all()
            code = self.invite_code
            if code is not None:
                st = self._stsx[(branch, meth)] = _Stsx(msg, addr)
                if self.auto_trying:
                    self._respond(st, 100)
                if code != SILENT:
                    self._absorb.add(branch)
                    self._respond(st, code, REASONS.get(code), extra=self._retry())
                return
            if self.invite_auth:
                st = self._stsx[(branch, meth)] = _Stsx(msg, addr)
                if self._check_auth(st, "proxy-authorization", 407) is None:
                    self._absorb.add(branch)
                    return
                del self._stsx[(branch, meth)]  # CallUA takes it from here (100, inbox)
        return super()._on_request(msg, addr)

    def _retry(self):
        return [f"Retry-After: {self.retry_after}"] if self.retry_after is not None else []

    def _challenge(self, st, code, stale=False):
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        name = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
        extra = []
        for alg in self.algorithms:
            v = f'Digest realm="{self.realm}", nonce="{nonce}"'
            if self.opaque:
                v += f', opaque="{self.opaque}"'
            if stale:
                v += ", stale=true"
            v += f", algorithm={alg}"
            if self.qop:
                v += f', qop="{self.qop}"'
            extra.append(f"{name}: {v}")
        self._respond(st, code, REASONS[code], extra=extra)

    def _refuse(self, st, reason):
        self.auth_failures.append((time.monotonic(), reason, st.req))
        self._cv.notify_all()
        self._respond(st, 403, f"Forbidden ({reason})")

    def _check_auth(self, st, hname, code):
        """The verified credentials (dict) of request st.req in header `hname`, or
        None once it has been answered: `code` (401/407) with a challenge when there
        are none of this realm or their nonce is not one of ours, 403 when wrong."""
        req = st.req
        cred = None
        for v in req.all(hname):
            c = parse_challenge(v)
            if v.strip().lower().startswith("digest") and c.get("realm") == self.realm:
                cred = c
                break
        if cred is None:
            self._challenge(st, code)
            return None
        if cred.get("nonce") not in self._nonces:
            self._challenge(st, code, stale=True)
            return None
        alg = cred.get("algorithm", "MD5").upper()
        qop = cred.get("qop")
        problem = None
        if cred.get("username") != self.username:
            problem = f"username {cred.get('username')!r}"
        elif alg not in HASHES:
            problem = f"algorithm {alg}"
        elif qop not in (None, "auth") or (qop and not (cred.get("nc") and cred.get("cnonce"))):
            problem = f"qop {qop} nc {cred.get('nc')} cnonce {cred.get('cnonce')}"
        elif self.check_uri and cred.get("uri") != ruri_of(req):
            problem = f"uri {cred.get('uri')!r} is not the Request-URI"
        elif self.opaque and cred.get("opaque") != self.opaque:
            problem = "opaque"
        elif (cred.get("response") or "").lower() != digest_response(
                alg, self.username, self.realm, self.secret, method_of(req), cred.get("uri", ""),
                cred["nonce"], qop, cred.get("nc"), cred.get("cnonce")):
            problem = "wrong response"
        if problem:
            self._refuse(st, problem)
            return None
        return cred

    def _on_register(self, st):
        req = st.req
        code = self.register_code
        if code == SILENT:
            return
        if code is not None:
            self._respond(st, code, REASONS.get(code), extra=self._retry())
            return
        auth = None
        if self.username is not None:
            auth = self._check_auth(st, "authorization", 401)
            if auth is None:
                return
        contacts = split_values(req.all("contact"))
        hdr_exp = req.get("expires")
        now = time.monotonic()
        if contacts == ["*"]:
            for uri in list(self.bindings):
                self._bind(Registration(uri, 0, 0, now, auth, req, st.addr))
            self._ok(st)
            return
        news = []
        for c in contacts:
            p = param(c[c.rfind(">") + 1:] if ">" in c else c, "expires")
            asked = int(p) if p and p.isdigit() else int(hdr_exp) if hdr_exp and hdr_exp.isdigit() else 3600
            if self.min_expires and 0 < asked < self.min_expires:
                self._respond(st, 423, REASONS[423], extra=[f"Min-Expires: {self.min_expires}"])
                return
            granted = asked if asked == 0 or self.expires is None else self.expires
            if granted and self.max_expires is not None:
                granted = min(granted, self.max_expires)
            news.append(Registration(uri_of(c), granted, asked, now, auth, req, st.addr))
        for r in news:
            self._bind(r)
        self._ok(st, news[-1].expires if news else None)

    def _bind(self, r):
        self.registrations.append(r)
        if r.expires:
            self.bindings[r.contact] = r
        else:
            self.bindings.pop(r.contact, None)
        self._cv.notify_all()

    def _ok(self, st, expires=None):
        """200 to a REGISTER: its bindings in force, each with what is left of it."""
        now = time.monotonic()
        extra = []
        for r in self.bindings.values():
            left = max(0, int(round(r.time + r.expires - now)))
            extra.append(f"Contact: <{r.contact}>" + (f";expires={left}" if "contact" in self.expires_in else ""))
        if expires is not None and "header" in self.expires_in:
            extra.append(f"Expires: {expires}")
        self._respond(st, 200, extra=extra)
