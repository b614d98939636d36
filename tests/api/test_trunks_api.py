"""SIP trunks through REST (issue 15): providers (the system's, assigned to
tenants, or a tenant's own), their status and assignees, inbound rules (a DID,
one rule per number across every tenant, to a destination of the tenant),
outbound rules (a dialled pattern to providers), the toll-fraud lists (allowed
country codes, disallowed codes, blacklisted numbers), a tenant's outbound call
limits, CSV export, persistence over a restart and concurrent writers.
FEATURES: TRK-01 (provider CRUD, status, export), TRK-05 (DIDs, ranges),
TRK-06 (assignees), TRK-07 (inbound rules), TRK-08 (outbound rules),
TRK-09 (allowed country codes), TRK-10 (disallowed codes),
TRK-11 (blacklisted numbers); also TRK-02/TRK-03 (ip and register providers'
fields) and TRK-12 (E.164 and national forms of a DID). The outbound limits
(toll-fraud caps of issue 15) have no FEATURES row of their own."""

import csv
import io
import itertools
import threading

import pytest

from conftest import Client, new_tenant, new_user

TRUNK_PASSWORD = "Trunk-secret-77"
LIMIT_DEFAULTS = {"max_concurrent_calls": 10, "max_calls_per_hour": 60,
                  "extension_max_concurrent_calls": 2, "extension_max_calls_per_hour": 20}
STATES = {"registered", "registering", "failed", "unregistered", "ip", "disabled"}

_names = itertools.count(1)
_numbers = itertools.count(1)


def name(prefix="p"):
    return f"{prefix}-{next(_names)}"


def number_block():
    """Four digits no other test of this module uses (a DID's distinct part)."""
    return f"{next(_numbers):04d}"


def reg_body(nm=None, **kw):
    b = {"name": nm or name("reg"), "hostname": "sip.carrier.example", "authentication": "register",
         "username": "acct-1", "password": TRUNK_PASSWORD}
    b.update(kw)
    return b


def ip_body(nm=None, **kw):
    b = {"name": nm or name("ip"), "hostname": "192.0.2.10", "authentication": "ip",
         "ip_addresses": ["192.0.2.0/24", "2001:db8::7"]}
    b.update(kw)
    return b


def err(r, status, code=None, field=None):
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    e = r.body["error"]
    if code:
        assert e["code"] == code, r.text
    if field is not None:
        assert e.get("field") == field, r.text
    return e


def all_items(client, path):
    """Every item of a list, page by page (top is at most 100)."""
    items = []
    while True:
        page = client.ok("GET", path, params={"skip": len(items), "top": 100})
        items += page["items"]
        if not page["items"] or len(items) >= page["count"]:
            return items


def ids(client, path):
    return [x["id"] for x in all_items(client, path)]


def export(client, path):
    """GET {path}/export: the raw answer (CSV, not the JSON the Client checks)."""
    r = client.s.get(client.base + path + "/export", headers={"Authorization": "Bearer " + client.token},
                     timeout=20)
    assert r.status_code == 200, r.text
    return r


def csv_rows(r):
    return list(csv.reader(io.StringIO(r.content.decode("utf-8"), newline="")))


@pytest.fixture(scope="module")
def env(pbxd):
    admin = pbxd.admin()
    ta, boss_a = new_tenant(admin)
    tb, boss_b = new_tenant(admin)
    u = new_user(boss_a, ext="101", password="User-pass-1")
    new_user(boss_b, ext="101")
    user = pbxd.client().as_user(u["username"], "User-pass-1", ta["domain"])
    switched_a = pbxd.client(admin.ok("POST", f"/api/tenants/{ta['id']}/switch")["token"])
    # each tenant's own provider, for its rules
    pa = boss_a.ok("POST", "/api/providers", ip_body(country_code="44"), status=201)
    pb = boss_b.ok("POST", "/api/providers", ip_body(country_code="44"), status=201)
    return {"pbxd": pbxd, "admin": admin, "ta": ta, "tb": tb, "boss_a": boss_a, "boss_b": boss_b, "user": user,
            "switched_a": switched_a, "pa": pa, "pb": pb}


def inbound(boss, provider, did, nm=None, **kw):
    b = {"name": nm or name("in"), "provider_id": provider["id"], "did": did,
         "destination": {"action": "number", "number": "101"}}
    b.update(kw)
    return boss.post("/api/inbound_rules", b)


# --- providers -----------------------------------------------------------------------------


def test_register_provider_defaults_and_password(env):
    """TRK-01/TRK-03: a register provider needs username and password; the
    password is never returned (password_set says it is stored); the defaults
    are filled in."""
    admin = env["admin"]
    p = admin.ok("POST", "/api/providers", reg_body(), status=201)
    assert p["id"].isdigit() and p["owner"] == "system"
    assert (p["port"], p["transport"], p["register_expires"], p["enabled"], p["max_calls"]) == (
        5060, "udp", 3600, True, 0)
    assert p["password_set"] is True and "password" not in p
    assert p["assignees"] == [] and p["username"] == "acct-1"
    assert admin.ok("GET", f"/api/providers/{p['id']}") == p
    listed = {x["id"]: x for x in all_items(admin, "/api/providers")}
    assert listed[p["id"]] == p
    for x in listed.values():
        assert "password" not in x
    # register needs both
    err(admin.post("/api/providers", reg_body(password="")), 422, "missing_field", "password")
    b = reg_body()
    del b["password"]
    err(admin.post("/api/providers", b), 422, "missing_field", "password")
    b = reg_body()
    del b["username"]
    err(admin.post("/api/providers", b), 422, "missing_field", "username")


def test_ip_provider(env):
    """TRK-01/TRK-02: an ip provider keeps its addresses; no password needed."""
    p = env["admin"].ok("POST", "/api/providers", ip_body(port=5080, transport="tcp"), status=201)
    assert p["ip_addresses"] == ["192.0.2.0/24", "2001:db8::7"]
    assert (p["port"], p["transport"], p["password_set"], p["authentication"]) == (5080, "tcp", False, "ip")


def test_update_changes_the_fields_given(env):
    """TRK-01: an update changes only the fields given; the password stays
    stored (and hidden) unless a new one is given."""
    admin = env["admin"]
    p = admin.ok("POST", "/api/providers", reg_body(outbound_proxy="proxy.carrier.example:5070"), status=201)
    p2 = admin.ok("POST", f"/api/providers/{p['id']}", {"port": 5062, "transport": "tcp", "max_calls": 30})
    assert (p2["port"], p2["transport"], p2["max_calls"]) == (5062, "tcp", 30)
    for k in ("name", "hostname", "username", "outbound_proxy", "register_expires", "enabled", "created_at"):
        assert p2[k] == p[k], k
    assert p2["password_set"] is True and "password" not in p2
    p3 = admin.ok("POST", f"/api/providers/{p['id']}", {"password": "Other-secret-9", "enabled": False})
    assert p3["enabled"] is False and p3["password_set"] is True and "password" not in p3
    assert admin.ok("GET", f"/api/providers/{p['id']}") == p3
    # switching an ip provider to register needs its credentials
    q = admin.ok("POST", "/api/providers", ip_body(), status=201)
    err(admin.post(f"/api/providers/{q['id']}", {"authentication": "register"}), 422, "missing_field", "username")
    assert admin.ok("GET", f"/api/providers/{q['id']}")["authentication"] == "ip"
    # read-only and unknown fields
    err(admin.post(f"/api/providers/{p['id']}", {"owner": "tenant"}), 400, "unknown_field", "owner")
    err(admin.post(f"/api/providers/{p['id']}", {"password_set": False}), 400, "unknown_field", "password_set")
    err(admin.post(f"/api/providers/{p['id']}", {"port": 0}), 422, "invalid_field", "port")
    assert admin.ok("GET", f"/api/providers/{p['id']}") == p3
    assert admin.post("/api/providers/999999999/destroy").status_code == 404
    assert admin.post("/api/providers/999999999", {"port": 5060}).status_code == 404


