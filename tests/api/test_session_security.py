"""Sessions after a password change or a disabling, refresh-token reuse, switched
tokens, a system admin's own password, the SIP password's guard, and the failed
sign-in limit per account and per source (security review H1, H2, H3, M3-M6)."""
import threading

from conftest import ADMIN_PASSWORD, new_tenant, new_user


def _user(pbxd, password="User-pass-1"):
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    u = new_user(boss, password=password)
    return admin, t, boss, u


def test_admin_password_reset_ends_user_sessions(pbxd):
    _, t, boss, u = _user(pbxd)
    c = pbxd.client()
    s1 = c.as_user(u["username"], "User-pass-1", t["domain"])
    boss.ok("POST", f"/api/users/{u['id']}/password", {"password": "User-pass-2"}, status=204)
    assert s1.get("/api/me").status_code == 401
    assert c.post("/api/auth/refresh", {"refresh_token": s1.refresh_token}, token=None).status_code == 401
    s2 = c.as_user(u["username"], "User-pass-2", t["domain"])
    boss.ok("POST", f"/api/users/{u['id']}", {"password": "User-pass-3"})
    assert s2.get("/api/me").status_code == 401
    assert boss.get("/api/me").status_code == 200  # the admin's own session goes on


def test_self_password_change_keeps_only_own_session(pbxd):
    _, t, boss, u = _user(pbxd)
    c = pbxd.client()
    me = c.as_user(u["username"], "User-pass-1", t["domain"])
    other = c.as_user(u["username"], "User-pass-1", t["domain"])
    me.ok("POST", "/api/user/password", {"old_password": "User-pass-1", "new_password": "User-pass-2"})
    assert me.get("/api/me").status_code == 200
    assert other.get("/api/me").status_code == 401
    assert c.post("/api/auth/refresh", {"refresh_token": other.refresh_token}, token=None).status_code == 401
    assert c.post("/api/auth/refresh", {"refresh_token": me.refresh_token}, token=None).status_code == 200


def test_disabling_ends_sessions_for_good(pbxd):
    admin, t, boss, u = _user(pbxd)
    c = pbxd.client()
    user = c.as_user(u["username"], "User-pass-1", t["domain"])
    boss.ok("POST", f"/api/users/{u['id']}", {"enabled": False})
    boss.ok("POST", f"/api/users/{u['id']}", {"enabled": True})
    assert user.get("/api/me").status_code == 401  # not revived by re-enabling
    user = c.as_user(u["username"], "User-pass-1", t["domain"])
    admin.ok("POST", f"/api/tenants/{t['id']}", {"enabled": False})
    admin.ok("POST", f"/api/tenants/{t['id']}", {"enabled": True})
    assert user.get("/api/me").status_code == 401
    assert boss.get("/api/me").status_code == 401


def test_spent_refresh_token_replay_ends_the_grant(pbxd):
    c = pbxd.client()
    s = c.as_user("admin", ADMIN_PASSWORD)
    t1 = c.ok("POST", "/api/auth/refresh", {"refresh_token": s.refresh_token}, token=None)
    assert c.get("/api/me", token=t1["token"]).status_code == 200
    r = c.post("/api/auth/refresh", {"refresh_token": s.refresh_token}, token=None)
    assert r.status_code == 401
    assert c.get("/api/me", token=t1["token"]).status_code == 401
    assert c.post("/api/auth/refresh", {"refresh_token": t1["refresh_token"]}, token=None).status_code == 401


