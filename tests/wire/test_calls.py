"""Calls between extensions through pbxd's B2BUA (issue 12), seen from the phones:
python user agents (callua.py) on both sides, and SIPp on both sides for the
simplest calls (scenarios/call_*.xml). What pbxd keeps of the calls is read back
through the REST API: GET /api/call_sessions while a call is up, GET /api/cdrs
once it has ended.

The caller's INVITE is challenged (407, digest MD5 with qop=auth) and sent again
with credentials; pbxd rings every registered device of the callee at the address
and port it registered from, with its own SDP (c= 127.0.0.1, a port of
--rtp-ports) and an X-Session-Id; the first 200 wins, the others are CANCELled.
RTP is relayed both ways through pbxd's ports, payloads untouched.

Every test has its own extensions (fresh users), so that a device left registered
by a failed test rings nowhere else. Nothing waits more than a few seconds but the
ACK time-out (RFC 3261 13.3.1.4: 64*T1 = 32 s), bounded at 40 s.

Features: CALL-01 (internal call, two-way audio, direction ext), CALL-03 (every
device rung, the first answer wins, the others cancelled, a target each in the
CDR), CALL-07 (hang-up by either side: caller_disconnect / callee_disconnect),
CALL-08 (cancelled before answer: cancelled, answered_time 0), SIP-09 (X-Session-Id
on the INVITE and the 200, equal to the CDR's session_id), SIP-10 (standard
failure codes, reused in the CDR's status_code)."""

import itertools
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from callua import CallUA, Rtp, Sdp, branch_of, display_of, make_sdp, tag_of, uri_of
from conftest import Pbxd, free_port
from sipdigest import parse_challenge

SCEN = Path(__file__).resolve().parent / "scenarios"
DOMAIN = "pbx.local"
RTP_MIN, RTP_MAX = 30000, 30999
API_SETTLE = 3.0  # how long the API may lag behind SIP (it reads through queues)
ELSEWHERE = re.compile(r'^SIP\s*;\s*cause\s*=\s*200\s*;\s*text\s*=\s*"Call completed elsewhere"\s*$', re.I)


class Pbx:
    """The module's pbxd and its tenant admin's API; `new_ext` creates a user with
    the next extension number (101, 102, ...) and remembers its SIP password."""

    def __init__(self, p):
        self.p = p
        self.api = p.tenant_admin()
        self.numbers = itertools.count(101)
        self.passwords = {}
        self.ids = {}

    def new_ext(self, display=None):
        ext = str(next(self.numbers))
        pw = f"call-Secret-{ext}"
        uid = self.api.create_user(ext, pw)
        if display:
            self.api.ok("POST", f"/users/{uid}", {"display_name": display}, status=200)
        self.passwords[ext], self.ids[ext] = pw, uid
        return ext


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    """A pbxd relaying media on --rtp-ports 30000-30999 that bans no one here (the
    wrong-password and no-credentials tests are failures of their own)."""
    p = Pbxd(tmp_path_factory.mktemp("calls"),
             args=[f"--rtp-ports={RTP_MIN}-{RTP_MAX}", "--auth-max-failures=1000"]).start()
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()


class Phones:
    """The phones of one test: `ua(ext)` makes a registered CallUA. When the test
    ends, every call still up is ended (CANCEL, BYE, 480) and the UAs are closed
    (sockets, RTP sockets, threads). `dump()` is every UA's trace and pbxd's log
    tail, for assertion messages."""

    def __init__(self, pbx):
        self.pbx = pbx
        self.uas = []

    def ua(self, ext, password=None, register=True, **kw):
        ua = CallUA(self.pbx.p.udp_port, ext, password or self.pbx.passwords.get(ext), **kw)
        self.uas.append(ua)
        if register:
            r = ua.register()
            assert r is not None and r.code == 200, f"{ext} did not register: {r}\n{ua.dump()}"
        return ua

    def dump(self):
        return "\n".join(ua.dump() for ua in self.uas) + "\n--- pbxd log:\n" + self.pbx.p.log_tail(60)

    def close(self):
        for ua in self.uas:
            ua.hang_up_all()  # what a failed test left up ends here, not in the next test
        for ua in self.uas:
            ua.close()


@pytest.fixture
def phones(pbx):
    ph = Phones(pbx)
    try:
        yield ph
    finally:
        ph.close()


# --------------------------------------------------------------------------- helpers

def in_range(sdp):
    """An SDP naming pbxd's media address and an even port of --rtp-ports."""
    return sdp is not None and sdp.addr == "127.0.0.1" and RTP_MIN <= sdp.port <= RTP_MAX \
        and sdp.port % 2 == 0


def session_id(msg):
    """The X-Session-Id of a message (digits), asserted present."""
    v = msg.get("x-session-id")
    assert v is not None and re.fullmatch(r"\d+", v.strip()), f"no X-Session-Id of digits in:\n{msg}"
    return v.strip()


