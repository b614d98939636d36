"""Sign-in, tokens, expiry, refresh, sign-out and the failed sign-in rate limit.
FEATURES: API-02, SEC-01, SEC-07, TEN-03, USR-22, WEB-03."""
import time

from conftest import ADMIN_PASSWORD, new_tenant, new_user


def test_sign_in_system_admin_and_tenant_users(pbxd):
    c = pbxd.client()
    admin = c.as_user("admin", ADMIN_PASSWORD)
    assert admin.ok("GET", "/api/me")["role"] == "system_admin"
    # the default tenant's admin made at first start, with --admin-password
    boss = c.as_user("pbxadmin", ADMIN_PASSWORD, "pbx.local")
    me = boss.ok("GET", "/api/me")
    assert me["role"] == "admin" and me["tenant"]["domain"] == "pbx.local"
    assert me["extension_number"] == "100"
    # domain is case-insensitive, username too
    c.as_user("PBXADMIN", ADMIN_PASSWORD, "PBX.local")


def test_sign_in_failures_are_401(pbxd):
    c = pbxd.client()
    for body in ({"username": "admin", "password": "wrong"},
                 {"username": "nobody", "password": ADMIN_PASSWORD},
                 {"username": "pbxadmin", "password": ADMIN_PASSWORD, "domain": "no.such.domain"},
                 {"username": "admin", "password": ADMIN_PASSWORD, "domain": "pbx.local"}):
        r = c.post("/api/auth/sign_in", body, token=None)
        assert r.status_code == 401, body
        assert r.body["error"]["code"] == "unauthorized"
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    r = c.post("/api/auth/sign_in", {"username": "admin"})
    assert r.status_code == 422 and r.body["error"]["field"] == "password"