def test_name_unique_per_owner(env):
    """TRK-01: a name is unique among its owner's providers (409 naming name);
    other owners may use it."""
    admin, boss_a, boss_b = env["admin"], env["boss_a"], env["boss_b"]
    nm = name("dup")
    admin.ok("POST", "/api/providers", ip_body(nm), status=201)
    err(admin.post("/api/providers", reg_body(nm)), 409, "conflict", "name")
    a = boss_a.ok("POST", "/api/providers", ip_body(nm), status=201)
    boss_b.ok("POST", "/api/providers", ip_body(nm), status=201)
    err(boss_a.post("/api/providers", ip_body(nm)), 409, "conflict", "name")
    other = boss_a.ok("POST", "/api/providers", ip_body(), status=201)
    err(boss_a.post(f"/api/providers/{other['id']}", {"name": nm}), 409, "conflict", "name")
    assert boss_a.ok("GET", f"/api/providers/{other['id']}")["name"] == other["name"]
    # renaming to its own name is no conflict
    assert boss_a.ok("POST", f"/api/providers/{a['id']}", {"name": nm})["name"] == nm


@pytest.mark.parametrize("patch,status,code,field", [
    ({"hostname": "bad host!"}, 422, "invalid_field", "hostname"),
    ({"hostname": "-carrier.example"}, 422, "invalid_field", "hostname"),
    ({"hostname": ""}, 422, "invalid_field", "hostname"),
    ({"port": 0}, 422, "invalid_field", "port"),
    ({"port": 65536}, 422, "invalid_field", "port"),
    ({"port": "5060"}, 422, "invalid_field", "port"),
    ({"transport": "sctp"}, 422, "invalid_field", "transport"),
    ({"transport": "UDP"}, 422, "invalid_field", "transport"),
    ({"outbound_proxy": "proxy.example:99999"}, 422, "invalid_field", "outbound_proxy"),
    ({"outbound_proxy": "proxy.example:"}, 422, "invalid_field", "outbound_proxy"),
    ({"outbound_proxy": "[2001:db8::1"}, 422, "invalid_field", "outbound_proxy"),
    ({"outbound_proxy": "bad_proxy"}, 422, "invalid_field", "outbound_proxy"),
    ({"authentication": "digest"}, 422, "invalid_field", "authentication"),
    ({"ip_addresses": ["192.0.2.0/33"]}, 422, "invalid_field", "ip_addresses[0]"),
    ({"ip_addresses": ["192.0.2.1", "2001:db8::/129"]}, 422, "invalid_field", "ip_addresses[1]"),
    ({"ip_addresses": ["carrier.example"]}, 422, "invalid_field", "ip_addresses[0]"),
    ({"ip_addresses": ["192.0.2.1/"]}, 422, "invalid_field", "ip_addresses[0]"),
    ({"ip_addresses": "192.0.2.1"}, 422, "invalid_field", "ip_addresses"),
    ({"register_expires": 59}, 422, "invalid_field", "register_expires"),
    ({"country_code": "4a"}, 422, "invalid_field", "country_code"),
    ({"enabled": "yes"}, 422, "invalid_field", "enabled"),
    ({"username": "with space"}, 422, "invalid_field", "username"),
    ({"colour": "red"}, 400, "unknown_field", "colour"),
    ({"id": "1"}, 400, "unknown_field", "id"),
    ({"assignees": []}, 400, "unknown_field", "assignees"),
])
def test_provider_refusals_name_the_field(env, patch, status, code, field):
    """TRK-01: each refusal names its field, on create and on update, and
    changes nothing."""
    admin = env["admin"]
    n = admin.ok("GET", "/api/providers")["count"]
    err(admin.post("/api/providers", reg_body(**patch)), status, code, field)
    assert admin.ok("GET", "/api/providers")["count"] == n
    p = admin.ok("POST", "/api/providers", reg_body(), status=201)
    err(admin.post(f"/api/providers/{p['id']}", patch), status, code, field)
    assert admin.ok("GET", f"/api/providers/{p['id']}") == p



@pytest.mark.parametrize("cidr", ["192.0.2.1/ 8", "192.0.2.1/+8"])
def test_cidr_prefix_is_digits_only(env, cidr):
    """TRK-02"""
    err(env["admin"].post("/api/providers", ip_body(ip_addresses=[cidr])), 422, "invalid_field", "ip_addresses[0]")


@pytest.mark.parametrize("field", ["name", "hostname", "authentication"])
def test_provider_required_fields(env, field):
    b = ip_body()
    del b[field]
    err(env["admin"].post("/api/providers", b), 422, "missing_field", field)


@pytest.mark.parametrize("proxy", ["proxy.carrier.example", "proxy.carrier.example:5080", "198.51.100.4:5060",
                                   "[2001:db8::5]:5060", "[2001:db8::5]", ""])
def test_outbound_proxy_forms(env, proxy):
    p = env["admin"].ok("POST", "/api/providers", ip_body(outbound_proxy=proxy), status=201)
    assert p["outbound_proxy"] == proxy