def list_all(api, path, **params):
    """Every item of a list route, page by page (top 100)."""
    items, skip = [], 0
    while True:
        data = api.ok("GET", path, params={**params, "skip": skip, "top": 100})
        assert isinstance(data.get("count"), int) and isinstance(data.get("items"), list), data
        items += data["items"]
        skip += len(data["items"])
        if not data["items"] or skip >= data["count"]:
            return items


def sessions(pbx):
    """GET /api/call_sessions (one answer, no paging)."""
    data = pbx.api.ok("GET", "/call_sessions")
    assert data["count"] == len(data["items"]), data
    return data["items"]


def wait_session(pbx, pred, timeout=API_SETTLE):
    """The call session for which pred holds, waiting for the API to show it."""
    deadline = time.monotonic() + timeout
    while True:
        items = sessions(pbx)
        hit = [s for s in items if pred(s)]
        if hit or time.monotonic() > deadline:
            assert len(hit) == 1, f"want one such call session: {items}"
            return hit[0]
        time.sleep(0.05)


def wait_no_session(pbx, sid, timeout=API_SETTLE):
    deadline = time.monotonic() + timeout
    while True:
        items = sessions(pbx)
        if all(s.get("session_id") != sid for s in items):
            return
        assert time.monotonic() < deadline, f"session {sid} still listed: {items}"
        time.sleep(0.05)


def wait_cdr(pbx, timeout=API_SETTLE, **match):
    """The one CDR whose fields equal `match` (e.g. session_id=..., call_id=...),
    waiting for it to be stored."""
    deadline = time.monotonic() + timeout
    while True:
        items = list_all(pbx.api, "/cdrs")
        hit = [c for c in items if all(c.get(k) == v for k, v in match.items())]
        if hit or time.monotonic() > deadline:
            assert len(hit) == 1, f"want one CDR with {match}, have {len(hit)}: {items[:5]}"
            return hit[0]
        time.sleep(0.1)


def check_cdr_shape(cdr):
    """CDR-07's types: times and ids as digit strings, status_code a string here
    and a number in the targets."""
    for k in ("session_id", "start_time", "ring_time", "answered_time", "ended_time", "status_code"):
        assert isinstance(cdr.get(k), str) and re.fullmatch(r"\d+", cdr[k]), (k, cdr)
    assert isinstance(cdr.get("call_targets"), list), cdr
    for t in cdr["call_targets"]:
        for k in ("start_time", "ring_time", "answered_time", "ended_time"):
            assert isinstance(t.get(k), str) and re.fullmatch(r"\d+", t[k]), (k, t)
        assert isinstance(t.get("status_code"), int), t
    start, end = int(cdr["start_time"]), int(cdr["ended_time"])
    assert abs(start - time.time()) < 120 and start <= end, cdr
    if cdr["answered_time"] != "0":
        assert start <= int(cdr["answered_time"]) <= end, cdr


def check_ext_cdr(cdr, caller, callee, ended_reason, answered, status="0", targets=1):
    check_cdr_shape(cdr)
    assert (cdr["caller"], cdr["callee"], cdr["direction"]) == (caller, callee, "ext"), cdr
    assert cdr["ended_reason"] == ended_reason, cdr
    assert (cdr["answered_time"] != "0") == answered, cdr
    assert cdr["status_code"] == status, cdr
    assert cdr["callee_domain"] == DOMAIN, cdr
    assert len(cdr["call_targets"]) == targets, cdr


def is_device(ua, destination):
    """Whether a CDR target's destination (sip:EXT@HOST:PORT) names this device: by
    the address it registered from (where pbxd sends) or the one of its Contact."""
    return any(re.search(rf"@127\.0\.0\.1:{port}(?:[;>]|$)", destination or "")
               for port in (ua.lport, ua.contact_port))


class Up:
    """An answered call: extensions x (caller) and y, their UAs a and b, the
    caller's OutgoingCall `call` and its 200 `ok`, the callee's IncomingCall `inc`
    (its INVITE: inc.req) and the X-Session-Id `sid`."""


def call_up(pbx, phones, caller_display="Alice Caller"):
    """A call between two fresh extensions, rung (180) and answered (200, ACKed on
    both sides). Returns an Up."""
    u = Up()
    u.x, u.y = pbx.new_ext(caller_display), pbx.new_ext()
    u.a = phones.ua(u.x, display=caller_display)
    u.b = phones.ua(u.y)
    u.call = u.a.invite(u.y)
    assert u.call.challenge is not None and u.call.challenge.code == 407, phones.dump()
    u.inc = u.b.wait_invite()
    assert u.inc is not None, f"no INVITE reached {u.y}:\n{phones.dump()}"
    u.sid = session_id(u.inc.req)
    u.inc.ringing()
    assert u.call.wait_response(180) is not None, phones.dump()
    u.inc.answer()
    u.ok = u.call.wait_final()
    assert u.ok is not None and u.ok.code == 200, phones.dump()
    assert u.inc.wait_ack() is not None, f"pbxd did not ACK the callee's 200:\n{phones.dump()}"
    return u


