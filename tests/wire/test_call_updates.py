"""Calls that are up, and what may happen to them (issue 12): hold and resume by
re-INVITE passed from one leg to the other (CALL-04's signalling; music on hold
comes later), session timers (RFC 4028) clearing calls whose phone vanished,
hang-up through REST (CALL-09's Destroy), limits (CALL-05), tenants kept apart
(TEN-04), and bad input (malformed SDP, wrong tags, requests out of order) that
leaves no call, port or memory behind.

The helpers and the phones come from test_calls.py; this module's pbxd has a
10-second session interval so that timers fire within a test."""

import re
import socket
import time

import pytest

from callua import branch_of, cseq_of, make_sdp, method_of, tag_of
from conftest import Pbxd
from test_calls import (DOMAIN, RTP_MAX, RTP_MIN, Pbx, Phones, call_up, session_id, sessions, wait_cdr,
                        wait_no_session)

SE = 10  # --session-expires for this module
RING = 5  # --call-ring-timeout


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("callupd"),
             args=[f"--rtp-ports={RTP_MIN}-{RTP_MAX}", "--auth-max-failures=1000", f"--session-expires={SE}",
                   "--session-min-se=10", f"--call-ring-timeout={RING}"]).start()
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()
        # every call of the module gave its ports back (calls hung up at the
        # stop included): a leak is logged at exit
        assert "were not given back" not in p.log_text(), p.log_tail(20)


@pytest.fixture
def phones(pbx):
    ph = Phones(pbx)
    try:
        yield ph
    finally:
        ph.close()


def respond(ua, msg, code, body=""):
    """Answers a request the UA received (its server transaction), with an SDP body."""
    with ua._cv:
        st = ua._stsx[(branch_of(msg), method_of(msg))]
        ua._respond(st, code, body=body)


def text(body):
    return body.decode(errors="replace") if isinstance(body, (bytes, bytearray)) else (body or "")


def sdp_dir(body):
    body = text(body)
    m = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", body or "", re.M)
    return m.group(1) if m else "sendrecv"


def origin_version(body):
    body = text(body)
    return int(re.search(r"^o=\S+ \d+ (\d+) ", body, re.M).group(1))


def reinvite(dialog, ua, sdp, extra=()):
    """A re-INVITE in `dialog` with `sdp`; returns (its final response, its CSeq)."""
    branch = dialog.request("INVITE", extra=[f"Contact: {ua.contact()}", *extra], body=sdp)
    num = dialog.local_cseq
    r = ua.wait_response(branch, "INVITE")
    return r, num


def test_hold_and_resume_pass_through(pbx, phones):
    """CALL-04 (signalling): the caller holds (sendonly), pbxd offers the callee
    sendonly on the same port with a higher o= version, the callee's recvonly comes
    back to the caller; then both resume (sendrecv) and media flows again."""
    u = call_up(pbx, phones)
    port_b = u.inc.offer.port
    ver_b = origin_version(u.inc.req.body)
    branch = u.call.request("INVITE", extra=[f"Contact: {u.a.contact()}"],
                            body=make_sdp(u.call.rtp.port, direction="sendonly"))
    num = u.call.local_cseq
    inv = u.b.take(lambda m: method_of(m) == "INVITE" and m.get("call-id") == u.inc.call_id)
    assert inv is not None, phones.dump()
    assert sdp_dir(inv.body) == "sendonly", inv.body
    assert f"m=audio {port_b} " in text(inv.body), inv.body
    assert origin_version(inv.body) > ver_b, inv.body
    respond(u.b, inv, 200, make_sdp(u.inc.rtp.port, direction="recvonly"))
    final = u.a.wait_response(branch, "INVITE")
    assert final is not None and final.code == 200, phones.dump()
    assert sdp_dir(final.body) == "recvonly", final.body
    u.call.request("ACK", cseq=num)
    ack = u.b.take(lambda m: method_of(m) == "ACK" and m.get("call-id") == u.inc.call_id
                   and cseq_of(m)[0] == cseq_of(inv)[0])
    assert ack is not None, f"pbxd did not ACK the callee's answer to its re-INVITE:\n{phones.dump()}"

    # resume
    branch = u.call.request("INVITE", extra=[f"Contact: {u.a.contact()}"],
                            body=make_sdp(u.call.rtp.port, direction="sendrecv"))
    num = u.call.local_cseq
    inv = u.b.take(lambda m: method_of(m) == "INVITE" and m.get("call-id") == u.inc.call_id)
    assert inv is not None and sdp_dir(inv.body) == "sendrecv", phones.dump()
    respond(u.b, inv, 200, make_sdp(u.inc.rtp.port))
    final = u.a.wait_response(branch, "INVITE")
    assert final is not None and final.code == 200 and sdp_dir(final.body) == "sendrecv", phones.dump()
    u.call.request("ACK", cseq=num)

    # media both ways through the same ports as before the hold
    u.call.rtp.send((final_addr(final), final_port(final)), count=10, pt=0)
    got = u.inc.rtp.recv(10, timeout=2.0)
    assert len(got) == 10, phones.dump()
    u.inc.rtp.send((final_addr(inv), final_port(inv)), count=10, pt=0)
    assert len(u.call.rtp.recv(10, timeout=2.0)) == 10, phones.dump()
    assert u.call.bye().code == 200


