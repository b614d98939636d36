"""Tenants, users and extensions: validation naming the field, uniqueness, roles,
list query options. FEATURES: TEN-01, TEN-02, TEN-05, TEN-06, USR-01, USR-04, USR-06,
USR-09, USR-15..USR-20, FWD-*, VM-02, VM-03, VM-08, API-05, API-06, API-07, API-15."""
import pytest

from conftest import new_tenant, new_user, uniq


@pytest.fixture(scope="module")
def env(pbxd):
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    u = new_user(boss, password="User-pass-1")
    user = pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
    return {"admin": admin, "tenant": t, "boss": boss, "user": user, "u": u, "pbxd": pbxd}


def err(r, status, code, field=None):
    assert r.status_code == status, r.text
    assert r.body["error"]["code"] == code, r.text
    if field is not None:
        assert r.body["error"].get("field") == field, r.text
        assert r.body["error"]["message"].startswith(field), r.text


def test_tenant_domain_unique(env):
    """TEN-01: a duplicate SIP domain is rejected, whatever its case."""
    admin = env["admin"]
    d = env["tenant"]["domain"]
    r = admin.post("/api/tenants", {"name": "Dup", "domain": d.upper(),
                                    "admin": {"username": "x", "password": "Pass-word-1"}})
    err(r, 409, "conflict", "domain")
    t2, _ = new_tenant(admin)
    err(admin.post(f"/api/tenants/{t2['id']}", {"domain": d}), 409, "conflict", "domain")


@pytest.mark.parametrize("body,status,code,field", [
    ({"domain": "a.test", "admin": {"username": "b", "password": "Pass-word-1"}}, 422, "missing_field", "name"),
    ({"name": "A", "admin": {"username": "b", "password": "Pass-word-1"}}, 422, "missing_field", "domain"),
    ({"name": "A", "domain": "a.test"}, 422, "missing_field", "admin"),
    ({"name": "A", "domain": "a.test", "admin": {"username": "b"}}, 422, "missing_field", "admin.password"),
    ({"name": "A", "domain": "a..test", "admin": {"username": "b", "password": "Pass-word-1"}}, 422,
     "invalid_field", "domain"),
    ({"name": "A", "domain": "-a.test", "admin": {"username": "b", "password": "Pass-word-1"}}, 422,
     "invalid_field", "domain"),
    ({"name": "", "domain": "a.test", "admin": {"username": "b", "password": "Pass-word-1"}}, 422,
     "invalid_field", "name"),
    ({"name": 5, "domain": "a.test", "admin": {"username": "b", "password": "Pass-word-1"}}, 422,
     "invalid_field", "name"),
    ({"name": "A", "domain": "a.test", "admin": {"username": "root", "password": "Pass-word-1"}}, 422,
     "invalid_field", "admin.username"),
    ({"name": "A", "domain": "a.test", "enabled": "yes", "admin": {"username": "b", "password": "Pass-word-1"}},
     422, "invalid_field", "enabled"),
    ({"name": "A", "domain": "a.test", "limits": {"max_users": -1},
      "admin": {"username": "b", "password": "Pass-word-1"}}, 422, "invalid_field", "limits.max_users"),
    ({"name": "A", "domain": "a.test", "limits": {"users": 1},
      "admin": {"username": "b", "password": "Pass-word-1"}}, 400, "unknown_field", "limits.users"),
    ({"name": "A", "domain": "a.test", "sip_domain": "x",
      "admin": {"username": "b", "password": "Pass-word-1"}}, 400, "unknown_field", "sip_domain"),
])
def test_tenant_validation(env, body, status, code, field):
    err(env["admin"].post("/api/tenants", body), status, code, field)


BASE_USER = {"username": "jdoe", "password": "Pass-word-1", "email": "jdoe@example.com",
             "extension_number": "150", "extension_password": "sip-Secret-1"}


@pytest.mark.parametrize("missing", sorted(BASE_USER))
def test_user_mandatory_fields(env, missing):
    """USR-01/USR-04: omitting each mandatory field in turn is rejected."""
    body = {k: v for k, v in BASE_USER.items() if k != missing}
    err(env["boss"].post("/api/users", body), 422, "missing_field", missing)