def hang_up(leg, other, phones):
    """BYE from `leg` (an OutgoingCall or IncomingCall): 200 to it, and a BYE to
    `other`, the far side (answered 200 by its UA). Returns that BYE."""
    r = leg.bye()
    assert r is not None and r.code == 200, f"BYE answered {r}:\n{phones.dump()}"
    bye = other.wait_request("BYE")
    assert bye is not None, f"no BYE reached the other side:\n{phones.dump()}"
    return bye


# --------------------------------------------------------------------------- calls


def test_answered_call_caller_hangs_up(pbx, phones):
    """CALL-01, CALL-07, SIP-09: 101 calls 102. The INVITE is challenged with 407 and
    sent again with credentials (100 Trying then); 102's phone gets pbxd's INVITE at
    its registered Contact, From "display" <sip:101@pbx.local>, To
    <sip:102@pbx.local>, an X-Session-Id and pbxd's SDP (127.0.0.1, a port of
    --rtp-ports, the caller's PCMU/PCMA/telephone-event). 180 reaches the caller;
    the 200 reaches it with pbxd's other port and the same X-Session-Id; pbxd ACKs
    the callee. BYE from the caller: 200, BYE to the callee. The CDR: 101 -> 102,
    ext, caller_disconnect, answered, status "0", one target, the session id."""
    x, y = pbx.new_ext("Alice Caller"), pbx.new_ext("Bob Callee")
    a = phones.ua(x, display="Alice Caller")
    b = phones.ua(y)
    call = a.invite(y)
    assert call.challenge is not None and call.challenge.code == 407, phones.dump()
    assert call.wait_response(100, timeout=2) is not None, f"no 100 Trying:\n{phones.dump()}"
    inc = b.wait_invite()
    assert inc is not None, f"no INVITE reached {y}:\n{phones.dump()}"

    req = inc.req
    assert inc.src == ("127.0.0.1", pbx.p.udp_port), inc.src
    assert req.start == f"INVITE {uri_of(b.contact())} SIP/2.0", req.start
    frm = req.get("from")
    assert uri_of(frm) == f"sip:{x}@{DOMAIN}" and display_of(frm) == "Alice Caller" and tag_of(frm), frm
    assert uri_of(req.get("to")) == f"sip:{y}@{DOMAIN}" and tag_of(req.get("to")) is None, req.get("to")
    assert req.get("call-id") != call.call_id  # a B2BUA: its own dialog
    sid = session_id(req)
    offer = inc.offer
    assert in_range(offer), offer
    assert offer.pts == [0, 8, 101], offer
    assert [offer.rtpmap[pt].lower() for pt in offer.pts] == \
        ["pcmu/8000", "pcma/8000", "telephone-event/8000"], offer.text

    inc.ringing()
    assert call.wait_response(180) is not None, phones.dump()
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    assert session_id(ok) == sid
    assert in_range(call.remote_sdp) and call.remote_sdp.port != offer.port, (call.remote_sdp, offer)
    assert call.remote_sdp.codecs()[0] == "PCMU", call.remote_sdp
    assert inc.wait_ack() is not None, f"pbxd did not ACK the callee's 200:\n{phones.dump()}"
    assert call.acks >= 1
    assert [r.code for r in call.responses()] == [100, 180, 200], phones.dump()

    bye = hang_up(call, inc, phones)
    assert bye.get("call-id") == req.get("call-id")
    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "caller_disconnect", answered=True)
    assert cdr["call_id"] == call.call_id, cdr
    assert cdr["caller_display_name"] == "Alice Caller" and cdr["caller_domain"] == DOMAIN, cdr
    t = cdr["call_targets"][0]
    assert t["callee"] == y and is_device(b, t["destination"]) and t["answered_time"] != "0", t


def test_callee_hangs_up(pbx, phones):
    """CALL-07: the callee's BYE is answered 200 and a BYE goes to the caller (in the
    caller's dialog: its Call-ID, its tag as To tag); the CDR ends callee_disconnect."""
    u = call_up(pbx, phones)
    bye = hang_up(u.inc, u.call, phones)
    assert bye.get("call-id") == u.call.call_id
    assert tag_of(bye.get("to")) == u.call.local_tag and tag_of(bye.get("from")) == u.call.remote_tag, bye
    assert bye.start.split()[1] == f"sip:{u.x}@127.0.0.1:{u.a.lport};transport=udp", bye.start
    cdr = wait_cdr(pbx, session_id=u.sid)
    check_ext_cdr(cdr, u.x, u.y, "callee_disconnect", answered=True)


