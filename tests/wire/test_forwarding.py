"""Where a call goes when the callee cannot take it (issue 13): each forwarding
rule of an extension's settings, driven by real calls through pbxd and checked by
who rings and by the CDR's call_targets. Rules are set through the REST API
(POST /api/users/{id}/extension) as a tenant admin would.

Features: FWD-* rows of shared/FEATURES.md (unconditional, busy, no answer, not
reachable, exceptions, DND, loops and hops, tenants kept apart), CDR-22 (a target
per device rung, in order)."""

import time

import pytest

from conftest import Pbxd
from test_calls import RTP_MAX, RTP_MIN, Pbx, Phones, session_id, wait_cdr


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("fwd"),
             args=[f"--rtp-ports={RTP_MIN}-{RTP_MAX}", "--auth-max-failures=1000"]).start()
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()


@pytest.fixture
def phones(pbx):
    ph = Phones(pbx)
    try:
        yield ph
    finally:
        ph.close()


def rules(pbx, ext, **fwd):
    """Sets extension ext's forwarding (a partial update of its settings)."""
    body = {k: v for k, v in fwd.items() if k in ("dnd", "call_waiting", "max_simultaneous_calls")}
    f = {k: v for k, v in fwd.items() if k not in body}
    if f:
        body["forwarding"] = f
    return pbx.api.ok("POST", f"/users/{pbx.ids[ext]}/extension", body)


def to(number):
    return {"action": "number", "number": number}


def answered_by(call, inc, phones):
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phones.dump()
    assert inc.wait_ack() is not None, phones.dump()
    return ok


def targets(pbx, sid):
    cdr = wait_cdr(pbx, session_id=sid)
    return cdr, [t["callee"] for t in cdr["call_targets"]]


def test_unconditional_always(pbx, phones):
    """FWD: always forwarded: 102 never rings, 103 does and answers."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, unconditional={"mode": "always", "destination": to(z)})
    call = a.invite(y)
    inc = c.wait_invite()
    assert inc is not None, phones.dump()
    assert b.wait_invite(timeout=0.3) is None
    sid = session_id(inc.req)
    answered_by(call, inc, phones)
    assert call.bye().code == 200
    cdr, who = targets(pbx, sid)
    assert cdr["callee"] == y and who == [z], cdr


def test_busy_forwards(pbx, phones):
    """FWD: 102's phone answers busy (486): the call goes to 103."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, busy=to(z))
    call = a.invite(y)
    inc = b.wait_invite()
    inc.reject(486)
    inc2 = c.wait_invite()
    assert inc2 is not None, phones.dump()
    sid = session_id(inc2.req)
    assert session_id(inc.req) == sid
    answered_by(call, inc2, phones)
    assert call.bye().code == 200
    cdr, who = targets(pbx, sid)
    assert who == [y, z], cdr
    assert cdr["call_targets"][0]["status_code"] == 486, cdr


def test_busy_by_limit_forwards(pbx, phones):
    """FWD: 102 at its max simultaneous calls (1) is busy without ringing: 103."""
    x, y, z, w = (pbx.new_ext() for _ in range(4))
    a, b, c, d = phones.ua(x), phones.ua(y), phones.ua(z), phones.ua(w)
    rules(pbx, y, busy=to(z), max_simultaneous_calls=1)
    first = d.invite(y)
    inc = b.wait_invite()
    answered_by(first, inc, phones)
    call = a.invite(y)
    inc2 = c.wait_invite()
    assert inc2 is not None, phones.dump()
    assert b.wait_invite(timeout=0.3) is None
    answered_by(call, inc2, phones)
    assert call.bye().code == 200
    assert first.bye().code == 200


def rings_then_forwards(phones, a, b, c, callee, ring_time):
    """a calls callee, whose phone b rings; c rings ring_time seconds later (give
    or take half a second, and 2 s of slack). Returns the call and both INVITEs."""
    t0 = time.monotonic()
    call = a.invite(callee)
    inc = b.wait_invite()
    inc.ringing()
    inc2 = c.wait_invite(timeout=ring_time + 3)
    assert inc2 is not None, phones.dump()
    assert ring_time - 0.5 <= time.monotonic() - t0 <= ring_time + 2, time.monotonic() - t0
    return call, inc, inc2