@pytest.mark.parametrize("field,value,status,code", [
    ("username", ".jdoe", 422, "invalid_field"),
    ("username", "jdoe.", 422, "invalid_field"),
    ("username", "j doe", 422, "invalid_field"),
    ("username", "admin", 422, "invalid_field"),
    ("username", "Administrator", 422, "invalid_field"),
    ("username", "system", 422, "invalid_field"),
    ("username", "x" * 65, 422, "invalid_field"),
    ("username", 12, 422, "invalid_field"),
    ("password", "short1", 422, "invalid_field"),
    ("password", "12345678901", 422, "invalid_field"),
    ("email", "not-an-email", 422, "invalid_field"),
    ("email", None, 422, "invalid_field"),
    ("extension_number", "10a", 422, "invalid_field"),
    ("extension_number", 101, 422, "invalid_field"),
    ("extension_password", "has space 1", 422, "invalid_field"),
    ("extension_password", "short", 422, "invalid_field"),
    ("role", "superuser", 422, "invalid_field"),
    ("enabled", 1, 422, "invalid_field"),
    ("display_name", ["x"], 422, "invalid_field"),
    ("nickname", "x", 400, "unknown_field"),
])
def test_user_field_validation(env, field, value, status, code):
    body = dict(BASE_USER, **{field: value})
    err(env["boss"].post("/api/users", body), status, code, field)


def test_user_names_allowed(env):
    boss = env["boss"]
    for name in ("o'brien", "a_b-c.d", "X"):
        new_user(boss, username=name)


def test_user_unique_in_tenant(env):
    boss = env["boss"]
    u = new_user(boss)
    err(boss.post("/api/users", dict(BASE_USER, username=u["username"].upper(), extension_number="9001")),
        409, "conflict", "username")
    err(boss.post("/api/users", dict(BASE_USER, username=uniq("z"), extension_number=u["extension_number"])),
        409, "conflict", "extension_number")
    other = new_user(boss)
    err(boss.post(f"/api/users/{other['id']}", {"extension_number": u["extension_number"]}),
        409, "conflict", "extension_number")
    # the same number and name in another tenant are fine
    _, boss2 = new_tenant(env["admin"])
    new_user(boss2, username=u["username"], ext=u["extension_number"])


def test_max_users_limit(env):
    admin = env["admin"]
    t, boss = new_tenant(admin)
    admin.ok("POST", f"/api/tenants/{t['id']}", {"limits": {"max_users": 2}})
    new_user(boss)
    r = boss.post("/api/users", dict(BASE_USER, username=uniq("l")))
    err(r, 409, "limit_reached")


def test_roles(env):
    """TEN-05, TEN-06, API-15: user vs tenant admin vs system admin."""
    admin, boss, user, u = env["admin"], env["boss"], env["user"], env["u"]
    for c in (boss, user):
        for m, p in (("GET", "/api/tenants"), ("POST", "/api/tenants"),
                     ("GET", f"/api/tenants/{env['tenant']['id']}"),
                     ("POST", f"/api/tenants/{env['tenant']['id']}/destroy"),
                     ("POST", f"/api/tenants/{env['tenant']['id']}/switch")):
            err(c.request(m, p, body={} if m == "POST" else None), 403, "forbidden")
    for m, p in (("GET", "/api/users"), ("POST", "/api/users"), ("GET", f"/api/users/{u['id']}"),
                 ("POST", f"/api/users/{u['id']}"), ("POST", f"/api/users/{u['id']}/destroy"),
                 ("POST", f"/api/users/{u['id']}/password"), ("GET", f"/api/users/{u['id']}/extension")):
        err(user.request(m, p, body={} if m == "POST" else None), 403, "forbidden")
        # a system admin not switched into the tenant is not its admin
        err(admin.request(m, p, body={} if m == "POST" else None), 403, "forbidden")
    err(admin.get("/api/user/profile"), 403, "forbidden")
    # a user promoted to admin manages the tenant at once (TEN-06: two admins)
    boss.ok("POST", f"/api/users/{u['id']}", {"role": "admin"})
    assert user.ok("GET", "/api/users")["count"] >= 2
    boss.ok("POST", f"/api/users/{u['id']}", {"role": "user"})
    err(user.get("/api/users"), 403, "forbidden")
    # an admin cannot lock themselves out
    me = boss.ok("GET", "/api/me")
    err(boss.post(f"/api/users/{me['id']}", {"role": "user"}), 409, "conflict", "role")
    err(boss.post(f"/api/users/{me['id']}/destroy"), 409, "conflict")


