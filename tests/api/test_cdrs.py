"""Call detail records and active calls through the REST API: GET /api/cdrs with
its filters and paging, tenant isolation, a user's own call log, bad query options;
GET /api/call_sessions and POST /api/call_sessions/{id}/destroy with no call
active. CDRs are put straight into pbxd's database while it is stopped (the call
engine writes them in pbxd itself), in the table of schema migration 5.
FEATURES: CDR-01, CDR-06, CDR-07, CDR-13, CDR-26, TEN-04."""
import json
import os
import sqlite3

import pytest

from conftest import new_tenant, new_user
from test_routes import check_response

# The top-level keys of the vendor's call_cdr event, without event_type, plus cdr_id.
CDR_KEYS = {"cdr_id", "answered_time", "call_id", "callee", "callee_domain", "caller", "caller_display_name",
            "caller_domain", "did_cid", "direction", "ended_reason", "ended_time", "outbound_caller_id",
            "ring_time", "session_id", "start_time", "status_code", "tenant_id", "tenant_name", "trunk_name",
            "user_data", "call_targets"}
TARGET_KEYS = {"answered_time", "call_type", "callee", "caller", "destination", "end_reason", "ended_time", "id",
               "outbound_caller_id", "ring_time", "start_time", "status_code", "trunk_name"}
DIRS = ["ext", "in", "out", "in2out"]
T0 = 1795000000  # 2026-11-18T11:06:40Z
_next_id = [900000000000000000]


def next_id():
    _next_id[0] += 7
    return _next_id[0]


def cdr(tenant, start, caller, callee, direction, users, answered=True, status=0):
    """A CDR row as the call engine would write it: the columns, the call-log
    users, and the JSON in the seeds' call_cdr shape (with event_type, which the
    API leaves out, and a key no schema has, which it leaves out too)."""
    cid, sid = next_id(), next_id()
    ans = start + 3 if answered else 0
    doc = {
        "event_type": "call_cdr", "x_engine_private": "not for the API",
        "answered_time": str(ans), "call_id": f"call-{cid}", "callee": callee,
        "callee_domain": tenant["domain"], "caller": caller, "caller_display_name": f"Caller {caller}",
        "caller_domain": tenant["domain"], "did_cid": "", "direction": direction,
        "ended_reason": "caller_disconnect" if answered else "cancelled", "ended_time": str(start + 60),
        "outbound_caller_id": "", "ring_time": str(start), "session_id": str(sid), "start_time": str(start),
        "status_code": str(status), "tenant_id": tenant["id"], "tenant_name": tenant["name"],
        "trunk_name": "", "user_data": "",
        "call_targets": [{
            "answered_time": str(ans), "call_type": "normal_call", "callee": callee, "caller": caller,
            "destination": f"sip:{callee}@127.0.0.1:5062", "end_reason": "None", "ended_time": str(start + 60),
            "id": str(next_id()), "outbound_caller_id": "", "ring_time": str(start), "start_time": str(start),
            "status_code": status, "trunk_name": "", "x_engine_private": 1}],
    }
    return {"id": cid, "tenant_id": int(tenant["id"]), "session_id": sid, "start_time": start,
            "answered_time": ans, "ended_time": start + 60, "caller": caller, "callee": callee,
            "direction": direction, "status_code": status, "json": json.dumps(doc), "users": users, "doc": doc}


def insert(pbxd, rows):
    """Stops pbxd, writes the CDRs into its database, starts it again."""
    pbxd.stop()
    db = sqlite3.connect(os.path.join(pbxd.dir, "pbxd.db"))
    with db:
        for r in rows:
            db.execute("INSERT INTO cdrs (id, tenant_id, session_id, start_time, answered_time, ended_time,"
                       " caller, callee, direction, status_code, json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (r["id"], r["tenant_id"], r["session_id"], r["start_time"], r["answered_time"],
                        r["ended_time"], r["caller"], r["callee"], r["direction"], r["status_code"], r["json"]))
            for u in r["users"]:
                db.execute("INSERT INTO cdr_users (cdr_id, tenant_id, user_id) VALUES (?,?,?)",
                           (r["id"], r["tenant_id"], int(u)))
    db.close()
    pbxd.start()


def db_count(pbxd, sql, *args):
    db = sqlite3.connect(os.path.join(pbxd.dir, "pbxd.db"))
    try:
        return db.execute(sql, args).fetchone()[0]
    finally:
        db.close()