def test_assignees(env):
    """TRK-06: a system provider assigned to a tenant is listed with the
    tenant's name and domain; the tenant's admins (real or switched) see it
    without its account or the other assignees, cannot change or delete it;
    after the assignment is removed the tenant no longer sees it."""
    admin, boss_a, boss_b, ta = env["admin"], env["boss_a"], env["boss_b"], env["ta"]
    p = admin.ok("POST", "/api/providers", reg_body(auth_username="digest-user"), status=201)
    pid = p["id"]
    assert admin.ok("GET", f"/api/providers/{pid}/assignees") == {"count": 0, "items": []}
    assert boss_a.get(f"/api/providers/{pid}").status_code == 404
    got = admin.ok("POST", f"/api/providers/{pid}/assignees", {"tenant_id": ta["id"]}, status=201)
    want = {"count": 1, "items": [{"tenant_id": ta["id"], "name": ta["name"], "domain": ta["domain"]}]}
    assert got == want
    assert admin.ok("GET", f"/api/providers/{pid}/assignees") == want
    assert admin.ok("GET", f"/api/providers/{pid}")["assignees"] == [ta["id"]]
    # again: no second entry
    assert admin.post(f"/api/providers/{pid}/assignees", {"tenant_id": ta["id"]}).status_code in (200, 201)
    assert admin.ok("GET", f"/api/providers/{pid}/assignees") == want
    err(admin.post(f"/api/providers/{pid}/assignees", {"tenant_id": "999999999"}), 422, "invalid_field", "tenant_id")
    err(admin.post(f"/api/providers/{pid}/assignees", {}), 422, "missing_field", "tenant_id")
    err(admin.post(f"/api/providers/{pid}/assignees", {"tenant_id": "x"}), 422, "invalid_field", "tenant_id")
    err(admin.post("/api/providers/999999999/assignees", {"tenant_id": ta["id"]}), 404)
    # the tenant's admins see it, read-only, without the account
    for c in (boss_a, env["switched_a"]):
        seen = c.ok("GET", f"/api/providers/{pid}")
        assert seen["owner"] == "system" and seen["hostname"] == p["hostname"] and seen["name"] == p["name"]
        for hidden in ("username", "auth_username", "assignees", "password_set", "password"):
            assert hidden not in seen, hidden
        listed = {x["id"]: x for x in all_items(c, "/api/providers")}
        assert listed[pid] == seen
        st = c.ok("GET", f"/api/providers/{pid}/status")
        assert st["id"] == pid
        err(c.post(f"/api/providers/{pid}", {"port": 5099}), 403, "forbidden")
        assert c.post(f"/api/providers/{pid}/destroy").status_code in (403, 404)
        for m, path, body in (("GET", f"/api/providers/{pid}/assignees", None),
                              ("POST", f"/api/providers/{pid}/assignees", {"tenant_id": ta["id"]}),
                              ("POST", f"/api/providers/{pid}/assignees/{ta['id']}/destroy", None)):
            assert c.request(m, path, body=body).status_code == 403, path
    assert admin.ok("GET", f"/api/providers/{pid}")["port"] == 5060
    # another tenant does not
    assert boss_b.get(f"/api/providers/{pid}").status_code == 404
    assert boss_b.get(f"/api/providers/{pid}/status").status_code == 404
    assert pid not in ids(boss_b, "/api/providers")
    # taken back
    assert admin.post(f"/api/providers/{pid}/assignees/{ta['id']}/destroy").status_code == 204
    assert admin.ok("GET", f"/api/providers/{pid}/assignees") == {"count": 0, "items": []}
    assert boss_a.get(f"/api/providers/{pid}").status_code == 404
    assert boss_a.get(f"/api/providers/{pid}/status").status_code == 404
    assert pid not in ids(boss_a, "/api/providers")
    err(admin.post(f"/api/providers/{pid}/assignees/{ta['id']}/destroy"), 404)
    err(admin.post(f"/api/providers/{pid}/assignees/abc/destroy"), 404)


def test_tenant_own_provider_is_kept_apart(env):
    """TRK-01: a tenant admin's own provider: the other tenant never reaches it,
    nor does the system admin's own list; it cannot be assigned."""
    admin, boss_a, boss_b = env["admin"], env["boss_a"], env["boss_b"]
    p = boss_a.ok("POST", "/api/providers", reg_body(), status=201)
    assert p["owner"] == "tenant" and p["password_set"] is True and "password" not in p
    assert "assignees" not in p
    assert boss_a.ok("GET", f"/api/providers/{p['id']}") == p
    assert env["switched_a"].ok("GET", f"/api/providers/{p['id']}") == p
    for m, path, body in (("GET", f"/api/providers/{p['id']}", None),
                          ("GET", f"/api/providers/{p['id']}/status", None),
                          ("POST", f"/api/providers/{p['id']}", {"port": 5070}),
                          ("POST", f"/api/providers/{p['id']}/destroy", None)):
        assert boss_b.request(m, path, body=body).status_code == 404, path
    assert p["id"] not in ids(boss_b, "/api/providers")
    # the system admin's (not switched) providers are the system's
    assert admin.get(f"/api/providers/{p['id']}").status_code == 404
    assert p["id"] not in ids(admin, "/api/providers")
    assert admin.post(f"/api/providers/{p['id']}/assignees", {"tenant_id": env["tb"]["id"]}).status_code == 404
    assert boss_a.ok("GET", f"/api/providers/{p['id']}")["port"] == 5060
    assert boss_a.post(f"/api/providers/{p['id']}/destroy").status_code == 204
    assert boss_a.get(f"/api/providers/{p['id']}").status_code == 404


def test_plain_user_and_unswitched_admin_are_refused(env):
    """Only admins manage trunks: a plain user gets 403 everywhere; a system
    admin must switch into a tenant for its rules and lists."""
    user, admin = env["user"], env["admin"]
    pa = env["pa"]["id"]
    for m, path, body in (("GET", "/api/providers", None), ("POST", "/api/providers", ip_body()),
                          ("GET", f"/api/providers/{pa}", None), ("GET", f"/api/providers/{pa}/status", None),
                          ("GET", "/api/providers/export", None),
                          ("GET", "/api/inbound_rules", None), ("GET", "/api/outbound_rules", None),
                          ("GET", "/api/allowed_country_codes", None), ("GET", "/api/disallowed_codes", None),
                          ("GET", "/api/blacklisted_numbers", None),
                          ("POST", "/api/blacklisted_numbers", {"number": "123"}),
                          ("GET", "/api/tenant/outbound_limits", None),
                          ("POST", "/api/tenant/outbound_limits", {"max_calls_per_hour": 1})):
        assert user.request(m, path, body=body).status_code == 403, path
    for path in ("/api/inbound_rules", "/api/outbound_rules", "/api/allowed_country_codes",
                 "/api/disallowed_codes", "/api/blacklisted_numbers", "/api/tenant/outbound_limits",
                 "/api/inbound_rules/export"):
        assert admin.get(path).status_code == 403, path


def test_status(env):
    """TRK-01: a provider's status: id, registered, state, calls."""
    admin, boss_a = env["admin"], env["boss_a"]
    reg = admin.ok("POST", "/api/providers", reg_body(), status=201)
    for c, pid in ((admin, reg["id"]), (boss_a, env["pa"]["id"])):
        st = c.ok("GET", f"/api/providers/{pid}/status")
        assert st["id"] == pid
        assert isinstance(st["registered"], bool) and st["state"] in STATES, st
        assert isinstance(st["calls"], int) and st["calls"] == 0
    ip = boss_a.ok("GET", f"/api/providers/{env['pa']['id']}/status")
    assert ip["registered"] is False
    assert admin.get("/api/providers/999999999/status").status_code == 404
    assert admin.get("/api/providers/abc/status").status_code == 404


# --- inbound rules --------------------------------------------------------------------------


def test_inbound_rule_crud(env):
    """TRK-07: an inbound rule: create, read, list, update, delete."""
    boss_a = env["boss_a"]
    did = "1880" + number_block()
    r = inbound(boss_a, env["pa"], did, outside_hours_destination={"action": "hangup"})
    assert r.status_code == 201, r.text
    rule = r.body
    assert (rule["did"], rule["provider_id"], rule["destination"], rule["outside_hours_destination"]) == (
        did, env["pa"]["id"], {"action": "number", "number": "101"}, {"action": "hangup"})
    assert boss_a.ok("GET", f"/api/inbound_rules/{rule['id']}") == rule
    assert rule["id"] in ids(boss_a, "/api/inbound_rules")
    assert env["switched_a"].ok("GET", f"/api/inbound_rules/{rule['id']}") == rule
    r2 = boss_a.ok("POST", f"/api/inbound_rules/{rule['id']}", {"name": "Main line",
                                                                "outside_hours_destination": None})
    assert r2["name"] == "Main line" and r2["did"] == did and "outside_hours_destination" not in r2
    # another tenant reaches nothing
    boss_b = env["boss_b"]
    for m, path, body in (("GET", f"/api/inbound_rules/{rule['id']}", None),
                          ("POST", f"/api/inbound_rules/{rule['id']}", {"name": "x"}),
                          ("POST", f"/api/inbound_rules/{rule['id']}/destroy", None)):
        assert boss_b.request(m, path, body=body).status_code == 404, path
    assert rule["id"] not in ids(boss_b, "/api/inbound_rules")
    assert boss_a.post(f"/api/inbound_rules/{rule['id']}/destroy").status_code == 204
    assert boss_a.get(f"/api/inbound_rules/{rule['id']}").status_code == 404
    # the DID is free again
    assert inbound(env["boss_b"], env["pb"], did).status_code == 201


