"""Fixtures of the REST API tests: a real pbxd started on 127.0.0.1 inside a
private network namespace (tools/netns-run), and a small JSON client.

Run:  tools/netns-run /usr/bin/python3 -m pytest tests/api
Env:  PBXD_BIN (default build/pbxd)
"""
import json
import os
import signal
import socket
import sys
import subprocess
import tempfile
import time

import pytest

import requests
import urllib3

# tests/sipdigest.py (the digest client every suite shares) is imported from tests/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADMIN_PASSWORD = "Admin-pass-1"


def _in_private_netns():
    # A namespace made by tools/netns-run has the loopback interface and nothing else.
    # (/sys/class/net is not remounted by unshare; the interface list is per netns.)
    try:
        return [name for _, name in socket.if_nameindex()] == ["lo"]
    except OSError:
        return False


def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")
    if not _in_private_netns():
        pytest.exit("tests/api must run in a private network namespace: "
                    "tools/netns-run /usr/bin/python3 -m pytest tests/api", returncode=4)


def pbxd_bin():
    b = os.environ.get("PBXD_BIN", os.path.join(ROOT, "build", "pbxd"))
    if not os.path.isabs(b):
        b = os.path.join(ROOT, b)
    if not os.path.exists(b) and os.path.exists(os.path.join(ROOT, "build", "src", "pbxd")):
        b = os.path.join(ROOT, "build", "src", "pbxd")
    return b


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ApiError(AssertionError):
    pass


class Client:
    """JSON over HTTP with an optional bearer token. Every answer is checked to be
    JSON (or empty for 204) and, when an error, to have the one error shape."""

    def __init__(self, base, token=None, verify=False):
        self.base = base
        self.token = token
        self.verify = verify
        self.s = requests.Session()

    def request(self, method, path, body=None, raw=None, token="self", params=None, headers=None):
        h = dict(headers or {})
        tok = self.token if token == "self" else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = raw
        if body is not None:
            data = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        r = self.s.request(method, self.base + path, data=data, headers=h, params=params,
                           timeout=20, verify=self.verify)
        r.body = None
        if r.content:
            assert r.headers.get("Content-Type", "").startswith("application/json"), r.text
            r.body = r.json()
        if r.status_code >= 400:
            err = (r.body or {}).get("error")
            assert isinstance(err, dict), r.text
            assert err["status"] == r.status_code, r.text
            assert isinstance(err["code"], str) and isinstance(err["message"], str), r.text
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def ok(self, method, path, body=None, status=None, **kw):
        r = self.request(method, path, body=body, **kw)
        if r.status_code >= 300 or (status and r.status_code != status):
            raise ApiError(f"{method} {path} -> {r.status_code} {r.text}")
        return r.body

    def sign_in(self, username, password, domain=None):
        body = {"username": username, "password": password}
        if domain is not None:
            body["domain"] = domain
        r = self.post("/api/auth/sign_in", body, token=None)
        if r.status_code != 200:
            raise ApiError(f"sign in {username}@{domain}: {r.status_code} {r.text}")
        return r.body

    def as_user(self, username, password, domain=None):
        t = self.sign_in(username, password, domain)
        c = Client(self.base, t["token"], self.verify)
        c.refresh_token = t["refresh_token"]
        return c


class Pbxd:
    """One pbxd process with its own data dir; restartable on the same dir."""

    def __init__(self, tmpdir, extra=(), tls=False):
        self.dir = tmpdir
        self.extra = list(extra)
        self.tls = tls
        self.port = free_port()
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.proc = None
        self.log = None

    @property
    def base(self):
        return ("https" if self.tls else "http") + f"://127.0.0.1:{self.port}"

    def start(self):
        args = [pbxd_bin(), f"--data-dir={self.dir}", "--http-address=127.0.0.1",
                f"--http-port={self.port}", f"--sip-udp-port={self.sip_port}",
                f"--sip-tcp-port={free_port()}", "--sip-tls-port=0", "--sip-wss-port=0", "--sip-address=127.0.0.1",
                f"--admin-password={ADMIN_PASSWORD}", "--http-tls=" + ("on" if self.tls else "off")]
        args += self.extra
        self.log = open(os.path.join(self.dir, "pbxd.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pbxd exited {self.proc.returncode}:\n{self.output()}")
            try:
                requests.get(self.base + "/api/info", timeout=1, verify=False)
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("pbxd did not answer on " + self.base)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if not self.proc:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        out = self.output()
        assert "AddressSanitizer" not in out and "runtime error:" not in out, out[-4000:]
        assert rc == 0, f"pbxd exited {rc}:\n{out[-4000:]}"
        return rc

    def restart(self):
        self.stop()
        return self.start()

    def output(self):
        try:
            with open(os.path.join(self.dir, "pbxd.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def client(self, token=None):
        return Client(self.base, token)

    def admin(self):
        return self.client().as_user("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def pbxd():
    """A pbxd shared by a test module (state accumulates; tests use unique names)."""
    with tempfile.TemporaryDirectory(prefix="pbxd-api-") as d:
        # Many tests fail sign-ins on purpose; the limit has its own test.
        p = Pbxd(d, ["--login-max-failures=100000"]).start()
        yield p
        p.stop()


@pytest.fixture
def make_pbxd():
    """Starts pbxd processes with extra options; all stopped at the test's end."""
    started = []
    dirs = []

    def make(extra=(), tls=False):
        d = tempfile.TemporaryDirectory(prefix="pbxd-api-")
        dirs.append(d)
        p = Pbxd(d.name, extra, tls).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()
    for d in dirs:
        d.cleanup()


_seq = [0]


def uniq(prefix):
    _seq[0] += 1
    return f"{prefix}{os.getpid() % 1000}x{_seq[0]}"


def new_tenant(admin, name=None, password="Boss-pass-1"):
    """Creates a tenant with admin `boss`; returns (tenant json, admin client)."""
    name = name or uniq("t")
    t = admin.ok("POST", "/api/tenants", {"name": name.upper(), "domain": f"{name}.test",
                                          "admin": {"username": "boss", "password": password,
                                                    "email": f"boss@{name}.test"}}, status=201)
    boss = admin.as_user("boss", password, t["domain"])
    return t, boss


def new_user(boss, username=None, ext=None, role="user", password="User-pass-1", **extra):
    _seq[0] += 1
    username = username or uniq("u")
    ext = ext or str(2000 + _seq[0])
    body = {"username": username, "password": password, "email": f"{username}@example.com",
            "extension_number": ext, "extension_password": "sip-Secret-9", "role": role}
    body.update(extra)
    return boss.ok("POST", "/api/users", body, status=201)
