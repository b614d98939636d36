"""The carrier of the trunk tests (carrier.py) proved without pbxd: a plain CallUA
(callua.py), pointed at the carrier's address, plays pbxd. Registration with the
right and the wrong password (401 then 200 / 403) with MD5 and SHA-256, qop auth
and none, stale nonces, the granted expiry, 423, fixed codes and silence; INVITEs
challenged with 407 and then answered with audio both ways, rejected, cancelled,
or answered with a fixed code; the carrier's own INVITE to a UA (an inbound call),
from two carrier addresses; OPTIONS. No pbxd binary is needed. Run:

    tools/netns-run /usr/bin/python3 -m pytest -q tests/wire/test_carrier_selftest.py"""

import time

import pytest

from callua import CallUA, Sdp, new_branch, new_tag, uri_of
from carrier import SILENT, Carrier, authorization, challenge_of
from sipdigest import md5_challenge_of, parse_challenge

USER, PASSWORD = "trunk-user", "trunk-Secret-1"
REALM = "sip.carrier.test"
C1, C2 = "127.0.0.2", "127.0.0.3"


class Parts:
    """What one test opens; closed (calls ended first) when it ends."""

    def __init__(self):
        self.all = []

    def add(self, x):
        self.all.append(x)
        return x

    def carrier(self, bind=C1, **kw):
        kw.setdefault("domain", REALM)
        return self.add(Carrier(bind, **kw))

    def pbx(self, carrier, ext=USER, password=PASSWORD, **kw):
        """A CallUA playing pbxd towards `carrier` (its requests go to the carrier)."""
        kw.setdefault("domain", carrier.domain)
        return self.add(CallUA(carrier.port, ext, password, pbx_host=carrier.addr, **kw))

    def dump(self):
        return "\n".join(x.dump() for x in self.all)

    def close(self):
        for x in self.all:
            x.hang_up_all()
        for x in self.all:
            x.close()


@pytest.fixture
def parts():
    p = Parts()
    try:
        yield p
    finally:
        p.close()


def request(ua, method, ruri, extra=(), timeout=None):
    """One out-of-dialog request from `ua` to its 'pbx' (the carrier); its final response."""
    branch = new_branch()
    lines = [f"{method} {ruri} SIP/2.0", ua.via(branch), "Max-Forwards: 70",
             f"From: <sip:{ua.ext}@{ua.domain}>;tag={new_tag()}", f"To: <{ruri}>",
             f"Call-ID: {new_tag()}@{ua.bind}", f"CSeq: 1 {method}", *extra]
    ua._send_msg(lines, "", None, ua.pbx)
    return ua.wait_response(branch, method, timeout=timeout)


def sent(carrier, start):
    """How many datagrams the carrier sent whose first line starts with `start`."""
    return sum(1 for _, d, _, text in carrier.trace if d == ">" and text.startswith(start))


# --------------------------------------------------------------------------- registrar

def test_register_md5(parts):
    c = parts.carrier(username=USER, password=PASSWORD, expires=120)
    ua = parts.pbx(c)
    r = ua.register(expires=3600)
    assert r is not None and r.code == 200, parts.dump()
    assert r.get("expires") == "120" and uri_of(r.get("contact")) == uri_of(ua.contact()), r
    assert ";expires=120" in r.get("contact"), r
    reg = c.wait_registered()
    assert reg and reg.contact == uri_of(ua.contact()) and reg.expires == 120 and reg.asked == 3600, reg
    assert reg.auth["username"] == USER and reg.auth["algorithm"] == "MD5" and reg.auth["qop"] == "auth"
    assert reg.src == (ua.bind, ua.lport) and c.registration() == reg
    assert [a.request.get("authorization") is None for a in c.wait_register_attempts(2)] == [True, False]
    first_401 = next(text for _, d, _, text in c.trace if d == ">" and text.startswith("SIP/2.0 401"))
    ch = parse_challenge(next(line.split(":", 1)[1] for line in first_401.splitlines()
                              if line.lower().startswith("www-authenticate:")))
    assert ch["realm"] == REALM and ch["algorithm"] == "MD5" and ch["qop"] == "auth" and ch["nonce"], first_401

    # a refresh is a second registration; the wrong password is 403 and changes nothing
    assert ua.register(expires=60).code == 200
    assert c.wait_registered(count=2).asked == 60
    bad = parts.pbx(c, password="not-it")
    r = bad.register()
    assert r is not None and r.code == 403, parts.dump()
    assert c.auth_failures[-1][1] == "wrong response" and len(c.registrations) == 2
    assert len(c.register_attempts) == 6

    # unregistering removes the binding
    assert ua.unregister().code == 200
    assert c.wait_unregistered().contact == reg.contact and c.registration() is None