@pytest.fixture(scope="module")
def env(pbxd):
    admin = pbxd.admin()
    ta, boss_a = new_tenant(admin)
    tb, boss_b = new_tenant(admin)
    alice = new_user(boss_a, ext="101", password="User-pass-1")
    bob = new_user(boss_a, ext="102", password="User-pass-1")
    carol = new_user(boss_a, ext="103", password="User-pass-1")
    loner = new_user(boss_a, ext="109", password="User-pass-1")
    bea = new_user(boss_b, ext="101", password="User-pass-1")
    rows_a, rows_b = [], []
    for i in range(30):
        caller = ["101", "102", "5551000"][i % 3]
        callee = ["102", "101", "5552000", "103"][i % 4]
        users = [u["id"] for u, on in ((alice, "101" in (caller, callee)), (bob, "102" in (caller, callee)),
                                       (carol, callee == "103")) if on]
        rows_a.append(cdr(ta, T0 + i * 100, caller, callee, DIRS[i % 4], users, answered=i % 5 != 0,
                          status=0 if i % 5 else 487))
    for i in range(5):
        rows_b.append(cdr(tb, T0 + i * 100 + 50, "101", "102", "ext", [bea["id"]]))
    insert(pbxd, rows_a + rows_b)

    def as_user(t, u):
        return pbxd.client().as_user(u["username"], "User-pass-1", t["domain"])
    switched = pbxd.client(admin.ok("POST", f"/api/tenants/{ta['id']}/switch")["token"])
    return {"pbxd": pbxd, "admin": admin, "ta": ta, "tb": tb, "boss_a": boss_a, "boss_b": boss_b,
            "switched": switched, "rows_a": rows_a, "rows_b": rows_b,
            "alice": as_user(ta, alice), "bob": as_user(ta, bob), "loner": as_user(ta, loner),
            "bea": as_user(tb, bea), "ids": {"alice": alice["id"], "bob": bob["id"], "carol": carol["id"]},
            "carol_user": carol}


def newest_first(rows):
    return sorted(rows, key=lambda r: (r["start_time"], r["id"]), reverse=True)


def ids(items):
    return [x["cdr_id"] for x in items]


def want_ids(rows):
    return [str(r["id"]) for r in newest_first(rows)]


def get_all(client, **params):
    params = dict(params, top=100)
    body = client.ok("GET", "/api/cdrs", params=params)
    assert body["count"] == len(body["items"]), body["count"]
    return body["items"]


def err(r, status, code, field=None):
    assert r.status_code == status, r.text
    assert r.body["error"]["code"] == code, r.text
    if field is not None:
        assert r.body["error"].get("field") == field, r.text


def test_admin_lists_the_tenant_newest_first(env):
    """CDR-01, CDR-06, CDR-07: the stored record in the call_cdr shape, newest first."""
    body = env["boss_a"].ok("GET", "/api/cdrs")
    assert body["count"] == 30 and len(body["items"]) == 20  # the default page
    assert ids(body["items"]) == want_ids(env["rows_a"])[:20]
    stored = {str(r["id"]): r for r in env["rows_a"]}
    for item in body["items"]:
        row = stored[item["cdr_id"]]
        assert set(item) == CDR_KEYS, set(item) ^ CDR_KEYS
        doc = dict(row["doc"])
        del doc["event_type"], doc["x_engine_private"]
        for k, v in doc.items():
            if k != "call_targets":
                assert item[k] == v, k
        for k in ("start_time", "answered_time", "ended_time", "status_code", "session_id", "tenant_id"):
            assert isinstance(item[k], str) and item[k].isdigit(), (k, item[k])
        (t,) = item["call_targets"]
        assert set(t) == TARGET_KEYS
        assert isinstance(t["status_code"], int)
    unanswered = [x for x in body["items"] if stored[x["cdr_id"]]["answered_time"] == 0]
    assert unanswered and all(x["answered_time"] == "0" and x["status_code"] == "487" for x in unanswered)
    # A system admin switched into the tenant sees what its admin sees.
    assert ids(get_all(env["switched"])) == want_ids(env["rows_a"])


