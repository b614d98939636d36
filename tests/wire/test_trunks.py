"""SIP trunks (issue 15) on the wire: pbxd against carriers of the test's own
(carrier.py), each on a loopback address of its own (127.0.0.2, .3, ...), with
phones (callua.py) as the tenant's extensions.

- a register-based trunk registers, answering the carrier's digest challenge, and
  shows registered; a wrong password shows failed and is retried with a back-off;
  a restart registers again and keeps everything configured (TRK-01, TRK-03);
- an outbound call from a registered extension reaches the carrier with the rule's
  digits stripped and prefix prepended, the extension's outbound caller ID in From
  and P-Asserted-Identity (or anonymous with Privacy: id), after answering the
  carrier's 407, with audio both ways; its CDR says direction out, the trunk and the
  caller ID (TRK-08, CDR);
- an inbound INVITE to a DID of an IP trunk rings the rule's extension, audio both
  ways, CDR direction in with did_cid (TRK-02, TRK-07, TRK-12: the DID in E.164 and
  national form); an unknown DID is 404; the same INVITE from an address that is
  not the provider's rings nobody; a blacklisted caller is refused (TRK-11);
- a number no rule matches, a disallowed prefix and a country not allowed are
  refused with nothing sent to the carrier (TRK-09, TRK-10); the caps stop calls
  past the limit (concurrent and hourly, per extension); a provider answering 503
  fails over to the next of the rule (TRK-08).
"""

import itertools
import time

import pytest

from callua import CallUA
from carrier import Carrier
from conftest import Pbxd

DOMAIN = "pbx.local"
API_SETTLE = 3.0
_addrs = itertools.count(2)


def new_addr():
    """A loopback address no other carrier of this module uses."""
    return f"127.0.0.{next(_addrs)}"


class Pbx:
    def __init__(self, p):
        self.p = p
        self.sys = p.sysadmin()
        self.api = p.tenant_admin()
        self.tenant_id = self.api.ok("GET", "/me")["tenant"]["id"]
        self.numbers = itertools.count(201)
        self.passwords, self.ids = {}, {}

    def new_ext(self, settings=None):
        ext = str(next(self.numbers))
        pw = f"trunk-Secret-{ext}"
        uid = self.api.create_user(ext, pw)
        if settings:
            self.api.ok("POST", f"/users/{uid}/extension", settings, status=200)
        self.passwords[ext], self.ids[ext] = pw, uid
        return ext

    def provider(self, carrier, auth="ip", assign=True, **kw):
        """A system provider to the carrier, assigned to the tenant."""
        body = {"name": kw.pop("name", f"carrier-{carrier.addr}"), "hostname": carrier.addr,
                "port": carrier.port, "authentication": auth, **kw}
        p = self.sys.ok("POST", "/providers", body, status=201)
        if assign:
            self.sys.ok("POST", f"/providers/{p['id']}/assignees", {"tenant_id": self.tenant_id}, status=201)
        return p

    def status(self, pid):
        return self.sys.ok("GET", f"/providers/{pid}/status")


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("trunks"),
             args=["--rtp-ports=32000-32999", "--auth-max-failures=1000", "--trunk-retry-min=1",
                   "--trunk-retry-max=2"]).start()
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()


class World:
    """A test's phones and carriers, all closed at its end."""

    def __init__(self, pbx):
        self.pbx = pbx
        self.things = []

    def phone(self, ext, register=True):
        ua = CallUA(self.pbx.p.udp_port, ext, self.pbx.passwords[ext])
        self.things.append(ua)
        if register:
            r = ua.register()
            assert r is not None and r.code == 200, ua.dump()
        return ua

    def carrier(self, **kw):
        c = Carrier(new_addr(), pbx_port=self.pbx.p.udp_port, **kw)
        self.things.append(c)
        return c

    def dump(self):
        return "\n".join(t.dump() for t in self.things) + "\n--- pbxd log:\n" + self.pbx.p.log_tail(80)

    def close(self):
        for t in self.things:
            t.hang_up_all()
        for t in self.things:
            t.close()


@pytest.fixture
def w(pbx):
    world = World(pbx)
    try:
        yield world
    finally:
        world.close()


