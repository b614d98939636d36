"""The first admins' password off the command line (issue 17, item 8): every local
user reads a process's arguments in /proc/PID/cmdline. --admin-password-file=PATH
and --admin-password=- (standard input) keep it out; --admin-password=PW given all
the same is overwritten in the process's arguments at start, with a warning. Each
way, signing in to the REST API with the password works."""

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import Pbxd, pbxd_bin

DEFAULT_PW = "--admin-password=Wire-test-1"  # what Pbxd passes; each test replaces it


def _pbxd(tmp_path, name, args):
    p = Pbxd(tmp_path / name)
    p.argv = [a for a in p.argv if a != DEFAULT_PW] + list(args)
    return p


def _http_port(p):
    return int(next(a for a in p.argv if a.startswith("--http-port=")).split("=", 1)[1])


def _sign_in(p, password, timeout=10.0):
    """The HTTP status of signing in as admin (the API comes up just after SIP)."""
    body = json.dumps({"username": "admin", "password": password}).encode()
    url = f"http://127.0.0.1:{_http_port(p)}/api/auth/sign_in"
    deadline = time.monotonic() + timeout
    while True:
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _cmdline(p):
    with open(f"/proc/{p.proc.pid}/cmdline", "rb") as f:
        return f.read()


def test_command_line_password_is_overwritten(tmp_path):
    secret = "Cmdline-secret-7"
    p = _pbxd(tmp_path, "cmdline", [f"--admin-password={secret}"]).start()
    try:
        cmd = _cmdline(p)
        assert secret.encode() not in cmd, cmd
        assert b"--admin-password=" in cmd, cmd
        assert _sign_in(p, secret) == 200
        assert _sign_in(p, "Wire-test-1") == 401
        log = p.log_text()
        assert "admin-password-file" in log and "command line" in log, log
        assert secret not in log
    finally:
        p.assert_clean_exit()


def test_password_from_file(tmp_path):
    secret = "File-secret-8"
    pw = tmp_path / "admin-pw"
    pw.write_text(secret + "\n")
    pw.chmod(0o600)
    p = _pbxd(tmp_path, "file", [f"--admin-password-file={pw}"]).start()
    try:
        assert secret.encode() not in _cmdline(p)
        assert _sign_in(p, secret) == 200
        assert "readable by every local user" not in p.log_text()
    finally:
        p.assert_clean_exit()


def test_password_from_stdin(tmp_path):
    secret = "Stdin-secret-9"
    p = _pbxd(tmp_path, "stdin", ["--admin-password=-"])
    p._log = open(p.logpath, "ab")
    p.proc = subprocess.Popen(p.argv, stdin=subprocess.PIPE, stdout=p._log,
                              stderr=subprocess.STDOUT, cwd=p.workdir)
    p.proc.stdin.write((secret + "\r\n").encode())
    p.proc.stdin.close()
    try:
        p.wait_ready()
        assert _sign_in(p, secret) == 200
        assert _sign_in(p, "-") == 401
    finally:
        p.assert_clean_exit()


@pytest.mark.parametrize("case", ["missing-file", "empty-file", "file-and-value", "stdin-empty"])
def test_bad_password_sources_refused(tmp_path, case):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    args = {
        "missing-file": [f"--admin-password-file={tmp_path / 'nope'}"],
        "empty-file": [f"--admin-password-file={empty}"],
        "file-and-value": [f"--admin-password-file={empty}", "--admin-password=X-secret-1"],
        "stdin-empty": ["--admin-password=-"],
    }[case]
    r = subprocess.run([pbxd_bin(), f"--data-dir={tmp_path / 'data'}", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "admin-password" in r.stderr, r.stderr
    assert not (tmp_path / "data").exists(), "pbxd went on to open its data dir"


def test_help_says_how(tmp_path):
    r = subprocess.run([pbxd_bin(), "--help"], capture_output=True, text=True, timeout=20)
    line = next(ln for ln in r.stdout.splitlines() if "--admin-password-file" in ln)
    assert "--admin-password=-" in line and "standard input" in line, line
