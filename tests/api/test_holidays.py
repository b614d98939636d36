"""Holidays through REST (issue 13): the tenant's (/api/holidays) and a user's own
(/api/users/{id}/holidays), each a name and one stretch of wall-clock time. Answers
show the effective values (end_date the start_date, 00:00 to 23:59 by default); an
update changes the fields given, so moving a one-day holiday moves it whole. The
owners are kept apart (a user's holiday is not the tenant's, nor another user's,
nor another tenant's), and every refusal names its field.
FEATURES: OH-03 (holidays)."""

import pytest

from conftest import new_tenant, new_user


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


def owners(env):
    return [("tenant", "/api/holidays"), ("user", f"/api/users/{env['u']['id']}/holidays")]


@pytest.fixture(params=["tenant", "user"])
def base(request, env):
    return dict(owners(env))[request.param]


def test_create_shows_the_effective_values(env, base):
    boss = env["boss"]
    h = boss.ok("POST", base, {"name": "Labour Day", "start_date": "2031-05-01"}, status=201)
    assert h["name"] == "Labour Day" and h["id"].isdigit()
    assert (h["start_date"], h["end_date"], h["start_time"], h["end_time"], h["every_year"]) == (
        "2031-05-01", "2031-05-01", "00:00", "23:59", False)
    assert boss.ok("GET", f"{base}/{h['id']}") == h
    assert h["id"] in [x["id"] for x in boss.ok("GET", base)["items"]]


def test_update_changes_the_fields_given(env, base):
    boss = env["boss"]
    h = boss.ok("POST", base, {"name": "Offsite", "start_date": "2031-06-10"}, status=201)
    # a one-day holiday moved by its start date moves whole
    h2 = boss.ok("POST", f"{base}/{h['id']}", {"start_date": "2031-06-20"})
    assert (h2["start_date"], h2["end_date"], h2["name"]) == ("2031-06-20", "2031-06-20", "Offsite")
    h3 = boss.ok("POST", f"{base}/{h['id']}", {"end_date": "2031-06-22", "end_time": "12:00", "name": "Retreat"})
    assert (h3["start_date"], h3["end_date"], h3["end_time"], h3["name"]) == (
        "2031-06-20", "2031-06-22", "12:00", "Retreat")
    assert h3["created_at"] == h["created_at"]


def test_every_year_across_new_year(env, base):
    h = env["boss"].ok("POST", base, {"name": "Winter break", "start_date": "2030-12-24",
                                       "end_date": "2031-01-02", "every_year": True}, status=201)
    assert h["every_year"] is True and h["end_date"] == "2031-01-02"


@pytest.mark.parametrize("body,status,code,field", [
    ({"start_date": "2031-01-01"}, 422, "missing_field", "name"),
    ({"name": "x"}, 422, "missing_field", "start_date"),
    ({"name": "x", "start_date": "2031-02-30"}, 422, "invalid_field", "start_date"),
    ({"name": "x", "start_date": "31-01-2031"}, 422, "invalid_field", "start_date"),
    ({"name": "x", "start_date": "2031-01-10", "end_date": "2031-01-09"}, 422, "invalid_field", "end_date"),
    ({"name": "x", "start_date": "2031-01-10", "start_time": "12:00", "end_time": "11:00"}, 422,
     "invalid_field", "end_time"),
    ({"name": "x", "start_date": "2031-01-10", "start_time": "25:00"}, 422, "invalid_field", "start_time"),
    ({"name": "x", "start_date": "2031-01-10", "every_year": "yes"}, 422, "invalid_field", "every_year"),
    ({"name": "x", "start_date": "2030-01-10", "end_date": "2032-01-01", "every_year": True}, 422,
     "invalid_field", "end_date"),
    ({"name": "", "start_date": "2031-01-10"}, 422, "invalid_field", "name"),
    ({"name": "x", "start_date": "2031-01-10", "colour": "red"}, 400, "unknown_field", "colour"),
])
def test_refusals_name_the_field(env, base, body, status, code, field):
    n = env["boss"].ok("GET", base)["count"]
    err(env["boss"].post(base, body), status, code, field)
    assert env["boss"].ok("GET", base)["count"] == n


