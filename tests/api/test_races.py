"""Concurrency is input too: writers racing each other, sign-ins racing a password
reset or a disable, password guesses through a stolen token, and creates racing the
tenant's user limit. Each test reproduces a defect of issue 17 (items 1, 2, 5, 7)
with threads and many trials, and failed on the code before its fix.
FEATURES: USR-01, API-06, API-07, SEC rows (account protection)."""
import threading
import time

import pytest

from conftest import ADMIN_PASSWORD, new_tenant, new_user, uniq

TRIALS = 8


def _spam(fn, stop, out):
    """Calls fn() until stop is set, collecting the status codes."""
    while not stop.is_set():
        try:
            out.append(fn())
        except Exception as e:  # a connection closed under load is not the point here
            out.append(repr(e))


def _race(fns, action, before=0.15, after=0.25):
    """Runs each fn of fns in its own thread, repeatedly; `action` runs in the
    middle of that, and its answer is returned once every thread has stopped."""
    stop = threading.Event()
    outs = [[] for _ in fns]
    ts = [threading.Thread(target=_spam, args=(f, stop, o)) for f, o in zip(fns, outs)]
    for t in ts:
        t.start()
    time.sleep(before)
    res = action()
    time.sleep(after)
    stop.set()
    for t in ts:
        t.join(30)
    return res, outs


def _user(pbxd, boss, password):
    u = new_user(boss, password=password)
    return u, pbxd.client().as_user(u["username"], password, boss.domain)


@pytest.fixture(scope="module")
def tenant(pbxd):
    t, boss = new_tenant(pbxd.admin())
    boss.domain = t["domain"]
    return t, boss


def test_admin_reset_is_not_undone_by_the_users_own_change(pbxd, tenant):
    """17.1: the user keeps /api/user/extension_password and /api/user/password
    requests in flight (each verifies the login password for ~25 ms, then wrote
    the whole row back); an admin's reset answered 204 in that window must stand:
    the old password never signs in again."""
    t, boss = tenant
    old = "Old-pass-1"
    u, alice = _user(pbxd, boss, old)
    for i in range(TRIALS):
        new = f"New-pass-{i}x"

        def ext_change(tok=alice.token, pw=old):
            return pbxd.client(tok).post("/api/user/extension_password",
                          {"password": pw, "extension_password": "sip-Other-1"}).status_code

        def own_change(tok=alice.token, pw=old):
            # old == new: the hash changes (new salt), the password does not
            return pbxd.client(tok).post("/api/user/password",
                          {"old_password": pw, "new_password": pw}).status_code

        r, outs = _race([ext_change, ext_change, own_change],
                        lambda: boss.post(f"/api/users/{u['id']}/password", {"password": new}))
        assert r.status_code == 204, r.text
        assert any(s in (204, 503) for o in outs for s in o), outs
        bad = pbxd.client().post("/api/auth/sign_in", {"username": u["username"], "password": old,
                                                      "domain": boss.domain}, token=None)
        assert bad.status_code == 401, f"trial {i}: the old password signs in after the reset"
        # back to the old password for the next trial, with a fresh session
        boss.ok("POST", f"/api/users/{u['id']}/password", {"password": old}, status=204)
        alice = pbxd.client().as_user(u["username"], old, boss.domain)


def test_admin_disable_is_not_undone_by_the_users_own_change(pbxd, tenant):
    """17.1: a disable that commits while the user's own edits are in flight stays."""
    t, boss = tenant
    pw = "Alice-pass-1"
    u, alice = _user(pbxd, boss, pw)
    for i in range(TRIALS):
        def ext_change(tok=alice.token):
            return pbxd.client(tok).post("/api/user/extension_password",
                          {"password": pw, "extension_password": f"sip-Secret-{i}x"}).status_code

        def profile(tok=alice.token):
            return pbxd.client(tok).post("/api/user/profile", {"display_name": f"Alice {i}"}).status_code

        r, _ = _race([ext_change, ext_change, profile],
                     lambda: boss.post(f"/api/users/{u['id']}", {"enabled": False}))
        assert r.status_code == 200 and r.body["enabled"] is False, r.text
        assert boss.ok("GET", f"/api/users/{u['id']}")["enabled"] is False, f"trial {i}: disable undone"
        boss.ok("POST", f"/api/users/{u['id']}", {"enabled": True})
        alice = pbxd.client().as_user(u["username"], pw, boss.domain)