def test_inbound_rule_refusals(env):
    """TRK-07: the provider must be the tenant's (own or assigned), the
    destination an extension of the tenant, the DID valid."""
    boss_a, admin = env["boss_a"], env["admin"]
    pa = env["pa"]
    did = "1881" + number_block()
    n = boss_a.ok("GET", "/api/inbound_rules")["count"]
    err(inbound(boss_a, env["pb"], did), 422, "invalid_field", "provider_id")  # another tenant's
    err(inbound(boss_a, {"id": "999999999"}, did), 422, "invalid_field", "provider_id")
    err(inbound(boss_a, {"id": "abc"}, did), 422, "invalid_field", "provider_id")
    sysp = admin.ok("POST", "/api/providers", ip_body(), status=201)  # the system's, not assigned
    err(inbound(boss_a, sysp, did), 422, "invalid_field", "provider_id")
    err(inbound(boss_a, pa, did, destination={"action": "number", "number": "999"}), 422, "invalid_field",
        "destination.number")
    err(inbound(boss_a, pa, did, destination={"action": "number"}), 422, "missing_field", "destination.number")
    err(inbound(boss_a, pa, did, destination={"action": "voicemail"}), 422, "invalid_field", "destination.action")
    err(inbound(boss_a, pa, did, destination={"number": "101"}), 422, "missing_field", "destination.action")
    err(inbound(boss_a, pa, did, outside_hours_destination={"action": "number", "number": "998"}), 422,
        "invalid_field", "outside_hours_destination.number")
    for bad in ("12a4", "[5-1]XX", "9X.1", "200-100", "100-2000", "+100-200", ""):
        err(inbound(boss_a, pa, bad), 422, "invalid_field", "did")
    err(inbound(boss_a, pa, did, colour="red"), 400, "unknown_field", "colour")
    b = {"name": "x", "provider_id": pa["id"], "destination": {"action": "hangup"}}
    err(boss_a.post("/api/inbound_rules", b), 422, "missing_field", "did")
    assert boss_a.ok("GET", "/api/inbound_rules")["count"] == n
    # assigned: usable
    admin.ok("POST", f"/api/providers/{sysp['id']}/assignees", {"tenant_id": env["ta"]["id"]}, status=201)
    r = inbound(boss_a, sysp, did, destination={"action": "hangup"})
    assert r.status_code == 201, r.text
    rule = r.body
    # an update is checked as well
    err(boss_a.post(f"/api/inbound_rules/{rule['id']}", {"provider_id": env["pb"]["id"]}), 422, "invalid_field",
        "provider_id")
    err(boss_a.post(f"/api/inbound_rules/{rule['id']}", {"destination": {"action": "number", "number": "555"}}),
        422, "invalid_field", "destination.number")
    err(boss_a.post(f"/api/inbound_rules/{rule['id']}", {"did": "1-2-3"}), 422, "invalid_field", "did")
    assert boss_a.ok("GET", f"/api/inbound_rules/{rule['id']}") == rule
    boss_a.ok("POST", f"/api/inbound_rules/{rule['id']}/destroy", status=204)


def test_did_is_one_rule_across_tenants(env):
    """TRK-05/TRK-07/TRK-12: an exact DID, a range or a pattern belongs to one
    rule across every tenant (409 naming did): the same number, its E.164 and
    national forms with the provider's country code, overlapping ranges, a range
    over an exact DID. A rule keeps its own DID on update."""
    boss_a, boss_b, pa, pb = env["boss_a"], env["boss_b"], env["pa"], env["pb"]
    blk = number_block()
    # exact
    did = "1882" + blk
    a1 = inbound(boss_a, pa, did).body
    err(inbound(boss_b, pb, did), 409, "conflict", "did")
    err(inbound(boss_a, pa, did), 409, "conflict", "did")
    # E.164 and national forms with country code 44
    e164 = "+44207946" + blk
    national = "0207946" + blk
    a2 = inbound(boss_a, pa, e164).body
    assert a2["did"] == e164
    err(inbound(boss_b, pb, national), 409, "conflict", "did")
    err(inbound(boss_b, pb, "0044207946" + blk), 409, "conflict", "did")
    err(inbound(boss_a, pa, national), 409, "conflict", "did")
    # overlapping ranges
    a3 = inbound(boss_a, pa, f"1883{blk}00-1883{blk}49").body
    err(inbound(boss_b, pb, f"1883{blk}40-1883{blk}99"), 409, "conflict", "did")
    err(inbound(boss_b, pb, f"1883{blk}00-1883{blk}49"), 409, "conflict", "did")  # the same range
    err(inbound(boss_b, pb, f"1883{blk}10-1883{blk}20"), 409, "conflict", "did")  # inside
    err(inbound(boss_b, pb, f"1883{blk}25"), 409, "conflict", "did")  # an exact DID inside
    assert inbound(boss_b, pb, f"1883{blk}50-1883{blk}99").status_code == 201  # adjacent
    # a range over an existing exact DID
    assert inbound(boss_a, pa, f"1884{blk}55").status_code == 201
    err(inbound(boss_b, pb, f"1884{blk}00-1884{blk}99"), 409, "conflict", "did")
    assert inbound(boss_b, pb, f"1884{blk}56-1884{blk}99").status_code == 201
    # national range over an E.164 exact DID
    assert inbound(boss_a, pa, f"+4420794{blk}55").status_code == 201
    err(inbound(boss_b, pb, f"020794{blk}00-020794{blk}99"), 409, "conflict", "did")
    # the same pattern twice; different patterns are fine
    pat = f"1885{blk}XX"
    assert inbound(boss_a, pa, pat).status_code == 201
    err(inbound(boss_b, pb, pat), 409, "conflict", "did")
    assert inbound(boss_b, pb, f"1885{blk}X.").status_code == 201
    # updates: its own DID again is no conflict; another rule's is
    for r in (a1, a2, a3):
        assert boss_a.ok("POST", f"/api/inbound_rules/{r['id']}", {"did": r["did"], "name": "again"})["did"] == r["did"]
    assert boss_a.ok("POST", f"/api/inbound_rules/{a2['id']}", {"did": national})["did"] == national
    err(boss_a.post(f"/api/inbound_rules/{a1['id']}", {"did": e164}), 409, "conflict", "did")
    err(boss_a.post(f"/api/inbound_rules/{a1['id']}", {"did": f"1883{blk}07"}), 409, "conflict", "did")
    assert boss_a.ok("GET", f"/api/inbound_rules/{a1['id']}")["did"] == did
    # the 409 does not show the other tenant's rule
    e = err(inbound(boss_b, pb, did), 409, "conflict", "did")
    assert a1["name"] not in e["message"] and env["ta"]["domain"] not in e["message"]