def test_user_settings_permissions(env):
    user = env["user"]
    ext = user.ok("POST", "/api/user/extension", {"dnd": True, "call_waiting": False,
                                                  "voicemail": {"pin": "4321", "pin_auth": True}})
    assert ext["dnd"] and not ext["call_waiting"] and ext["voicemail"]["pin"] == "4321"
    for field, value in (("record_audio", True), ("max_simultaneous_calls", 5), ("monitor_others", True),
                         ("outbound_caller_ids", [])):
        err(user.post("/api/user/extension", {field: value}), 403, "forbidden", field)
    err(user.post("/api/user/extension", {"nope": 1}), 400, "unknown_field", "nope")


@pytest.mark.parametrize("patch,status,code,field", [
    ({"max_simultaneous_calls": 0}, 422, "invalid_field", "max_simultaneous_calls"),
    ({"max_simultaneous_calls": "2"}, 422, "invalid_field", "max_simultaneous_calls"),
    ({"dnd": "on"}, 422, "invalid_field", "dnd"),
    ({"voicemail": {"pin": "12"}}, 422, "invalid_field", "voicemail.pin"),
    ({"voicemail": {"pin": "12ab"}}, 422, "invalid_field", "voicemail.pin"),
    ({"voicemail": {"pin": "", "pin_auth": True}}, 422, "missing_field", "voicemail.pin"),
    ({"voicemail": {"email": "x"}}, 422, "invalid_field", "voicemail.email"),
    ({"outbound_caller_ids": [{"trunk": "t1"}]}, 422, "missing_field", "outbound_caller_ids[0].caller_id"),
    ({"outbound_caller_ids": [{"trunk": "t1", "caller_id": "abc"}]}, 422, "invalid_field",
     "outbound_caller_ids[0].caller_id"),
    ({"outbound_caller_ids": {"trunk": "t1"}}, 422, "invalid_field", "outbound_caller_ids"),
    ({"forwarding": {"busy": {"action": "number"}}}, 422, "missing_field", "forwarding.busy.number"),
    ({"forwarding": {"busy": {"action": "fax"}}}, 422, "invalid_field", "forwarding.busy.action"),
    ({"forwarding": {"no_answer": {"ring_time": 1}}}, 422, "invalid_field", "forwarding.no_answer.ring_time"),
    ({"forwarding": {"unconditional": {"mode": "schedule", "destination": {"action": "hangup"}}}}, 422,
     "missing_field", "forwarding.unconditional.schedules"),
    ({"forwarding": {"unconditional": {"mode": "schedule"}}}, 422, "missing_field",
     "forwarding.unconditional.destination"),
    ({"forwarding": {"unconditional": {"mode": "always", "schedules": [{"days": ["mon"], "start": "25:00",
                                                                        "end": "12:00"}]}}},
     422, "invalid_field", "forwarding.unconditional.schedules[0].start"),
    ({"forwarding": {"unconditional": {"mode": "always", "schedules": [{"days": ["monday"], "start": "09:00",
                                                                        "end": "12:00"}]}}},
     422, "invalid_field", "forwarding.unconditional.schedules[0].days[0]"),
    ({"forwarding": {"exceptions": [{"caller_id": "555"}]}}, 422, "missing_field",
     "forwarding.exceptions[0].destination"),
    ({"forwarding": {"exception_numbers": ["12x"]}}, 422, "invalid_field", "forwarding.exception_numbers[0]"),
    ({"forwarding": {"busy": {"action": "hangup", "delay": 1}}}, 400, "unknown_field", "forwarding.busy.delay"),
])
def test_extension_settings_validation(env, patch, status, code, field):
    boss, u = env["boss"], env["u"]
    err(boss.post(f"/api/users/{u['id']}/extension", patch), status, code, field)


