"""Every route's success path, and the OpenAPI document against what is served.
FEATURES: API-01, API-02, API-04, API-05, API-06, API-13, TEN-01, TEN-02, USR-02, USR-06,
USR-09, USR-20."""
import re

from conftest import ADMIN_PASSWORD, new_tenant, new_user, uniq

# The interface issue 4 names (pbxctl and the portal rely on it).
ISSUE_ROUTES = {
    ("post", "/api/auth/sign_in"), ("post", "/api/auth/refresh"), ("post", "/api/auth/sign_out"),
    ("get", "/api/me"), ("get", "/api/info"),
    ("get", "/api/tenants"), ("post", "/api/tenants"), ("get", "/api/tenants/{id}"),
    ("post", "/api/tenants/{id}"), ("post", "/api/tenants/{id}/destroy"),
    ("get", "/api/users"), ("post", "/api/users"), ("get", "/api/users/{id}"),
    ("post", "/api/users/{id}"), ("post", "/api/users/{id}/destroy"),
}

ID_RE = re.compile(r"^[0-9]{1,19}$")


def test_every_route_success_path(pbxd):
    """Walks every operation of the API once with a success answer."""
    c = pbxd.client()
    seen = set()

    def hit(client, method, template, path=None, body=None, status=200):
        r = client.ok(method, path or template, body, status=status)
        seen.add((method.lower(), template))
        return r

    info = hit(c, "GET", "/api/info")
    assert info["product"] == "pbxd" and info["version"]
    info = hit(c, "GET", "/api/info", "/api/info?domain=pbx.local")
    assert info["tenant"] == {"name": "Default", "domain": "pbx.local", "enabled": True}
    hit(c, "GET", "/api/openapi.json")

    tok = hit(c, "POST", "/api/auth/sign_in", body={"username": "admin", "password": ADMIN_PASSWORD})
    assert set(tok) == {"token", "expires_in", "refresh_token", "two_factor_enabled"}
    assert tok["expires_in"] == 3600 and tok["two_factor_enabled"] is False
    admin = pbxd.client(tok["token"])
    me = hit(admin, "GET", "/api/me")
    assert me["role"] == "system_admin" and me["username"] == "admin" and me["tenant"] is None
    tok2 = hit(c, "POST", "/api/auth/refresh", body={"refresh_token": tok["refresh_token"]})
    admin = pbxd.client(tok2["token"])

    name = uniq("routes")
    t = hit(admin, "POST", "/api/tenants", body={
        "name": "Routes Inc", "domain": f"{name}.test", "limits": {"max_users": 50},
        "admin": {"username": "boss", "password": "Boss-pass-1", "email": "boss@r.test"}}, status=201)
    assert ID_RE.match(t["id"]) and t["admin"]["username"] == "boss"
    tid = t["id"]
    lst = hit(admin, "GET", "/api/tenants")
    assert lst["count"] >= 2 and any(x["id"] == tid for x in lst["items"])
    got = hit(admin, "GET", "/api/tenants/{id}", f"/api/tenants/{tid}")
    assert got["limits"] == {"max_users": 50, "max_concurrent_calls": 0} and got["user_count"] == 1
    upd = hit(admin, "POST", "/api/tenants/{id}", f"/api/tenants/{tid}", {"name": "Routes Ltd"})
    assert upd["name"] == "Routes Ltd" and upd["domain"] == f"{name}.test"
    sw = hit(admin, "POST", "/api/tenants/{id}/switch", f"/api/tenants/{tid}/switch")
    switched = pbxd.client(sw["token"])
    me = switched.ok("GET", "/api/me")
    assert me["role"] == "system_admin" and me["tenant"]["id"] == tid

    boss = c.as_user("boss", "Boss-pass-1", f"{name}.test")
    u = hit(boss, "POST", "/api/users", body={
        "username": "james.bond", "password": "Bond-pass-7", "email": "james@r.test",
        "display_name": "James Bond", "extension_number": "101", "extension_password": "sip-Secret-1"},
        status=201)
    uid = u["id"]
    assert ID_RE.match(uid) and u["role"] == "user" and u["enabled"] is True
    assert "password" not in u and "extension_password" not in u
    lst = hit(boss, "GET", "/api/users")
    assert lst["count"] == 2
    assert "created_at" not in lst["items"][0]  # API-05: summary in lists
    got = hit(boss, "GET", "/api/users/{id}", f"/api/users/{uid}")
    assert got["display_name"] == "James Bond" and "created_at" in got
    got = hit(boss, "POST", "/api/users/{id}", f"/api/users/{uid}", {"display_name": "J. Bond"})
    assert got["display_name"] == "J. Bond"
    hit(boss, "POST", "/api/users/{id}/password", f"/api/users/{uid}/password",
        {"password": "Bond-pass-8"}, status=204)
    hit(boss, "POST", "/api/users/{id}/extension_password", f"/api/users/{uid}/extension_password",
        {"extension_password": "sip-Secret-2"}, status=204)
    ext = hit(boss, "GET", "/api/users/{id}/extension", f"/api/users/{uid}/extension")
    assert ext["dnd"] is False and ext["forwarding"]["no_answer"]["ring_time"] == 20
    ext = hit(boss, "POST", "/api/users/{id}/extension", f"/api/users/{uid}/extension",
              {"record_audio": True, "outbound_caller_ids": [{"trunk": "trunk 1", "caller_id": "022000"},
                                                            {"trunk": "trunk 2", "caller_id": "88010"}]})
    assert ext["record_audio"] is True and len(ext["outbound_caller_ids"]) == 2
    # the switched system admin manages the tenant's users too (TEN-02)
    assert switched.ok("GET", "/api/users")["count"] == 2

    bond = c.as_user("james.bond", "Bond-pass-8", f"{name}.test")
    prof = hit(bond, "GET", "/api/user/profile")
    assert prof["username"] == "james.bond"
    prof = hit(bond, "POST", "/api/user/profile", body={"display_name": "James Bond", "email": "jb@r.test"})
    assert prof["email"] == "jb@r.test"
    hit(bond, "POST", "/api/user/password", body={"old_password": "Bond-pass-8", "new_password": "Bond-pass-9"},
        status=204)
    hit(bond, "POST", "/api/user/extension_password", body={"extension_password": "sip-Secret-3"}, status=204)
    mine = hit(bond, "GET", "/api/user/extension")
    assert mine["record_audio"] is True
    mine = hit(bond, "POST", "/api/user/extension", body={"dnd": True})
    assert mine["dnd"] is True
    hit(bond, "POST", "/api/auth/sign_out", status=204)
    assert bond.get("/api/me").status_code == 401

    hit(boss, "POST", "/api/users/{id}/destroy", f"/api/users/{uid}/destroy", status=204)
    assert boss.get(f"/api/users/{uid}").status_code == 404
    hit(admin, "POST", "/api/tenants/{id}/destroy", f"/api/tenants/{tid}/destroy", status=204)
    assert admin.get(f"/api/tenants/{tid}").status_code == 404
    assert boss.get("/api/me").status_code == 401  # its users went with it

    doc = c.ok("GET", "/api/openapi.json")
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert documented == seen, f"not exercised: {documented - seen}; undocumented: {seen - documented}"


