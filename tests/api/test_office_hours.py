"""Office hours through REST (issue 13): the tenant's time zone (tenant.timezone on
the system admin's tenant routes), the tenant's week (/api/tenant/office_hours) and
a user's own choice (/api/users/{id}/office_hours, which is the office_hours object
of the extension settings: one storage). Every refusal names its field; another
tenant's user is not found.
FEATURES: OH-01 (tenant office hours), OH-02 (extension global/specific), OH-04
(tenant time zone)."""

import pytest

from conftest import new_tenant, new_user

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAY = [{"start": "00:00", "end": "23:59"}]


@pytest.fixture(scope="module")
def env(pbxd):
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    u = new_user(boss, password="User-pass-1")
    user = pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
    return {"admin": admin, "t": t, "boss": boss, "u": u, "user": user}


def err(r, status, code, field):
    assert r.status_code == status, r.text
    e = r.body["error"]
    assert e["code"] == code and e.get("field") == field, r.text
    assert e["message"].startswith(field), r.text


# --- the tenant's time zone ---------------------------------------------------------------

def test_timezone_defaults_to_utc_and_is_writable(env):
    admin, tid = env["admin"], env["t"]["id"]
    assert admin.ok("GET", f"/api/tenants/{tid}")["timezone"] == ""
    t = admin.ok("POST", f"/api/tenants/{tid}", {"timezone": "Europe/Paris"})
    assert t["timezone"] == "Europe/Paris"
    assert admin.ok("GET", f"/api/tenants/{tid}")["timezone"] == "Europe/Paris"
    assert admin.ok("POST", f"/api/tenants/{tid}", {"timezone": ""})["timezone"] == ""


def test_timezone_given_at_creation(pbxd, env):
    t = env["admin"].ok("POST", "/api/tenants", {
        "name": "Zoned", "domain": "zoned-oh.test", "timezone": "America/New_York",
        "admin": {"username": "boss", "password": "Boss-pass-1"}}, status=201)
    assert t["timezone"] == "America/New_York"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe//Paris", "/UTC",
                                  "Europe/Paris ", "right/UTC", "x" * 65])
def test_bad_timezone_is_refused(env, zone):
    r = env["admin"].post(f"/api/tenants/{env['t']['id']}", {"timezone": zone})
    assert r.status_code == 422, r.text
    assert r.body["error"]["field"] == "timezone", r.text
    assert r.body["error"]["message"].startswith("timezone"), r.text


# --- the tenant's week --------------------------------------------------------------------

def test_tenant_week_never_set_is_open_all_day(pbxd, env):
    _, boss = new_tenant(env["admin"])
    assert boss.ok("GET", "/api/tenant/office_hours") == {d: ALL_DAY for d in DAYS}


def test_tenant_week_days_given_replace_theirs(env):
    boss = env["boss"]
    w = boss.ok("POST", "/api/tenant/office_hours", {
        "mon": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}], "sun": []})
    assert w["mon"] == [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}]
    assert w["sun"] == [] and w["tue"] == ALL_DAY
    w = boss.ok("POST", "/api/tenant/office_hours", {"sat": [{"start": "22:00", "end": "06:00"}]})
    assert w["mon"][1] == {"start": "13:00", "end": "18:00"} and w["sat"][0]["start"] == "22:00"
    assert boss.ok("GET", "/api/tenant/office_hours") == w
    assert list(w) == DAYS


@pytest.mark.parametrize("body,status,code,field", [
    ({"mon": [{"start": "9:00", "end": "17:00"}]}, 422, "invalid_field", "mon[0].start"),
    ({"tue": [{"start": "09:00", "end": "24:00"}]}, 422, "invalid_field", "tue[0].end"),
    ({"wed": [{"start": "09:00"}]}, 422, "missing_field", "wed[0].end"),
    ({"thu": [{"start": "09:00", "end": "10:00", "note": "x"}]}, 400, "unknown_field", "thu[0].note"),
    ({"funday": []}, 400, "unknown_field", "funday"),
    ({"fri": [{"start": "09:00", "end": "10:00"}] * 9}, 422, "invalid_field", "fri"),
    ({"sat": "closed"}, 422, "invalid_field", "sat"),
])
def test_tenant_week_refusals_name_the_field(env, body, status, code, field):
    before = env["boss"].ok("GET", "/api/tenant/office_hours")
    err(env["boss"].post("/api/tenant/office_hours", body), status, code, field)
    assert env["boss"].ok("GET", "/api/tenant/office_hours") == before


def test_tenant_week_is_the_tenant_admins(env):
    # a user reads the tenant's week (their global office hours), never writes it
    assert env["user"].ok("GET", "/api/tenant/office_hours") == env["boss"].ok("GET", "/api/tenant/office_hours")
    assert env["user"].post("/api/tenant/office_hours", {"mon": []}).status_code == 403
    assert env["admin"].get("/api/tenant/office_hours").status_code == 403  # not switched


def test_tenants_keep_their_own_weeks(env):
    _, other = new_tenant(env["admin"])
    other.ok("POST", "/api/tenant/office_hours", {"mon": []})
    assert other.ok("GET", "/api/tenant/office_hours")["mon"] == []
    assert env["boss"].ok("GET", "/api/tenant/office_hours")["mon"] != []