def test_refresh_token_spent_once_under_concurrency(pbxd):
    for _ in range(8):
        s = pbxd.client().as_user("admin", ADMIN_PASSWORD)
        codes = []
        go = threading.Barrier(6)

        def spend():
            c = pbxd.client()
            go.wait()
            codes.append(c.post("/api/auth/refresh", {"refresh_token": s.refresh_token}, token=None).status_code)

        th = [threading.Thread(target=spend) for _ in range(6)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        assert sorted(codes) == [200] + [401] * 5, codes


def test_switched_token_ends_with_its_parent(pbxd):
    admin = pbxd.admin()
    t, _ = new_tenant(admin)
    sw = admin.ok("POST", f"/api/tenants/{t['id']}/switch")
    c = pbxd.client()
    assert c.get("/api/users", token=sw["token"]).status_code == 200
    t2 = c.ok("POST", "/api/auth/refresh", {"refresh_token": sw["refresh_token"]}, token=None)
    admin.ok("POST", "/api/auth/sign_out", status=204)
    assert c.get("/api/users", token=t2["token"]).status_code == 401
    assert c.post("/api/auth/refresh", {"refresh_token": t2["refresh_token"]}, token=None).status_code == 401


def test_system_admin_changes_own_password(make_pbxd):
    p = make_pbxd()
    c = p.client()
    me = c.as_user("admin", ADMIN_PASSWORD)
    other = c.as_user("admin", ADMIN_PASSWORD)
    r = me.post("/api/me/password", {"old_password": "wrong-1", "new_password": "Admin-pass-2"})
    assert r.status_code == 422 and r.body["error"]["field"] == "old_password"
    me.ok("POST", "/api/me/password", {"old_password": ADMIN_PASSWORD, "new_password": "Admin-pass-2"},
          status=204)
    assert me.get("/api/me").status_code == 200
    assert other.get("/api/me").status_code == 401
    assert c.post("/api/auth/sign_in", {"username": "admin", "password": ADMIN_PASSWORD}).status_code == 401
    c.as_user("admin", "Admin-pass-2")
    # a tenant user can use it too
    boss = c.as_user("pbxadmin", ADMIN_PASSWORD, "pbx.local")
    boss.ok("POST", "/api/me/password", {"old_password": ADMIN_PASSWORD, "new_password": "Boss-pass-9"})
    c.as_user("pbxadmin", "Boss-pass-9", "pbx.local")
    doc = c.ok("GET", "/api/openapi.json")
    assert "post" in doc["paths"]["/api/me/password"]


def test_extension_password_needs_login_password(pbxd):
    _, t, boss, u = _user(pbxd)
    user = pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
    r = user.post("/api/user/extension_password", {"extension_password": "new-Sip-secret"})
    assert r.status_code == 422 and r.body["error"]["field"] == "password"
    r = user.post("/api/user/extension_password", {"extension_password": "new-Sip-secret", "password": "nope"})
    assert r.status_code == 422 and r.body["error"]["field"] == "password"
    user.ok("POST", "/api/user/extension_password", {"extension_password": "new-Sip-secret",
                                                    "password": "User-pass-1"}, status=204)
    # the admin's route sets the SIP password only, never the login one
    r = boss.post(f"/api/users/{u['id']}/extension_password", {"extension_password": "other-Sip-1",
                                                                "password": "Hacked-pass-1"})
    assert r.status_code == 400 and r.body["error"]["field"] == "password"
    boss.ok("POST", f"/api/users/{u['id']}/extension_password", {"extension_password": "other-Sip-1"})
    pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])


def test_rate_limit_per_account_not_whole_address(make_pbxd):
    """A guesser behind a shared address blocks the account it guesses, not its
    neighbours; the address itself is blocked only at ten times the limit."""
    p = make_pbxd(["--login-max-failures=3", "--login-window=30"])
    c = p.client()
    for _ in range(3):
        assert c.post("/api/auth/sign_in", {"username": "admin", "password": "bad"}).status_code == 401
    r = c.post("/api/auth/sign_in", {"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429 and "account" in r.body["error"]["message"]
    # another account from the same address still signs in
    c.as_user("pbxadmin", ADMIN_PASSWORD, "pbx.local")
    # a success clears that account's failures
    for _ in range(2):
        assert c.post("/api/auth/sign_in", {"username": "pbxadmin", "password": "bad",
                                            "domain": "pbx.local"}).status_code == 401
    c.as_user("pbxadmin", ADMIN_PASSWORD, "pbx.local")
    for _ in range(2):
        assert c.post("/api/auth/sign_in", {"username": "pbxadmin", "password": "bad",
                                            "domain": "pbx.local"}).status_code == 401
    c.as_user("pbxadmin", ADMIN_PASSWORD, "pbx.local")
    # spraying many names from one address: blocked at 10 x 3 failures in all
    codes = [c.post("/api/auth/sign_in", {"username": f"n{i}", "password": "bad"}).status_code
             for i in range(40)]
    assert 429 in codes and codes.index(429) >= 20
    r = c.post("/api/auth/sign_in", {"username": "pbxadmin", "password": ADMIN_PASSWORD, "domain": "pbx.local"})
    assert r.status_code == 429 and "address" in r.body["error"]["message"]