def test_caller_cancels(pbx, phones):
    """CALL-08: CANCEL while 102's two devices ring: 200 to the CANCEL, 487 to the
    INVITE (ACKed), CANCEL to every ringing device (each answers 200 and 487, and
    gets pbxd's ACK of the 487). The call leaves the active list; its CDR ends
    cancelled with answered_time "0" and a target per device, none answered."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b1, b2 = phones.ua(x), phones.ua(y), phones.ua(y)
    call = a.invite(y)
    incs = [b1.wait_invite(), b2.wait_invite()]
    assert None not in incs, phones.dump()
    sid = session_id(incs[0].req)
    for inc in incs:
        inc.ringing()
    assert call.wait_response(180) is not None, phones.dump()
    r = call.cancel()
    assert r is not None and r.code == 200, phones.dump()
    f = call.wait_final()
    assert f is not None and f.code == 487, phones.dump()
    for inc in incs:
        assert inc.wait_cancel() is not None, f"no CANCEL to a ringing device:\n{phones.dump()}"
        ack = inc.wait_ack()
        assert ack is not None and branch_of(ack) == branch_of(inc.req), \
            f"no ACK of the 487:\n{phones.dump()}"
    wait_no_session(pbx, sid)
    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "cancelled", answered=False, status=cdr["status_code"], targets=2)
    assert [t["answered_time"] for t in cdr["call_targets"]] == ["0", "0"], cdr
    assert cdr["call_id"] == call.call_id, cdr


def test_callee_busy_486(pbx, phones):
    """SIP-10: the only device answers 486: the caller gets 486 (and its ACK is
    taken), the device gets pbxd's ACK; the CDR has status_code "486"."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    call = a.invite(y)
    inc = b.wait_invite()
    assert inc is not None, phones.dump()
    sid = session_id(inc.req)
    inc.reject(486)
    f = call.wait_final()
    assert f is not None and f.code == 486, phones.dump()
    assert inc.wait_ack() is not None, f"pbxd did not ACK the 486:\n{phones.dump()}"
    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, cdr["ended_reason"], answered=False, status="486")
    assert cdr["call_id"] == call.call_id


def test_busy_only_when_every_device_refused(pbx, phones):
    """CALL-03, SIP-10: of two devices, one answers 486 while the other rings: the
    caller gets no final yet; the second answers 486 too: the caller gets 486."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x)
    b1, b2 = phones.ua(y), phones.ua(y)
    call = a.invite(y)
    i1, i2 = b1.wait_invite(), b2.wait_invite()
    assert i1 is not None and i2 is not None, phones.dump()
    i2.ringing()
    i1.reject(486)
    assert i1.wait_ack() is not None, phones.dump()
    assert call.wait_final(timeout=1.0) is None, f"a final before every device refused:\n{phones.dump()}"
    i2.reject(486)
    f = call.wait_final()
    assert f is not None and f.code == 486, phones.dump()
    assert i2.wait_ack() is not None, phones.dump()


def test_nobody_registered_480(pbx, phones):
    """SIP-10: an extension with no device registered: 480 after authentication;
    the CDR has status_code "480"."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x)
    call = a.invite(y)
    assert call.challenge is not None, phones.dump()
    f = call.wait_final()
    assert f is not None and f.code == 480, phones.dump()
    cdr = wait_cdr(pbx, call_id=call.call_id)
    check_cdr_shape(cdr)
    assert (cdr["caller"], cdr["callee"], cdr["status_code"], cdr["answered_time"]) == (x, y, "480", "0"), cdr


def test_unknown_number_404(pbx, phones):
    """SIP-10: a number that is no one's (999): 404 once authenticated (an
    unauthenticated caller learns nothing of the numbering plan: the INVITE is
    challenged first); the CDR has status_code "404"."""
    x = pbx.new_ext()
    a = phones.ua(x)
    call = a.invite("999")
    assert call.challenge is not None and call.challenge.code == 407, phones.dump()
    f = call.wait_final()
    assert f is not None and f.code == 404, phones.dump()
    cdr = wait_cdr(pbx, call_id=call.call_id)
    check_cdr_shape(cdr)
    assert (cdr["caller"], cdr["callee"], cdr["status_code"], cdr["answered_time"]) == \
        (x, "999", "404", "0"), cdr