def test_no_answer_forwards_after_ring_time(pbx, phones):
    """FWD: 102 rings ring_time (5 s), is cancelled, and 103 rings."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, no_answer={"action": "number", "number": z, "ring_time": 5})
    call, inc, inc2 = rings_then_forwards(phones, a, b, c, y, 5)
    assert inc.wait_cancel(timeout=2) is not None, phones.dump()
    sid = session_id(inc2.req)
    answered_by(call, inc2, phones)
    assert call.bye().code == 200
    cdr, who = targets(pbx, sid)
    assert who == [y, z], cdr
    assert cdr["call_targets"][0]["answered_time"] == "0" and cdr["call_targets"][1]["answered_time"] != "0"


def test_not_reachable_forwards(pbx, phones):
    """FWD: nothing registered for 102: 103 rings at once."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, c = phones.ua(x), phones.ua(z)
    rules(pbx, y, not_reachable=to(z))
    call = a.invite(y)
    inc = c.wait_invite()
    assert inc is not None, phones.dump()
    answered_by(call, inc, phones)
    assert call.bye().code == 200


def test_not_reachable_when_every_device_fails(pbx, phones):
    """FWD: the device answers 480 (not busy): not reachable, so 103."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, not_reachable=to(z), busy={"action": "hangup"})
    call = a.invite(y)
    b.wait_invite().reject(480)
    inc = c.wait_invite()
    assert inc is not None, phones.dump()
    answered_by(call, inc, phones)
    assert call.bye().code == 200


def test_exception_by_caller(pbx, phones):
    """FWD: an exception for caller 101 sends its calls elsewhere; another caller
    rings 102 as usual."""
    x, y, z, w = (pbx.new_ext() for _ in range(4))
    a, b, c, d = phones.ua(x), phones.ua(y), phones.ua(z), phones.ua(w)
    rules(pbx, y, exceptions=[{"caller_id": x, "destination": to(z)}])
    call = a.invite(y)
    inc = c.wait_invite()
    assert inc is not None and b.wait_invite(timeout=0.3) is None, phones.dump()
    answered_by(call, inc, phones)
    assert call.bye().code == 200
    call2 = d.invite(y)
    inc2 = b.wait_invite()
    assert inc2 is not None, phones.dump()
    answered_by(call2, inc2, phones)
    assert call2.bye().code == 200


def test_exception_number_is_never_forwarded(pbx, phones):
    """FWD: a caller in exception_numbers rings 102 despite an unconditional forward."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, unconditional={"mode": "always", "destination": to(z)}, exception_numbers=[x])
    call = a.invite(y)
    inc = b.wait_invite()
    assert inc is not None and c.wait_invite(timeout=0.3) is None, phones.dump()
    answered_by(call, inc, phones)
    assert call.bye().code == 200


def test_unconditional_overrides_conditional(pbx, phones):
    """FWD: with both an unconditional and a busy forward, the unconditional applies."""
    x, y, z, w = (pbx.new_ext() for _ in range(4))
    a, b, c, d = phones.ua(x), phones.ua(y), phones.ua(z), phones.ua(w)
    rules(pbx, y, unconditional={"mode": "always", "destination": to(z)}, busy=to(w), dnd=True)
    call = a.invite(y)
    inc = c.wait_invite()
    assert inc is not None and d.wait_invite(timeout=0.3) is None, phones.dump()
    answered_by(call, inc, phones)
    assert call.bye().code == 200


def test_dnd_busy_or_forwarded(pbx, phones):
    """DND: the callee does not ring; the caller gets busy (its busy destination
    hangs up), or the busy destination when it forwards."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, dnd=True, busy={"action": "hangup"})
    f = a.invite(y).wait_final()
    assert f is not None and f.code == 486, phones.dump()
    assert b.wait_invite(timeout=0.3) is None
    rules(pbx, y, busy=to(z))
    call = a.invite(y)
    inc = c.wait_invite()
    assert inc is not None and b.wait_invite(timeout=0.3) is None, phones.dump()
    answered_by(call, inc, phones)
    assert call.bye().code == 200
    rules(pbx, y, dnd=False)
    call = a.invite(y)
    assert b.wait_invite() is not None, phones.dump()
    call.cancel()


def test_ring_anyway_when_busy(pbx, phones):
    """FWD: busy with action ring: the device rings even at its limit."""
    x, y, w = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, d = phones.ua(x), phones.ua(y), phones.ua(w)
    rules(pbx, y, busy={"action": "ring"}, call_waiting=False)
    first = d.invite(y)
    answered_by(first, b.wait_invite(), phones)
    call = a.invite(y)
    inc = b.wait_invite()
    assert inc is not None, phones.dump()
    call.cancel()
    assert first.bye().code == 200


def test_voicemail_destination_until_voicemail_exists(pbx, phones):
    """FWD: voicemail as the destination (no voicemail yet): a clear final answer
    with a reason, never a hang."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x)
    rules(pbx, y, not_reachable={"action": "voicemail"})
    f = a.invite(y).wait_final()
    assert f is not None and f.code == 480 and "voicemail" in f.start.lower(), f


