"""A tenant's webhooks through the REST API (/api/tenant/webhooks) and the event
stream's handshake (/api/events), without calls (tests/wire/test_webhooks.py
makes calls and receives their events). Every answer is checked against the
served OpenAPI document.

Method: a module's pbxd over plain HTTP, one over HTTPS for the stream's TLS
path; tenants and users made fresh per test; the WebSocket handshake written by
hand on a socket. FEATURES: CDR-03 (set-up, tenant admin only), CDR-04 (the
authentication methods and their credentials), CDR-24 (stream refused to users),
TEN-08."""
import base64
import os
import socket
import ssl
import struct

import pytest

from conftest import new_tenant, new_user
from test_routes import check_request, check_response


def hook(url="http://127.0.0.1:9/hook", events=("call_start", "call_cdr"), **kw):
    return {"name": "crm", "url": url, "events": list(events), **kw}


@pytest.fixture
def env(pbxd):
    admin = pbxd.admin()
    t, boss = new_tenant(admin)
    doc = boss.ok("GET", "/api/openapi.json")
    return {"admin": admin, "t": t, "boss": boss, "doc": doc}


def checked(env, method, template, path=None, body=None, status=200):
    check_request(env["doc"], method, template, body)
    r = env["boss"].ok(method, path or template, body, status=status)
    check_response(env["doc"], method, template, status, r)
    return r


def test_create_read_update_delete(env):
    """CDR-03: create answers 201 with the webhook (enabled by default, secrets
    left out, pending 0); it is listed and read; an update changes the fields
    given, an auth given replaces the old one whole; destroy answers 204 and the
    id is gone (404)."""
    w = checked(env, "POST", "/api/tenant/webhooks", body=hook(auth={"method": "basic", "username": "u",
                                                                     "password": "Secret pw 1"}), status=201)
    assert w["enabled"] is True and w["pending"] == 0 and w["events"] == ["call_start", "call_cdr"]
    assert w["auth"] == {"method": "basic", "username": "u"}, w
    wid = w["id"]
    lst = checked(env, "GET", "/api/tenant/webhooks")
    assert lst["count"] == 1 and lst["items"][0]["id"] == wid
    assert checked(env, "GET", "/api/tenant/webhooks/{id}", f"/api/tenant/webhooks/{wid}") == w
    u = checked(env, "POST", "/api/tenant/webhooks/{id}", f"/api/tenant/webhooks/{wid}",
                {"enabled": False, "events": ["call_cdr"]})
    assert (u["enabled"], u["events"], u["auth"], u["url"]) == (False, ["call_cdr"], w["auth"], w["url"]), u
    u = checked(env, "POST", "/api/tenant/webhooks/{id}", f"/api/tenant/webhooks/{wid}",
                {"auth": {"method": "hmac", "secret": "0123456789abcdef0123"}, "name": "signed"})
    assert u["auth"] == {"method": "hmac"} and u["name"] == "signed", u
    u = checked(env, "POST", "/api/tenant/webhooks/{id}", f"/api/tenant/webhooks/{wid}",
                {"auth": {"method": "bearer", "token": "abc.DEF-123_~+/=="}})
    assert u["auth"] == {"method": "bearer"}, u
    for doc in (u, env["boss"].ok("GET", "/api/tenant/webhooks")):
        assert "password" not in str(doc) and "abc.DEF" not in str(doc) and "0123456789abcdef" not in str(doc)
    env["boss"].ok("POST", f"/api/tenant/webhooks/{wid}/destroy", status=204)
    assert env["boss"].request("GET", f"/api/tenant/webhooks/{wid}").status_code == 404
    assert env["boss"].request("POST", f"/api/tenant/webhooks/{wid}/destroy").status_code == 404