def final_addr(msg):
    return re.search(r"^c=IN IP4 (\S+)", text(msg.body), re.M).group(1)


def final_port(msg):
    return int(re.search(r"^m=audio (\d+) ", text(msg.body), re.M).group(1))


def test_reinvite_while_one_pending_gets_491(pbx, phones):
    """One offer at a time per call (RFC 3261 14.2): the callee re-INVITEs while
    pbxd's offer from the caller is still unanswered: 491."""
    u = call_up(pbx, phones)
    branch = u.call.request("INVITE", extra=[f"Contact: {u.a.contact()}"],
                            body=make_sdp(u.call.rtp.port, direction="sendonly"))
    inv = u.b.take(lambda m: method_of(m) == "INVITE" and m.get("call-id") == u.inc.call_id)
    assert inv is not None, phones.dump()
    r, _ = reinvite(u.inc, u.b, make_sdp(u.inc.rtp.port, direction="sendonly"))
    assert r is not None and r.code == 491, phones.dump()
    respond(u.b, inv, 200, make_sdp(u.inc.rtp.port, direction="recvonly"))
    final = u.call.ua.wait_response(branch, "INVITE")
    assert final is not None and final.code == 200, phones.dump()
    u.call.request("ACK", cseq=cseq_of(final)[0])
    assert u.call.bye().code == 200