def test_filters(env):
    boss, rows = env["boss_a"], env["rows_a"]

    def check(params, pred):
        assert ids(get_all(boss, **params)) == want_ids([r for r in rows if pred(r)]), params

    check({"start_time_from": T0 + 1000}, lambda r: r["start_time"] >= T0 + 1000)
    check({"start_time_to": T0 + 1000}, lambda r: r["start_time"] < T0 + 1000)  # the end left out
    check({"start_time_from": T0 + 500, "start_time_to": T0 + 1500},
          lambda r: T0 + 500 <= r["start_time"] < T0 + 1500)
    # ISO 8601 UTC says the same as Unix seconds (T0 + 1000 = 2026-11-18T11:23:20Z).
    check({"start_time_from": "2026-11-18T11:23:20Z"}, lambda r: r["start_time"] >= T0 + 1000)
    check({"start_time_from": "2026-11-18T11:23:20.999Z"}, lambda r: r["start_time"] >= T0 + 1000)
    check({"start_time_to": "2026-11-18"}, lambda r: False)
    check({"start_time_from": "2026-11-18", "start_time_to": "2026-11-19"}, lambda r: True)
    check({"caller": "102"}, lambda r: r["caller"] == "102")
    check({"callee": "5552000"}, lambda r: r["callee"] == "5552000")
    check({"caller": "10"}, lambda r: False)  # exact, not a prefix
    for d in DIRS:
        check({"direction": d}, lambda r, d=d: r["direction"] == d)
    check({"caller": "101", "direction": "out", "start_time_from": T0 + 300},
          lambda r: r["caller"] == "101" and r["direction"] == "out" and r["start_time"] >= T0 + 300)
    assert boss.ok("GET", "/api/cdrs", params={"caller": "nobody"}) == {"count": 0, "items": []}


def test_paging(env):
    boss, want = env["boss_a"], want_ids(env["rows_a"])
    seen = []
    for skip in range(0, 40, 7):
        body = boss.ok("GET", "/api/cdrs", params={"skip": skip, "top": 7})
        assert body["count"] == 30
        assert len(body["items"]) == min(7, max(0, 30 - skip))
        seen += ids(body["items"])
    assert seen == want
    body = boss.ok("GET", "/api/cdrs", params={"direction": "ext", "top": 3, "skip": 3})
    assert body["count"] == 8 and ids(body["items"]) == want_ids(
        [r for r in env["rows_a"] if r["direction"] == "ext"])[3:6]
    assert boss.ok("GET", "/api/cdrs", params={"skip": 1000})["items"] == []


def test_tenant_isolation(env):
    """TEN-04: tenant B's admin and users never see A's CDRs, whatever they ask."""
    a_ids = set(want_ids(env["rows_a"]))
    b = get_all(env["boss_b"])
    assert ids(b) == want_ids(env["rows_b"])
    assert all(x["tenant_id"] == env["tb"]["id"] for x in b)
    for params in ({}, {"caller": "101"}, {"callee": "102"}, {"start_time_from": T0, "start_time_to": T0 + 5000},
                   {"direction": "ext"}):
        for client in (env["boss_b"], env["bea"]):
            got = set(ids(get_all(client, **params)))
            assert not got & a_ids, params
    assert not set(ids(get_all(env["boss_a"]))) & set(want_ids(env["rows_b"]))
    # A system admin acts in a tenant only when switched into it.
    err(env["admin"].get("/api/cdrs"), 403, "forbidden")
    err(env["admin"].get("/api/call_sessions"), 403, "forbidden")


def test_user_sees_only_their_call_log(env):
    """CDR-26: a user's list is the calls they made or that rang them."""
    for name in ("alice", "bob"):
        uid = env["ids"][name]
        mine = [r for r in env["rows_a"] if uid in r["users"]]
        assert mine and len(mine) < 30
        assert ids(get_all(env[name])) == want_ids(mine)
        # the filters apply within the call log
        assert ids(get_all(env[name], direction="in")) == want_ids([r for r in mine if r["direction"] == "in"])
        assert ids(get_all(env[name], start_time_from=T0 + 1500)) == want_ids(
            [r for r in mine if r["start_time"] >= T0 + 1500])
        body = env[name].ok("GET", "/api/cdrs", params={"top": 2})
        assert body["count"] == len(mine) and len(body["items"]) == 2
    assert env["loner"].ok("GET", "/api/cdrs") == {"count": 0, "items": []}
    assert ids(get_all(env["bea"])) == want_ids(env["rows_b"])


