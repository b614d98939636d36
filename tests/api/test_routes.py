"""Every route's success path, and the OpenAPI document against what is served.
FEATURES: API-01, API-02, API-04, API-05, API-06, API-13, TEN-01, TEN-02, USR-02, USR-06,
USR-09, USR-20, TRK-01, TRK-06, TRK-07, TRK-08, TRK-09, TRK-10, TRK-11."""
import csv
import io
import json
import os
import re
import socket

from conftest import ADMIN_PASSWORD, ROOT, new_tenant, new_user, uniq
from sipdigest import register

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


# --- the subset of JSON Schema (2020-12, as OpenAPI 3.1 uses it) the document is
# written in; anything else in a schema is an error here, so the validator cannot
# silently accept what it does not understand.

KNOWN = {"type", "properties", "required", "additionalProperties", "items", "enum", "oneOf", "$ref",
         "minLength", "maxLength", "minimum", "maximum", "maxItems", "minItems", "pattern", "description",
         "readOnly", "writeOnly", "default"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def type_ok(t, v):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def schema_errors(doc, schema, v, path="$", direction="response"):
    """What is wrong with v under schema: a list of messages, empty when valid.
    direction: a request may not carry readOnly fields, an answer no writeOnly ones."""
    unknown = set(schema) - KNOWN
    if unknown:
        return [f"{path}: schema uses {sorted(unknown)}"]
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        if name not in doc["components"]["schemas"]:
            return [f"{path}: dangling $ref {schema['$ref']}"]
        return schema_errors(doc, doc["components"]["schemas"][name], v, path, direction)
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not schema_errors(doc, s, v, path, direction)]
        return [] if len(ok) == 1 else [f"{path}: matches {len(ok)} of oneOf, not exactly one"]
    errs = []
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(type_ok(t, v) for t in types):
            return [f"{path}: {json.dumps(v)[:60]} is not {'/'.join(types)}"]
    if "enum" in schema and v not in schema["enum"]:
        errs.append(f"{path}: {v!r} not in {schema['enum']}")
    if isinstance(v, str):
        if len(v) < schema.get("minLength", 0) or len(v) > schema.get("maxLength", len(v)):
            errs.append(f"{path}: length {len(v)} out of range")
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append(f"{path}: {v!r} does not match {schema['pattern']}")
    if type_ok("integer", v):
        if v < schema.get("minimum", v) or v > schema.get("maximum", v):
            errs.append(f"{path}: {v} out of range")
    if isinstance(v, list):
        if len(v) > schema.get("maxItems", len(v)):
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if len(v) < schema.get("minItems", 0):
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        for i, it in enumerate(v):
            errs += schema_errors(doc, schema.get("items", {}), it, f"{path}[{i}]", direction)
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                errs.append(f"{path}.{k}: required")
        for k, item in v.items():
            if k in props:
                p = props[k]
                if p.get("readOnly") and direction == "request":
                    errs.append(f"{path}.{k}: read-only, sent in a request")
                if p.get("writeOnly") and direction == "response":
                    errs.append(f"{path}.{k}: write-only, returned in an answer")
                errs += schema_errors(doc, p, item, f"{path}.{k}", direction)
            elif schema.get("additionalProperties", True) is False:
                errs.append(f"{path}.{k}: not in the schema")
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += schema_errors(doc, schema["additionalProperties"], item, f"{path}.{k}", direction)
    return errs


def operation(doc, method, template):
    return doc["paths"][template][method.lower()]


def check_request(doc, method, template, body):
    op = operation(doc, method, template)
    if body is None:
        assert "requestBody" not in op or not op["requestBody"]["required"], (method, template)
        return
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    errs = schema_errors(doc, schema, body, direction="request")
    assert not errs, (method, template, errs)