def test_session_timer_caller_never_refreshes(pbx, phones):
    """The caller asks for a 10 s session it refreshes itself, and never does: pbxd
    answers with Session-Expires and Require: timer, refreshes the callee's leg
    itself (a re-INVITE with the unchanged SDP), and when the caller's interval
    runs out hangs up both sides; the CDR says 408."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    call = a.invite(y, extra=[f"Session-Expires: {SE};refresher=uac", "Supported: timer"])
    inc = b.wait_invite()
    assert inc is not None, phones.dump()
    assert re.match(rf"{SE}\b", inc.req.get("session-expires") or ""), inc.req
    sid = session_id(inc.req)
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    se = ok.get("session-expires") or ""
    assert re.match(rf"{SE}\s*;\s*refresher=uac", se), ok
    assert "timer" in (ok.get("require") or ""), ok
    t0 = time.monotonic()
    # pbxd refreshes the callee at half the interval
    ref = b.take(lambda m: method_of(m) == "INVITE" and m.get("call-id") == inc.call_id, timeout=SE)
    assert ref is not None, f"pbxd did not refresh the callee's leg:\n{phones.dump()}"
    # RFC 3264 8: the same version only for the same SDP, else one more
    v0, v1 = origin_version(inc.req.body), origin_version(ref.body)
    same = re.sub(r"(?m)^o=.*$", "", text(ref.body)) == re.sub(r"(?m)^o=.*$", "", text(inc.req.body))
    assert (v1 == v0 and same) or (v1 == v0 + 1 and not same), (inc.req.body, ref.body)
    respond(b, ref, 200, make_sdp(inc.rtp.port))
    # the caller's interval (less a third) runs out: BYE both ways
    bye_a = call.wait_request("BYE", timeout=SE + 2)
    assert bye_a is not None, f"no BYE to the silent caller:\n{phones.dump()}"
    assert time.monotonic() - t0 < SE + 1
    assert inc.wait_request("BYE", timeout=2) is not None, phones.dump()
    cdr = wait_cdr(pbx, session_id=sid)
    assert cdr["status_code"] == "408", cdr


def test_session_refreshes_keep_the_call(pbx, phones):
    """A caller that refreshes (UPDATE without SDP, RFC 4028 9) and a callee that
    answers pbxd's refreshes: the call lives past its interval. The caller
    refreshes every third of the interval, so without refreshes pbxd would hang
    it up at 2/3 of SE; watching until SE + 1.5 s goes past that and past the
    deadline its first refresh set (about SE), and sees two of pbxd's refreshes
    of the callee (at SE/2 and SE)."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    call = a.invite(y, extra=[f"Session-Expires: {SE};refresher=uac", "Supported: timer"])
    inc = b.wait_invite()
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    deadline = time.monotonic() + SE + 1.5
    next_refresh = time.monotonic() + SE / 3
    callee_refreshes = 0
    while time.monotonic() < deadline:
        ref = b.take(lambda m: method_of(m) == "INVITE" and m.get("call-id") == inc.call_id, timeout=0.2)
        if ref is not None:
            respond(b, ref, 200, make_sdp(inc.rtp.port))
            callee_refreshes += 1
        if time.monotonic() >= next_refresh:
            branch = call.request("UPDATE", extra=[f"Session-Expires: {SE};refresher=uac", "Supported: timer",
                                                   f"Contact: {a.contact()}"])
            r = a.wait_response(branch, "UPDATE")
            assert r is not None and r.code == 200, phones.dump()
            assert re.match(rf"{SE}\s*;\s*refresher=uac", r.get("session-expires") or ""), r
            next_refresh = time.monotonic() + SE / 3
        assert call.wait_request("BYE", timeout=0) is None, f"hung up despite refreshes:\n{phones.dump()}"
    assert callee_refreshes >= 2, f"pbxd refreshed the callee {callee_refreshes} times:\n{phones.dump()}"
    assert call.bye().code == 200


def test_failed_refresh_hangs_up(pbx, phones):
    """The callee answers pbxd's refresh with 481 (the phone lost the call): pbxd
    hangs up the caller (RFC 4028 10)."""
    u = call_up(pbx, phones)
    ref = u.b.take(lambda m: method_of(m) == "INVITE" and m.get("call-id") == u.inc.call_id, timeout=SE)
    assert ref is not None, phones.dump()
    respond(u.b, ref, 481)
    assert u.call.wait_request("BYE", timeout=3) is not None, phones.dump()
    wait_no_session(pbx, u.sid)


def test_hang_up_through_rest(pbx, phones):
    """CALL-09 Destroy: POST /api/call_sessions/{id}/destroy ends an answered call:
    BYE to both phones, gone from the list."""
    u = call_up(pbx, phones)
    assert any(s["session_id"] == u.sid for s in sessions(pbx))
    pbx.api.ok("POST", f"/call_sessions/{u.sid}/destroy", {})
    assert u.call.wait_request("BYE", timeout=3) is not None, phones.dump()
    assert u.inc.wait_request("BYE", timeout=3) is not None, phones.dump()
    wait_no_session(pbx, u.sid)
    r = pbx.api.call("POST", f"/call_sessions/{u.sid}/destroy", {})
    assert r[0] == 404, r


def test_max_simultaneous_calls(pbx, phones):
    """CALL-05: with max_simultaneous_calls 1, a second call to a busy extension
    gets 486 and never rings it."""
    u = call_up(pbx, phones)
    pbx.api.ok("POST", f"/users/{pbx.ids[u.y]}/extension", {"max_simultaneous_calls": 1})
    z = pbx.new_ext()
    c = phones.ua(z)
    call2 = c.invite(u.y)
    f = call2.wait_final()
    assert f is not None and f.code == 486, phones.dump()
    assert u.b.wait_invite(timeout=0.5) is None
    assert u.call.bye().code == 200