def test_deleted_tenant_frees_its_dids(env):
    """TRK-07: a deleted tenant's rules go with it: their DIDs are free; its
    provider assignments are no longer listed."""
    admin = env["admin"]
    tc, boss_c = new_tenant(admin)
    new_user(boss_c, ext="101")
    pc = boss_c.ok("POST", "/api/providers", ip_body(), status=201)
    sysp = admin.ok("POST", "/api/providers", ip_body(), status=201)
    admin.ok("POST", f"/api/providers/{sysp['id']}/assignees", {"tenant_id": tc["id"]}, status=201)
    did = "1886" + number_block()
    assert inbound(boss_c, pc, did).status_code == 201
    err(inbound(env["boss_a"], env["pa"], did), 409, "conflict", "did")
    admin.ok("POST", f"/api/tenants/{tc['id']}/destroy", status=204)
    assert inbound(env["boss_a"], env["pa"], did).status_code == 201
    assert admin.ok("GET", f"/api/providers/{sysp['id']}/assignees") == {"count": 0, "items": []}



@pytest.mark.parametrize("cc", ["0", "044", "4444"])
def test_country_code_is_a_calling_code(env, cc):
    """TRK-12: a provider's country code is a calling code (1 to 3 digits, not
    0...); one that is not would let a DID be taken twice."""
    did = "+44207949" + number_block()
    assert inbound(env["boss_a"], env["pa"], did).status_code == 201
    r = env["boss_b"].post("/api/providers", ip_body(country_code=cc))
    if r.status_code == 201:  # then at least the DID must stay one rule's
        err(inbound(env["boss_b"], r.body, did), 409, "conflict", "did")
    err(r, 422, "invalid_field", "country_code")


def test_range_in_national_form_covers_its_e164_numbers(env):
    """TRK-05/TRK-12: each rule's DID is read in its own provider's country."""
    blk = number_block()
    pnocc = env["boss_b"].ok("POST", "/api/providers", ip_body(), status=201)
    assert inbound(env["boss_a"], env["pa"], f"020795{blk}00-020795{blk}99").status_code == 201
    err(inbound(env["boss_b"], pnocc, f"+4420795{blk}50"), 409, "conflict", "did")


def test_same_national_digits_in_two_countries_are_two_numbers(env):
    """TRK-12"""
    blk = number_block()
    p33 = env["boss_b"].ok("POST", "/api/providers", ip_body(country_code="33"), status=201)
    assert inbound(env["boss_a"], env["pa"], f"0207951{blk}").status_code == 201
    r = inbound(env["boss_b"], p33, f"0207951{blk}")
    assert r.status_code == 201, r.text


# --- outbound rules -------------------------------------------------------------------------


def test_outbound_rule_crud_and_defaults(env):
    """TRK-08: an outbound rule: pattern checked, providers visible to the
    tenant, defaults strip_digits 0, prepend "", priority 100."""
    boss_a, admin = env["boss_a"], env["admin"]
    sysp = admin.ok("POST", "/api/providers", ip_body(), status=201)
    admin.ok("POST", f"/api/providers/{sysp['id']}/assignees", {"tenant_id": env["ta"]["id"]}, status=201)
    o = boss_a.ok("POST", "/api/outbound_rules", {"name": "UK", "pattern": "90044X.",
                                                   "provider_ids": [env["pa"]["id"], sysp["id"]]}, status=201)
    assert (o["strip_digits"], o["prepend"], o["priority"], o["provider_ids"]) == (
        0, "", 100, [env["pa"]["id"], sysp["id"]])
    assert boss_a.ok("GET", f"/api/outbound_rules/{o['id']}") == o
    assert o["id"] in ids(boss_a, "/api/outbound_rules")
    o2 = boss_a.ok("POST", f"/api/outbound_rules/{o['id']}", {"strip_digits": 1, "prepend": "+", "priority": 5})
    assert (o2["strip_digits"], o2["prepend"], o2["priority"], o2["pattern"], o2["name"]) == (
        1, "+", 5, "90044X.", "UK")
    for m, path, body in (("GET", f"/api/outbound_rules/{o['id']}", None),
                          ("POST", f"/api/outbound_rules/{o['id']}", {"name": "x"}),
                          ("POST", f"/api/outbound_rules/{o['id']}/destroy", None)):
        assert env["boss_b"].request(m, path, body=body).status_code == 404, path
    assert o["id"] not in ids(env["boss_b"], "/api/outbound_rules")
    assert boss_a.post(f"/api/outbound_rules/{o['id']}/destroy").status_code == 204
    assert boss_a.get(f"/api/outbound_rules/{o['id']}").status_code == 404


@pytest.mark.parametrize("patch,status,code,field", [
    ({"pattern": "9X.1"}, 422, "invalid_field", "pattern"),
    ({"pattern": "[5-1]XX"}, 422, "invalid_field", "pattern"),
    ({"pattern": "9[12"}, 422, "invalid_field", "pattern"),
    ({"pattern": "9q"}, 422, "invalid_field", "pattern"),
    ({"pattern": ""}, 422, "invalid_field", "pattern"),
    ({"provider_ids": ["999999999"]}, 422, "invalid_field", "provider_ids"),
    ({"provider_ids": ["abc"]}, 422, "invalid_field", "provider_ids[0]"),
    ({"provider_ids": "1"}, 422, "invalid_field", "provider_ids"),
    ({"strip_digits": 33}, 422, "invalid_field", "strip_digits"),
    ({"strip_digits": -1}, 422, "invalid_field", "strip_digits"),
    ({"prepend": "00a"}, 422, "invalid_field", "prepend"),
    ({"priority": 1001}, 422, "invalid_field", "priority"),
    ({"colour": "red"}, 400, "unknown_field", "colour"),
])
def test_outbound_rule_refusals(env, patch, status, code, field):
    boss_a = env["boss_a"]
    body = {"name": "r", "pattern": "9NXX", "provider_ids": [env["pa"]["id"]]}
    n = boss_a.ok("GET", "/api/outbound_rules")["count"]
    err(boss_a.post("/api/outbound_rules", {**body, **patch}), status, code, field)
    assert boss_a.ok("GET", "/api/outbound_rules")["count"] == n


def test_outbound_rule_providers_must_be_visible(env):
    """TRK-08: another tenant's provider, or the system's not assigned, is no
    provider of this tenant."""
    boss_a, admin = env["boss_a"], env["admin"]
    sysp = admin.ok("POST", "/api/providers", ip_body(), status=201)
    for pids in ([env["pb"]["id"]], [env["pa"]["id"], env["pb"]["id"]], [sysp["id"]]):
        err(boss_a.post("/api/outbound_rules", {"name": "r", "pattern": "9X.", "provider_ids": pids}), 422,
            "invalid_field", "provider_ids")
    o = boss_a.ok("POST", "/api/outbound_rules", {"name": "r", "pattern": "9X.", "provider_ids": [env["pa"]["id"]]},
                  status=201)
    err(boss_a.post(f"/api/outbound_rules/{o['id']}", {"provider_ids": [env["pb"]["id"]]}), 422, "invalid_field",
        "provider_ids")
    boss_a.ok("POST", f"/api/outbound_rules/{o['id']}/destroy", status=204)


