"""The TLS certificate (FEATURES SIP-07, SEC-04): GET /api/system/certificate says
which one HTTPS (and SIP over TLS and WSS) presents; POST /api/system/certificate
installs another (chain and key, checked: PEM, matching, not expired) and the
next HTTPS and SIP TLS handshakes present it while a connection opened before
goes on; replacing DATA_DIR/tls/'s files and sending SIGHUP does the same; a bad
pair is refused with the field it concerns, and when the files are the
administrator's own (--http-tls-cert) the upload is refused (409) for SIGHUP."""
import hashlib
import os
import signal
import socket
import ssl
import subprocess
import time

import requests

from conftest import ADMIN_PASSWORD, Client, free_port


def make_pair(tmp_path, cn, days=2, name="c"):
    crt, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", str(days), "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=DNS:{cn},IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return crt.read_text(), key.read_text()


def served_cert(port, tls=True):
    """The DER certificate a new TLS handshake on 127.0.0.1:port presents."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)


def fp(der):
    h = hashlib.sha256(der).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def pem_der(pem):
    return ssl.PEM_cert_to_DER_cert(pem)


def test_upload_replaces_https_and_sip_tls(make_pbxd, tmp_path):
    sip_tls = free_port()
    p = make_pbxd([f"--sip-tls-port={sip_tls}"], tls=True)
    admin = p.client().as_user("admin", ADMIN_PASSWORD)
    cur = admin.ok("GET", "/api/system/certificate")
    first = served_cert(p.port)
    assert cur["fingerprint_sha256"] == fp(first) and cur["self_signed"] is True and cur["source"] == "data_dir", cur
    assert served_cert(sip_tls) == first  # SIP over TLS uses the HTTPS pair by default

    # a connection opened before the change goes on with it
    kept = requests.Session()
    kept.verify = False
    assert kept.get(p.base + "/api/info", timeout=5, verify=False).status_code == 200

    crt, key = make_pair(tmp_path, "new.example")
    got = admin.ok("POST", "/api/system/certificate", {"certificate": crt, "private_key": key})
    assert "new.example" in got["subject"] and got["dns_names"] == ["new.example"], got
    assert got["fingerprint_sha256"] == fp(pem_der(crt))
    assert served_cert(p.port) == pem_der(crt)
    assert served_cert(sip_tls) == pem_der(crt)
    assert kept.get(p.base + "/api/info", timeout=5, verify=False).status_code == 200
    assert admin.ok("GET", "/api/system/certificate")["fingerprint_sha256"] == fp(pem_der(crt))
    assert oct(os.stat(os.path.join(p.dir, "tls", "key.pem")).st_mode & 0o777) == "0o600"
    # and it is what pbxd starts with next time
    p.restart()
    assert served_cert(p.port) == pem_der(crt)


def test_bad_uploads_refused(make_pbxd, tmp_path):
    p = make_pbxd(tls=True)
    admin = p.client().as_user("admin", ADMIN_PASSWORD)
    before = served_cert(p.port)
    crt, key = make_pair(tmp_path, "a.example", name="a")
    crt2, key2 = make_pair(tmp_path, "b.example", name="b")
    cases = [
        ({"certificate": "not a certificate", "private_key": key}, 422, "certificate"),
        ({"certificate": crt, "private_key": "not a key"}, 422, "private_key"),
        ({"certificate": crt, "private_key": key2}, 422, "private_key"),
        ({"certificate": crt}, 422, "private_key"),
    ]
    for body, status, field in cases:
        r = admin.request("POST", "/api/system/certificate", body)
        assert r.status_code == status, (body.keys(), r.status_code, r.text)
        assert r.body["error"]["field"] == field, r.body
    assert served_cert(p.port) == before
    # only the system admin
    from conftest import new_tenant
    t, boss = new_tenant(admin)
    r = boss.request("POST", "/api/system/certificate", {"certificate": crt, "private_key": key})
    assert r.status_code == 403, r.text
    assert served_cert(p.port) == before


def test_sighup_reloads_replaced_files(make_pbxd, tmp_path):
    sip_tls = free_port()
    p = make_pbxd([f"--sip-tls-port={sip_tls}"], tls=True)
    crt, key = make_pair(tmp_path, "hup.example")
    tls_dir = os.path.join(p.dir, "tls")
    for name, text in (("key.pem", key), ("cert.pem", crt)):
        with open(os.path.join(tls_dir, name + ".tmp"), "w") as f:
            f.write(text)
        os.replace(os.path.join(tls_dir, name + ".tmp"), os.path.join(tls_dir, name))
    p.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while served_cert(p.port) != pem_der(crt) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served_cert(p.port) == pem_der(crt)
    assert served_cert(sip_tls) == pem_der(crt)
    # a broken file then: refused, the pair in use stays
    with open(os.path.join(tls_dir, "cert.pem"), "w") as f:
        f.write("garbage\n")
    p.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert served_cert(p.port) == pem_der(crt)
    assert Client(p.base).ok("GET", "/api/info")["product"] == "pbxd"


def test_configured_files_are_not_overwritten(make_pbxd, tmp_path):
    crt, key = make_pair(tmp_path, "mine.example", name="mine")
    p = make_pbxd([f"--http-tls-cert={tmp_path / 'mine.crt'}", f"--http-tls-key={tmp_path / 'mine.key'}"], tls=True)
    admin = p.client().as_user("admin", ADMIN_PASSWORD)
    assert admin.ok("GET", "/api/system/certificate")["source"] == "files"
    other, okey = make_pair(tmp_path, "other.example", name="other")
    r = admin.request("POST", "/api/system/certificate", {"certificate": other, "private_key": okey})
    assert r.status_code == 409 and "SIGHUP" in r.body["error"]["message"], r.text
    assert (tmp_path / "mine.crt").read_text() == crt


def test_no_https_no_certificate(make_pbxd):
    p = make_pbxd()
    admin = p.client().as_user("admin", ADMIN_PASSWORD)
    assert admin.request("GET", "/api/system/certificate").status_code == 404
