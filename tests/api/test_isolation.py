"""Tenant isolation: every tenant's tokens (admin and user) against every other
tenant's ids on every id route, zero successes, and always 404 (never 403, so ids
of other tenants cannot even be probed). FEATURES: TEN-04, TEN-02."""
from conftest import new_tenant, new_user

ID_ROUTES = [
    ("GET", "/api/users/{id}", None),
    ("POST", "/api/users/{id}", {"display_name": "pwned"}),
    ("POST", "/api/users/{id}/password", {"password": "Hacked-pass-1"}),
    ("POST", "/api/users/{id}/extension_password", {"extension_password": "hacked-secret"}),
    ("GET", "/api/users/{id}/extension", None),
    ("POST", "/api/users/{id}/extension", {"dnd": True}),
    ("POST", "/api/users/{id}/destroy", None),
]


def test_isolation_matrix(pbxd):
    admin = pbxd.admin()
    tenants = []
    for _ in range(3):
        t, boss = new_tenant(admin)
        u = new_user(boss, password="User-pass-1")
        user = pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
        switched = pbxd.client(admin.ok("POST", f"/api/tenants/{t['id']}/switch")["token"])
        me = boss.ok("GET", "/api/me")
        tenants.append({"t": t, "ids": [u["id"], me["id"]], "tokens": [boss, switched, user]})

    successes, attempts = [], 0
    for a in tenants:
        for b in tenants:
            if a is b:
                continue
            for client in a["tokens"]:
                for uid in b["ids"]:
                    for method, tmpl, body in ID_ROUTES:
                        r = client.request(method, tmpl.format(id=uid), body=body)
                        attempts += 1
                        if r.status_code < 400:
                            successes.append((a["t"]["domain"], method, tmpl, uid, r.status_code))
                        elif client is not a["tokens"][2]:  # admins: 404, never 403
                            assert r.status_code == 404, r.text
                            assert r.body["error"]["code"] == "not_found"
                        else:  # a plain user is refused the admin routes first
                            assert r.status_code == 403
            # lists only ever show the caller's own tenant
            for client in a["tokens"][:2]:
                items = client.ok("GET", "/api/users", params={"top": 100})["items"]
                assert not set(b["ids"]) & {x["id"] for x in items}
                assert not client.ok("GET", "/api/users", params={"filter": f"id eq {b['ids'][0]}"})["count"]
    assert attempts == 3 * 2 * 3 * 2 * len(ID_ROUTES)
    assert successes == []
    # and nothing changed over there
    for b in tenants:
        boss = b["tokens"][0]
        for uid in b["ids"]:
            u = boss.ok("GET", f"/api/users/{uid}")
            assert u["display_name"] != "pwned"
            assert boss.ok("GET", f"/api/users/{uid}/extension")["dnd"] is False
    # a tenant admin's token never reaches tenant routes, even its own tenant's
    for a in tenants:
        for b in tenants:
            r = a["tokens"][0].get(f"/api/tenants/{b['t']['id']}")
            assert r.status_code == 403