def test_outbound_rule_needs_a_provider(env):
    """TRK-08: provider_ids holds 1 to 8 providers."""
    r = env["boss_a"].post("/api/outbound_rules", {"name": "r", "pattern": "9X.", "provider_ids": []})
    if r.status_code == 201:
        env["boss_a"].post(f"/api/outbound_rules/{r.body['id']}/destroy")
    err(r, 422, "invalid_field", "provider_ids")


def test_provider_in_use_is_not_deleted(env):
    """TRK-01: a provider that a rule uses is not deleted (409 in_use) until
    the rule is gone; a system provider's 409 does not name a tenant's rule."""
    boss_a, admin = env["boss_a"], env["admin"]
    p = boss_a.ok("POST", "/api/providers", ip_body(), status=201)
    rule = inbound(boss_a, p, "1887" + number_block(), nm="Sales line").body
    e = err(boss_a.post(f"/api/providers/{p['id']}/destroy"), 409, "in_use")
    assert "Sales line" in e["message"]
    boss_a.ok("POST", f"/api/inbound_rules/{rule['id']}/destroy", status=204)
    o = boss_a.ok("POST", "/api/outbound_rules", {"name": "Out rule", "pattern": "9X.", "provider_ids": [p["id"]]},
                  status=201)
    err(boss_a.post(f"/api/providers/{p['id']}/destroy"), 409, "in_use")
    boss_a.ok("POST", f"/api/outbound_rules/{o['id']}/destroy", status=204)
    assert boss_a.post(f"/api/providers/{p['id']}/destroy").status_code == 204
    # the system's provider used by a tenant's rule
    sysp = admin.ok("POST", "/api/providers", ip_body(), status=201)
    admin.ok("POST", f"/api/providers/{sysp['id']}/assignees", {"tenant_id": env["ta"]["id"]}, status=201)
    rule = inbound(boss_a, sysp, "1888" + number_block(), nm="Secret tenant rule").body
    e = err(admin.post(f"/api/providers/{sysp['id']}/destroy"), 409, "in_use")
    # the system admin, who may know every tenant, is told whose rule holds it
    assert "Secret tenant rule" in e["message"] and env["ta"]["domain"] in e["message"], e
    assert admin.get(f"/api/providers/{sysp['id']}").status_code == 200
    boss_a.ok("POST", f"/api/inbound_rules/{rule['id']}/destroy", status=204)
    assert admin.post(f"/api/providers/{sysp['id']}/destroy").status_code == 204
    assert admin.get(f"/api/providers/{sysp['id']}").status_code == 404
    assert admin.get(f"/api/providers/{sysp['id']}/assignees").status_code == 404


# --- number lists ---------------------------------------------------------------------------

LISTS = [("/api/allowed_country_codes", "code", ["44", "1", "353"], "TRK-09"),
         ("/api/disallowed_codes", "code", ["900", "1900", "+44909"], "TRK-10"),
         ("/api/blacklisted_numbers", "number", ["+15551230000", "02079460999", "123"], "TRK-11")]


@pytest.fixture(params=LISTS, ids=[p[0].rsplit("/", 1)[1] for p in LISTS])
def numlist(request):
    return request.param


def test_number_list_crud_and_isolation(env, numlist):
    """TRK-09/TRK-10/TRK-11: create, read, update, delete; a duplicate (also
    with or without '+') is 409 naming the field; each tenant has its own."""
    path, field, values, _ = numlist
    boss_a, boss_b = env["boss_a"], env["boss_b"]
    made = []
    for v in values:
        x = boss_a.ok("POST", path, {field: v, "name": "note " + v}, status=201)
        assert x[field] == v and x["name"] == "note " + v and x["id"].isdigit()
        assert boss_a.ok("GET", f"{path}/{x['id']}") == x
        made.append(x)
    assert [x["id"] for x in made] == [i for i in ids(boss_a, path) if i in {x["id"] for x in made}]
    # duplicates, also the same digits with or without '+'
    for v in values:
        err(boss_a.post(path, {field: v}), 409, "conflict", field)
        other = v[1:] if v.startswith("+") else "+" + v
        err(boss_a.post(path, {field: other}), 409, "conflict", field)
    x = made[0]
    # update
    x2 = boss_a.ok("POST", f"{path}/{x['id']}", {"name": "changed"})
    assert x2["name"] == "changed" and x2[field] == x[field]
    err(boss_a.post(f"{path}/{x['id']}", {field: made[1][field]}), 409, "conflict", field)
    err(boss_a.post(f"{path}/{x['id']}", {"colour": "red"}), 400, "unknown_field", "colour")
    err(boss_a.post(path, {field: "12a"}), 422, "invalid_field", field)
    err(boss_a.post(path, {"name": "x"}), 422, "missing_field", field)
    # the other tenant: its own list, none of these
    for m, p_, body in (("GET", f"{path}/{x['id']}", None), ("POST", f"{path}/{x['id']}", {"name": "x"}),
                        ("POST", f"{path}/{x['id']}/destroy", None)):
        assert boss_b.request(m, p_, body=body).status_code == 404, p_
    assert not set(ids(boss_b, path)) & {m["id"] for m in made}
    y = boss_b.ok("POST", path, {field: values[0]}, status=201)  # the same value in another tenant
    assert y["name"] == ""
    # delete
    for m in made:
        assert boss_a.post(f"{path}/{m['id']}/destroy").status_code == 204
        assert boss_a.get(f"{path}/{m['id']}").status_code == 404
    boss_a.ok("POST", path, {field: values[0]}, status=201)  # free again
    boss_b.ok("POST", f"{path}/{y['id']}/destroy", status=204)


@pytest.mark.parametrize("code", ["4444", "", "+", "12a"])
def test_country_code_has_1_to_3_digits(env, code):
    """TRK-09"""
    err(env["boss_a"].post("/api/allowed_country_codes", {"code": code}), 422, "invalid_field", "code")


# --- export ---------------------------------------------------------------------------------