def test_concurrent_admin_edits_all_land(pbxd, tenant):
    """17.1: two admins editing different fields of one user at once both land. The
    rename carries a new password: hashing it (Argon2, ~25 ms) held the old code's
    read-modify-write open long enough for the settings write to be undone."""
    t, boss = tenant
    u = new_user(boss)
    boss2 = pbxd.client(boss.token)
    for i in range(TRIALS):
        res = {}

        def a():
            res["a"] = boss.post(f"/api/users/{u['id']}", {"display_name": f"Name {i}",
                                                            "password": f"Renamed-pass-{i}"}).status_code

        def b():
            res["b"] = boss2.post(f"/api/users/{u['id']}/extension", {"dnd": i % 2 == 0}).status_code

        ts = [threading.Thread(target=a), threading.Thread(target=b)]
        for th in ts:
            th.start()
        for th in ts:
            th.join(30)
        assert res == {"a": 200, "b": 200}, res
        assert boss.ok("GET", f"/api/users/{u['id']}")["display_name"] == f"Name {i}"
        assert boss.ok("GET", f"/api/users/{u['id']}/extension")["dnd"] is (i % 2 == 0)


def _sign_in_race(pbxd, boss, u, pw, action):
    """Signs in with pw from three threads while action runs; returns the tokens
    every successful sign-in got."""
    got = []

    def sign_in():
        r = pbxd.client().post("/api/auth/sign_in", {"username": u["username"], "password": pw,
                                                    "domain": boss.domain}, token=None)
        if r.status_code == 200:
            got.append((r.body["token"], r.body["refresh_token"]))
        return r.status_code

    r, outs = _race([sign_in] * 3, action)
    return r, got, outs


def _dead(pbxd, tokens):
    """Tokens that still work (access, or refresh)."""
    alive = []
    for access, refresh in tokens:
        if pbxd.client(access).get("/api/me").status_code != 401:
            alive.append(("access", access))
        r = pbxd.client().post("/api/auth/refresh", {"refresh_token": refresh}, token=None)
        if r.status_code != 401:
            alive.append(("refresh", refresh))
    return alive


def test_sign_in_in_flight_does_not_outlive_a_reset(pbxd, tenant):
    """17.2: sessions issued for the old password, even by a sign-in that verified
    it before the reset and was issued after the reset's purge, stop working."""
    t, boss = tenant
    old = "Old-pass-2"
    u = new_user(boss, password=old)
    for i in range(TRIALS):
        r, got, outs = _sign_in_race(
            pbxd, boss, u, old, lambda: boss.post(f"/api/users/{u['id']}/password", {"password": f"New-{i}-pass"}))
        assert r.status_code == 204, r.text
        assert got, f"trial {i}: no sign-in got through at all: {outs}"
        assert _dead(pbxd, got) == [], f"trial {i}: a session of the old password survived the reset"
        boss.ok("POST", f"/api/users/{u['id']}/password", {"password": old}, status=204)


def test_tokens_minted_during_a_disable_stay_dead_after_enabling(pbxd, tenant):
    """17.2: docs/api.md: tokens of a disabled account do not come back with it."""
    t, boss = tenant
    pw = "Carol-pass-1"
    u = new_user(boss, password=pw)
    for i in range(TRIALS):
        r, got, outs = _sign_in_race(pbxd, boss, u, pw,
                                     lambda: boss.post(f"/api/users/{u['id']}", {"enabled": False}))
        assert r.status_code == 200, r.text
        boss.ok("POST", f"/api/users/{u['id']}", {"enabled": True})
        assert got, f"trial {i}: no sign-in got through at all: {outs}"
        assert _dead(pbxd, got) == [], f"trial {i}: a session from before the disable works again"


def test_tokens_minted_during_a_tenant_disable_stay_dead(pbxd):
    """17.2: the same for a tenant disabled and enabled again by the system admin."""
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    boss.domain = t["domain"]
    pw = "Dave-pass-1"
    u = new_user(boss, password=pw)
    for i in range(4):
        r, got, outs = _sign_in_race(pbxd, boss, u, pw,
                                     lambda: admin.post(f"/api/tenants/{t['id']}", {"enabled": False}))
        assert r.status_code == 200, r.text
        admin.ok("POST", f"/api/tenants/{t['id']}", {"enabled": True})
        assert got, f"trial {i}: no sign-in got through at all: {outs}"
        assert _dead(pbxd, got) == [], f"trial {i}: a session from before the tenant's disable works again"


def test_concurrent_tenant_edits_all_land(pbxd):
    """17.1 for tenants: a rename and a limit change at once both land."""
    admin = pbxd.admin()
    admin2 = pbxd.admin()
    t, _ = new_tenant(admin)
    for i in range(TRIALS):
        res = {}

        def a():
            res["a"] = admin.post(f"/api/tenants/{t['id']}", {"name": f"Name {i}"}).status_code

        def b():
            res["b"] = admin2.post(f"/api/tenants/{t['id']}", {"limits": {"max_users": 10 + i}}).status_code

        ts = [threading.Thread(target=a), threading.Thread(target=b)]
        for th in ts:
            th.start()
        for th in ts:
            th.join(30)
        assert res == {"a": 200, "b": 200}, res
        got = admin.ok("GET", f"/api/tenants/{t['id']}")
        assert got["name"] == f"Name {i}" and got["limits"]["max_users"] == 10 + i, got


