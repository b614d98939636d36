"""Extension settings updates (issue 13's stored-data defect): a partial update
merges objects, but a field that depends on a discriminator goes with it. A
destination switched to another action loses its old number and mailbox; an
unconditional forward given a mode loses its old destination and schedules; the
result that will be stored is what is validated, so a stale value can never fill
a gap in a later update. Both routes: the tenant admin's and the user's own."""

import pytest

from conftest import new_tenant, new_user


@pytest.fixture(scope="module")
def env(pbxd):
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    u = new_user(boss, password="User-pass-1")
    user = pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
    return {"boss": boss, "user": user, "u": u}


def err(r, status, code, field):
    assert r.status_code == status, r.text
    assert r.body["error"]["code"] == code, r.text
    assert r.body["error"].get("field") == field, r.text
    assert r.body["error"]["message"].startswith(field), r.text


ROUTES = [("boss", "/api/users/{id}/extension"), ("user", "/api/user/extension")]


@pytest.mark.parametrize("who,route", ROUTES, ids=["admin", "user"])
def test_action_change_drops_the_old_number(env, who, route):
    c, path = env[who], route.format(id=env["u"]["id"])
    c.ok("POST", path, {"forwarding": {"busy": {"action": "number", "number": "102"}}})
    s = c.ok("POST", path, {"forwarding": {"busy": {"action": "ring"}}})
    assert s["forwarding"]["busy"] == {"action": "ring"}, s["forwarding"]["busy"]
    assert "number" not in c.ok("GET", path)["forwarding"]["busy"]
    # the stale number cannot fill the gap any more
    err(c.post(path, {"forwarding": {"busy": {"action": "number"}}}), 422, "missing_field",
        "forwarding.busy.number")
    assert c.ok("GET", path)["forwarding"]["busy"] == {"action": "ring"}  # nothing stored


@pytest.mark.parametrize("who,route", ROUTES, ids=["admin", "user"])
def test_voicemail_mailbox_goes_with_its_action(env, who, route):
    c, path = env[who], route.format(id=env["u"]["id"])
    c.ok("POST", path, {"forwarding": {"not_reachable": {"action": "voicemail", "mailbox": "105"}}})
    s = c.ok("POST", path, {"forwarding": {"not_reachable": {"action": "hangup"}}})
    assert s["forwarding"]["not_reachable"] == {"action": "hangup"}


@pytest.mark.parametrize("who,route", ROUTES, ids=["admin", "user"])
def test_no_answer_keeps_ring_time_but_not_number(env, who, route):
    c, path = env[who], route.format(id=env["u"]["id"])
    c.ok("POST", path, {"forwarding": {"no_answer": {"action": "number", "number": "103", "ring_time": 30}}})
    s = c.ok("POST", path, {"forwarding": {"no_answer": {"action": "voicemail"}}})
    assert s["forwarding"]["no_answer"] == {"action": "voicemail", "ring_time": 30}, s["forwarding"]


@pytest.mark.parametrize("who,route", ROUTES, ids=["admin", "user"])
def test_mode_change_drops_destination_and_schedules(env, who, route):
    c, path = env[who], route.format(id=env["u"]["id"])
    sched = [{"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}]
    c.ok("POST", path, {"forwarding": {"unconditional": {
        "mode": "schedule", "destination": {"action": "number", "number": "104"}, "schedules": sched}}})
    # a new mode without a destination: the old one does not carry over
    err(c.post(path, {"forwarding": {"unconditional": {"mode": "always"}}}), 422, "missing_field",
        "forwarding.unconditional.destination")
    # schedule mode again without schedules: the old ones do not carry over either
    err(c.post(path, {"forwarding": {"unconditional": {"mode": "schedule",
                                                       "destination": {"action": "hangup"}}}}),
        422, "missing_field", "forwarding.unconditional.schedules")
    s = c.ok("POST", path, {"forwarding": {"unconditional": {"mode": "off"}}})
    assert s["forwarding"]["unconditional"]["mode"] == "off"
    assert s["forwarding"]["unconditional"].get("schedules", []) == []


def test_partial_update_still_merges(env):
    """Objects without a discriminator in the patch still merge key by key."""
    c, path = env["boss"], f"/api/users/{env['u']['id']}/extension"
    c.ok("POST", path, {"forwarding": {"no_answer": {"action": "number", "number": "106", "ring_time": 25}}})
    s = c.ok("POST", path, {"forwarding": {"no_answer": {"ring_time": 40}}})
    assert s["forwarding"]["no_answer"] == {"action": "number", "number": "106", "ring_time": 40}
    s = c.ok("POST", path, {"voicemail": {"pin": "4321"}})
    assert s["voicemail"]["pin"] == "4321" and s["voicemail"]["enabled"] is True


@pytest.mark.parametrize("who,route", ROUTES, ids=["admin", "user"])
def test_null_removes_an_optional_rule_set(env, who, route):
    """A status's rule (forwarding.by_status.STATUS.CONDITION) or a whole
    status's set, once set, is removed by null (RFC 7396): the status falls back
    to the available status's rules. null where a value is required is refused."""
    c, path = env[who], route.format(id=env["u"]["id"])
    c.ok("POST", path, {"forwarding": {"by_status": {
        "away": {"busy": {"action": "hangup"}, "not_reachable": {"action": "number", "number": "107"}},
        "lunch": {"busy": {"action": "ring"}}}}})
    s = c.ok("POST", path, {"forwarding": {"by_status": {"away": {"busy": None}}}})
    assert s["forwarding"]["by_status"]["away"] == {"not_reachable": {"action": "number", "number": "107"}}, s
    assert s["forwarding"]["by_status"]["lunch"] == {"busy": {"action": "ring"}}
    s = c.ok("POST", path, {"forwarding": {"by_status": {"lunch": None}}})
    assert "lunch" not in s["forwarding"]["by_status"] and "away" in s["forwarding"]["by_status"], s
    assert "lunch" not in c.ok("GET", path)["forwarding"]["by_status"]
    r = c.post(path, {"forwarding": {"busy": None}})
    assert r.status_code == 422, r.text
    assert c.ok("GET", path)["forwarding"]["busy"]  # nothing stored