def test_export_csv(env):
    """TRK-01/TRK-07/TRK-08/TRK-10/TRK-11: GET {path}/export: text/csv, an
    attachment, a header row and one row per object; a cell a spreadsheet would
    run is neutralised (a leading '), a number with '+' stays; no password."""
    admin, boss_a = env["admin"], env["boss_a"]
    evil = name("=HYPERLINK(\"http://evil.example\",\"x\")")
    admin.ok("POST", "/api/providers", reg_body(evil), status=201)
    while admin.ok("GET", "/api/providers", params={"top": 1})["count"] <= 100:  # more than a page
        admin.ok("POST", "/api/providers", ip_body(), status=201)
    r = export(admin, "/api/providers")
    assert r.headers["Content-Type"].startswith("text/csv")
    cd = r.headers["Content-Disposition"]
    assert cd.startswith("attachment") and 'filename="providers.csv"' in cd
    text = r.content.decode()
    assert TRUNK_PASSWORD not in text and "Other-secret-9" not in text and "password" not in text
    rows = csv_rows(r)
    assert rows[0] == ["id", "name", "owner", "hostname", "port", "transport", "outbound_proxy", "authentication",
                       "username", "ip_addresses", "register_expires", "country_code", "max_calls", "enabled"]
    listed = ids(admin, "/api/providers")
    assert len(listed) > 100  # the export is not paged
    assert [row[0] for row in rows[1:]] == listed
    byname = {row[1]: row for row in rows[1:]}
    assert "'" + evil in byname  # neutralised: text, not a formula
    assert evil not in byname
    assert byname["'" + evil][8] == "acct-1" and byname["'" + evil][4] == "5060"
    # a tenant's export: its own and the assigned system providers, no account of the system's
    sysp = admin.ok("POST", "/api/providers", reg_body(username="sys-account-x"), status=201)
    admin.ok("POST", f"/api/providers/{sysp['id']}/assignees", {"tenant_id": env["ta"]["id"]}, status=201)
    rows = csv_rows(export(boss_a, "/api/providers"))
    assert [row[0] for row in rows[1:]] == ids(boss_a, "/api/providers")
    assert sysp["id"] in [row[0] for row in rows[1:]]
    text = export(boss_a, "/api/providers").content.decode()
    assert "sys-account-x" not in text and TRUNK_PASSWORD not in text
    assert sysp["id"] not in [row[0] for row in csv_rows(export(env["boss_b"], "/api/providers"))[1:]]
    # inbound rules: "+44..." stays as it is, a formula name does not
    blk = number_block()
    plus = "+44207947" + blk
    rule = inbound(boss_a, env["pa"], plus, nm="@SUM(1+1)").body
    r = export(boss_a, "/api/inbound_rules")
    assert 'filename="inbound_rules.csv"' in r.headers["Content-Disposition"]
    rows = csv_rows(r)
    assert rows[0] == ["id", "name", "provider_id", "did", "destination", "outside_hours_destination"]
    assert len(rows) - 1 == boss_a.ok("GET", "/api/inbound_rules")["count"]
    row = [x for x in rows if x[0] == rule["id"]][0]
    assert row[1] == "'@SUM(1+1)" and row[3] == plus
    assert rule["id"] not in [x[0] for x in csv_rows(export(env["boss_b"], "/api/inbound_rules"))]
    # outbound rules: provider_ids in one cell
    o = boss_a.ok("POST", "/api/outbound_rules", {"name": "-x", "pattern": "+44X.", "prepend": "+",
                                                   "provider_ids": [env["pa"]["id"], sysp["id"]]}, status=201)
    rows = csv_rows(export(boss_a, "/api/outbound_rules"))
    assert rows[0] == ["id", "name", "pattern", "strip_digits", "prepend", "provider_ids", "priority"]
    row = [x for x in rows if x[0] == o["id"]][0]
    # a sign before anything but digits is a formula to a spreadsheet: made text
    assert row[1] == "'-x" and row[2] == "'+44X." and row[4] == "'+", row
    assert row[5] == f"{env['pa']['id']};{sysp['id']}" and row[6] == "100"
    # the lists
    for path, fname, field in (("/api/disallowed_codes", "disallowed_codes.csv", "code"),
                               ("/api/blacklisted_numbers", "blacklisted_numbers.csv", "number"),
                               ("/api/allowed_country_codes", "allowed_country_codes.csv", "code")):
        v = "+" + "7" + blk[-2:] if field == "code" else "+4477009" + blk
        x = boss_a.ok("POST", path, {field: v, "name": "=1+2"}, status=201)
        r = export(boss_a, path)
        assert f'filename="{fname}"' in r.headers["Content-Disposition"]
        rows = csv_rows(r)
        assert rows[0] == ["id", field, "name"]
        assert len(rows) - 1 == boss_a.ok("GET", path)["count"]
        assert [x["id"], v, "'=1+2"] in rows
    boss_a.ok("POST", f"/api/outbound_rules/{o['id']}/destroy", status=204)
    boss_a.ok("POST", f"/api/inbound_rules/{rule['id']}/destroy", status=204)


def test_export_neutralises_a_formula_after_a_sign_and_digit(env):
    """TRK-07: a name such as -1+cmd|... runs as a formula in a spreadsheet."""
    boss_a = env["boss_a"]
    payload = "-1+cmd|' /C calc'!A0"
    x = boss_a.ok("POST", "/api/blacklisted_numbers", {"number": "4477008" + number_block(), "name": payload},
                  status=201)
    try:
        rows = csv_rows(export(boss_a, "/api/blacklisted_numbers"))
        row = [r for r in rows if r[0] == x["id"]][0]
        assert row[2] == "'" + payload
    finally:
        boss_a.post(f"/api/blacklisted_numbers/{x['id']}/destroy")


# --- outbound limits ------------------------------------------------------------------------


def test_outbound_limits(env):
    """Issue 15's toll-fraud caps (next to TRK-09..11): a tenant's outbound
    limits: defaults, an update of the fields given, out-of-range refused; each
    tenant its own."""
    admin = env["admin"]
    tc, boss_c = new_tenant(admin)
    assert boss_c.ok("GET", "/api/tenant/outbound_limits") == LIMIT_DEFAULTS
    got = boss_c.ok("POST", "/api/tenant/outbound_limits", {"max_calls_per_hour": 120})
    assert got == {**LIMIT_DEFAULTS, "max_calls_per_hour": 120}
    got = boss_c.ok("POST", "/api/tenant/outbound_limits", {"extension_max_concurrent_calls": 0})
    want = {**LIMIT_DEFAULTS, "max_calls_per_hour": 120, "extension_max_concurrent_calls": 0}
    assert got == want and boss_c.ok("GET", "/api/tenant/outbound_limits") == want
    assert boss_c.ok("POST", "/api/tenant/outbound_limits", {}) == want
    for patch, field in (({"max_concurrent_calls": -1}, "max_concurrent_calls"),
                         ({"max_concurrent_calls": 100001}, "max_concurrent_calls"),
                         ({"max_calls_per_hour": 1000001}, "max_calls_per_hour"),
                         ({"extension_max_concurrent_calls": 1001}, "extension_max_concurrent_calls"),
                         ({"extension_max_calls_per_hour": 100001}, "extension_max_calls_per_hour"),
                         ({"max_calls_per_hour": "5"}, "max_calls_per_hour"),
                         ({"max_calls_per_hour": None}, "max_calls_per_hour")):
        err(boss_c.post("/api/tenant/outbound_limits", patch), 422, "invalid_field", field)
    err(boss_c.post("/api/tenant/outbound_limits", {"max_calls": 5}), 400, "unknown_field", "max_calls")
    assert boss_c.ok("GET", "/api/tenant/outbound_limits") == want
    # the switched system admin sees the same; another tenant keeps its own
    sw = env["pbxd"].client(admin.ok("POST", f"/api/tenants/{tc['id']}/switch")["token"])
    assert sw.ok("GET", "/api/tenant/outbound_limits") == want
    tb_limits = env["boss_b"].ok("GET", "/api/tenant/outbound_limits")
    assert tb_limits == LIMIT_DEFAULTS


# --- paging ---------------------------------------------------------------------------------