@pytest.mark.parametrize("body,status,field", [
    (hook(url="ftp://example.com/x"), 422, "url"),
    (hook(url="http://"), 422, "url"),
    (hook(url="http:///path"), 422, "url"),
    (hook(url="https://user:pw@example.com/x"), 422, "url"),
    (hook(url="https://example.com/a b"), 422, "url"),
    (hook(url="https://exämple.com/"), 422, "url"),
    (hook(events=[]), 422, "events"),
    (hook(events=["call_cdr", "call_cdr"]), 422, "events"),
    (hook(events=["registered"]), 422, "events[0]"),
    (hook(events="call_cdr"), 422, "events"),
    ({"url": "https://example.com/x"}, 422, "events"),
    ({"events": ["call_cdr"]}, 422, "url"),
    (hook(auth={}), 422, "auth.method"),
    (hook(auth={"method": "digest"}), 422, "auth.method"),
    (hook(auth={"method": "basic", "username": "u"}), 422, "auth.password"),
    (hook(auth={"method": "basic", "username": "u:v", "password": "p"}), 422, "auth.username"),
    (hook(auth={"method": "bearer"}), 422, "auth.token"),
    (hook(auth={"method": "bearer", "token": "has space"}), 422, "auth.token"),
    (hook(auth={"method": "hmac", "secret": "short"}), 422, "auth.secret"),
    (hook(auth={"method": "none", "token": "x"}), 422, "auth.token"),
    (hook(auth={"method": "bearer", "token": "t", "secret": "0123456789abcdef"}), 422, "auth.secret"),
    (hook(color="red"), 400, "color"),
    (hook(name="a\nb"), 422, "name"),
])
def test_create_refusals(env, body, status, field):
    """Each bad body is refused with the field at fault, and nothing is created."""
    r = env["boss"].request("POST", "/api/tenant/webhooks", body)
    assert r.status_code == status and r.body["error"]["field"] == field, r.text
    assert env["boss"].ok("GET", "/api/tenant/webhooks")["count"] == 0


def test_update_refusals(env):
    """An update's auth must be whole: its method, and that method's credentials."""
    wid = env["boss"].ok("POST", "/api/tenant/webhooks", hook(), status=201)["id"]
    for body, field in (({"auth": {"username": "u"}}, "auth.method"),
                        ({"auth": {"method": "basic", "password": "p"}}, "auth.username"),
                        ({"url": "gopher://x"}, "url"), ({"events": []}, "events")):
        r = env["boss"].request("POST", f"/api/tenant/webhooks/{wid}", body)
        assert r.status_code == 422 and r.body["error"]["field"] == field, r.text
    assert env["boss"].ok("GET", f"/api/tenant/webhooks/{wid}")["auth"] == {"method": "none"}


def test_ten_per_tenant(env):
    """At most 10 webhooks per tenant: the 11th is 409 limit_reached; another
    tenant has its own 10."""
    for i in range(10):
        env["boss"].ok("POST", "/api/tenant/webhooks", hook(url=f"https://example.com/{i}"), status=201)
    r = env["boss"].request("POST", "/api/tenant/webhooks", hook())
    assert r.status_code == 409 and r.body["error"]["code"] == "limit_reached", r.text
    _, other = new_tenant(env["admin"])
    other.ok("POST", "/api/tenant/webhooks", hook(), status=201)


def test_tenant_admins_only(pbxd, env):
    """TEN-08: a user of the tenant gets 403 on every webhook route and on the
    event stream; a system admin 403 until switched into the tenant (then it
    manages them); another tenant's admin gets 404 for this tenant's webhook."""
    wid = env["boss"].ok("POST", "/api/tenant/webhooks", hook(), status=201)["id"]
    new_user(env["boss"], username="plain", password="User-pass-1")
    user = pbxd.client().as_user("plain", "User-pass-1", env["t"]["domain"])
    for method, path, body in (("GET", "/api/tenant/webhooks", None), ("POST", "/api/tenant/webhooks", hook()),
                               ("GET", f"/api/tenant/webhooks/{wid}", None),
                               ("POST", f"/api/tenant/webhooks/{wid}", {"enabled": False}),
                               ("POST", f"/api/tenant/webhooks/{wid}/destroy", None)):
        for who in (user, env["admin"]):
            r = who.request(method, path, body)
            assert r.status_code == 403 and r.body["error"]["code"] == "forbidden", (method, path, r.text)
    assert handshake(pbxd, user.token)[0] == 403
    switched = pbxd.client(env["admin"].ok("POST", f"/api/tenants/{env['t']['id']}/switch")["token"])
    assert switched.ok("GET", "/api/tenant/webhooks")["count"] == 1
    _, other = new_tenant(env["admin"])
    for method, path in (("GET", f"/api/tenant/webhooks/{wid}"), ("POST", f"/api/tenant/webhooks/{wid}/destroy")):
        assert other.request(method, path).status_code == 404
    assert env["boss"].ok("GET", f"/api/tenant/webhooks/{wid}")["id"] == wid