def test_no_credentials_407(pbx, phones):
    """SIP-10: an INVITE without credentials gets 407 with a Proxy-Authenticate:
    Digest, MD5, realm pbx.local, qop auth; the callee's phone does not ring."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    call = a.invite(y, auth=False)
    f = call.wait_final()
    assert f is not None and f.code == 407, phones.dump()
    chals = [parse_challenge(v) for v in f.all("proxy-authenticate")]
    md5 = [c for c in chals if c.get("algorithm", "MD5").upper() == "MD5"]
    assert md5, f
    assert md5[0]["realm"] == DOMAIN and md5[0].get("nonce"), md5
    assert "auth" in [q.strip() for q in md5[0].get("qop", "").split(",")], md5
    assert all(v.strip().lower().startswith("digest ") for v in f.all("proxy-authenticate")), f
    assert b.no_request(0.5, "INVITE"), phones.dump()


def test_wrong_password_403(pbx, phones):
    """SIP-10: a caller answering the 407 with a wrong password gets 403; nothing
    rings and no CDR is written for it."""
    x, y = pbx.new_ext(), pbx.new_ext()
    b = phones.ua(y)
    bad = phones.ua(x, password="not-the-password", register=False)
    call = bad.invite(y)
    assert call.challenge is not None and call.challenge.code == 407, phones.dump()
    f = call.wait_final()
    assert f is not None and f.code == 403, phones.dump()
    assert b.no_request(0.5, "INVITE"), phones.dump()
    time.sleep(0.5)
    assert not [c for c in list_all(pbx.api, "/cdrs") if c.get("call_id") == call.call_id]


def test_forking_first_answer_wins(pbx, phones):
    """CALL-03: 102 has two devices (one registered with a Contact port that is not
    its source port): both get the INVITE, at their source address and port, with
    the Request-URI their Contact and the same X-Session-Id. The second answers; the
    first gets CANCEL with Reason: SIP;cause=200;text="Call completed elsewhere",
    answers 200 and 487 and gets pbxd's ACK. The CDR has a target per device, only
    the one that answered with an answered_time."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x)
    b1 = phones.ua(y)
    b2 = phones.ua(y, contact_port=free_port())
    call = a.invite(y)
    i1, i2 = b1.wait_invite(), b2.wait_invite()
    assert i1 is not None and i2 is not None, phones.dump()
    for ua, inc in ((b1, i1), (b2, i2)):
        assert inc.req.start == f"INVITE {uri_of(ua.contact())} SIP/2.0", inc.req.start
    sid = session_id(i1.req)
    assert session_id(i2.req) == sid
    i1.ringing()
    i2.ringing()
    assert call.wait_response(180) is not None, phones.dump()
    i2.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200 and session_id(ok) == sid, phones.dump()
    assert i2.wait_ack() is not None, phones.dump()
    cancel = i1.wait_cancel()
    assert cancel is not None, f"no CANCEL to the other device:\n{phones.dump()}"
    assert cancel.get("reason") and ELSEWHERE.match(cancel.get("reason")), cancel
    ack = i1.wait_ack()
    assert ack is not None and branch_of(ack) == branch_of(i1.req), f"no ACK of the 487:\n{phones.dump()}"
    assert b2.no_request(0.3, "CANCEL")

    hang_up(call, i2, phones)
    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "caller_disconnect", answered=True, targets=2)
    by_dev = {}
    for t in cdr["call_targets"]:
        dev = [ua for ua in (b1, b2) if is_device(ua, t["destination"])]
        assert len(dev) == 1, (t, (b1.lport, b1.contact_port), (b2.lport, b2.contact_port))
        by_dev[dev[0].contact_port] = t
    assert by_dev[b1.contact_port]["answered_time"] == "0", cdr
    assert by_dev[b2.contact_port]["answered_time"] != "0", cdr


def test_rtp_both_ways(pbx, phones):
    """CALL-01: RTP from the caller to pbxd's port (of the 200's SDP) reaches the
    callee at its SDP's address from pbxd's port of the callee's leg, and the other
    way round; payloads and payload types arrive unchanged."""
    u = call_up(pbx, phones)
    assert u.call.media()[1] != u.inc.media()[1]
    sent = u.call.rtp.send(u.call.media(), 20, pt=0)
    got = u.inc.rtp.recv(20)
    assert [p.payload for p in got] == sent, f"caller -> callee: {len(got)} of 20"
    assert {p.pt for p in got} == {0} and {p.src for p in got} == {u.inc.media()}, got[:2]
    sent = u.inc.rtp.send(u.inc.media(), 20, pt=0)
    got = u.call.rtp.recv(20)
    assert [p.payload for p in got] == sent, f"callee -> caller: {len(got)} of 20"
    assert {p.pt for p in got} == {0} and {p.src for p in got} == {u.call.media()}, got[:2]
    # both at once, a second round
    s1 = u.call.rtp.send(u.call.media(), 10, pt=8)
    s2 = u.inc.rtp.send(u.inc.media(), 10, pt=8)
    assert [p.payload for p in u.inc.rtp.recv(10)] == s1
    assert [p.payload for p in u.call.rtp.recv(10)] == s2
    hang_up(u.call, u.inc, phones)


def test_rtp_latches_on_callee_source(pbx, phones):
    """CALL-01, symmetric RTP: the callee sends from another port than its SDP
    named; once it has sent, the caller's RTP goes to where the callee's comes from
    (and no longer to the port of its SDP)."""
    u = call_up(pbx, phones)
    other = Rtp()
    try:
        sent = other.send(u.inc.media(), 10)
        assert [p.payload for p in u.call.rtp.recv(10)] == sent
        time.sleep(0.05)
        sent = u.call.rtp.send(u.call.media(), 10)
        got = other.recv(10)
        assert [p.payload for p in got] == sent, f"{len(got)} of 10 at the latched source"
        assert u.inc.rtp.recv(1, timeout=0.2) == []
    finally:
        other.close()
    hang_up(u.call, u.inc, phones)