def test_paging(env):
    admin = env["admin"]
    _, boss_c = new_tenant(admin)
    made = [boss_c.ok("POST", "/api/disallowed_codes", {"code": f"99{i}"}, status=201)["id"] for i in range(5)]
    assert ids(boss_c, "/api/disallowed_codes") == made  # oldest first
    page = boss_c.ok("GET", "/api/disallowed_codes", params={"top": 2})
    assert page["count"] == 5 and [x["id"] for x in page["items"]] == made[:2]
    page = boss_c.ok("GET", "/api/disallowed_codes", params={"skip": 2, "top": 2})
    assert page["count"] == 5 and [x["id"] for x in page["items"]] == made[2:4]
    page = boss_c.ok("GET", "/api/disallowed_codes", params={"skip": 4})
    assert [x["id"] for x in page["items"]] == made[4:]
    assert boss_c.ok("GET", "/api/disallowed_codes", params={"skip": 10}) == {"count": 5, "items": []}
    for q, field in (({"top": 0}, "top"), ({"top": 101}, "top"), ({"top": "x"}, "top"), ({"skip": -1}, "skip")):
        err(boss_c.get("/api/disallowed_codes", params=q), 400, "invalid_field", field)
    # the providers' list pages the assigned system providers and the own together
    sysp = admin.ok("POST", "/api/providers", ip_body(), status=201)
    admin.ok("POST", f"/api/providers/{sysp['id']}/assignees",
             {"tenant_id": boss_c.ok("GET", "/api/tenant")["id"]}, status=201)
    own = [boss_c.ok("POST", "/api/providers", ip_body(), status=201)["id"] for _ in range(2)]
    everything = ids(boss_c, "/api/providers")
    assert everything == [sysp["id"]] + own
    assert [x["id"] for x in boss_c.ok("GET", "/api/providers", params={"skip": 1, "top": 1})["items"]] == own[:1]


# --- restart ---------------------------------------------------------------------------------


def test_everything_survives_a_restart(make_pbxd):
    """TRK-01/05..11: providers, assignees, rules, lists and limits are stored."""
    p = make_pbxd()
    admin = p.admin()
    t, boss = new_tenant(admin)
    new_user(boss, ext="101")
    sysp = admin.ok("POST", "/api/providers", reg_body(), status=201)
    admin.ok("POST", f"/api/providers/{sysp['id']}/assignees", {"tenant_id": t["id"]}, status=201)
    own = boss.ok("POST", "/api/providers", ip_body(country_code="44"), status=201)
    inbound(boss, own, "+442079460123")
    inbound(boss, sysp, "1889000-1889099")
    boss.ok("POST", "/api/outbound_rules", {"name": "o", "pattern": "9X.", "provider_ids": [sysp["id"], own["id"]],
                                            "strip_digits": 1}, status=201)
    boss.ok("POST", "/api/allowed_country_codes", {"code": "44"}, status=201)
    boss.ok("POST", "/api/disallowed_codes", {"code": "900"}, status=201)
    boss.ok("POST", "/api/blacklisted_numbers", {"number": "+15550001111"}, status=201)
    boss.ok("POST", "/api/tenant/outbound_limits", {"max_concurrent_calls": 3})
    paths = ["/api/providers", "/api/inbound_rules", "/api/outbound_rules", "/api/allowed_country_codes",
             "/api/disallowed_codes", "/api/blacklisted_numbers"]
    before = {path: boss.ok("GET", path, params={"top": 100}) for path in paths}
    before["limits"] = boss.ok("GET", "/api/tenant/outbound_limits")
    before["sys"] = admin.ok("GET", "/api/providers", params={"top": 100})
    before["assignees"] = admin.ok("GET", f"/api/providers/{sysp['id']}/assignees")
    assert all(before[path]["count"] >= 1 for path in paths)
    p.restart()
    for path in paths:
        assert boss.ok("GET", path, params={"top": 100}) == before[path], path
    assert boss.ok("GET", "/api/tenant/outbound_limits") == before["limits"]
    assert admin.ok("GET", "/api/providers", params={"top": 100}) == before["sys"]
    assert admin.ok("GET", f"/api/providers/{sysp['id']}/assignees") == before["assignees"]
    assert admin.ok("GET", f"/api/providers/{sysp['id']}")["password_set"] is True
    assert admin.ok("GET", f"/api/providers/{sysp['id']}/status")["id"] == sysp["id"]
    # the DIDs are still taken
    _, boss2 = new_tenant(admin)
    new_user(boss2, ext="101")
    p2 = boss2.ok("POST", "/api/providers", ip_body(country_code="44"), status=201)
    err(inbound(boss2, p2, "02079460123"), 409, "conflict", "did")
    err(inbound(boss2, p2, "1889050"), 409, "conflict", "did")


# --- concurrency -----------------------------------------------------------------------------


def race(*calls):
    """Runs the calls at once (a barrier), returns their answers in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, f):
        barrier.wait()
        try:
            out[i] = f()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out[i] = e

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(calls)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return out


def twin(c):
    """A client of its own (a requests.Session is not shared between threads)."""
    return Client(c.base, c.token)


def test_concurrent_same_did_in_two_tenants(env):
    """TRK-07: two tenants write the same DID at once: exactly one 201 and one
    409, never two rules (exact DIDs; E.164 against national form; overlapping
    ranges, which no key catches)."""
    a, b = twin(env["boss_a"]), twin(env["boss_b"])
    pa, pb = env["pa"], env["pb"]
    for trial in range(30):
        blk = number_block()
        dids = [("1890" + blk, "1890" + blk), ("+44207948" + blk, "0207948" + blk),
                (f"1891{blk}00-1891{blk}59", f"1891{blk}40-1891{blk}99")][trial % 3]
        res = race(lambda: inbound(a, pa, dids[0]), lambda: inbound(b, pb, dids[1]))
        for r in res:
            assert not isinstance(r, Exception), r
        got = sorted(r.status_code for r in res)
        assert got == [201, 409], (trial, dids, [(r.status_code, r.text) for r in res])
        loser = [r for r in res if r.status_code == 409][0]
        assert loser.body["error"]["field"] == "did", loser.text
        stored = [x["did"] for c in (a, b) for x in all_items(c, "/api/inbound_rules")]
        assert len([d for d in stored if d in dids]) == 1, (trial, dids)


def test_concurrent_updates_of_one_provider(env):
    """TRK-01: two updates of one provider at once both succeed, neither field lost."""
    admin = env["admin"]
    p = admin.ok("POST", "/api/providers", reg_body(), status=201)
    c1, c2 = twin(admin), twin(admin)
    for i in range(10):
        res = race(lambda: c1.post(f"/api/providers/{p['id']}", {"port": 5100 + i}),
                   lambda: c2.post(f"/api/providers/{p['id']}", {"max_calls": 10 + i, "register_expires": 600 + i}))
        for r in res:
            assert not isinstance(r, Exception), r
            assert r.status_code == 200, r.text
        now = admin.ok("GET", f"/api/providers/{p['id']}")
        assert (now["port"], now["max_calls"], now["register_expires"]) == (5100 + i, 10 + i, 600 + i), now
        assert now["password_set"] is True


def test_concurrent_assign_and_update(env):
    """TRK-06: an assignment and an update of one provider at once: both kept."""
    admin = env["admin"]
    c1, c2 = twin(admin), twin(admin)
    for _ in range(5):
        p = admin.ok("POST", "/api/providers", ip_body(), status=201)
        res = race(lambda: c1.post(f"/api/providers/{p['id']}/assignees", {"tenant_id": env["tb"]["id"]}),
                   lambda: c2.post(f"/api/providers/{p['id']}", {"port": 5999}))
        assert [r.status_code for r in res] == [201, 200], [r.text for r in res]
        now = admin.ok("GET", f"/api/providers/{p['id']}")
        assert now["port"] == 5999 and now["assignees"] == [env["tb"]["id"]], now