def test_openapi_document(pbxd):
    doc = pbxd.client().ok("GET", "/api/openapi.json")
    assert doc["openapi"] == "3.1.0"
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert ISSUE_ROUTES <= documented, ISSUE_ROUTES - documented
    schemas = doc["components"]["schemas"]
    for p, item in doc["paths"].items():
        for m, op in item.items():
            assert op["responses"] and op["operationId"]
            for ref in re.findall(r'"\$ref": "#/components/schemas/([A-Za-z]+)"', str(op).replace("'", '"')):
                assert ref in schemas
    # the list routes document their query options
    params = {p["name"] for p in doc["paths"]["/api/users"]["get"]["parameters"]}
    assert params == {"filter", "search", "orderby", "skip", "top"}
    assert doc["components"]["schemas"]["UserCreate"]["required"] == [
        "username", "password", "email", "extension_number", "extension_password"]


def test_documented_paths_are_routes(pbxd):
    """Each documented operation answers something other than 'no route'."""
    c = pbxd.client()
    doc = c.ok("GET", "/api/openapi.json")
    for p, item in doc["paths"].items():
        for m in item:
            r = c.request(m.upper(), p.replace("{id}", "1"), body={} if m == "post" else None)
            assert r.status_code != 405
            if r.status_code == 404:
                assert not r.body["error"]["message"].startswith("no route"), (m, p)
    r = c.get("/api/no/such/route")
    assert r.status_code == 404 and r.body["error"]["message"].startswith("no route")
    assert c.request("DELETE", "/api/users").status_code == 405