# --- a user's office hours ----------------------------------------------------------------

def test_user_office_hours_are_the_extension_settings(env):
    boss, uid = env["boss"], env["u"]["id"]
    u = new_user(boss)
    assert boss.ok("GET", f"/api/users/{u['id']}/office_hours") == {"mode": "global"}
    week = {"mon": [{"start": "08:00", "end": "16:00"}]}
    oh = boss.ok("POST", f"/api/users/{uid}/office_hours", {"mode": "specific", "week": week})
    assert oh == {"mode": "specific", "week": week}
    assert boss.ok("GET", f"/api/users/{uid}/office_hours") == oh
    # one storage: the extension settings show the same object, and a change there shows here
    assert boss.ok("GET", f"/api/users/{uid}/extension")["office_hours"] == oh
    assert env["user"].ok("GET", "/api/user/extension")["office_hours"] == oh
    env["user"].ok("POST", "/api/user/extension", {"office_hours": {"mode": "global"}})
    oh = boss.ok("GET", f"/api/users/{uid}/office_hours")
    assert oh["mode"] == "global" and oh["week"] == week  # merged, as settings are
    # days merge too: a day given replaces that day
    oh = boss.ok("POST", f"/api/users/{uid}/office_hours", {"mode": "specific", "week": {"tue": []}})
    assert oh["week"] == {"mon": week["mon"], "tue": []}


@pytest.mark.parametrize("body,status,code,field", [
    ({"mode": "specific"}, 422, "missing_field", "week"),
    ({"mode": "sometimes"}, 422, "invalid_field", "mode"),
    ({"mode": "specific", "week": {"mon": [{"start": "09:00", "end": "9:30"}]}}, 422, "invalid_field",
     "week.mon[0].end"),
    ({"week": {"sunday": []}}, 400, "unknown_field", "week.sunday"),
    ({"hours": {}}, 400, "unknown_field", "hours"),
])
def test_user_office_hours_refusals_name_the_field(env, body, status, code, field):
    u = new_user(env["boss"])
    err(env["boss"].post(f"/api/users/{u['id']}/office_hours", body), status, code, field)
    assert env["boss"].ok("GET", f"/api/users/{u['id']}/office_hours") == {"mode": "global"}


def test_user_office_hours_of_another_tenant_are_not_found(env):
    _, other = new_tenant(env["admin"])
    stranger = new_user(other)
    for r in (env["boss"].get(f"/api/users/{stranger['id']}/office_hours"),
              env["boss"].post(f"/api/users/{stranger['id']}/office_hours", {"mode": "global"}),
              env["boss"].get("/api/users/123/office_hours")):
        assert r.status_code == 404, r.text
    assert env["user"].get(f"/api/users/{env['u']['id']}/office_hours").status_code == 403


def test_everything_survives_a_restart(make_pbxd):
    p = make_pbxd()
    admin = p.admin()
    t, boss = new_tenant(admin)
    admin.ok("POST", f"/api/tenants/{t['id']}", {"timezone": "Asia/Tokyo"})
    boss.ok("POST", "/api/tenant/office_hours", {"wed": []})
    boss.ok("POST", "/api/feature_access_codes", {"dnd_on": "*11"})
    h = boss.ok("POST", "/api/holidays", {"name": "Founders", "start_date": "2030-05-01"}, status=201)
    p.restart()
    admin = p.admin()
    boss = p.client().as_user("boss", "Boss-pass-1", t["domain"])
    assert admin.ok("GET", f"/api/tenants/{t['id']}")["timezone"] == "Asia/Tokyo"
    assert boss.ok("GET", "/api/tenant/office_hours")["wed"] == []
    codes = {c["feature"]: c["code"] for c in boss.ok("GET", "/api/feature_access_codes")["items"]}
    assert codes["dnd_on"] == "*11"
    assert boss.ok("GET", f"/api/holidays/{h['id']}")["name"] == "Founders"


def test_effective_status_is_read_with_the_settings(pbxd):
    """GET .../extension says the status in force now (the portal shows it):
    the user's own status, else outside_office_hours while the office hours that
    apply are closed (the user's specific week here: closed every day), else
    available; it is read-only."""
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    u = new_user(boss, password="User-pass-1")
    user = pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
    assert user.ok("GET", "/api/user/extension")["effective_status"] == "available"
    user.ok("POST", "/api/user/extension", {"office_hours": {"mode": "specific", "week": {d: [] for d in DAYS}}})
    assert user.ok("GET", "/api/user/extension")["effective_status"] == "outside_office_hours"
    assert boss.ok("GET", f"/api/users/{u['id']}/extension")["effective_status"] == "outside_office_hours"
    user.ok("POST", "/api/user/extension", {"status": "lunch"})
    assert user.ok("GET", "/api/user/extension")["effective_status"] == "lunch"
    user.ok("POST", "/api/user/extension", {"status": "available", "office_hours": {"mode": "specific",
                                                                                     "week": {d: ALL_DAY for d in DAYS}}})
    assert user.ok("GET", "/api/user/extension")["effective_status"] == "available"
    err(user.post("/api/user/extension", {"effective_status": "away"}), 422, "invalid_field", "effective_status")