def test_early_media_183(pbx, phones):
    """CALL-01: a 183 with SDP from the callee reaches the caller as 183 with pbxd's
    SDP, and the callee's RTP before the answer reaches the caller; then the 200 as
    usual."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    call = a.invite(y)
    inc = b.wait_invite()
    assert inc is not None, phones.dump()
    inc.progress()
    r = call.wait_response(183)
    assert r is not None, phones.dump()
    early = Sdp.parse(r.body)
    assert in_range(early) and early.port != inc.offer.port, early
    sent = inc.rtp.send(inc.media(), 10)
    got = call.rtp.recv(10)
    assert [p.payload for p in got] == sent, f"early media: {len(got)} of 10"
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200 and in_range(call.remote_sdp), phones.dump()
    assert inc.wait_ack() is not None
    sent = call.rtp.send(call.media(), 10)
    assert [p.payload for p in inc.rtp.recv(10)] == sent
    hang_up(call, inc, phones)


def test_codecs_offered_are_the_callers_pbxd_supports(pbx, phones):
    """CALL-01: pbxd offers the callee the caller's codecs it relays (PCMA, PCMU,
    telephone-event; not G.723 or a codec no one knows) with the caller's payload
    types and order;
    the callee answers PCMA alone, and so does pbxd's answer to the caller (no
    transcoding: what one side sends, the other can play). PCMA flows both ways."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    call = a.invite(y, codecs=((4, "G723/8000"), (8, "PCMA/8000"), (97, "X-NO-SUCH-CODEC/8000"),
                               (0, "PCMU/8000"), (96, "telephone-event/8000")))
    inc = b.wait_invite()
    assert inc is not None, phones.dump()
    assert inc.offer.pts == [8, 0, 96], inc.offer
    assert [inc.offer.rtpmap[pt].lower() for pt in inc.offer.pts] == \
        ["pcma/8000", "pcmu/8000", "telephone-event/8000"], inc.offer.text
    inc.answer(sdp=make_sdp(inc.rtp.port, ((8, "PCMA/8000"), (96, "telephone-event/8000"))))
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    assert inc.wait_ack() is not None
    ans = call.remote_sdp
    assert [c for c in ans.codecs() if c != "telephone-event"] == ["PCMA"], ans.text
    assert ans.pt_of("PCMA") == 8 and ans.pt_of("telephone-event") == 96, ans.text
    sent = call.rtp.send(call.media(), 10, pt=8)
    assert [p.payload for p in inc.rtp.recv(10)] == sent
    sent = inc.rtp.send(inc.media(), 10, pt=8)
    assert [p.payload for p in call.rtp.recv(10)] == sent
    hang_up(call, inc, phones)


def test_x_session_ids_differ_per_call(pbx, phones):
    """SIP-09: two calls have two session ids; each INVITE and 200 carries its own."""
    u1 = call_up(pbx, phones)
    u2 = call_up(pbx, phones)
    assert session_id(u1.ok) == u1.sid and session_id(u2.ok) == u2.sid and u1.sid != u2.sid
    hang_up(u1.call, u1.inc, phones)
    hang_up(u2.inc, u2.call, phones)


def test_call_sessions_while_up(pbx, phones):
    """SIP-09 (and CALL-09's list of sessions): GET /api/call_sessions lists the call
    while it rings (state ringing) and once answered (state talking, answered_time
    set), with the X-Session-Id as session_id, the caller's Call-ID, numbers, display
    names and direction ext; it is gone once hung up."""
    x, y = pbx.new_ext("Carol"), pbx.new_ext("Dave")
    a, b = phones.ua(x, display="Carol"), phones.ua(y)
    call = a.invite(y)
    inc = b.wait_invite()
    assert inc is not None, phones.dump()
    sid = session_id(inc.req)
    inc.ringing()
    assert call.wait_response(180) is not None
    s = wait_session(pbx, lambda s: s.get("session_id") == sid)
    assert (s["caller"], s["callee"], s["direction"], s["state"]) == (x, y, "ext", "ringing"), s
    assert s["call_id"] == call.call_id and s["answered_time"] == "0", s
    assert s["caller_display_name"] == "Carol" and s["callee_display_name"] == "Dave", s
    inc.answer()
    assert call.wait_final().code == 200
    assert inc.wait_ack() is not None
    s = wait_session(pbx, lambda s: s.get("session_id") == sid and s.get("state") == "talking")
    assert s["answered_time"] != "0" and re.fullmatch(r"\d+", s["answered_time"]), s
    hang_up(call, inc, phones)
    wait_no_session(pbx, sid)


def test_bye_with_wrong_tag_481(pbx, phones):
    """CALL-07: a BYE whose To tag is not the dialog's gets 481 and the call goes on:
    no BYE to the callee, media still relayed, still listed; the right BYE then ends
    it."""
    u = call_up(pbx, phones)
    r = u.call.bye(to=f"<sip:{u.y}@{DOMAIN}>;tag=not-{u.call.remote_tag}")
    assert r is not None and r.code == 481, phones.dump()
    assert u.b.no_request(0.5, "BYE"), phones.dump()
    sent = u.call.rtp.send(u.call.media(), 5)
    assert [p.payload for p in u.inc.rtp.recv(5)] == sent
    s = wait_session(pbx, lambda s: s.get("session_id") == u.sid)
    assert s["state"] == "talking", s
    hang_up(u.call, u.inc, phones)
    wait_no_session(pbx, u.sid)