def test_forwarding_loop_is_stopped(pbx, phones):
    """FWD: 102 -> 103 -> 102 unconditionally: the loop is found and the caller
    gets a final answer; nobody rings."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, unconditional={"mode": "always", "destination": to(z)})
    rules(pbx, z, unconditional={"mode": "always", "destination": to(y)})
    f = a.invite(y).wait_final()
    assert f is not None and f.code == 482, phones.dump()
    assert b.wait_invite(timeout=0.3) is None and c.wait_invite(timeout=0.1) is None


def test_hop_limit(pbx, phones):
    """FWD: a chain of forwards longer than the hop limit (5) ends with 483."""
    exts = [pbx.new_ext() for _ in range(7)]
    a = phones.ua(pbx.new_ext())
    for e1, e2 in zip(exts, exts[1:]):
        rules(pbx, e1, unconditional={"mode": "always", "destination": to(e2)})
    last = phones.ua(exts[-1])
    f = a.invite(exts[0]).wait_final()
    assert f is not None and f.code == 483, phones.dump()
    assert last.wait_invite(timeout=0.3) is None


def test_destination_in_another_tenant_is_not_reached(pbx, phones):
    """FWD, TEN-04: a forward to a number that exists only in another tenant
    never reaches that tenant: 404."""
    other = "fwd-other.example"
    pbx.p.sysadmin().ok("POST", "/tenants", {"name": "FwdOther", "domain": other,
                                             "admin": {"username": "fadmin", "password": "Fwd-Admin-1",
                                                       "email": "f@example.com"}})
    oapi = pbx.p.api("fadmin", "Fwd-Admin-1", domain=other)
    oapi.create_user("888", "sip-Other-888", domain=other)
    from callua import CallUA
    ob = CallUA(pbx.p.udp_port, "888", "sip-Other-888", domain=other)
    phones.uas.append(ob)
    assert ob.register().code == 200
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.ua(x)
    rules(pbx, y, unconditional={"mode": "always", "destination": to("888")})
    f = a.invite(y).wait_final()
    assert f is not None and f.code == 404, phones.dump()
    assert ob.wait_invite(timeout=0.5) is None


def settings_of(pbx, ext):
    return pbx.api.ok("GET", f"/users/{pbx.ids[ext]}/extension")


def wait_setting(pbx, ext, pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        s = settings_of(pbx, ext)
        if pred(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.05)


def dial_code(ua, code):
    f = ua.invite(code).wait_final()
    assert f is not None, ua.dump()
    return f


def test_feature_codes_dnd(pbx, phones):
    """CALL-14: *78 turns DND on (the answer says so, the setting is stored and
    calls stop ringing), *79 turns it off."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a, b = phones.ua(x), phones.ua(y)
    f = dial_code(b, "*78")
    assert f.code == 480 and "dnd on" in f.start.lower(), f
    assert wait_setting(pbx, y, lambda s: s["dnd"])["dnd"] is True
    f = a.invite(y).wait_final()
    assert f is not None and f.code == 486, phones.dump()
    assert b.wait_invite(timeout=0.3) is None
    f = dial_code(b, "*79")
    assert f.code == 480 and "dnd off" in f.start.lower(), f
    assert wait_setting(pbx, y, lambda s: not s["dnd"])["dnd"] is False
    call = a.invite(y)
    assert b.wait_invite() is not None, phones.dump()
    call.cancel()


def test_feature_codes_forwarding(pbx, phones):
    """*72 with a number forwards every call there (stored as the unconditional
    forward), *73 turns it off; a number that is no extension is refused."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    f = dial_code(b, f"*72{z}")
    assert f.code == 480 and "forwarding on" in f.start.lower(), f
    s = wait_setting(pbx, y, lambda s: s["forwarding"]["unconditional"]["mode"] == "always")
    un = s["forwarding"]["unconditional"]
    assert un["mode"] == "always" and un["destination"] == {"action": "number", "number": z}, un
    call = a.invite(y)
    inc = c.wait_invite()
    assert inc is not None and b.wait_invite(timeout=0.3) is None, phones.dump()
    call.cancel()
    f = dial_code(b, "*73")
    assert f.code == 480 and "forwarding off" in f.start.lower(), f
    wait_setting(pbx, y, lambda s: s["forwarding"]["unconditional"]["mode"] == "off")
    call = a.invite(y)
    assert b.wait_invite() is not None, phones.dump()
    call.cancel()
    assert dial_code(b, "*7299999").code == 404
    assert dial_code(b, "*00").code == 404


DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def days_now(inside):
    """Weekdays that hold now (UTC, the tenant's zone by default) whatever the
    minute the test runs at: today and tomorrow; or every other day."""
    import datetime
    today = datetime.datetime.now(datetime.timezone.utc).weekday()
    near = {DAYS[today], DAYS[(today + 1) % 7]}
    return sorted(near) if inside else [d for d in DAYS if d not in near]


@pytest.mark.parametrize("inside", [True, False], ids=["in-schedule", "out-of-schedule"])
def test_unconditional_on_schedule(pbx, phones, inside):
    """FWD: unconditional forwarding by schedule applies within its days and
    hours (in the tenant's zone) and not outside them."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, unconditional={"mode": "schedule", "destination": to(z),
                                 "schedules": [{"days": days_now(inside), "start": "00:00", "end": "23:59"}]})
    call = a.invite(y)
    rang, silent = (c, b) if inside else (b, c)
    inc = rang.wait_invite()
    assert inc is not None and silent.wait_invite(timeout=0.3) is None, phones.dump()
    call.cancel()