def check_response(doc, method, template, status, body, media="application/json"):
    """body: the answer's JSON, or with another media type (a CSV export) its text."""
    resps = operation(doc, method, template)["responses"]
    r = resps.get(str(status)) or resps.get(f"{str(status)[0]}XX")
    assert r, f"{method} {template}: {status} is not documented"
    if media != "application/json":
        # not JSON: the document must name the media type served (and its schema, if any, hold)
        content = r.get("content", {})
        assert media in content, (f"{method} {template}: {status} answers {media}; the document has "
                                  f"{sorted(content) or 'no content'}")
        errs = schema_errors(doc, content[media].get("schema", {}), body)
        assert not errs, (method, template, status, errs)
        return
    if "content" not in r:
        assert status != 204 or body is None, (method, template, status, body)
        return
    errs = schema_errors(doc, r["content"]["application/json"]["schema"], body)
    assert not errs, (method, template, status, errs)


def test_schema_validator_itself():
    """The validator rejects what it should (a validator that accepts all proves nothing)."""
    doc = {"components": {"schemas": {"T": {"type": "object", "properties": {
        "a": {"type": "integer", "minimum": 1, "maximum": 3}, "b": {"type": ["string", "null"]},
        "c": {"oneOf": [{"$ref": "#/components/schemas/U"}, {"type": "null"}]},
        "w": {"type": "string", "writeOnly": True}, "r": {"type": "string", "readOnly": True},
        "e": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}, "maxItems": 2}},
        "required": ["a"], "additionalProperties": False},
        "U": {"type": "object", "properties": {"n": {"type": "boolean"}}, "additionalProperties": False}}}}
    t = {"$ref": "#/components/schemas/T"}
    assert schema_errors(doc, t, {"a": 2, "b": None, "c": {"n": True}, "e": ["x"], "r": "x"}) == []
    assert schema_errors(doc, t, {"a": 2, "c": None, "w": "x"}, direction="request") == []
    for bad in ({}, {"a": True}, {"a": 4}, {"a": 1, "z": 1}, {"a": 1, "b": 3}, {"a": 1, "c": {"n": 1}},
                {"a": 1, "c": {"m": 1}}, {"a": 1, "e": ["z"]}, {"a": 1, "e": ["x", "x", "x"]},
                {"a": 1, "w": "secret"}, []):
        assert schema_errors(doc, t, bad), bad
    assert schema_errors(doc, t, {"a": 1, "r": "x"}, direction="request")
    assert schema_errors(doc, {"type": "string", "format": "x"}, "s")