def test_stops_cleanly_with_calls_in_progress(tmp_path):
    """pbxd stopped (SIGTERM) while one call is answered and another rings exits 0
    with no sanitizer report (its calls are hung up on the way out)."""
    p = Pbxd(tmp_path / "pbxd", args=[f"--rtp-ports={RTP_MIN}-{RTP_MAX}"]).start()
    own = Pbx(p)
    ph = Phones(own)
    try:
        try:
            u = call_up(own, ph)
            sent = u.call.rtp.send(u.call.media(), 5)
            assert [pk.payload for pk in u.inc.rtp.recv(5)] == sent
            x, y = own.new_ext(), own.new_ext()
            a, b = ph.ua(x), ph.ua(y)
            call = a.invite(y)
            inc = b.wait_invite()
            assert inc is not None, ph.dump()
            inc.ringing()
            assert call.wait_response(180) is not None, ph.dump()
        finally:
            p.assert_clean_exit()
    finally:
        ph.close()


def test_ack_never_comes(tmp_path):
    """CALL-07, RFC 3261 13.3.1.4: the caller never ACKs pbxd's 200. pbxd
    retransmits it and, 64*T1 after the first, ends the call: the callee gets a BYE,
    the call leaves the active list and its CDR is written. Here T1 is 50 ms
    (--sip-t1=50), so 64*T1 is 3.2 s: the BYE comes between 2.8 and 5 s (with the
    default T1 it would be 32 s; pbxd takes the wait from T1)."""
    p = Pbxd(tmp_path, args=[f"--rtp-ports={RTP_MIN}-{RTP_MAX}", "--sip-t1=50"]).start()
    px = Pbx(p)
    phones = Phones(px)
    try:
        x, y = px.new_ext(), px.new_ext()
        a, b = phones.ua(x), phones.ua(y)
        call = a.invite(y, auto_ack=False)
        inc = b.wait_invite()
        assert inc is not None, phones.dump()
        sid = session_id(inc.req)
        inc.answer()
        ok = call.wait_final()
        assert ok is not None and ok.code == 200, phones.dump()
        t0 = time.monotonic()
        assert inc.wait_ack() is not None, phones.dump()
        bye = inc.wait_request("BYE", timeout=12)
        took = time.monotonic() - t0
        assert bye is not None, f"no BYE to the callee within 12 s of the unACKed 200:\n{phones.dump()}"
        assert 2.8 <= took <= 5, took
        oks = [t for t in a.trace if t[1] == "<" and t[3].startswith("SIP/2.0 200")]
        assert len(oks) >= 3, f"pbxd retransmitted its 200 {len(oks) - 1} times"
        wait_no_session(px, sid)
        cdr = wait_cdr(px, session_id=sid)
        check_cdr_shape(cdr)
    finally:
        phones.close()
        p.assert_clean_exit()


# --------------------------------------------------------------------------- SIPp on both sides


class Sipp:
    """SIPp runs for one test: `register` binds an extension from a local port
    (register_digest.xml), `start` runs a scenario in the background (a callee),
    `run` runs one to its end (a caller); `finish` waits for the background ones.
    Every run is bounded (-timeout, and a kill after it) and logs its messages."""

    def __init__(self, pbx, tmp_path):
        self.pbx, self.tmp = pbx, tmp_path
        self.procs = []
        self.n = 0

    def argv(self, scenario, lport, extra=()):
        self.n += 1
        name = f"{self.n}-{Path(scenario).stem}"
        mport = free_port(avoid=(lport, self.pbx.p.udp_port))
        argv = ["sipp", "-sf", str(SCEN / scenario), "-m", "1", "-t", "u1", "-i", "127.0.0.1",
                "-p", str(lport), "-mp", str(mport), "-nostdin", "-timeout", "15s", "-timeout_error",
                "-trace_msg", "-message_file", str(self.tmp / f"{name}.msg"),
                "-trace_err", "-error_file", str(self.tmp / f"{name}.err"), *extra,
                f"127.0.0.1:{self.pbx.p.udp_port}"]
        return name, argv

    def log(self, name, tail=None):
        """SIPp's message and error logs of a run; `tail`: only their last bytes
        (for assertion messages)."""
        out = ""
        for suffix in ("msg", "err"):
            f = self.tmp / f"{name}.{suffix}"
            if f.exists():
                text = f.read_text(errors="replace")
                out += f"--- {f.name}:\n" + (text[-tail:] if tail else text)
        return out

    def register(self, ext, lport):
        name, argv = self.argv("register_digest.xml", lport, (
            "-s", ext, "-au", ext, "-ap", self.pbx.passwords[ext], "-set", "domain", DOMAIN,
            "-set", "cport", str(lport), "-set", "ua", "SIPp callee", "-set", "exp1", "300",
            "-set", "exp2", "300"))
        r = subprocess.run(argv, capture_output=True, timeout=20, cwd=self.tmp)
        assert r.returncode == 0, f"{ext} did not register:\n{self.log(name)}\n{r.stderr[-2000:]}"

    def start(self, scenario, ext, lport):
        """A callee scenario listening on lport (bound once this returns)."""
        name, argv = self.argv(scenario, lport, ("-s", ext))
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, cwd=self.tmp)
        self.procs.append((name, proc))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.1", lport))
            except OSError:
                return name  # SIPp holds the port
            finally:
                s.close()
            time.sleep(0.05)
        pytest.fail(f"SIPp {scenario} did not start on {lport}:\n{self.log(name)}")

    def run(self, scenario, caller, callee):
        """A caller scenario: the numbers from an injection file, the credentials
        from -au/-ap. Returns (its name, its exit status)."""
        inf = self.tmp / f"calls-{caller}.csv"
        inf.write_text(f"SEQUENTIAL\n{caller};{callee};{DOMAIN};\n")
        name, argv = self.argv(scenario, free_port(avoid=(self.pbx.p.udp_port,)),
                               ("-inf", str(inf), "-au", caller, "-ap", self.pbx.passwords[caller]))
        r = subprocess.run(argv, capture_output=True, timeout=20, cwd=self.tmp)
        return name, r.returncode

    def finish(self, timeout=20):
        """Waits for the background scenarios; {name: exit status}."""
        out = {}
        for name, proc in self.procs:
            try:
                out[name] = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out[name] = proc.wait(timeout=5)
        self.procs = []
        return out

    def close(self):
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
def sipp(pbx, tmp_path):
    s = Sipp(pbx, tmp_path)
    try:
        yield s
    finally:
        s.close()