@pytest.mark.parametrize("params,field,code", [
    ({"top": 0}, "top", "invalid_field"),
    ({"top": 101}, "top", "invalid_field"),
    ({"top": "x"}, "top", "invalid_field"),
    ({"skip": -1}, "skip", "invalid_field"),
    ({"start_time_from": "yesterday"}, "start_time_from", "invalid_field"),
    ({"start_time_from": "0"}, "start_time_from", "invalid_field"),
    ({"start_time_from": "-5"}, "start_time_from", "invalid_field"),
    ({"start_time_to": "2026-02-30"}, "start_time_to", "invalid_field"),
    ({"start_time_to": "2026-11-23T25:00:00Z"}, "start_time_to", "invalid_field"),
    ({"start_time_to": "2026-11-23T10:00:00"}, "start_time_to", "invalid_field"),  # no zone: ambiguous
    ({"start_time_to": "2026-11-23 10:00:00Z"}, "start_time_to", "invalid_field"),
    ({"start_time_from": "99999999999999"}, "start_time_from", "invalid_field"),
    ({"direction": "inbound"}, "direction", "invalid_field"),
    ({"direction": ""}, "direction", "invalid_field"),
    ({"caller": "1" * 200}, "caller", "invalid_field"),
    ({"filter": "caller eq '101'"}, "filter", "unknown_field"),
    ({"orderby": "start_time asc"}, "orderby", "unknown_field"),
    ({"from": "1"}, "from", "unknown_field"),
])
def test_bad_parameters(env, params, field, code):
    for client in (env["boss_a"], env["alice"]):
        err(client.get("/api/cdrs", params=params), 400, code, field)


def test_call_sessions_none_active(env):
    for client in (env["boss_a"], env["alice"], env["switched"], env["boss_b"]):
        assert client.ok("GET", "/api/call_sessions") == {"count": 0, "items": []}
    for client in (env["boss_a"], env["switched"]):
        err(client.post("/api/call_sessions/123456789/destroy"), 404, "not_found")
        err(client.post("/api/call_sessions/not-an-id/destroy"), 404, "not_found")
    # Hanging calls up is for tenant admins.
    err(env["alice"].post("/api/call_sessions/123456789/destroy"), 403, "forbidden")
    err(env["admin"].post("/api/call_sessions/123456789/destroy"), 403, "forbidden")
    err(env["boss_a"].get("/api/call_sessions/123456789/destroy"), 405, "method_not_allowed")
    r = env["boss_a"].get("/api/call_sessions", token=None)
    err(r, 401, "unauthorized")


def test_answers_match_the_openapi_document(env):
    doc = env["boss_a"].ok("GET", "/api/openapi.json")
    for client, path in ((env["boss_a"], "/api/cdrs"), (env["alice"], "/api/cdrs"),
                         (env["boss_a"], "/api/call_sessions")):
        body = client.ok("GET", path, params={"top": 100} if path == "/api/cdrs" else None)
        check_response(doc, "GET", path, 200, body)
    r = env["boss_a"].post("/api/call_sessions/1/destroy")
    check_response(doc, "POST", "/api/call_sessions/{id}/destroy", r.status_code, r.body)
    params = {p["name"] for p in doc["paths"]["/api/cdrs"]["get"]["parameters"]}
    assert params == {"start_time_from", "start_time_to", "caller", "callee", "direction", "skip", "top"}
    assert "get" in doc["paths"]["/api/call_sessions"]
    assert "post" in doc["paths"]["/api/call_sessions/{id}/destroy"]
    schemas = doc["components"]["schemas"]
    assert set(schemas["Cdr"]["properties"]) == CDR_KEYS
    assert set(schemas["CdrTarget"]["properties"]) == TARGET_KEYS


def test_deleted_user_and_tenant(env):
    """A deleted user's call log goes with the user, the CDRs stay the tenant's;
    a deleted tenant's CDRs go with it."""
    pbxd, carol = env["pbxd"], env["carol_user"]
    assert db_count(pbxd, "SELECT count(*) FROM cdr_users WHERE user_id = ?", int(carol["id"])) > 0
    env["boss_a"].ok("POST", f"/api/users/{carol['id']}/destroy", status=204)
    assert db_count(pbxd, "SELECT count(*) FROM cdr_users WHERE user_id = ?", int(carol["id"])) == 0
    assert env["boss_a"].ok("GET", "/api/cdrs")["count"] == 30

    tb = env["tb"]["id"]
    assert db_count(pbxd, "SELECT count(*) FROM cdrs WHERE tenant_id = ?", int(tb)) == 5
    env["admin"].ok("POST", f"/api/tenants/{tb}/destroy", status=204)
    assert db_count(pbxd, "SELECT count(*) FROM cdrs WHERE tenant_id = ?", int(tb)) == 0
    assert db_count(pbxd, "SELECT count(*) FROM cdr_users WHERE tenant_id = ?", int(tb)) == 0
    assert env["boss_a"].ok("GET", "/api/cdrs")["count"] == 30
