"""Feature access codes through REST (issue 13, CALL-14): GET lists every feature
with the tenant's code and the default; POST changes the codes named ("" puts the
default back). Codes are * and 1 to 4 digits, unique within the tenant, and none
begins another; every refusal names the feature and stores nothing.
FEATURES: CALL-14 (configurable per tenant)."""

import pytest

from conftest import new_tenant, new_user

DEFAULTS = {"dnd_on": "*78", "dnd_off": "*79", "dnd_toggle": "*76", "forward_all_on": "*72",
            "forward_all_off": "*73", "forward_busy_on": "*90", "forward_busy_off": "*91",
            "forward_no_answer_on": "*52", "forward_no_answer_off": "*53", "call_waiting_on": "*70",
            "call_waiting_off": "*71", "voicemail": "*97", "voicemail_greeting": "*57"}


@pytest.fixture
def boss(pbxd):
    _, b = new_tenant(pbxd.admin())
    return b


def codes(lst):
    return {c["feature"]: c["code"] for c in lst["items"]}


def err(r, status, code, field):
    assert r.status_code == status, r.text
    e = r.body["error"]
    assert e["code"] == code and e.get("field") == field, r.text
    assert e["message"].startswith(field), r.text


def test_defaults_listed(boss):
    lst = boss.ok("GET", "/api/feature_access_codes")
    assert lst["count"] == len(lst["items"]) == len(DEFAULTS)
    assert codes(lst) == DEFAULTS
    for c in lst["items"]:
        assert c["default_code"] == DEFAULTS[c["feature"]] and c["description"]
        assert c["takes_number"] == (c["feature"] in ("forward_all_on", "forward_busy_on", "forward_no_answer_on"))


def test_override_and_back_to_default(boss):
    lst = boss.ok("POST", "/api/feature_access_codes", {"dnd_on": "*11", "forward_all_on": "*4"})
    c = codes(lst)
    assert c["dnd_on"] == "*11" and c["forward_all_on"] == "*4" and c["dnd_off"] == "*79"
    assert [x["default_code"] for x in lst["items"] if x["feature"] == "dnd_on"] == ["*78"]
    assert codes(boss.ok("GET", "/api/feature_access_codes")) == c
    c = codes(boss.ok("POST", "/api/feature_access_codes", {"dnd_on": ""}))
    assert c["dnd_on"] == "*78" and c["forward_all_on"] == "*4"
    c = codes(boss.ok("POST", "/api/feature_access_codes", {"forward_all_on": "*72"}))  # the default itself
    assert c == DEFAULTS


def test_codes_may_be_swapped_in_one_request(boss):
    c = codes(boss.ok("POST", "/api/feature_access_codes", {"dnd_on": "*79", "dnd_off": "*78"}))
    assert (c["dnd_on"], c["dnd_off"]) == ("*79", "*78")


@pytest.mark.parametrize("body,status,code,field", [
    ({"dnd_on": "78"}, 422, "invalid_field", "dnd_on"),
    ({"dnd_on": "*"}, 422, "invalid_field", "dnd_on"),
    ({"dnd_on": "*12345"}, 422, "invalid_field", "dnd_on"),
    ({"dnd_on": "*1a"}, 422, "invalid_field", "dnd_on"),
    ({"dnd_on": "#11"}, 422, "invalid_field", "dnd_on"),
    ({"dnd_on": 11}, 422, "invalid_field", "dnd_on"),
    ({"dnd_off": "*78"}, 422, "invalid_field", "dnd_off"),                 # another feature's default
    ({"dnd_on": "*11", "dnd_off": "*11"}, 422, "invalid_field", "dnd_off"),  # two new ones alike
    ({"call_waiting_on": "*7"}, 422, "invalid_field", "call_waiting_on"),   # a prefix of *78, *79...
    ({"voicemail": "*781"}, 422, "invalid_field", "voicemail"),             # *78 begins it
    ({"park": "*8"}, 400, "unknown_field", "park"),
])
def test_refusals_name_the_feature(boss, body, status, code, field):
    err(boss.post("/api/feature_access_codes", body), status, code, field)
    assert codes(boss.ok("GET", "/api/feature_access_codes")) == DEFAULTS


def test_a_conflict_with_a_stored_override(boss):
    boss.ok("POST", "/api/feature_access_codes", {"dnd_on": "*11"})
    r = boss.post("/api/feature_access_codes", {"dnd_off": "*1"})
    err(r, 422, "invalid_field", "dnd_off")
    assert "*11" in r.body["error"]["message"] and "dnd_on" in r.body["error"]["message"], r.text


def test_tenants_have_their_own_codes(pbxd, boss):
    boss.ok("POST", "/api/feature_access_codes", {"dnd_on": "*11"})
    _, other = new_tenant(pbxd.admin())
    assert codes(other.ok("GET", "/api/feature_access_codes")) == DEFAULTS


def test_codes_are_the_tenant_admins(pbxd, boss):
    t, b = new_tenant(pbxd.admin())
    u = new_user(b, password="User-pass-1")
    user = pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
    assert user.get("/api/feature_access_codes").status_code == 403
    assert user.post("/api/feature_access_codes", {"dnd_on": "*11"}).status_code == 403
    assert pbxd.admin().get("/api/feature_access_codes").status_code == 403  # not switched