def wait_for(pred, timeout=5.0, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def cdr_of(pbx, **match):
    """The newest CDR whose fields include match, waiting for it to be written."""
    def find():
        items = pbx.api.ok("GET", "/cdrs", params={"top": 50})["items"]
        for c in items:
            if all(str(c.get(k)) == str(v) for k, v in match.items()):
                return c
        return None
    c = wait_for(find, API_SETTLE + 2)
    assert c, f"no CDR with {match}"
    return c


def reason(msg):
    """A response's reason phrase."""
    return msg.start.split(" ", 2)[2] if msg.start.count(" ") >= 2 else ""


def audio_both_ways(call, inc, n=10):
    """n RTP packets each way through pbxd's relay, payloads intact."""
    sent = call.rtp.send(call.media(), n, pt=0)
    got = inc.rtp.recv(n)
    assert [p.payload for p in got] == sent, f"caller->callee: {len(got)} of {n}"
    sent = inc.rtp.send(inc.media(), n, pt=0)
    got = call.rtp.recv(n)
    assert [p.payload for p in got] == sent, f"callee->caller: {len(got)} of {n}"


def outbound_setup(pbx, carrier, pattern="9X.", strip=1, prepend="", **pkw):
    p = pbx.provider(carrier, **pkw)
    rule = pbx.api.ok("POST", "/outbound_rules", {"name": f"out-{carrier.addr}", "pattern": pattern,
                                                  "strip_digits": strip, "prepend": prepend,
                                                  "provider_ids": [p["id"]]}, status=201)
    return p, rule


# --------------------------------------------------------------------------- registration

def test_register_trunk_registers(pbx, w):
    """TRK-03: pbxd REGISTERs with the trunk's account, answers the carrier's
    challenge (SHA-256 first, as Kamailio can offer), and shows registered."""
    c = w.carrier(username="acct1", password="Trunk-pw-1", algorithms=("SHA-256", "MD5"), expires=120)
    p = pbx.provider(c, auth="register", username="acct1", password="Trunk-pw-1", register_expires=300)
    reg = c.wait_registered(timeout=5)
    assert reg is not None, w.dump()
    assert reg.auth and reg.auth.get("username") == "acct1", reg.auth
    assert reg.auth.get("algorithm", "MD5").upper() == "SHA-256", reg.auth
    assert "sip:acct1@" in reg.request.get("to"), reg.request
    st = wait_for(lambda: (s := pbx.status(p["id"]))["registered"] and s)
    assert st and st["state"] == "registered" and st["expires_at"], pbx.status(p["id"])
    # a tenant admin sees the state of a provider assigned to the tenant
    assert pbx.api.ok("GET", f"/providers/{p['id']}/status")["registered"] is True
    # deleting it unregisters it (Expires: 0)
    pbx.sys.ok("POST", f"/providers/{p['id']}/destroy", status=204)
    assert c.wait_unregistered(timeout=5), w.dump()


def test_register_refresh_and_wrong_password(pbx, w):
    """A short grant is refreshed before it ends (7 s: the shortest pbxd still
    refreshes at the grant less its 5-s margin, not at half the grant); a wrong
    password shows failed with the carrier's answer and is tried again
    (--trunk-retry-min 1 s)."""
    c = w.carrier(username="acct2", password="Right-pw-2", expires=7)
    p = pbx.provider(c, auth="register", username="acct2", password="Right-pw-2")
    assert c.wait_registered(timeout=5), w.dump()
    assert c.wait_registered(timeout=9, count=2), "not refreshed before the 7-s grant ended\n" + w.dump()
    bad = w.carrier(username="acct3", password="Right-pw-3")
    pb = pbx.provider(bad, auth="register", username="acct3", password="Wrong-pw-3")
    st = wait_for(lambda: (s := pbx.status(pb["id"]))["state"] == "failed" and s)
    assert st and st["registered"] is False and st["last_status_code"] == 403, pbx.status(pb["id"])
    n = len(bad.register_attempts)
    assert bad.wait_register_attempts(n + 2, timeout=8), "no retry after the failure\n" + w.dump()
    # the right password: registered at the next attempt
    pbx.sys.ok("POST", f"/providers/{pb['id']}", {"password": "Right-pw-3"}, status=200)
    assert wait_for(lambda: pbx.status(pb["id"])["registered"], 8), pbx.status(pb["id"])
    for x in (p, pb):
        pbx.sys.ok("POST", f"/providers/{x['id']}/destroy", status=204)


# --------------------------------------------------------------------------- outbound

def test_outbound_call(pbx, w):
    """TRK-08: 9 + number goes out over the trunk with the 9 stripped and the
    extension's outbound caller ID for that trunk, after answering the carrier's
    407, audio both ways; the CDR says out, the trunk and the caller ID."""
    c = w.carrier(username="out1", password="Out-pw-1", invite_auth=True)
    p, _ = outbound_setup(pbx, c, auth="register", username="out1", password="Out-pw-1",
                          name="OutTrunk1")
    ext = pbx.new_ext({"outbound_caller_ids": [{"trunk": "OutTrunk1", "caller_id": "18800606"}]})
    a = w.phone(ext)
    call = a.invite("95551234")
    inc = c.wait_call(timeout=5)
    assert inc is not None, w.dump()
    assert inc.ruri_user == "5551234", inc.ruri
    assert inc.from_user == "18800606" and inc.pai_user == "18800606", (inc.from_uri, inc.pais)
    assert inc.auth and inc.auth.get("username") == "out1", inc.auth
    inc.ringing()
    inc.answer()
    fin = call.wait_final(timeout=5)
    assert fin is not None and fin.code == 200, w.dump()
    audio_both_ways(call, inc)
    assert pbx.status(p["id"])["calls"] == 1
    assert call.bye().code == 200
    cdr = cdr_of(pbx, direction="out", callee="5551234")
    assert cdr["trunk_name"] == "OutTrunk1" and cdr["outbound_caller_id"] == "18800606", cdr
    assert cdr["caller"] == ext, cdr
    assert wait_for(lambda: pbx.status(p["id"])["calls"] == 0)


def test_outbound_anonymous_and_prepend(pbx, w):
    """anonymous_outbound: From anonymous, the identity in P-Asserted-Identity
    with Privacy: id; a rule's prefix prepended after stripping."""
    c = w.carrier()
    # +1 numbers are international: the provider's own country (1) lets them out
    outbound_setup(pbx, c, pattern="8NXXXXXX", strip=1, prepend="+1555", name="AnonTrunk", country_code="1")
    ext = pbx.new_ext({"anonymous_outbound": True,
                       "outbound_caller_ids": [{"trunk": "AnonTrunk", "caller_id": "15550001"}]})
    a = w.phone(ext)
    call = a.invite("82345678")
    inc = c.wait_call(timeout=5)
    assert inc is not None, w.dump()
    assert inc.ruri_user == "+15552345678", inc.ruri
    assert inc.from_user == "anonymous" and inc.pai_user == "15550001", (inc.from_uri, inc.pais)
    assert (inc.header("privacy") or "").strip().lower() == "id"
    inc.reject(486)
    assert call.wait_final(timeout=5).code == 486


def test_refused_numbers_send_nothing(pbx, w):
    """TRK-09/TRK-10: no rule, a disallowed code, a country not allowed: refused
    (404 / 403), and the carrier never hears of them. A country code added to the
    allowed list lets the call out."""
    c = w.carrier()
    outbound_setup(pbx, c, pattern="0!", strip=0, name="IntlTrunk")
    ext = pbx.new_ext()
    a = w.phone(ext)
    assert a.invite("7123").wait_final(timeout=5).code == 404  # no rule, no extension
    dis = pbx.api.ok("POST", "/disallowed_codes", {"code": "0900"}, status=201)
    fin = a.invite("0900123456").wait_final(timeout=5)
    assert fin.code == 403, fin
    fin = a.invite("0044207946000").wait_final(timeout=5)
    assert fin.code == 403 and "country" in reason(fin).lower(), fin
    assert c.invite_attempts == [], c.dump()
    cc = pbx.api.ok("POST", "/allowed_country_codes", {"code": "44"}, status=201)
    call = a.invite("0044207946000")
    inc = c.wait_call(timeout=5)
    assert inc is not None and inc.ruri_user == "0044207946000", w.dump()
    inc.reject(480)
    assert call.wait_final(timeout=5).code == 480
    pbx.api.ok("POST", f"/allowed_country_codes/{cc['id']}/destroy", status=204)
    pbx.api.ok("POST", f"/disallowed_codes/{dis['id']}/destroy", status=204)


def test_failover_on_503(pbx, w):
    """TRK-08: the first provider answers 503: the call goes to the next."""
    bad, good = w.carrier(invite_code=503), w.carrier()
    p1, p2 = pbx.provider(bad, name="Down"), pbx.provider(good, name="Up")
    pbx.api.ok("POST", "/outbound_rules", {"name": "two", "pattern": "7XXXXXX", "provider_ids": [p1["id"], p2["id"]]},
               status=201)
    a = w.phone(pbx.new_ext())
    call = a.invite("7654321")
    inc = good.wait_call(timeout=6)
    assert inc is not None and inc.ruri_user == "7654321", w.dump()
    assert len(bad.invite_attempts) == 1
    inc.answer()
    assert call.wait_final(timeout=5).code == 200
    audio_both_ways(call, inc, 5)
    call.bye()


def test_caps(pbx, w):
    """Toll-fraud caps: an extension's concurrent outbound calls and its calls per
    hour; over the cap the call is refused (403 with the cap named) and nothing
    reaches the carrier."""
    pbx.api.ok("POST", "/tenant/outbound_limits", {"extension_max_concurrent_calls": 1,
                                                   "extension_max_calls_per_hour": 3}, status=200)
    try:
        c = w.carrier()
        outbound_setup(pbx, c, pattern="6XXX", strip=0, name="CapTrunk")
        a = w.phone(pbx.new_ext())
        first = a.invite("6001")
        inc = c.wait_call(timeout=5)
        assert inc is not None, w.dump()
        inc.answer()
        assert first.wait_final(timeout=5).code == 200
        fin = a.invite("6002").wait_final(timeout=5)
        assert fin.code == 403 and "limit" in reason(fin).lower(), fin
        assert len(c.invite_attempts) == 1
        first.bye()
        # two more in the hour, then the hourly cap
        for n in ("6003", "6004"):
            call = a.invite(n)
            inc = c.wait_call(timeout=5)
            assert inc is not None, w.dump()
            inc.reject(486)
            assert call.wait_final(timeout=5).code == 486
        fin = a.invite("6005").wait_final(timeout=5)
        assert fin.code == 403 and "hour" in reason(fin).lower(), fin
    finally:
        pbx.api.ok("POST", "/tenant/outbound_limits", {"extension_max_concurrent_calls": 2,
                                                       "extension_max_calls_per_hour": 20}, status=200)


def test_unregistered_extension_cannot_call_out(pbx, w):
    """An extension with no registered device sends nothing out, even with its password."""
    c = w.carrier()
    outbound_setup(pbx, c, pattern="5XXX", strip=0, name="RegOnly")
    ext = pbx.new_ext()
    a = w.phone(ext, register=False)
    fin = a.invite("5123").wait_final(timeout=5)
    assert fin.code == 403, fin
    assert c.invite_attempts == []


# --------------------------------------------------------------------------- inbound

def test_inbound_call(pbx, w):
    """TRK-02/TRK-07: the carrier's INVITE to the DID rings the rule's extension
    (no challenge: an IP trunk), audio both ways; CDR direction in, did_cid."""
    c = w.carrier()
    p = pbx.provider(c)
    ext = pbx.new_ext()
    b = w.phone(ext)
    pbx.api.ok("POST", "/inbound_rules", {"name": "main", "provider_id": p["id"], "did": "18800606",
                                          "destination": {"action": "number", "number": ext}}, status=201)
    call = c.invite(pbx.p.udp_port, "18800606", caller="+15557654321")
    inc = b.wait_invite()
    assert inc is not None, w.dump()
    inc.ringing()
    inc.answer()
    fin = call.wait_final(timeout=5)
    assert fin is not None and fin.code == 200, w.dump()
    audio_both_ways(call, inc)
    call.bye()
    cdr = cdr_of(pbx, direction="in", did_cid="18800606")
    assert cdr["callee"] == ext and cdr["caller"] == "+15557654321", cdr
    assert cdr["trunk_name"] == p["name"], cdr


def test_inbound_e164_forms(pbx, w):
    """TRK-12: with the provider's country code, +E.164, 00 and national forms of
    a DID reach the same rule."""
    c = w.carrier()
    p = pbx.provider(c, country_code="44")
    ext = pbx.new_ext()
    b = w.phone(ext)
    pbx.api.ok("POST", "/inbound_rules", {"name": "uk", "provider_id": p["id"], "did": "+442079460000",
                                          "destination": {"action": "number", "number": ext}}, status=201)
    for form in ("+442079460000", "00442079460000", "02079460000"):
        call = c.invite(pbx.p.udp_port, form)
        inc = b.wait_invite()
        assert inc is not None, f"{form}\n{w.dump()}"
        inc.reject(486)
        assert call.wait_final(timeout=5).code == 486


def test_inbound_refusals(pbx, w):
    """An unknown DID: 404, nobody rings; the same INVITE from an address that is
    not the provider's: refused, nobody rings; a blacklisted caller: 403."""
    c = w.carrier()
    p = pbx.provider(c)
    ext = pbx.new_ext()
    b = w.phone(ext)
    pbx.api.ok("POST", "/inbound_rules", {"name": "r", "provider_id": p["id"], "did": "18800700",
                                          "destination": {"action": "number", "number": ext}}, status=201)
    fin = c.invite(pbx.p.udp_port, "18800799").wait_final(timeout=5)
    assert fin.code == 404, fin
    stranger = w.carrier()
    fin = stranger.invite(pbx.p.udp_port, "18800700").wait_final(timeout=5)
    assert fin.code >= 400, fin
    bl = pbx.api.ok("POST", "/blacklisted_numbers", {"number": "+15550666"}, status=201)
    fin = c.invite(pbx.p.udp_port, "18800700", caller="+15550666").wait_final(timeout=5)
    assert fin.code == 403, fin
    assert b.wait_invite(timeout=0.5) is None, "a refused call rang the extension"
    pbx.api.ok("POST", f"/blacklisted_numbers/{bl['id']}/destroy", status=204)
    # unassigned: the tenant's rule no longer takes the provider's calls
    pbx.sys.ok("POST", f"/providers/{p['id']}/assignees/{pbx.tenant_id}/destroy", status=204)
    fin = c.invite(pbx.p.udp_port, "18800700").wait_final(timeout=5)
    assert fin.code == 404, fin


# --------------------------------------------------------------------------- restart

def test_restart_reregisters(pbx, w):
    """Restart pbxd: the providers register again; rules are all still there."""
    c = w.carrier(username="rst", password="Restart-pw-1")
    p = pbx.provider(c, auth="register", username="rst", password="Restart-pw-1")
    assert c.wait_registered(timeout=5), w.dump()
    n = len(c.registrations)
    before = pbx.api.ok("GET", "/inbound_rules")["count"], pbx.api.ok("GET", "/outbound_rules")["count"]
    pbx.p.stop()
    pbx.p.start()
    pbx.sys = pbx.p.sysadmin()
    pbx.api = pbx.p.tenant_admin()
    assert wait_for(lambda: len(c.registrations) > n, 8), "not registered again after the restart\n" + w.dump()
    assert wait_for(lambda: pbx.status(p["id"])["registered"], 5)
    after = pbx.api.ok("GET", "/inbound_rules")["count"], pbx.api.ok("GET", "/outbound_rules")["count"]
    assert after == before


# --------------------------------------------------------------------------- forwarding out, NAT

def test_forward_out_in2out(pbx, w):
    """FWD-06 to a PSTN number (users-and-extensions: "requires the trunk and
    outbound rule"): a call from the trunk to a DID whose extension forwards
    unconditionally to a mobile goes back out over the tenant's outbound rule,
    presenting the original caller with a Diversion (RFC 5806) naming the
    extension's caller ID; audio carrier to carrier through pbxd; CDR direction
    in2out. USR-19: with "Always deliver outbound caller ID" the extension's own
    caller ID is in From instead. A colleague's call forwarded out presents that
    colleague's own caller ID for the trunk."""
    c = w.carrier()
    p = pbx.provider(c, name="FwdTrunk")
    pbx.api.ok("POST", "/outbound_rules", {"name": "mobiles", "pattern": "07XXXXXXXX", "provider_ids": [p["id"]]},
               status=201)
    ext = pbx.new_ext({"outbound_caller_ids": [{"trunk": "FwdTrunk", "caller_id": "18800900"}],
                       "forwarding": {"unconditional": {"mode": "always",
                                                        "destination": {"action": "number", "number": "0712345678"}}}})
    pbx.api.ok("POST", "/inbound_rules", {"name": "fwd", "provider_id": p["id"], "did": "18800900",
                                          "destination": {"action": "number", "number": ext}}, status=201)
    call = c.invite(pbx.p.udp_port, "18800900", caller="+15550123")
    out = c.wait_call(timeout=5)
    assert out is not None, w.dump()
    assert out.ruri_user == "0712345678" and out.from_user == "+15550123", (out.ruri, out.from_uri)
    div = out.header("diversion") or ""
    assert "sip:18800900@" in div and "reason=unconditional" in div, div
    out.answer()
    assert call.wait_final(timeout=5).code == 200, w.dump()
    audio_both_ways(call, out, 5)
    call.bye()
    cdr = cdr_of(pbx, direction="in2out", did_cid="18800900")
    assert cdr["trunk_name"] == "FwdTrunk" and cdr["outbound_caller_id"] == "+15550123", cdr

    # Always deliver outbound caller ID: the extension's own, still diverted.
    pbx.api.ok("POST", f"/users/{pbx.ids[ext]}/extension", {"deliver_outbound_caller_id": True}, status=200)
    presents(w, c, c.invite(pbx.p.udp_port, "18800900", caller="+15550124"), "18800900")

    # A colleague calls; the forward presents the colleague's caller ID for the trunk.
    pbx.api.ok("POST", f"/users/{pbx.ids[ext]}/extension", {"deliver_outbound_caller_id": False}, status=200)
    mate = pbx.new_ext({"outbound_caller_ids": [{"trunk": "FwdTrunk", "caller_id": "18800901"}]})
    presents(w, c, w.phone(mate).invite(ext), "18800901")


def presents(w, carrier, call, cid):
    """The forward of call reaches the carrier from cid (From and P-Asserted-Identity),
    diverted by the extension's caller ID 18800900 unconditionally; the carrier's
    486 ends it."""
    out = carrier.wait_call(timeout=5)
    assert out is not None, w.dump()
    assert out.from_user == cid and out.pai_user == cid, (out.from_uri, out.pais)
    div = out.header("diversion") or ""
    assert "sip:18800900@" in div and "reason=unconditional" in div, div
    out.reject(486)
    assert call.wait_final(timeout=5).code == 486, w.dump()


def test_public_address(pbx, tmp_path):
    """SIP-08: with --public-address pbxd writes that address (not its own) in
    Via, Contact and SDP towards providers; its own phones still see the local one."""
    p = Pbxd(tmp_path / "nat", args=["--rtp-ports=33000-33099", "--public-address=127.0.0.99"]).start()
    c = Carrier(new_addr(), username="nat", password="Nat-pw-1")
    try:
        sys_api = p.sysadmin()
        sys_api.ok("POST", "/providers", {"name": "natted", "hostname": c.addr, "port": c.port,
                                          "authentication": "register", "username": "nat",
                                          "password": "Nat-pw-1"}, status=201)
        reg = c.wait_registered(timeout=5)
        assert reg is not None, c.dump()
        assert "127.0.0.99" in reg.contact and "127.0.0.99" in reg.request.get("via"), reg.request
    finally:
        c.close()
        p.assert_clean_exit()


# --------------------------------------------------------------------------- TLS

class TlsRegistrar:
    """The least registrar over TLS: accepts connections with its certificate,
    challenges a REGISTER (401, MD5 qop=auth) and accepts the credentials (200),
    records each request and the SNI the client sent."""

    def __init__(self, addr, certfile, keyfile, password):
        import socket as so
        import ssl
        import threading
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.snis = []
        self.ctx.sni_callback = lambda s, name, c: self.snis.append(name)
        self.sock = so.socket(so.AF_INET, so.SOCK_STREAM)
        self.sock.setsockopt(so.SOL_SOCKET, so.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.addr, self.port = self.sock.getsockname()
        self.password = password
        self.requests, self.handshake_errors = [], []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import ssl
        while not self.stop:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn = self.ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.handshake_errors.append(str(e))
                raw.close()
                continue
            self._serve(conn)

    def _serve(self, conn):
        import hashlib
        from sipdigest import parse_challenge
        conn.settimeout(0.5)
        buf = b""
        nonce = "tlsnonce1234"
        while not self.stop:
            try:
                data = conn.recv(65536)
            except OSError:
                data = None
                if not self.stop:
                    continue
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                text = head.decode()
                lines = text.split("\r\n")
                hdr = {}
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    hdr.setdefault(k.strip().lower(), v.strip())
                n = int(hdr.get("content-length", "0"))
                if len(rest) < n:
                    break
                buf = rest[n:]
                self.requests.append(text)
                auth = hdr.get("authorization")
                ok = False
                if auth:
                    a = parse_challenge(auth)
                    h = lambda s: hashlib.md5(s.encode()).hexdigest()
                    ha1 = h(f"{a['username']}:{a['realm']}:{self.password}")
                    ha2 = h(f"REGISTER:{a['uri']}")
                    ok = a.get("response") == h(f"{ha1}:{nonce}:{a['nc']}:{a['cnonce']}:auth:{ha2}")
                resp = ["SIP/2.0 200 OK" if ok else "SIP/2.0 401 Unauthorized"]
                resp += [f"{k}: {hdr[k]}" for k in ("via", "from", "call-id", "cseq")]
                resp.append(f"To: {hdr['to']};tag=tlsreg")
                if ok:
                    resp += [f"Contact: {hdr['contact']};expires=300"]
                else:
                    resp.append(f'WWW-Authenticate: Digest realm="tls.test", nonce="{nonce}", algorithm=MD5, qop="auth"')
                resp.append("Content-Length: 0")
                conn.sendall(("\r\n".join(resp) + "\r\n\r\n").encode())
        conn.close()

    def close(self):
        self.stop = True
        self.thread.join(timeout=2)
        self.sock.close()


def make_certs(d, ip):
    """A CA, and a server certificate it signs for IP address ip (and a wrong one)."""
    import subprocess
    def run(*a):
        subprocess.run(a, check=True, capture_output=True, cwd=d)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=pbxd test CA")
    for name, san in (("good", f"IP:{ip}"), ("bad", "IP:192.0.2.1")):
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}")
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


def test_tls_trunk(tmp_path):
    """TRK-03 over TLS: pbxd connects to the provider, checks its certificate
    against the CAs it trusts (--sip-tls-ca-file) and the address it is known by,
    and registers; a certificate for another name is refused (no REGISTER sent)."""
    ip = new_addr()
    make_certs(tmp_path, ip)
    p = Pbxd(tmp_path / "tls", args=["--rtp-ports=33100-33199", f"--sip-tls-ca-file={tmp_path / 'ca.pem'}",
                                     "--trunk-retry-min=1", "--trunk-retry-max=1"]).start()
    good = TlsRegistrar(ip, str(tmp_path / "good.pem"), str(tmp_path / "good.key"), "Tls-pw-1")
    bad = TlsRegistrar(new_addr(), str(tmp_path / "bad.pem"), str(tmp_path / "bad.key"), "Tls-pw-1")
    try:
        api = p.sysadmin()
        pg = api.ok("POST", "/providers", {"name": "tls-good", "hostname": good.addr, "port": good.port,
                                           "transport": "tls", "authentication": "register", "username": "t1",
                                           "password": "Tls-pw-1"}, status=201)
        pb = api.ok("POST", "/providers", {"name": "tls-bad", "hostname": bad.addr, "port": bad.port,
                                           "transport": "tls", "authentication": "register", "username": "t1",
                                           "password": "Tls-pw-1"}, status=201)
        st = wait_for(lambda: (s := api.ok("GET", f"/providers/{pg['id']}/status"))["registered"] and s, 8)
        assert st, api.ok("GET", f"/providers/{pg['id']}/status")
        assert any("Via: SIP/2.0/TLS" in r and "transport=tls" in r for r in good.requests), good.requests
        assert wait_for(lambda: api.ok("GET", f"/providers/{pb['id']}/status")["state"] == "failed", 8)
        assert bad.requests == [], "a REGISTER went to a peer whose certificate is for another name"
        assert bad.handshake_errors, "no handshake was tried"
    finally:
        good.close()
        bad.close()
        p.assert_clean_exit()