def test_register_sha256_and_qop_none(parts):
    c = parts.carrier(username=USER, password=PASSWORD, algorithms=("SHA-256", "MD5"))
    ua = parts.pbx(c)
    uri = f"sip:{REALM}"
    r_401 = ua._register(300, None, None)
    assert r_401.code == 401, parts.dump()
    chs = [parse_challenge(v) for v in r_401.all("www-authenticate")]
    assert [ch["algorithm"] for ch in chs] == ["SHA-256", "MD5"], r_401  # SHA-256 first, as Kamailio can
    assert chs[0]["nonce"] == chs[1]["nonce"] and chs[0]["qop"] == "auth"
    sha = challenge_of(r_401.all("www-authenticate"), "SHA-256")

    r = ua._register(300, authorization(sha, USER, "wrong", "REGISTER", uri), None)
    assert r.code == 403, parts.dump()
    r = ua._register(300, authorization(sha, USER, PASSWORD, "REGISTER", uri), None)
    assert r.code == 200, parts.dump()
    assert c.wait_registered().auth["algorithm"] == "SHA-256"

    # the MD5 challenge of the same 401, answered without qop (RFC 2069 style)
    md5 = md5_challenge_of(r_401.all("www-authenticate"))
    r = ua._register(300, authorization(md5, USER, PASSWORD, "REGISTER", uri, qop=None, nc=2), None)
    assert r.code == 200, parts.dump()
    reg = c.wait_registered(count=2)
    assert reg.auth["algorithm"] == "MD5" and "qop" not in reg.auth, reg.auth

    # a digest uri that is not the Request-URI is refused; a nonce the carrier forgot
    # is challenged again with stale=true
    assert ua._register(300, authorization(sha, USER, PASSWORD, "REGISTER", "sip:elsewhere"), None).code == 403
    c.expire_nonces()
    r = ua._register(300, authorization(sha, USER, PASSWORD, "REGISTER", uri), None)
    assert r.code == 401 and "stale=true" in r.get("www-authenticate"), r


def test_register_without_credentials_and_expiry_options(parts):
    c = parts.carrier(max_expires=60, min_expires=30, expires_in=("contact",))
    ua = parts.pbx(c, password=None)
    r = ua._register(3600, None, None)
    assert r.code == 200 and r.get("expires") is None and ";expires=60" in r.get("contact"), r
    reg = c.wait_registered()
    assert reg.expires == 60 and reg.asked == 3600 and reg.auth is None
    r = ua._register(10, None, None)
    assert r.code == 423 and r.get("min-expires") == "30", r
    # a Contact's own ;expires= is read before the Expires header
    branch = new_branch()
    ua._send_msg([f"REGISTER sip:{REALM} SIP/2.0", ua.via(branch), "Max-Forwards: 70",
                  f"From: <sip:x@{REALM}>;tag=1", f"To: <sip:x@{REALM}>", "Call-ID: ce1", "CSeq: 1 REGISTER",
                  f"Contact: <sip:x@{ua.bind}:{ua.lport}>;expires=45", "Expires: 3600"], "", None, ua.pbx)
    assert ua.wait_response(branch, "REGISTER").code == 200
    assert c.wait_registered(count=2).asked == 45


def test_register_fixed_code_and_silence(parts):
    c = parts.carrier(username=USER, password=PASSWORD, register_code=503, retry_after=30)
    ua = parts.pbx(c)
    for _ in range(2):
        r = ua.register()
        assert r.code == 503 and r.get("retry-after") == "30", r
    assert len(c.wait_register_attempts(2)) == 2 and not c.registrations
    c.register_code = SILENT
    assert ua.register(timeout=0.3) is None
    assert c.wait_register_attempts(3, timeout=0.5) and sent(c, "SIP/2.0") == 2
    c.register_code = None  # back in service
    assert ua.register().code == 200, parts.dump()
    assert c.wait_registered()


# --------------------------------------------------------------------------- calls from pbxd

def test_invite_challenged_then_answered_with_audio(parts):
    c = parts.carrier(username=USER, password=PASSWORD, invite_auth=True)
    pbx = parts.pbx(c, ext="+15550001111", auth_user=USER, display="Alice Smith")
    call = pbx.invite("004930123456", extra=["P-Asserted-Identity: <sip:+15550001111@127.0.0.1>"])
    assert call.challenge is not None and call.challenge.code == 407, parts.dump()
    ch = parse_challenge(call.challenge.get("proxy-authenticate"))
    assert ch["realm"] == REALM and ch["qop"] == "auth"
    inc = c.wait_call()
    assert inc is not None, parts.dump()
    assert (inc.ruri, inc.ruri_user, inc.to_user) == (f"sip:004930123456@{REALM}", "004930123456", "004930123456")
    assert (inc.from_display, inc.from_user) == ("Alice Smith", "+15550001111")
    assert inc.pai_user == "+15550001111" and inc.auth["username"] == USER
    assert inc.src == (pbx.bind, pbx.lport)
    assert len(c.wait_invite_attempts(2)) == 2
    inc.ringing()
    assert call.wait_response(180) is not None
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, parts.dump()
    assert inc.wait_ack() is not None
    # the 407's ACK was absorbed: the carrier got it, the test's inbox did not
    assert sum(1 for _, d, _, t in c.trace if d == "<" and t.startswith("ACK ")) == 2
    assert Sdp.parse(ok.body).addr == C1  # the carrier's media is on its own address

    sent_ab = call.rtp.send(call.media(), 10)
    got = inc.rtp.recv(10)
    assert [p.payload for p in got] == sent_ab and got[0].src == (call.rtp.addr, call.rtp.port)
    sent_ba = inc.rtp.send(inc.media(), 12)
    got = call.rtp.recv(12)
    assert [p.payload for p in got] == sent_ba and got[0].src == (C1, inc.rtp.port)

    assert call.bye().code == 200
    assert inc.wait_request("BYE") is not None and inc.ended