def test_update_refusal_keeps_the_holiday(env, base):
    boss = env["boss"]
    h = boss.ok("POST", base, {"name": "Keep", "start_date": "2031-03-03"}, status=201)
    err(boss.post(f"{base}/{h['id']}", {"end_date": "2031-03-01"}), 422, "invalid_field", "end_date")
    assert boss.ok("GET", f"{base}/{h['id']}") == h


def test_destroy(env, base):
    boss = env["boss"]
    h = boss.ok("POST", base, {"name": "Gone", "start_date": "2031-04-04"}, status=201)
    assert boss.post(f"{base}/{h['id']}/destroy").status_code == 204
    for r in (boss.get(f"{base}/{h['id']}"), boss.post(f"{base}/{h['id']}", {"name": "x"}),
              boss.post(f"{base}/{h['id']}/destroy")):
        assert r.status_code == 404, r.text


def test_owners_are_kept_apart(env):
    boss = env["boss"]
    th = boss.ok("POST", "/api/holidays", {"name": "Tenant's", "start_date": "2031-07-01"}, status=201)
    uh = boss.ok("POST", f"/api/users/{env['u']['id']}/holidays", {"name": "Mine", "start_date": "2031-07-02"},
                 status=201)
    other_user = new_user(boss)
    # the tenant's holiday is no user's, a user's is not the tenant's nor another user's
    assert boss.get(f"/api/users/{env['u']['id']}/holidays/{th['id']}").status_code == 404
    assert boss.get(f"/api/holidays/{uh['id']}").status_code == 404
    assert boss.get(f"/api/users/{other_user['id']}/holidays/{uh['id']}").status_code == 404
    assert boss.post(f"/api/holidays/{uh['id']}/destroy").status_code == 404
    assert uh["id"] not in [x["id"] for x in boss.ok("GET", "/api/holidays")["items"]]
    assert boss.ok("GET", f"/api/users/{other_user['id']}/holidays") == {"count": 0, "items": []}
    # another tenant reaches none of them
    _, other = new_tenant(env["admin"])
    for path in (f"/api/holidays/{th['id']}", f"/api/users/{env['u']['id']}/holidays",
                 f"/api/users/{env['u']['id']}/holidays/{uh['id']}"):
        assert other.get(path).status_code == 404, path
    assert other.post(f"/api/users/{env['u']['id']}/holidays",
                      {"name": "x", "start_date": "2031-01-01"}).status_code == 404
    assert th["id"] not in [x["id"] for x in other.ok("GET", "/api/holidays")["items"]]
    # bad ids are not found, not errors
    assert boss.get(f"/api/users/{env['u']['id']}/holidays/abc").status_code == 404
    assert boss.get("/api/users/1/holidays").status_code == 404


def test_users_holidays_go_with_the_user(env):
    boss = env["boss"]
    u = new_user(boss)
    boss.ok("POST", f"/api/users/{u['id']}/holidays", {"name": "x", "start_date": "2031-01-01"}, status=201)
    assert boss.post(f"/api/users/{u['id']}/destroy").status_code == 204
    assert boss.get(f"/api/users/{u['id']}/holidays").status_code == 404


def test_holidays_are_the_tenant_admins(env):
    """Users read the tenant's holidays (they close their global office hours),
    but only the tenant's administrators write them."""
    user = env["user"]
    assert user.ok("GET", "/api/holidays") == env["boss"].ok("GET", "/api/holidays")
    assert user.post("/api/holidays", {"name": "x", "start_date": "2031-01-01"}).status_code == 403
    assert user.get(f"/api/users/{env['u']['id']}/holidays").status_code == 403
