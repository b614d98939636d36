"""The web portal's files at / of the REST server (src/api/static.c), served from
a folder made here with --web-dir, so these run without the portal's npm build
(tests/web drives the real one in a browser). Method: raw HTTP requests whose
paths are sent exactly as written, and a secret beside the folder, reachable
only by leaving it (.., encoded .., a symbolic link), that must never come back.
"""
import os
import socket

import pytest

SECRET = "pbxd-test-secret-outside-the-web-dir"


def raw(port, path, method="GET", headers=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    out = b""
    try:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode("latin1"))
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split(" ")[1]), hdrs, body


@pytest.fixture
def site(tmp_path, make_pbxd):
    top = tmp_path / "top"
    web = top / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>portal</title>")
    (web / "assets" / "main-ABCD2345.js").write_text("console.log(1)")
    (web / "assets" / "main-ABCD2345.css").write_text("body{}")
    (web / ".hidden").write_text(SECRET)
    (top / "secret.txt").write_text(SECRET)
    os.symlink(top / "secret.txt", web / "link.txt")
    os.symlink(top, web / "assets" / "up")
    return make_pbxd([f"--web-dir={web}"])


def test_index_and_assets_with_their_headers(site):
    st, h, body = raw(site.port, "/")
    assert st == 200 and b"portal" in body
    assert h["content-type"].startswith("text/html")
    assert h["cache-control"] == "no-cache"
    assert h["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in h["content-security-policy"]
    assert "unsafe-inline" not in h["content-security-policy"]
    st2, _, _ = raw(site.port, "/", headers=f"If-None-Match: {h['etag']}\r\n")
    assert st2 == 304
    for path, ctype in (("/assets/main-ABCD2345.js", "text/javascript"), ("/assets/main-ABCD2345.css", "text/css")):
        st, h, _ = raw(site.port, path)
        assert st == 200 and h["content-type"].startswith(ctype), path
        assert h["cache-control"] == "public, max-age=31536000, immutable"
    st, h, body = raw(site.port, "/assets/main-ABCD2345.js", method="HEAD")
    assert st == 200 and body == b"" and h["content-length"] == str(len("console.log(1)"))


def test_client_side_routes_get_index_html(site):
    for path in ("/tenants", "/call-manager/users", "/call-manager/users/", "/assets"):
        st, h, body = raw(site.port, path)
        assert st == 200 and b"portal" in body and h["cache-control"] == "no-cache", path
    st, h, body = raw(site.port, "/assets/gone-ZZZZ2345.js")
    assert st == 404 and body.startswith(b'{"error":{"status":404,"code":"not_found"')


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
    "/..%2fsecret.txt", "/assets/..%2f..%2fsecret.txt", "/.hidden", "/assets/.%2e/.hidden",
    "/link.txt", "/assets/up/secret.txt", "//secret.txt", "/assets//../../secret.txt",
    "/..\\secret.txt", "/assets/%2e%2e%5c%2e%2e%5csecret.txt", "/./index.html",
])
def test_nothing_outside_the_folder(site, path):
    st, _, body = raw(site.port, path)
    assert SECRET.encode() not in body, path
    assert st in (400, 404), (path, st)


def test_only_get_and_head(site):
    st, h, body = raw(site.port, "/", method="POST")
    assert st == 405 and h["allow"] == "GET, HEAD" and b'"method_not_allowed"' in body
    # the API's own paths are untouched
    st, h, body = raw(site.port, "/api/nope")
    assert st == 404 and b"no route" in body


def test_a_missing_web_dir_refuses_to_start(tmp_path, make_pbxd):
    with pytest.raises(RuntimeError):
        make_pbxd([f"--web-dir={tmp_path / 'nowhere'}"])