def test_invite_wrong_password_rejected_and_cancelled(parts):
    c = parts.carrier(username=USER, password=PASSWORD, invite_auth=True)
    bad = parts.pbx(c, password="not-it")
    call = bad.invite("100")
    assert call.wait_final().code == 403, parts.dump()
    assert c.wait_call(timeout=0.2) is None and c.auth_failures

    pbx = parts.pbx(c)
    call = pbx.invite("200")  # a rejection picked by the test (fail-over)
    inc = c.wait_call()
    inc.reject(503)
    assert call.wait_final().code == 503 and inc.wait_ack() is not None, parts.dump()

    call = pbx.invite("300")  # pbxd cancels
    inc = c.wait_call()
    inc.ringing()
    assert call.wait_response(180) is not None
    assert call.cancel().code == 200
    assert call.wait_final().code == 487 and inc.wait_cancel() is not None, parts.dump()


def test_invite_fixed_code(parts):
    c = parts.carrier(invite_code=503, retry_after=5)
    pbx = parts.pbx(c, password=None)
    call = pbx.invite("+4930123")
    r = call.wait_final()
    assert r is not None and r.code == 503 and r.get("retry-after") == "5", parts.dump()
    time.sleep(0.7)  # past T1: the ACK stopped the retransmissions, and never reached the inbox
    assert sent(c, "SIP/2.0 503") == 1 and c.wait_call(timeout=0) is None, c.dump()
    assert not [m for m in c.inbox if m.start.startswith("ACK")]
    c.invite_code = SILENT
    call = pbx.invite("+4930124")
    assert call.wait_response(100) is not None and call.wait_final(timeout=0.3) is None
    assert len(c.invite_attempts) == 2


# --------------------------------------------------------------------------- calls to pbxd

def test_carrier_invite_answered_by_ua(parts):
    pbx = parts.add(CallUA(5060, "pbxd"))  # plays pbxd: takes the carrier's INVITE
    c = parts.carrier()
    call = c.invite(pbx.lport, "+4930555", caller="+15551234567", display="Bob", pai="+15551234567")
    inc = pbx.wait_invite()
    assert inc is not None, parts.dump()
    assert inc.src == (C1, c.port)
    assert inc.req.start == f"INVITE sip:+4930555@127.0.0.1:{pbx.lport} SIP/2.0"
    assert uri_of(inc.req.get("to")) == f"sip:+4930555@127.0.0.1:{pbx.lport}"
    assert uri_of(inc.req.get("from")) == f"sip:+15551234567@{REALM}" and '"Bob"' in inc.req.get("from")
    assert inc.req.get("proxy-authorization") is None and inc.req.get("authorization") is None
    assert uri_of(inc.req.get("p-asserted-identity")) == f"sip:+15551234567@{REALM}"
    assert inc.offer.addr == C1
    inc.ringing()
    inc.answer()
    assert call.wait_final().code == 200 and inc.wait_ack() is not None, parts.dump()
    sent_ab = call.rtp.send(call.media(), 8)
    assert [p.payload for p in inc.rtp.recv(8)] == sent_ab
    sent_ba = inc.rtp.send(inc.media(), 8)
    assert [p.payload for p in call.rtp.recv(8)] == sent_ba
    assert inc.bye().code == 200  # pbxd hangs up; the carrier answers
    assert call.wait_request("BYE") is not None and call.ended

    # the same from a second carrier address (not the provider's), and a CANCEL
    c2 = parts.carrier(C2)
    call = c2.invite(pbx.lport, "+4930556")
    inc = pbx.wait_invite()
    assert inc.src == (C2, c2.port), parts.dump()
    assert call.wait_response(100) is not None
    assert call.cancel().code == 200 and call.wait_final().code == 487, parts.dump()


def test_options_and_fixed_port(parts):
    probe = CallUA(5060, "probe")
    port = probe.lport
    probe.close()  # a port just free
    c = parts.carrier(port=port)
    assert c.port == port and c.addr == C1
    ua = parts.pbx(c, password=None)
    assert request(ua, "OPTIONS", f"sip:{C1}:{port}").code == 200
    c.options_code = 503
    assert request(ua, "OPTIONS", f"sip:{C1}:{port}").code == 503
    c.options_code = SILENT
    assert request(ua, "OPTIONS", f"sip:{C1}:{port}", timeout=0.3) is None
    assert len(c.wait_options(3)) == 3