def sipp_messages(text, way="received"):
    """The SIP messages of a SIPp message log that SIPp received (or sent)."""
    parts = re.split(r"-{10,} [0-9-]+ [0-9:.]+\n", text)
    return [p.split("\n", 2)[2] for p in parts if re.match(rf"(UDP|TCP) message {way}", p)]


def sipp_header(msg, name):
    m = re.search(rf"(?im)^{re.escape(name)}\s*:\s*(.*?)\s*$", msg)
    return m.group(1) if m else None


def sipp_call(pbx, sipp, uas, uac):
    """A call from a SIPp caller (`uac` scenario) to a SIPp callee (`uas`, registered
    first from its port with register_digest.xml). Both must end with status 0.
    Returns (caller, callee, X-Session-Id, the caller's Call-ID)."""
    x, y = pbx.new_ext(), pbx.new_ext()
    lport = free_port(avoid=(pbx.p.udp_port,))
    sipp.register(y, lport)
    callee = sipp.start(uas, y, lport)
    caller, rc = sipp.run(uac, x, y)
    done = sipp.finish()
    assert rc == 0 and done[callee] == 0, \
        f"caller {rc}, callee {done[callee]}:\n{sipp.log(caller, 6000)}\n{sipp.log(callee, 6000)}\n" \
        f"{pbx.p.log_tail(40)}"
    # the dialog-creating INVITE: the one whose To has no tag (re-INVITEs may follow)
    got_invite = [m for m in sipp_messages(sipp.log(callee)) if m.startswith("INVITE ")
                  and ";tag=" not in (sipp_header(m, "To") or "")]
    # the INVITEs outside a dialog (before and after the 407) and their finals;
    # re-INVITEs in the dialog that may follow are not these
    sent_invite = [m for m in sipp_messages(sipp.log(caller), "sent") if m.startswith("INVITE ")
                   and ";tag=" not in (sipp_header(m, "To") or "")]
    first_cseqs = {sipp_header(m, "CSeq") for m in sent_invite}
    got_final = [m for m in sipp_messages(sipp.log(caller)) if re.match(r"SIP/2\.0 [2-6]\d\d ", m)
                 and sipp_header(m, "CSeq") in first_cseqs]
    assert got_invite and got_final and sent_invite, sipp.log(caller, 6000) + sipp.log(callee, 6000)
    sid = sipp_header(got_invite[0], "X-Session-Id")
    assert sid and re.fullmatch(r"\d+", sid), got_invite[0]
    if got_final[-1].startswith("SIP/2.0 200 "):
        assert sipp_header(got_final[-1], "X-Session-Id") == sid, got_final[-1]
    return x, y, sid, sipp_header(sent_invite[0], "Call-ID")


def test_sipp_caller_hangs_up(pbx, sipp):
    """CALL-01, CALL-07, SIP-09 with SIPp on both sides: the caller answers the 407
    with digest, the callee (registered with SIPp from its port) answers, the caller
    hangs up; the X-Session-Id of the callee's INVITE and the caller's 200 agree, and
    the CDR says caller_disconnect."""
    x, y, sid, call_id = sipp_call(pbx, sipp, "call_uas_answer.xml", "call_uac_bye.xml")
    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "caller_disconnect", answered=True)
    assert cdr["call_id"] == call_id, cdr


def test_sipp_callee_hangs_up(pbx, sipp):
    """CALL-07 with SIPp on both sides: the callee hangs up; the CDR says
    callee_disconnect."""
    x, y, sid, call_id = sipp_call(pbx, sipp, "call_uas_answer_bye.xml", "call_uac_wait_bye.xml")
    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "callee_disconnect", answered=True)


def test_sipp_callee_busy(pbx, sipp):
    """SIP-10 with SIPp on both sides: the callee answers 486, the caller gets 486;
    the CDR has status_code "486"."""
    x, y, sid, call_id = sipp_call(pbx, sipp, "call_uas_busy.xml", "call_uac_busy.xml")
    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, cdr["ended_reason"], answered=False, status="486")
