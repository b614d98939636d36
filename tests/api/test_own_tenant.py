"""A tenant admin's own tenant (issue 13): they read it and set its time zone
(which their office hours, holidays and forwarding schedules follow); the rest
of the tenant (name, domain, limits, state) stays the system admin's; users of
the tenant and other tenants' admins have no say."""

from conftest import new_tenant, new_user


def test_tenant_admin_reads_and_sets_the_zone(pbxd):
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    got = boss.ok("GET", "/api/tenant")
    assert got["id"] == t["id"] and got["domain"] == t["domain"] and got["timezone"] == ""
    got = boss.ok("POST", "/api/tenant", {"timezone": "America/New_York"})
    assert got["timezone"] == "America/New_York"
    assert admin.ok("GET", f"/api/tenants/{t['id']}")["timezone"] == "America/New_York"
    r = boss.post("/api/tenant", {"timezone": "Mars/Olympus"})
    assert r.status_code == 422 and r.body["error"]["field"] == "timezone", r.text
    r = boss.post("/api/tenant", {"timezone": "../../etc/passwd"})
    assert r.status_code == 422 and r.body["error"]["field"] == "timezone", r.text
    for field, value in (("name", "Other"), ("domain", "x.test"), ("enabled", False)):
        r = boss.post("/api/tenant", {field: value})
        assert r.status_code == 400 and r.body["error"]["field"] == field, r.text
    assert boss.ok("GET", "/api/tenant")["timezone"] == "America/New_York"


def test_only_the_tenant_admin(pbxd):
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    new_user(boss, username="plainuser", password="User-pass-1")
    user = pbxd.client().as_user("plainuser", "User-pass-1", t["domain"])
    r = user.get("/api/tenant")
    # The hint to switch into the tenant is for system admins only.
    assert r.status_code == 403 and "switch" not in r.body["error"]["message"], r.text
    assert user.post("/api/tenant", {"timezone": "UTC"}).status_code == 403
    r = admin.get("/api/tenant")  # not switched into a tenant
    assert r.status_code == 403 and "switch into the tenant" in r.body["error"]["message"], r.text


def test_users_own_holidays(pbxd):
    """A user keeps their own holidays (issue 13: the user for their own
    extension); they are not the tenant's, nor another user's."""
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    u1 = new_user(boss, username="hol1", password="User-pass-1")
    new_user(boss, username="hol2", password="User-pass-1")
    one = pbxd.client().as_user("hol1", "User-pass-1", t["domain"])
    two = pbxd.client().as_user("hol2", "User-pass-1", t["domain"])
    h = one.ok("POST", "/api/user/holidays", {"name": "Away", "start_date": "2031-05-01", "end_date": "2031-05-03"},
               status=201)
    assert [x["id"] for x in one.ok("GET", "/api/user/holidays")["items"]] == [h["id"]]
    assert two.ok("GET", "/api/user/holidays")["items"] == []
    assert two.get(f"/api/user/holidays/{h['id']}").status_code == 404
    assert boss.ok("GET", "/api/holidays")["items"] == []
    assert [x["id"] for x in boss.ok("GET", f"/api/users/{u1['id']}/holidays")["items"]] == [h["id"]]
    r = one.post("/api/user/holidays", {"name": "Bad", "start_date": "2031-13-01"})
    assert r.status_code == 422 and r.body["error"]["field"] == "start_date", r.text