def test_extension_settings_stored(env):
    """The seeds' settings round-trip: caller IDs per trunk, forwarding with schedules and
    exceptions, voicemail options (USR-15..19, FWD-03..17, VM-02/03/08)."""
    boss, u = env["boss"], env["u"]
    patch = {
        "outbound_caller_ids": [{"trunk": "trunk 1", "caller_id": "022000"},
                                {"trunk": "trunk 2", "caller_id": "88010"}],
        "anonymous_outbound": True, "deliver_outbound_caller_id": True, "record_video": True,
        "max_simultaneous_calls": 3, "allow_presence_monitoring": False, "allow_recording": False,
        "allow_monitored": True,
        "voicemail": {"enabled": False, "read_datetime": True, "email_notification": True},
        "forwarding": {
            "unconditional": {"mode": "schedule", "destination": {"action": "number", "number": "102"},
                              "schedules": [{"days": ["mon", "tue"], "start": "09:00", "end": "12:00"}]},
            "busy": {"action": "voicemail", "mailbox": "108"},
            "no_answer": {"action": "number", "number": "+4930123", "ring_time": 10},
            "not_reachable": {"action": "hangup"},
            "exceptions": [{"caller_id": "555", "days": ["sat"], "start": "00:00", "end": "23:59",
                            "destination": {"action": "ring"}}],
            "exception_numbers": ["111", "222"]},
    }
    boss.ok("POST", f"/api/users/{u['id']}/extension", patch)
    got = boss.ok("GET", f"/api/users/{u['id']}/extension")
    for k, v in patch.items():
        if k not in ("voicemail", "forwarding"):
            assert got[k] == v, k
    assert got["forwarding"]["no_answer"] == {"action": "number", "number": "+4930123", "ring_time": 10}
    assert got["forwarding"]["exceptions"][0]["destination"] == {"action": "ring"}
    assert got["voicemail"]["read_datetime"] is True and got["voicemail"]["enabled"] is False
    # partial update: objects merge, other fields stay
    boss.ok("POST", f"/api/users/{u['id']}/extension", {"forwarding": {"busy": {"action": "hangup"}}})
    got = boss.ok("GET", f"/api/users/{u['id']}/extension")
    assert got["forwarding"]["busy"]["action"] == "hangup"
    assert got["forwarding"]["no_answer"]["ring_time"] == 10 and got["record_video"] is True


def test_list_query_options(env):
    """API-07: filter, search, orderby, skip, top; count before paging."""
    admin = env["admin"]
    _, boss = new_tenant(admin)
    for i in range(12):
        new_user(boss, username=f"lister{i:02d}", ext=str(500 + i), role="admin" if i % 4 == 0 else "user",
                 display_name=f"Person {i}")
    r = boss.ok("GET", "/api/users", params={"top": 5})
    assert r["count"] == 13 and len(r["items"]) == 5
    r = boss.ok("GET", "/api/users", params={"filter": "role eq 'admin'"})
    assert r["count"] == 4 and all(x["role"] == "admin" for x in r["items"])
    r = boss.ok("GET", "/api/users", params={"filter": "role eq 'user' and enabled eq true",
                                             "orderby": "username desc", "skip": 1, "top": 2})
    assert r["count"] == 9 and [x["username"] for x in r["items"]] == ["lister10", "lister09"]
    r = boss.ok("GET", "/api/users", params={"search": "PERSON 1"})
    assert sorted(x["username"] for x in r["items"]) == ["lister01", "lister10", "lister11"]
    r = boss.ok("GET", "/api/users", params={"filter": "extension_number ge '505'", "orderby": "extension_number"})
    assert [x["extension_number"] for x in r["items"]] == [str(n) for n in range(505, 512)]
    uid = r["items"][0]["id"]
    assert boss.ok("GET", "/api/users", params={"filter": f"id eq {uid}"})["count"] == 1
    for params, field in (({"top": 0}, "top"), ({"top": 101}, "top"), ({"top": "x"}, "top"),
                          ({"skip": -1}, "skip"), ({"orderby": "password"}, "orderby"),
                          ({"orderby": "username sideways"}, "orderby"),
                          ({"filter": "password eq 'x'"}, "filter"), ({"filter": "role eq admin"}, "filter"),
                          ({"filter": "role is 'admin'"}, "filter"), ({"filter": "role eq 'admin"}, "filter"),
                          ({"filter": "enabled eq 'yes'"}, "filter"),
                          ({"filter": "role eq 'a' or role eq 'b'"}, "filter"), ({"sort": "x"}, "sort")):
        r = boss.get("/api/users", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.body["error"]["field"] == field
    r = admin.ok("GET", "/api/tenants", params={"filter": "domain eq 'pbx.local'"})
    assert r["count"] == 1 and r["items"][0]["name"] == "Default"
    assert admin.ok("GET", "/api/tenants", params={"search": "PBX.LOC"})["count"] == 1


def test_ids_are_decimal_strings(env):
    """API-06."""
    u = env["u"]
    assert isinstance(u["id"], str) and u["id"].isdigit() and int(u["id"]) < 2 ** 63
    a = new_user(env["boss"])
    assert int(a["id"]) > int(u["id"])  # time-ordered
    assert env["boss"].get("/api/users/abc").status_code == 404
    assert env["boss"].get("/api/users/99999999999999999999").status_code == 404
    assert env["boss"].get("/api/users/0").status_code == 404