@pytest.mark.parametrize("inside", [True, False], ids=["in-window", "out-of-window"])
def test_exception_with_time_window(pbx, phones, inside):
    """FWD: an exception rule with days and hours applies only within them."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, exceptions=[{"caller_id": x, "days": days_now(inside), "start": "00:00", "end": "23:59",
                               "destination": to(z)}])
    call = a.invite(y)
    rang, silent = (c, b) if inside else (b, c)
    inc = rang.wait_invite()
    assert inc is not None and silent.wait_invite(timeout=0.3) is None, phones.dump()
    call.cancel()


def test_rules_by_status(pbx, phones):
    """FWD (seeds: "each status requires a call-forwarding rule"): while the user is
    away, the away set's not-reachable rule applies; back to available, the
    top-level one does. The user sets their own status."""
    x, y, z, w = (pbx.new_ext() for _ in range(4))
    a, c, d = phones.ua(x), phones.ua(z), phones.ua(w)
    rules(pbx, y, not_reachable=to(z), by_status={"away": {"not_reachable": to(w)}})
    pbx.api.ok("POST", f"/users/{pbx.ids[y]}/extension", {"status": "away"})
    call = a.invite(y)
    inc = d.wait_invite()
    assert inc is not None and c.wait_invite(timeout=0.3) is None, phones.dump()
    call.cancel()
    pbx.api.ok("POST", f"/users/{pbx.ids[y]}/extension", {"status": "available"})
    call = a.invite(y)
    inc = c.wait_invite()
    assert inc is not None and d.wait_invite(timeout=0.3) is None, phones.dump()
    call.cancel()


def test_status_rule_rings_the_extensions_ring_time(pbx, phones):
    """FWD-15 with FWD-01: a status's no-answer rule without a ring time of its own
    rings as long as the extension's (the available status's rule: 5 s here), not
    a fixed default."""
    x, y, z = pbx.new_ext(), pbx.new_ext(), pbx.new_ext()
    a, b, c = phones.ua(x), phones.ua(y), phones.ua(z)
    rules(pbx, y, no_answer={"action": "hangup", "ring_time": 5},
          by_status={"lunch": {"no_answer": to(z)}})
    pbx.api.ok("POST", f"/users/{pbx.ids[y]}/extension", {"status": "lunch"})
    call, _, _ = rings_then_forwards(phones, a, b, c, y, 5)
    call.cancel()


@pytest.mark.parametrize("inside", [True, False], ids=["open", "closed"])
def test_rules_outside_office_hours(pbx, phones, inside):
    """OH: with specific office hours, outside them the outside_office_hours rule set
    applies (here: a busy forward), inside them the normal rules."""
    x, y, z, w = (pbx.new_ext() for _ in range(4))
    a, b, c, d = phones.ua(x), phones.ua(y), phones.ua(z), phones.ua(w)
    week = {day: [{"start": "00:00", "end": "23:59"}] for day in days_now(inside)}
    pbx.api.ok("POST", f"/users/{pbx.ids[y]}/extension", {
        "office_hours": {"mode": "specific", "week": week},
        "forwarding": {"busy": to(z), "by_status": {"outside_office_hours": {"busy": to(w)}}}})
    call = a.invite(y)
    b.wait_invite().reject(486)
    rang, silent = (c, d) if inside else (d, c)
    inc = rang.wait_invite()
    assert inc is not None and silent.wait_invite(timeout=0.3) is None, phones.dump()
    call.cancel()


def test_status_and_office_hours_validated(pbx, phones):
    """Bad values name their field."""
    y = pbx.new_ext()
    path = f"/users/{pbx.ids[y]}/extension"
    for body, field in (({"status": "sleeping"}, "status"),
                        ({"office_hours": {"mode": "specific"}}, "office_hours.week"),
                        ({"office_hours": {"mode": "specific", "week": {"mon": [{"start": "9:00", "end": "17:00"}]}}},
                         "office_hours.week.mon[0].start"),
                        ({"forwarding": {"by_status": {"away": {"busy": {"action": "number"}}}}},
                         "forwarding.by_status.away.busy.number")):
        st, r = pbx.api.call("POST", path, body)
        assert st in (400, 422) and r["error"]["field"] == field, (body, st, r)