def test_every_route_success_path(pbxd, make_pbxd, tmp_path):
    """Walks every operation of the API once with a success answer; each request
    body and each answer is validated against the served OpenAPI document."""
    c = pbxd.client()
    doc = c.ok("GET", "/api/openapi.json")
    seen = set()

    def hit(client, method, template, path=None, body=None, status=200, media="application/json"):
        check_request(doc, method, template, body)
        if media == "application/json":
            r = client.ok(method, path or template, body, status=status)
        else:
            assert body is None
            r = raw_ok(client, method, path or template, status, media)
        check_response(doc, method, template, status, r, media)
        seen.add((method.lower(), template))
        return r

    def refused(client, method, template, path, status):
        r = client.request(method, path)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        check_response(doc, method, template, status, r.body)

    info = hit(c, "GET", "/api/info")
    assert info["product"] == "pbxd" and info["version"]
    info = hit(c, "GET", "/api/info", "/api/info?domain=pbx.local")
    assert info["tenant"] == {"name": "Default", "domain": "pbx.local", "enabled": True}
    hit(c, "GET", "/api/openapi.json")

    tok = hit(c, "POST", "/api/auth/sign_in", body={"username": "admin", "password": ADMIN_PASSWORD})
    assert set(tok) == {"token", "expires_in", "refresh_token", "two_factor_enabled"}
    assert tok["expires_in"] == 3600 and tok["two_factor_enabled"] is False
    admin = pbxd.client(tok["token"])
    me = admin.ok("GET", "/api/me")  # validated in test_me_matches_document
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
    me = hit(switched, "GET", "/api/me")
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
    hit(bond, "POST", "/api/user/extension_password",
        body={"extension_password": "sip-Secret-3", "password": "Bond-pass-9"}, status=204)
    hit(bond, "POST", "/api/me/password", body={"old_password": "Bond-pass-9", "new_password": "Bond-pass-10"},
        status=204)
    cred = hit(bond, "POST", "/api/user/phone_credentials", body={}, status=201)
    assert cred["username"].startswith(cred["extension_number"] + "~") and len(cred["password"]) == 32, cred
    hol = hit(bond, "POST", "/api/user/holidays", body={"name": "Trip", "start_date": "2030-01-02"}, status=201)
    assert [h["id"] for h in hit(bond, "GET", "/api/user/holidays")["items"]] == [hol["id"]]
    assert hit(bond, "GET", "/api/user/holidays/{id}", f"/api/user/holidays/{hol['id']}")["name"] == "Trip"
    assert hit(bond, "POST", "/api/user/holidays/{id}", f"/api/user/holidays/{hol['id']}",
               {"name": "Trip 2"})["name"] == "Trip 2"
    hit(bond, "POST", "/api/user/holidays/{id}/destroy", f"/api/user/holidays/{hol['id']}/destroy", status=204)
    mine = hit(bond, "GET", "/api/user/extension")
    assert mine["record_audio"] is True
    mine = hit(bond, "POST", "/api/user/extension", body={"dnd": True})
    assert mine["dnd"] is True

    # call detail records and active calls: none yet (tests/api/test_cdrs.py has some)
    assert hit(boss, "GET", "/api/cdrs") == {"count": 0, "items": []}
    assert hit(bond, "GET", "/api/cdrs", "/api/cdrs?direction=ext&top=5") == {"count": 0, "items": []}
    assert hit(switched, "GET", "/api/call_sessions") == {"count": 0, "items": []}
    assert hit(bond, "GET", "/api/call_sessions") == {"count": 0, "items": []}
    # No call to hang up here (the call engine's wire tests hang calls up): the
    # refusal is in the documented shape.
    refused(boss, "POST", "/api/call_sessions/{id}/destroy", "/api/call_sessions/123456789/destroy", 404)
    seen.add(("post", "/api/call_sessions/{id}/destroy"))

    # webhooks and the event stream (tests/api/test_webhooks.py, tests/wire/test_webhooks.py have more)
    w = hit(boss, "POST", "/api/tenant/webhooks", body={
        "name": "CRM", "url": "https://crm.example.com/pbx", "events": ["call_cdr"],
        "auth": {"method": "bearer", "token": "abc123"}}, status=201)
    assert w["auth"] == {"method": "bearer"} and w["enabled"] is True
    assert hit(boss, "GET", "/api/tenant/webhooks")["count"] == 1
    hit(boss, "GET", "/api/tenant/webhooks/{id}", f"/api/tenant/webhooks/{w['id']}")
    w = hit(boss, "POST", "/api/tenant/webhooks/{id}", f"/api/tenant/webhooks/{w['id']}", {"enabled": False})
    assert w["enabled"] is False
    hit(boss, "POST", "/api/tenant/webhooks/{id}/destroy", f"/api/tenant/webhooks/{w['id']}/destroy", status=204)
    assert ws_handshake(pbxd, boss.token).startswith(b"HTTP/1.1 101 ")
    seen.add(("get", "/api/events"))

    # office hours, holidays, feature codes (tests/api/test_office_hours.py, test_holidays.py,
    # test_feature_codes.py and tests/wire/test_office_hours.py have more)
    assert hit(admin, "POST", "/api/tenants/{id}", f"/api/tenants/{tid}", {"timezone": "Europe/Paris"})[
        "timezone"] == "Europe/Paris"
    assert hit(boss, "GET", "/api/tenant")["timezone"] == "Europe/Paris"
    assert hit(boss, "POST", "/api/tenant", body={"timezone": "Asia/Kolkata"})["timezone"] == "Asia/Kolkata"
    w = hit(boss, "GET", "/api/tenant/office_hours")
    assert w["mon"] == [{"start": "00:00", "end": "23:59"}]
    w = hit(boss, "POST", "/api/tenant/office_hours", body={"mon": [{"start": "09:00", "end": "17:00"}], "sun": []})
    assert w["sun"] == [] and w["tue"] == [{"start": "00:00", "end": "23:59"}]
    assert hit(boss, "GET", "/api/users/{id}/office_hours", f"/api/users/{uid}/office_hours") == {"mode": "global"}
    oh = hit(boss, "POST", "/api/users/{id}/office_hours", f"/api/users/{uid}/office_hours",
             {"mode": "specific", "week": {"mon": [{"start": "08:00", "end": "16:00"}]}})
    assert oh["mode"] == "specific"
    for base, tmpl in (("/api/holidays", "/api/holidays/{id}"),
                       (f"/api/users/{uid}/holidays", "/api/users/{id}/holidays/{holiday_id}")):
        btmpl = "/api/holidays" if base == "/api/holidays" else "/api/users/{id}/holidays"
        h = hit(boss, "POST", btmpl, base, {"name": "Christmas", "start_date": "2026-12-25"}, status=201)
        assert h["end_date"] == "2026-12-25" and hit(boss, "GET", btmpl, base)["count"] == 1
        hit(boss, "GET", tmpl, f"{base}/{h['id']}")
        assert hit(boss, "POST", tmpl, f"{base}/{h['id']}", {"every_year": True})["every_year"] is True
        hit(boss, "POST", tmpl + "/destroy", f"{base}/{h['id']}/destroy", status=204)
    fac = hit(boss, "GET", "/api/feature_access_codes")
    assert fac["count"] == len(fac["items"]) == 13
    fac = hit(boss, "POST", "/api/feature_access_codes", body={"dnd_on": "*11"})
    assert [c["code"] for c in fac["items"] if c["feature"] == "dnd_on"] == ["*11"]

    # SIP trunks (issue 15; tests/api/test_trunks_api.py has more): a system provider (the system
    # admin's) assigned to the tenant, the tenant's own provider, its rules, number lists and limits
    sysp = hit(admin, "POST", "/api/providers", body={
        "name": "Carrier", "hostname": "sip.carrier.example", "authentication": "register",
        "username": "acct-1", "password": "Trunk-secret-1", "country_code": "44"}, status=201)
    spid = sysp["id"]
    assert sysp["owner"] == "system" and sysp["password_set"] is True and sysp["assignees"] == []
    assert "password" not in sysp and sysp["port"] == 5060
    assert [p["id"] for p in hit(admin, "GET", "/api/providers")["items"]] == [spid]
    assert hit(admin, "GET", "/api/providers/{id}", f"/api/providers/{spid}") == sysp
    sysp = hit(admin, "POST", "/api/providers/{id}", f"/api/providers/{spid}", {"port": 5080, "transport": "tcp"})
    assert (sysp["port"], sysp["transport"]) == (5080, "tcp")
    st = hit(admin, "GET", "/api/providers/{id}/status", f"/api/providers/{spid}/status")
    assert st["id"] == spid and st["calls"] == 0
    assert hit(admin, "GET", "/api/providers/{id}/assignees", f"/api/providers/{spid}/assignees") == {
        "count": 0, "items": []}
    assignees = {"count": 1, "items": [{"tenant_id": tid, "name": "Routes Ltd", "domain": f"{name}.test"}]}
    assert hit(admin, "POST", "/api/providers/{id}/assignees", f"/api/providers/{spid}/assignees",
               {"tenant_id": tid}, status=201) == assignees
    assert hit(admin, "GET", "/api/providers/{id}/assignees", f"/api/providers/{spid}/assignees") == assignees
    rows = csv_rows(hit(admin, "GET", "/api/providers/export", media="text/csv"))
    assert rows[0][:3] == ["id", "name", "owner"] and [r[:3] for r in rows[1:]] == [[spid, "Carrier", "system"]]
    own = hit(boss, "POST", "/api/providers", body={
        "name": "Own trunk", "hostname": "192.0.2.10", "authentication": "ip",
        "ip_addresses": ["192.0.2.0/24"], "country_code": "44"}, status=201)
    pid = own["id"]
    assert own["owner"] == "tenant" and "assignees" not in own
    assert [p["id"] for p in hit(boss, "GET", "/api/providers")["items"]] == [spid, pid]
    assert "username" not in hit(boss, "GET", "/api/providers/{id}", f"/api/providers/{spid}")
    assert hit(boss, "POST", "/api/providers/{id}", f"/api/providers/{pid}", {"max_calls": 5})["max_calls"] == 5
    assert hit(boss, "GET", "/api/providers/{id}/status", f"/api/providers/{pid}/status")["id"] == pid
    rows = csv_rows(hit(boss, "GET", "/api/providers/export", media="text/csv"))
    assert [r[0] for r in rows[1:]] == [spid, pid]
    rin = hit(boss, "POST", "/api/inbound_rules", body={
        "name": "Main line", "provider_id": pid, "did": "+442079460100",
        "destination": {"action": "number", "number": "101"}, "outside_hours_destination": {"action": "hangup"}},
        status=201)
    assert [r["id"] for r in hit(boss, "GET", "/api/inbound_rules")["items"]] == [rin["id"]]
    assert hit(boss, "GET", "/api/inbound_rules/{id}", f"/api/inbound_rules/{rin['id']}") == rin
    assert hit(boss, "POST", "/api/inbound_rules/{id}", f"/api/inbound_rules/{rin['id']}",
               {"name": "Main", "outside_hours_destination": None})["name"] == "Main"
    rows = csv_rows(hit(boss, "GET", "/api/inbound_rules/export", media="text/csv"))
    assert rows[0][:4] == ["id", "name", "provider_id", "did"] and [r[:4] for r in rows[1:]] == [
        [rin["id"], "Main", pid, "+442079460100"]]
    rout = hit(boss, "POST", "/api/outbound_rules", body={
        "name": "UK", "pattern": "9X.", "strip_digits": 1, "prepend": "+44", "provider_ids": [pid, spid]},
        status=201)
    assert [r["id"] for r in hit(boss, "GET", "/api/outbound_rules")["items"]] == [rout["id"]]
    assert hit(boss, "GET", "/api/outbound_rules/{id}", f"/api/outbound_rules/{rout['id']}") == rout
    assert hit(boss, "POST", "/api/outbound_rules/{id}", f"/api/outbound_rules/{rout['id']}",
               {"priority": 50})["priority"] == 50
    rows = csv_rows(hit(boss, "GET", "/api/outbound_rules/export", media="text/csv"))
    assert [r[0] for r in rows[1:]] == [rout["id"]] and rows[1][rows[0].index("provider_ids")] == f"{pid};{spid}"
    for base, field, value, new in (("/api/allowed_country_codes", "code", "44", "33"),
                                    ("/api/disallowed_codes", "code", "900", "0900"),
                                    ("/api/blacklisted_numbers", "number", "+15550001111", "+15550002222")):
        x = hit(boss, "POST", base, body={field: value, "name": "note"}, status=201)
        assert x[field] == value and x["name"] == "note"
        assert [i["id"] for i in hit(boss, "GET", base)["items"]] == [x["id"]]
        assert hit(boss, "GET", base + "/{id}", f"{base}/{x['id']}") == x
        assert hit(boss, "POST", base + "/{id}", f"{base}/{x['id']}", {field: new})[field] == new
        assert csv_rows(hit(boss, "GET", base + "/export", media="text/csv")) == [
            ["id", field, "name"], [x["id"], new, "note"]]
        hit(boss, "POST", base + "/{id}/destroy", f"{base}/{x['id']}/destroy", status=204)
    lim = hit(boss, "GET", "/api/tenant/outbound_limits")
    assert lim == {"max_concurrent_calls": 10, "max_calls_per_hour": 60,
                   "extension_max_concurrent_calls": 2, "extension_max_calls_per_hour": 20}
    assert hit(boss, "POST", "/api/tenant/outbound_limits", body={"max_calls_per_hour": 120}) == {
        **lim, "max_calls_per_hour": 120}
    hit(boss, "POST", "/api/outbound_rules/{id}/destroy", f"/api/outbound_rules/{rout['id']}/destroy", status=204)
    hit(boss, "POST", "/api/inbound_rules/{id}/destroy", f"/api/inbound_rules/{rin['id']}/destroy", status=204)
    hit(boss, "POST", "/api/providers/{id}/destroy", f"/api/providers/{pid}/destroy", status=204)
    hit(admin, "POST", "/api/providers/{id}/assignees/{tenant_id}/destroy",
        f"/api/providers/{spid}/assignees/{tid}/destroy", status=204)
    refused(boss, "GET", "/api/providers/{id}", f"/api/providers/{spid}", 404)
    hit(admin, "POST", "/api/providers/{id}/destroy", f"/api/providers/{spid}/destroy", status=204)
    refused(admin, "GET", "/api/providers/{id}", f"/api/providers/{spid}", 404)

    # a device registers for extension 101 (issue 11): listed, then unregistered
    assert register(pbxd.sip_port, "101", "sip-Secret-3", domain=f"{name}.test", user_agent="api-tests/1") == 200
    devs = {"count": 0}
    for _ in range(50):  # the PBX learns of the new user through the storage worker
        devs = hit(boss, "GET", "/api/users/{id}/devices", f"/api/users/{uid}/devices")
        if devs["count"]:
            break
    assert devs["count"] == 1 and devs["items"][0]["transport"] == "udp", devs
    assert devs["items"][0]["user_agent"] == "api-tests/1" and 3500 < devs["items"][0]["expires"] <= 3600
    dev = devs["items"][0]["id"]
    assert boss.ok("GET", f"/api/users/{uid}")["registered_devices"] == 1  # REG-04: the Status column
    assert [x["registered_devices"] for x in boss.ok("GET", "/api/users")["items"] if x["id"] == uid] == [1]
    hit(boss, "POST", "/api/users/{id}/devices/{device_id}/destroy", f"/api/users/{uid}/devices/{dev}/destroy",
        status=204)
    assert boss.ok("GET", f"/api/users/{uid}/devices")["count"] == 0
    refused(boss, "POST", "/api/users/{id}/devices/{device_id}/destroy",
            f"/api/users/{uid}/devices/{dev}/destroy", 404)
    # failed authentications from 127.0.0.2 ban it (10 by default), the system admin lifts the ban
    for _ in range(10):
        assert register(pbxd.sip_port, "101", "wrong-password", domain=f"{name}.test", source="127.0.0.2") == 403
    bans = hit(admin, "GET", "/api/security/bans")
    assert any(b["address"] == "127.0.0.2" and b["prefix"] == 32 for b in bans["items"]), bans
    hit(admin, "POST", "/api/security/bans/{address}/destroy", "/api/security/bans/127.0.0.2/destroy", status=204)
    assert all(b["address"] != "127.0.0.2" for b in admin.ok("GET", "/api/security/bans")["items"])
    refused(admin, "POST", "/api/security/bans/{address}/destroy", "/api/security/bans/127.0.0.2/destroy", 404)
    hit(bond, "POST", "/api/auth/sign_out", status=204)
    refused(bond, "GET", "/api/me", "/api/me", 401)

    hit(boss, "POST", "/api/users/{id}/destroy", f"/api/users/{uid}/destroy", status=204)
    refused(boss, "GET", "/api/users/{id}", f"/api/users/{uid}", 404)
    hit(admin, "POST", "/api/tenants/{id}/destroy", f"/api/tenants/{tid}/destroy", status=204)
    refused(admin, "GET", "/api/tenants/{id}", f"/api/tenants/{tid}", 404)
    refused(boss, "GET", "/api/me", "/api/me", 401)  # its users went with it

    sysinfo = hit(admin, "GET", "/api/system/info")
    assert sysinfo["version"] == info["version"] and sysinfo["uptime_s"] >= 0, sysinfo
    assert sysinfo["sip"]["udp_port"] == pbxd.sip_port and sysinfo["http"]["tls"] is False, sysinfo
    assert sysinfo["counts"]["tenants"] >= 1 and sysinfo["counts"]["active_calls"] == 0, sysinfo
    refused(bond, "GET", "/api/system/info", "/api/system/info", 401)

    # the TLS certificate, on a pbxd with HTTPS
    tp = make_pbxd(tls=True)
    tadmin = tp.client().as_user("admin", ADMIN_PASSWORD)
    assert hit(tadmin, "GET", "/api/system/certificate")["self_signed"] is True
    import subprocess
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "k"), "-out", str(tmp_path / "c"), "-days", "2", "-subj", "/CN=r.test"],
                   check=True, capture_output=True, timeout=30)
    got = hit(tadmin, "POST", "/api/system/certificate",
              body={"certificate": (tmp_path / "c").read_text(), "private_key": (tmp_path / "k").read_text()})
    assert "r.test" in got["subject"], got

    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert documented == seen, f"not exercised: {documented - seen}; undocumented: {seen - documented}"


