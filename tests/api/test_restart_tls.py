"""Restart of pbxd with nothing lost, first start on an empty data dir, and HTTPS
with the self-signed certificate made at first start. FEATURES: SEC-04, TEN-01, USR-06."""
import os
import re
import subprocess

import requests

from conftest import ADMIN_PASSWORD, Client, new_tenant, new_user, pbxd_bin


def test_restart_nothing_lost(make_pbxd):
    p = make_pbxd()
    admin = p.admin()
    t, boss = new_tenant(admin)
    u = new_user(boss, password="User-pass-1", display_name="Kept")
    boss.ok("POST", f"/api/users/{u['id']}/extension", {"dnd": True, "voicemail": {"pin": "2468"}})
    before = {"tenants": admin.ok("GET", "/api/tenants", params={"top": 100}),
              "users": boss.ok("GET", "/api/users", params={"top": 100}),
              "ext": boss.ok("GET", f"/api/users/{u['id']}/extension"),
              "user": boss.ok("GET", f"/api/users/{u['id']}")}
    p.restart()
    # sessions survive (only token hashes are stored)
    assert admin.ok("GET", "/api/tenants", params={"top": 100}) == before["tenants"]
    assert boss.ok("GET", "/api/users", params={"top": 100}) == before["users"]
    assert boss.ok("GET", f"/api/users/{u['id']}/extension") == before["ext"]
    assert boss.ok("GET", f"/api/users/{u['id']}") == before["user"]
    p.client().as_user(u["username"], "User-pass-1", t["domain"])
    p.client().as_user("admin", ADMIN_PASSWORD)
    # no second default tenant or admin on the second start
    assert admin.ok("GET", "/api/tenants", params={"filter": "name eq 'Default'"})["count"] == 1
    # the database stores hashes, not the login passwords or tokens
    db = open(os.path.join(p.dir, "pbxd.db"), "rb").read()
    assert b"User-pass-1" not in db and ADMIN_PASSWORD.encode() not in db
    assert admin.token.encode() not in db and b"$argon2id$" in db


def test_first_start_random_password(tmp_path):
    """Without --admin-password a random one is printed once; the default tenant exists."""
    from conftest import free_port
    import socket
    import time
    port = free_port()
    args = [pbxd_bin(), f"--data-dir={tmp_path}", "--http-address=127.0.0.1", f"--http-port={port}",
            "--http-tls=off", f"--sip-udp-port={free_port(socket.SOCK_DGRAM)}", f"--sip-tcp-port={free_port()}", "--sip-tls-port=0", "--sip-wss-port=0",
            "--sip-address=127.0.0.1", "--default-domain=first.test"]
    log = tmp_path / "out.log"
    for run in range(2):
        with open(log, "wb") as f:
            proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 20
            while True:
                try:
                    requests.get(f"http://127.0.0.1:{port}/api/info", timeout=1)
                    break
                except requests.RequestException:
                    assert time.time() < deadline and proc.poll() is None
                    time.sleep(0.05)
            out = log.read_text()
            m = re.search(r"system admin\s+username admin\s+password (\S+)", out)
            if run == 0:
                assert m, out
                pw = m.group(1)
                tm = re.search(r"tenant admin\s+username pbxadmin\s+password (\S+)\s+domain first.test", out)
                assert tm, out
                c = Client(f"http://127.0.0.1:{port}")
                c.as_user("admin", pw)
                c.as_user("pbxadmin", tm.group(1), "first.test")
                assert "/api/auth/sign_in" in out
            else:
                assert not m and "password" not in out.split("running")[0].lower().replace(
                    "\"password\": ...", ""), out
                Client(f"http://127.0.0.1:{port}").as_user("admin", pw)
        finally:
            proc.terminate()
            assert proc.wait(timeout=20) == 0


def test_https_self_signed(make_pbxd):
    p = make_pbxd(tls=True)
    cert = os.path.join(p.dir, "tls", "cert.pem")
    key = os.path.join(p.dir, "tls", "key.pem")
    assert os.path.exists(cert) and oct(os.stat(key).st_mode & 0o777) == "0o600"
    c = p.client()
    assert c.base.startswith("https://")
    assert c.ok("GET", "/api/info")["product"] == "pbxd"
    admin = c.as_user("admin", ADMIN_PASSWORD)
    assert admin.ok("GET", "/api/me")["role"] == "system_admin"
    # verified against the generated certificate itself (its SAN has 127.0.0.1)
    r = requests.get(p.base + "/api/info", verify=cert, timeout=10)
    assert r.status_code == 200
    # plain HTTP to the TLS port gets nothing useful, and pbxd lives on
    try:
        requests.get(f"http://127.0.0.1:{p.port}/api/info", timeout=3)
    except requests.RequestException:
        pass
    pem = open(cert).read()
    p.restart()  # the certificate is reused, not regenerated
    assert open(cert).read() == pem
    assert requests.get(p.base + "/api/info", verify=cert, timeout=10).status_code == 200


def test_https_configured_cert(make_pbxd, tmp_path):
    crt, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    p = make_pbxd([f"--http-tls-cert={crt}", f"--http-tls-key={key}"], tls=True)
    assert requests.get(p.base + "/api/info", verify=str(crt), timeout=10).status_code == 200
    assert not os.path.exists(os.path.join(p.dir, "tls", "cert.pem"))