@pytest.mark.parametrize("route", ["/api/user/extension_password", "/api/user/password", "/api/me/password"])
def test_token_cannot_guess_the_password_without_limit(make_pbxd, route):
    """17.5: every check of the login password counts against the account's
    failure limit, whatever the route: after --login-max-failures wrong values
    the route answers 429, even for the right password, and so does sign-in."""
    p = make_pbxd(["--login-max-failures=5"])
    admin = p.admin()
    if route == "/api/me/password":
        who, right = admin, ADMIN_PASSWORD
        sign_in = {"username": "admin", "password": ADMIN_PASSWORD}
    else:
        t, boss = new_tenant(admin)
        right = "Eve-pass-12"
        u = new_user(boss, password=right)
        who = p.client().as_user(u["username"], right, t["domain"])
        sign_in = {"username": u["username"], "password": right, "domain": t["domain"]}

    def attempt(pw):
        if route == "/api/user/extension_password":
            return who.post(route, {"password": pw, "extension_password": "sip-Secret-77"})
        return who.post(route, {"old_password": pw, "new_password": "Never-used-9"})

    codes = [attempt(f"wrong-{i}").status_code for i in range(5)]
    assert codes == [422] * 5, codes
    r = attempt("wrong-5")
    assert r.status_code == 429 and r.headers.get("Retry-After"), r.text
    r = attempt(right)
    assert r.status_code == 429, "the right password must not get through a locked account either"
    assert p.client().post("/api/auth/sign_in", sign_in, token=None).status_code == 429


def test_sign_in_lock_holds_for_token_routes(make_pbxd):
    """17.5: an account locked at sign-in is locked for its token's password checks too."""
    p = make_pbxd(["--login-max-failures=3"])
    t, boss = new_tenant(p.admin())
    pw = "Fred-pass-12"
    u = new_user(boss, password=pw)
    fred = p.client().as_user(u["username"], pw, t["domain"])
    for i in range(3):
        r = p.client().post("/api/auth/sign_in", {"username": u["username"], "password": f"bad{i}",
                                                 "domain": t["domain"]}, token=None)
        assert r.status_code == 401
    r = fred.post("/api/user/extension_password", {"password": pw, "extension_password": "sip-Secret-78"})
    assert r.status_code == 429, r.text


def test_password_checks_share_the_argon2_gate(pbxd, tenant):
    """17.5: password checks through a token go through the gate that bounds
    concurrent Argon2 work: a burst of them gets some 503 busy, never a queue."""
    t, boss = tenant
    pw = "Gina-pass-12"
    u, gina = _user(pbxd, boss, pw)
    codes = []
    lock = threading.Lock()

    def guess(n):
        c = pbxd.client(gina.token)
        r = c.post("/api/user/extension_password", {"password": f"wrong{n}", "extension_password": "sip-Secret-79"})
        with lock:
            codes.append(r.status_code)

    for _ in range(3):
        ts = [threading.Thread(target=guess, args=(n,)) for n in range(10)]
        for th in ts:
            th.start()
        for th in ts:
            th.join(30)
    assert set(codes) <= {422, 503}, codes
    assert 503 in codes, codes


def test_max_users_holds_under_concurrent_creates(pbxd):
    """17.7: limit 5, 12 parallel creates (one client address may hold 16
    connections): exactly 5 users, the rest 409 limit_reached."""
    admin = pbxd.admin()
    for trial in range(3):
        name = uniq("q")
        t = admin.ok("POST", "/api/tenants", {"name": name.upper(), "domain": f"{name}.test",
                                              "limits": {"max_users": 5},
                                              "admin": {"username": "boss", "password": "Boss-pass-1",
                                                        "email": f"boss@{name}.test"}}, status=201)
        boss = admin.as_user("boss", "Boss-pass-1", t["domain"])
        codes = []
        lock = threading.Lock()

        def create(n):
            r = pbxd.client(boss.token).post("/api/users", {
                "username": f"m{n}", "password": "Pass-word-1", "email": f"m{n}@x.test",
                "extension_number": f"5{n:02d}", "extension_password": "sip-Secret-1"})
            with lock:
                codes.append((r.status_code, (r.body or {}).get("error", {}).get("code")))

        ts = [threading.Thread(target=create, args=(n,)) for n in range(12)]
        for th in ts:
            th.start()
        for th in ts:
            th.join(60)
        assert boss.ok("GET", "/api/users", params={"top": 1})["count"] == 5, codes
        assert sorted(codes).count((201, None)) == 4, codes
        assert sorted(codes).count((409, "limit_reached")) == 8, codes