def handshake(pbxd, token=None, tls=False, extra=(), path="/api/events", query=True):
    """A WebSocket handshake; (status, head, socket)."""
    s = socket.create_connection(("127.0.0.1", pbxd.port), timeout=5)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    target = f"{path}?token={token}" if token and query else path
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: keep-alive, Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *extra]
    if token and not query:
        lines.append(f"Authorization: Bearer {token}")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split()[1]), head.decode(errors="replace"), s


def test_stream_handshake_refusals(pbxd, env):
    """The stream refuses what is not a valid handshake: no token 401, a bad key
    400, another version 426 (naming 13), an unknown query option 400, a plain
    GET 426."""
    tok = env["boss"].token
    assert handshake(pbxd)[0] == 401
    s = socket.create_connection(("127.0.0.1", pbxd.port), timeout=5)
    s.sendall((f"GET /api/events?token={tok} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert s.recv(4096).split()[1] == b"400"
    s.close()
    s = socket.create_connection(("127.0.0.1", pbxd.port), timeout=5)
    s.sendall((f"GET /api/events?token={tok} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n").encode())
    head = s.recv(4096)
    assert head.split()[1] == b"426" and b"Sec-WebSocket-Version: 13" in head, head
    s.close()
    r = env["boss"].request("GET", "/api/events", params={"token": tok, "x": "1"})
    assert r.status_code == 400 and r.body["error"]["field"] == "x"
    r = env["boss"].request("GET", "/api/events")
    assert r.status_code == 426 and r.body["error"]["code"] == "upgrade_required"


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        assert chunk, b
        b += chunk
    return b


def test_stream_over_https(make_pbxd):
    """The stream works over HTTPS as over HTTP (MHD relays the upgraded TLS
    connection): 101, then a ping is answered with a pong; a close is echoed."""
    p = make_pbxd(tls=True)
    boss = p.client().as_user("pbxadmin", "Admin-pass-1", "pbx.local")
    st, head, s = handshake(p, boss.token, tls=True, query=False)
    assert st == 101, head
    mask = b"\x01\x02\x03\x04"
    s.sendall(bytes([0x89, 0x84]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(b"ping")))
    assert recv_exact(s, 6) == b"\x8a\x04ping"
    s.sendall(bytes([0x88, 0x82]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(struct.pack(">H", 1000))))
    assert recv_exact(s, 4) == b"\x88\x02" + struct.pack(">H", 1000)
    s.close()


def test_stream_ends_with_its_session(make_pbxd):
    """A stream lives no longer than its session: signed out, the next check (at
    the next ping: --events-ping-interval, 1 s here, 30 by default) closes it with
    1008. Waits up to 5 s."""
    p = make_pbxd(["--events-ping-interval=1"])
    t, boss = new_tenant(p.admin())
    st, head, s = handshake(p, boss.token)
    assert st == 101, head
    boss.ok("POST", "/api/auth/sign_out", status=204)
    s.settimeout(5)
    got = b""
    while len(got) < 4 or got[0] != 0x88:
        chunk = s.recv(4096)
        assert chunk, got
        got += chunk
        while len(got) >= 2 and got[0] == 0x89:  # pings until the check ends it
            got = got[2 + (got[1] & 0x7f):]
    assert got[0] == 0x88 and got[2:4] == struct.pack(">H", 1008), got
    s.close()
