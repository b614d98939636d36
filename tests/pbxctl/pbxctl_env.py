"""Helpers for pbxctl's end-to-end tests: start a real pbxd on loopback and run
pbxctl against it. Kept out of conftest.py so test modules can import them by a
name no other test directory uses."""
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PBXD_BIN = os.environ.get("PBXD_BIN", os.path.join(ROOT, "build", "pbxd"))
# Without PBXCTL_BIN, the pbxctl of the same build as PBXD_BIN (its build dir's
# top, as `make build` links it, or where Meson puts it), so a test never pairs
# one build's pbxd with another's pbxctl.
_BUILD = os.path.dirname(PBXD_BIN)
PBXCTL_BIN = os.environ.get("PBXCTL_BIN") or next(
    (p for p in (os.path.join(_BUILD, "pbxctl"), os.path.join(_BUILD, "tools", "pbxctl", "pbxctl"))
     if os.access(p, os.X_OK)), os.path.join(_BUILD, "pbxctl"))
ADMIN_PASSWORD = "Adm1n-pass-word"

# Loopback needs no proxy; a proxy from the environment would only get in the way.
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def interfaces():
    # /proc/net follows the current process's namespace (unlike /sys/class/net,
    # which shows the namespace sysfs was mounted in).
    with open("/proc/net/dev") as f:
        return [line.split(":")[0].strip() for line in f.readlines()[2:]]


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_both():
    """A port free for both TCP and UDP (SIP listens on both)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


class Pbxd:
    def __init__(self, tmp_path, data_dir=None, admin_password=ADMIN_PASSWORD, tls=False, extra_args=()):
        """extra_args: more pbxd options, e.g. ("--auth-max-failures=3",)."""
        for b in (PBXD_BIN, PBXCTL_BIN):
            if not os.access(b, os.X_OK):
                pytest.fail("%s is missing: run `make build` (or set PBXD_BIN/PBXCTL_BIN)" % b)
        self.port = free_port()
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.data_dir = str(data_dir or tmp_path / "data")
        self.admin_password = admin_password
        self.log_path = tmp_path / "pbxd.log"
        self.sip_port = free_port_both()  # UDP, for tests that register devices
        args = [PBXD_BIN,
                "--http-tls=%s" % ("on" if tls else "off"), "--http-address=127.0.0.1", "--http-port=%d" % self.port,
                "--sip-address=127.0.0.1", "--sip-udp-port=%d" % self.sip_port,
                "--sip-tcp-port=%d" % free_port(), "--sip-tls-port=0", "--sip-wss-port=0",
                "--data-dir=%s" % self.data_dir] + list(extra_args)
        if admin_password is not None:
            args.append("--admin-password=%s" % admin_password)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail("pbxd exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                # pbxd's first-start certificate is self-signed: readiness only.
                ctx = ssl._create_unverified_context()
                with urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                 urllib.request.HTTPSHandler(context=ctx)).open(
                        self.url + "/api/info", timeout=2) as r:
                    json.load(r)
                    return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                time.sleep(0.1)
        self.stop()
        pytest.fail("pbxd did not answer GET /api/info within 15s:\n%s" % self.read_log())

    def read_log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PBXCTL_") and k not in _PROXY_VARS}
    env.update(extra)
    return env


class Ctl:
    """Runs pbxctl as a given account; `run` adds the connection flags."""

    def __init__(self, url, username=None, password=None, domain=None):
        self.url, self.username, self.password, self.domain = url, username, password, domain

    def as_(self, username, password, domain=None):
        return Ctl(self.url, username, password, domain)

    def flags(self):
        f = ["--url=" + self.url]
        if self.username is not None:
            f.append("--username=" + self.username)
        if self.password is not None:
            f.append("--password=" + self.password)
        if self.domain is not None:
            f.append("--domain=" + self.domain)
        return f

    def run(self, *args, env=None, flags=True, input=None):
        """input, when given, is pbxctl's standard input; otherwise it has none."""
        cmd = [PBXCTL_BIN] + (self.flags() if flags else []) + list(args)
        stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        return subprocess.run(cmd, env=env if env is not None else clean_env(),
                              capture_output=True, text=True, timeout=60, **stdin)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, "pbxctl %s: exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr)
        return r

    def json(self, *args, **kw):
        r = self.ok("--json", *args, **kw)
        return json.loads(r.stdout)


_seq = [0]


def unique(prefix):
    _seq[0] += 1
    return "%s%d%d" % (prefix, os.getpid() % 1000, _seq[0])