def test_token_checks(pbxd):
    c = pbxd.client()
    for tok in (None, "", "garbage", "x" * 43, "y" * 500):
        r = c.get("/api/me", token=tok)
        assert r.status_code == 401
    r = c.get("/api/me", token=None, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert r.status_code == 401
    admin = c.as_user("admin", ADMIN_PASSWORD)
    # a refresh token is not an access token, and vice versa
    assert c.get("/api/me", token=admin.refresh_token).status_code == 401
    r = c.post("/api/auth/refresh", {"refresh_token": admin.token}, token=None)
    assert r.status_code == 401 and r.body["error"]["field"] == "refresh_token"


def test_sign_out_ends_both_tokens(pbxd):
    c = pbxd.client()
    s = c.as_user("admin", ADMIN_PASSWORD)
    other = c.as_user("admin", ADMIN_PASSWORD)
    assert s.ok("POST", "/api/auth/sign_out", status=204) is None
    assert s.get("/api/me").status_code == 401
    assert c.post("/api/auth/refresh", {"refresh_token": s.refresh_token}, token=None).status_code == 401
    assert other.get("/api/me").status_code == 200  # other sessions go on


def test_refresh_rotates(pbxd):
    c = pbxd.client()
    s = c.as_user("admin", ADMIN_PASSWORD)
    t1 = c.ok("POST", "/api/auth/refresh", {"refresh_token": s.refresh_token}, token=None)
    # spent on use (presenting it again ends the grant: test_session_security)
    t2 = c.ok("POST", "/api/auth/refresh", {"refresh_token": t1["refresh_token"]}, token=None)
    assert c.get("/api/me", token=t2["token"]).status_code == 200
    # sign-out of the newest access token ends the whole grant
    c.ok("POST", "/api/auth/sign_out", token=t2["token"], status=204)
    assert c.get("/api/me", token=t1["token"]).status_code == 401


def test_token_expiry_and_refresh(make_pbxd):
    p = make_pbxd(["--token-lifetime=2"])
    c = p.client()
    t = c.sign_in("admin", ADMIN_PASSWORD)
    assert t["expires_in"] == 2
    assert c.get("/api/me", token=t["token"]).status_code == 200
    deadline = time.time() + 10
    while c.get("/api/me", token=t["token"]).status_code == 200:
        assert time.time() < deadline, "token did not expire"
        time.sleep(0.25)
    assert c.get("/api/me", token=t["token"]).body["error"]["code"] == "unauthorized"
    t2 = c.ok("POST", "/api/auth/refresh", {"refresh_token": t["refresh_token"]}, token=None)
    assert c.get("/api/me", token=t2["token"]).status_code == 200


def test_login_rate_limit(make_pbxd):
    p = make_pbxd(["--login-max-failures=3", "--login-window=3"])
    c = p.client()
    for _ in range(3):
        assert c.post("/api/auth/sign_in", {"username": "admin", "password": "bad"}).status_code == 401
    r = c.post("/api/auth/sign_in", {"username": "admin", "password": "bad"})
    assert r.status_code == 429 and r.body["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 3
    # even the right password waits, for any account, from this address
    r = c.post("/api/auth/sign_in", {"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429
    # existing sessions are not affected and the window passes
    deadline = time.time() + 8
    while c.post("/api/auth/sign_in", {"username": "admin", "password": ADMIN_PASSWORD}).status_code == 429:
        assert time.time() < deadline
        time.sleep(0.25)


def test_disabled_user_and_tenant_cannot_sign_in(pbxd):
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    u = new_user(boss, password="User-pass-1")
    c = pbxd.client()
    user = c.as_user(u["username"], "User-pass-1", t["domain"])
    boss.ok("POST", f"/api/users/{u['id']}", {"enabled": False})
    assert user.get("/api/me").status_code == 401  # USR-22: sessions stop too
    assert c.post("/api/auth/sign_in", {"username": u["username"], "password": "User-pass-1",
                                        "domain": t["domain"]}).status_code == 401
    boss.ok("POST", f"/api/users/{u['id']}", {"enabled": True})
    user = c.as_user(u["username"], "User-pass-1", t["domain"])
    admin.ok("POST", f"/api/tenants/{t['id']}", {"enabled": False})  # TEN-03
    assert user.get("/api/me").status_code == 401
    assert boss.get("/api/users").status_code == 401
    assert c.post("/api/auth/sign_in", {"username": "boss", "password": "Boss-pass-1",
                                        "domain": t["domain"]}).status_code == 401
    info = c.ok("GET", "/api/info", params={"domain": t["domain"]})
    assert info["tenant"]["enabled"] is False
    admin.ok("POST", f"/api/tenants/{t['id']}", {"enabled": True})
    c.as_user("boss", "Boss-pass-1", t["domain"])


def test_info_domain(pbxd):
    c = pbxd.client()
    r = c.get("/api/info", params={"domain": "unknown.example"})
    assert r.status_code == 404 and r.body["error"]["field"] == "domain"
    assert "id" not in c.ok("GET", "/api/info", params={"domain": "pbx.local"})["tenant"]


def test_password_changes(pbxd):
    """USR-02: the login password and the extension password change separately."""
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    u = new_user(boss, password="User-pass-1")
    c = pbxd.client()
    user = c.as_user(u["username"], "User-pass-1", t["domain"])
    r = user.post("/api/user/password", {"old_password": "nope", "new_password": "User-pass-2"})
    assert r.status_code == 422 and r.body["error"]["field"] == "old_password"
    r = user.post("/api/user/password", {"old_password": "User-pass-1", "new_password": "short"})
    assert r.status_code == 422 and r.body["error"]["field"] == "new_password"
    user.ok("POST", "/api/user/password", {"old_password": "User-pass-1", "new_password": "User-pass-2"})
    assert c.post("/api/auth/sign_in", {"username": u["username"], "password": "User-pass-1",
                                        "domain": t["domain"]}).status_code == 401
    c.as_user(u["username"], "User-pass-2", t["domain"])
    user.ok("POST", "/api/user/extension_password", {"extension_password": "new-Sip-secret", "password": "User-pass-2"})
    c.as_user(u["username"], "User-pass-2", t["domain"])  # login password unaffected
    boss.ok("POST", f"/api/users/{u['id']}/password", {"password": "User-pass-3"})
    c.as_user(u["username"], "User-pass-3", t["domain"])