def test_other_tenants_numbers_are_not_reachable(pbx, phones):
    """TEN-04: an extension of another tenant, registered and reachable there, is
    an unknown number (404) to a caller of this tenant: nothing rings."""
    sys_api = pbx.p.sysadmin()
    other = "other-calls.example"
    sys_api.ok("POST", "/tenants", {"name": "Other", "domain": other,
                                    "admin": {"username": "oadmin", "password": "Other-Admin-1",
                                              "email": "o@example.com"}})
    oapi = pbx.p.api("oadmin", "Other-Admin-1", domain=other)
    oapi.create_user("777", "sip-Other-777", domain=other)
    from callua import CallUA
    ob = CallUA(pbx.p.udp_port, "777", "sip-Other-777", domain=other)
    phones.uas.append(ob)
    assert ob.register().code == 200
    x = pbx.new_ext()
    a = phones.ua(x)
    call = a.invite("777")
    f = call.wait_final()
    assert f is not None and f.code == 404, phones.dump()
    assert ob.wait_invite(timeout=0.5) is None


MALFORMED = [
    "v=0\r\nthis is not sdp\r\n",
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n",
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 97\r\n"
    "a=rtpmap:97 nonsense/1\r\n",
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 4000 RTP/AVP 34\r\n",
]


@pytest.mark.parametrize("body", MALFORMED, ids=["garbage", "port", "no-common-codec", "no-audio"])
def test_malformed_or_unusable_sdp_gets_488(pbx, phones, body):
    """Bad SDP from an authenticated caller: 488 with a reason; nothing rings."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    call = a.invite(y, sdp=body)
    f = call.wait_final()
    assert f is not None and f.code == 488, phones.dump()
    assert b.wait_invite(timeout=0.3) is None


def test_bad_input_flood_leaves_nothing(pbx, phones):
    """A bounded flood of bad requests around real calls: BYE/ACK/CANCEL for no
    dialog, wrong tags, an ACK before the answer, a BYE before the ACK, a
    CANCEL after the answer. pbxd answers each as RFC 3261 says, keeps no call
    and keeps serving (the module's pbxd exits clean under ASan: no leak)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(1.0)
    lp = s.getsockname()[1]
    for i in range(40):
        meth = ("BYE", "ACK", "CANCEL", "UPDATE")[i % 4]
        msg = (f"{meth} sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bKfl{i}\r\n"
               f"From: <sip:101@{DOMAIN}>;tag=f{i}\r\nTo: <sip:102@{DOMAIN}>;tag=t{i}\r\n"
               f"Call-ID: flood{i}\r\nCSeq: 1 {meth}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), ("127.0.0.1", pbx.p.udp_port))
        if meth != "ACK":
            code = int(s.recv(65535).split(b" ")[1])
            assert code == 481, (meth, code)
    s.close()
    # calls hung up at every awkward moment
    for k in range(6):
        u = call_up(pbx, phones)
        if k % 2:
            assert u.inc.bye().code == 200
        else:
            assert u.call.bye(to=u.call.remote_hdr.split(";tag=")[0] + ";tag=wrong").code == 481
            assert u.call.bye().code == 200
        wait_no_session(pbx, u.sid)
    # nothing of the flood or of the awkward hang-ups is left as a call
    assert sessions(pbx) == [], sessions(pbx)


def test_dtmf_passed_through_and_seen(pbx, phones):
    """RFC 4733 telephone-events cross the relay unchanged, and the call engine
    sees each digit once (its end packet is sent three times)."""
    import struct
    u = call_up(pbx, phones)
    dest = (final_addr(u.ok), final_port(u.ok))
    ssrc, seq, ts = 0x1234, 100, 8000
    sent = []
    for digit in (5, 11):  # '5', '#'
        ts += 1600
        for i, end in enumerate((False, False, True, True, True)):
            seq += 1
            payload = struct.pack("!BBH", digit, (0x80 if end else 0) | 10, 160 * (i + 1))
            u.call.rtp.sock.sendto(struct.pack("!BBHII", 0x80, 101, seq, ts, ssrc) + payload, dest)
            sent.append(payload)
            time.sleep(0.005)
    got = u.inc.rtp.recv(len(sent), timeout=2.0)
    assert [p.payload for p in got] == sent and all(p.pt == 101 for p in got), got
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        log = pbx.p.log_text()
        if f"call {u.sid}: DTMF # from the caller" in log:
            break
        time.sleep(0.05)
    log = pbx.p.log_text()
    assert log.count(f"call {u.sid}: DTMF 5 from the caller") == 1, pbx.p.log_tail(30)
    assert log.count(f"call {u.sid}: DTMF # from the caller") == 1, pbx.p.log_tail(30)
    assert u.call.bye().code == 200


def test_no_answer_times_out(pbx, phones):
    """Nobody answers: after --call-ring-timeout the ringing devices get CANCEL, the
    caller 408, and the CDR says cancelled with status 408 and answered_time 0."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    t0 = time.monotonic()
    call = a.invite(y)
    inc = b.wait_invite()
    assert inc is not None, phones.dump()
    sid = session_id(inc.req)
    assert inc.req.get("max-forwards") == "69", inc.req  # the caller's 70, less pbxd's hop
    inc.ringing()
    f = call.wait_final(timeout=RING + 3)
    assert f is not None and f.code == 408, phones.dump()
    assert RING - 0.5 <= time.monotonic() - t0 <= RING + 2
    assert inc.wait_cancel(timeout=2) is not None, phones.dump()
    cdr = wait_cdr(pbx, session_id=sid)
    assert (cdr["ended_reason"], cdr["status_code"], cdr["answered_time"]) == ("cancelled", "408", "0"), cdr


def test_two_devices_answer_at_once(pbx, phones):
    """CALL-03's race: both devices answer before pbxd's CANCEL reaches the slower
    one. The first 200 wins; the second, arriving after pbxd let that device go,
    is ACKed and ended with a BYE (RFC 3261 15), so no phone is left in a call
    nobody hears."""
    from conftest import free_port
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x)
    b1, b2 = phones.ua(y), phones.ua(y, contact_port=free_port())
    call = a.invite(y)
    i1, i2 = b1.wait_invite(), b2.wait_invite()
    assert i1 is not None and i2 is not None, phones.dump()
    i1.ringing()
    i2.ringing()
    i1.answer()
    i2.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    # both finals are ACKed; whichever 200 pbxd read first won (they were sent at
    # once). The other device's 200 either crossed pbxd's CANCEL, and that call is
    # ended with a BYE at once, or the CANCEL reached it first (its INVITE ended
    # 487, the 200 the test sent after it is void): nothing to end then.
    for inc in (i1, i2):
        assert inc.wait_ack(timeout=3) is not None, f"a final was not ACKed:\n{phones.dump()}"
    # up to 3 s for a BYE to either device; once one has come, 0.3 s more for one
    # to the other
    bye1 = bye2 = None
    deadline = time.monotonic() + 3
    while bye1 is None and bye2 is None and time.monotonic() < deadline:
        bye1 = i1.wait_request("BYE", timeout=0.05)
        bye2 = i2.wait_request("BYE", timeout=0.05)
    if bye1 is not None and bye2 is None:
        bye2 = i2.wait_request("BYE", timeout=0.3)
    elif bye2 is not None and bye1 is None:
        bye1 = i1.wait_request("BYE", timeout=0.3)
    assert bye1 is None or bye2 is None, f"both devices were hung up:\n{phones.dump()}"
    if bye1 is None and bye2 is None:
        cancelled = [inc for inc in (i1, i2) if inc.wait_cancel(timeout=0.1) is not None]
        assert len(cancelled) == 1, f"the second 200 was neither ended nor cancelled:\n{phones.dump()}"
        won = i2 if cancelled[0] is i1 else i1
    else:
        won = i2 if bye1 is not None else i1
    assert won.wait_request("BYE", timeout=0.3) is None, phones.dump()
    assert call.bye().code == 200
    assert won.wait_request("BYE") is not None


from test_calls import sipp, sipp_call  # noqa: E402,F401 (the SIPp fixture and call driver)


def test_sipp_hold_and_resume(pbx, sipp):
    """CALL-04's signalling with SIPp on both sides: the caller re-INVITEs with
    sendonly then sendrecv; the callee sees each offer (pbxd's) with that
    direction and answers recvonly then sendrecv, which reach the caller."""
    x, y, sid, call_id = sipp_call(pbx, sipp, "call_uas_hold.xml", "call_uac_hold.xml")
    cdr = wait_cdr(pbx, session_id=sid)
    assert cdr["ended_reason"] == "caller_disconnect", cdr