def raw_ok(client, method, path, status, media):
    """A success that is not JSON (the Client accepts only JSON): its text, once its
    status and Content-Type are the ones expected."""
    r = client.s.request(method, client.base + path, headers={"Authorization": "Bearer " + client.token},
                         timeout=20)
    assert r.status_code == status, (method, path, r.status_code, r.text)
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == media, (method, path, ctype)
    return r.content.decode("utf-8")


def csv_rows(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def ws_handshake(pbxd, token):
    """The head of the answer to a WebSocket handshake at /api/events (RFC 6455)."""
    s = socket.create_connection(("127.0.0.1", pbxd.port), timeout=5)
    try:
        s.sendall((f"GET /api/events?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head  # RFC 6455 1.3's example
        return head
    finally:
        s.close()


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
            r = c.request(m.upper(), p.replace("{id}", "1").replace("{device_id}", "1").replace("{address}", "10.0.0.1"),
                          body={} if m == "post" else None)
            assert r.status_code != 405
            if r.status_code == 404:
                assert not r.body["error"]["message"].startswith("no route"), (m, p)
    r = c.get("/api/no/such/route")
    assert r.status_code == 404 and r.body["error"]["message"].startswith("no route")
    assert c.request("DELETE", "/api/users").status_code == 405


def test_me_matches_document(pbxd):
    """GET /api/me of each kind of principal: a system admin (tenant null), a
    tenant admin and a user."""
    admin = pbxd.admin()
    doc = admin.ok("GET", "/api/openapi.json")
    t, boss = new_tenant(admin)
    u = new_user(boss, password="User-pass-1")
    user = pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
    for client, tenant in ((admin, None), (boss, t["id"]), (user, t["id"])):
        me = client.ok("GET", "/api/me")
        assert (me["tenant"] or {}).get("id") == tenant
        check_response(doc, "GET", "/api/me", 200, me)


def resolve(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].removeprefix("#/components/schemas/")]
    return schema


def required_in_patch(doc, schema, path="$"):
    """Where a patch schema still requires something: in it, or in the objects it
    nests (array items are validated whole, so they may require fields)."""
    schema = resolve(doc, schema)
    found = [f"{path}: {schema['required']}"] if schema.get("required") else []
    for k, p in schema.get("properties", {}).items():
        for alt in p.get("oneOf", [p]):
            if "$ref" in alt or alt.get("type") == "object":
                found += required_in_patch(doc, alt, f"{path}.{k}")
    return found


def test_update_bodies_are_partial(pbxd):
    """Update routes take partial bodies: their request schemas require nothing,
    while create routes keep their required fields."""
    doc = pbxd.client().ok("GET", "/api/openapi.json")
    updates = [("/api/tenants/{id}", "TenantUpdate"), ("/api/users/{id}", "UserUpdate"),
               ("/api/users/{id}/extension", "ExtensionSettingsPatch"),
               ("/api/user/extension", "ExtensionSettingsPatch"), ("/api/user/profile", "Profile")]
    for path, name in updates:
        body = doc["paths"][path]["post"]["requestBody"]
        assert body["required"] is False
        assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
        assert required_in_patch(doc, body["content"]["application/json"]["schema"]) == [], path
    # the answers keep the whole schema: every setting is always there
    settings = doc["components"]["schemas"]["ExtensionSettings"]
    assert "dnd" in settings["required"] and "forwarding" in settings["required"]
    # array items inside a patch are whole
    patch = doc["components"]["schemas"]["ExtensionSettingsPatch"]
    assert patch["properties"]["outbound_caller_ids"]["items"] == {"$ref": "#/components/schemas/OutboundCallerId"}
    for path in ("/api/tenants", "/api/users"):
        body = doc["paths"][path]["post"]["requestBody"]
        assert body["required"] is True and resolve(doc, body["content"]["application/json"]["schema"])["required"]
    assert "admin" in resolve(doc, {"$ref": doc["paths"]["/api/tenants"]["post"]["responses"]["201"]["content"]
                                    ["application/json"]["schema"]["$ref"]})["required"]


def test_error_answers_documented(pbxd):
    """Every operation documents 4XX and 500 with the Error shape; sign-in its 503
    busy; and real error bodies validate."""
    c = pbxd.client()
    doc = c.ok("GET", "/api/openapi.json")
    for p, item in doc["paths"].items():
        for m, op in item.items():
            for code in ("4XX", "500"):
                assert op["responses"][code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"}, (m, p, code)
    assert "503" in doc["paths"]["/api/auth/sign_in"]["post"]["responses"]
    codes = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
    assert {"busy", "internal"} <= set(codes)
    for method, path, template, body, status in (
            ("POST", "/api/auth/sign_in", "/api/auth/sign_in", {"username": "x"}, 422),
            ("POST", "/api/auth/sign_in", "/api/auth/sign_in", {"username": "x", "password": "y"}, 401),
            ("GET", "/api/users", "/api/users", None, 401),
            ("GET", "/api/info?domain=nowhere.test", "/api/info", None, 404)):
        r = c.request(method, path, body=body)
        assert r.status_code == status, r.text
        check_response(doc, method, template, status, r.body)


def test_docs_worked_example(pbxd):
    """The request bodies of docs/api.md's worked example validate against the
    document, and sent in order to pbxd they succeed with valid answers."""
    text = open(os.path.join(ROOT, "docs", "api.md")).read()
    doc_password = re.search(r"--admin-password='([^']+)'", text).group(1)
    example = text[text.index("## A worked example"):text.index("A mistake answers")]
    steps = re.findall(r"\$API(/\S+) -d '(\{.*?\})'", example, re.S)
    assert len(steps) >= 4
    c = pbxd.client()
    doc = c.ok("GET", "/api/openapi.json")
    created = None
    for path, raw in steps:
        body = json.loads(raw)
        template = "/api" + re.sub(r"/[0-9]+(?=/|$)", "/{id}", path)
        check_request(doc, "POST", template, body)
        if body.get("password") == doc_password:
            body["password"] = ADMIN_PASSWORD
        url = "/api" + path
        if "{id}" in template:
            url = template.replace("{id}", created)
        r = c.request("POST", url, body=body)
        assert r.status_code in (200, 201), (url, r.status_code, r.text)
        check_response(doc, "POST", template, r.status_code, r.body)
        if template == "/api/auth/sign_in":
            c = pbxd.client(r.body["token"])
        elif r.status_code == 201:
            created = r.body["id"]
