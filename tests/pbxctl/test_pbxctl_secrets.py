"""Passwords kept off the command line (where /proc/PID/cmdline shows them to every
local user): `-` reads a value from standard input, a left-out NEWPW is read the
same way, a terminal is asked without echo, and only one value per run may come
from stdin. Also the warnings for connections that do not protect the password.
This module has its own pbxd because it signs in with old passwords on purpose."""
import json
import os
import pty
import select
import subprocess
import time

from .pbxctl_env import ADMIN_PASSWORD, PBXCTL_BIN, Ctl, Pbxd, clean_env, unique


def add_user(boss, name, password):
    n = unique("")
    return boss.json("user", "add", "--username=" + name, "--password=" + password,
                     "--email=%s@example.test" % name, "--extension-number=3%s" % n[-3:],
                     "--extension-password=Sip-pass-" + n)


def signs_in(ctl):
    return ctl.run("me").returncode == 0


def test_own_password_from_stdin(tenant):
    _, boss = tenant
    add_user(boss, "erin", "Erin-pass-1")
    erin = boss.as_("erin", "Erin-pass-1", boss.domain)
    r = erin.run("password", "-", input="Erin-pass-2\n")
    assert r.returncode == 0, r.stderr
    assert "Erin-pass-2" not in r.stdout + r.stderr
    assert signs_in(boss.as_("erin", "Erin-pass-2", boss.domain))
    r = erin.run("me")
    assert r.returncode == 1, "the old password still signs in"


def test_left_out_new_password_is_read_from_stdin(tenant):
    _, boss = tenant
    u = add_user(boss, "fred", "Fred-pass-1")
    fred = boss.as_("fred", "Fred-pass-1", boss.domain)
    fred.ok("password", input="Fred-pass-2\n")
    assert signs_in(boss.as_("fred", "Fred-pass-2", boss.domain))
    # An admin setting it: `user password ID` with the value on stdin, no newline.
    boss.ok("user", "password", str(u["id"]), input="Fred-pass-3")
    assert signs_in(boss.as_("fred", "Fred-pass-3", boss.domain))
    boss.ok("user", "password", str(u["id"]), "-", input="Fred-pass-4\r\n")
    assert signs_in(boss.as_("fred", "Fred-pass-4", boss.domain))


def test_user_add_passwords_from_stdin(tenant):
    _, boss = tenant
    u = boss.json("user", "add", "--username=gina", "--password=-", "--email=gina@example.test",
                  "--extension-number=311", "--extension-password=Sip-pass-311",
                  input="Gina-pass-1\n")
    assert u["username"] == "gina"
    assert signs_in(boss.as_("gina", "Gina-pass-1", boss.domain))
    # The extension's SIP password can come from stdin instead.
    boss.ok("user", "add", "--username=hank", "--password=Hank-pass-1", "--email=hank@example.test",
            "--extension-number=312", "--extension-password=-", input="Sip-pass-312\n")
    assert signs_in(boss.as_("hank", "Hank-pass-1", boss.domain))


def test_sign_in_password_from_stdin(pbxd):
    r = Ctl(pbxd.url, "admin", "-").run("--json", "me", input=ADMIN_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["role"] == "system_admin"


def test_tenant_add_admin_password_from_stdin(admin):
    name = unique("s")
    domain = name + ".example.test"
    t = admin.json("tenant", "add", "--name=" + name, "--domain=" + domain,
                   "--admin-username=boss", "--admin-password=-", input="Boss-pass-9\n")
    try:
        assert signs_in(admin.as_("boss", "Boss-pass-9", domain))
    finally:
        admin.run("tenant", "delete", str(t["id"]))


def test_init_admin_password_from_stdin(tmp_path):
    d = tmp_path / "data"
    r = Ctl("http://127.0.0.1:1").run("init", "--data-dir=%s" % d, "--admin-password=-",
                                      flags=False, input="Init-pass-7\n")
    assert r.returncode == 0, r.stderr
    assert "--admin-password=Init-pass-7" in r.stdout


def test_two_values_from_stdin_exit_2(pbxd, tenant):
    _, boss = tenant
    u = Ctl(pbxd.url, "admin", "-")
    cases = [
        (boss, ["user", "add", "--username=ivan", "--password=-", "--email=ivan@example.test",
                "--extension-password=-"]),
        (u, ["password", "-"]),
        (u, ["password"]),                       # a left-out NEWPW reads stdin too
        (u, ["--tenant=" + boss.domain, "user", "add", "--username=ivan", "--password=-"]),
        (u, ["tenant", "add", "--name=x", "--domain=x.example.test", "--admin-username=b",
             "--admin-password=-"]),
        (u, ["user", "password", "1"]),
    ]
    for ctl, args in cases:
        r = ctl.run(*args, input="One-line-1\nTwo-line-2\n")
        assert r.returncode == 2, (args, r.stderr)
        assert "standard input" in r.stderr, (args, r.stderr)
    r = Ctl("http://127.0.0.1:1").run("init", "--data-dir=/nonexistent/x", "--admin-password=-",
                                      "--password=-", flags=False)
    assert r.returncode == 2  # --password after a command is init's unknown option
    # Nothing was sent: the user was not created.
    assert "ivan" not in [x["username"] for x in boss.json("user", "list")["items"]]


def test_nothing_or_empty_on_stdin_exits_2(tenant):
    _, boss = tenant
    for data in ("", "\n"):
        r = boss.run("user", "add", "--username=jill", "--password=-", "--email=j@example.test",
                     input=data)
        assert r.returncode == 2 and "--password" in r.stderr, r.stderr


def _pty_session(argv, answers, timeout=20):
    """Runs pbxctl with a pseudo-terminal as stdin and stderr (and no controlling
    terminal, so its prompts go to stderr), answering each prompt in turn.
    Returns (exit status, everything the terminal showed)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stderr=slave, stdout=subprocess.PIPE,
                         env=clean_env(), start_new_session=True)
    os.close(slave)
    shown, pending = b"", list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
                if pending and shown.endswith(b": "):  # a prompt, not its echoed newline
                    os.write(master, pending.pop(0).encode() + b"\n")
            elif p.poll() is not None:
                break
        p.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return p.returncode, shown.decode(errors="replace")


def test_terminal_prompts_without_echo_and_asks_twice(pbxd, tenant):
    _, boss = tenant
    add_user(boss, "kate", "Kate-pass-1")
    base = [PBXCTL_BIN, "--url=" + pbxd.url, "--username=kate", "--domain=" + boss.domain]
    # The sign-in password, then the new one twice.
    rc, shown = _pty_session(base + ["password"], ["Kate-pass-1", "Kate-pass-2", "Kate-pass-2"])
    assert rc == 0, shown
    assert "Kate-pass" not in shown, "a typed password was echoed"
    assert shown.count("New password") == 2, shown
    assert signs_in(boss.as_("kate", "Kate-pass-2", boss.domain))
    # Two different entries: refused, nothing changed.
    rc, shown = _pty_session(base + ["--password=Kate-pass-2", "password", "-"],
                             ["Kate-pass-3", "Kate-pass-4"])
    assert rc == 2 and "do not match" in shown, shown
    assert signs_in(boss.as_("kate", "Kate-pass-2", boss.domain))


def test_insecure_warns(tmp_path):
    # No server needed: the warning comes before the first request.
    r = Ctl("https://127.0.0.1:1").run("--insecure", "info")
    assert r.returncode == 1 and "warning" in r.stderr and "--insecure" in r.stderr, r.stderr
    r = Ctl("https://127.0.0.1:1").run("info", env=clean_env(PBXCTL_INSECURE="1"))
    assert "warning" in r.stderr and "certificate" in r.stderr, r.stderr
    p = Pbxd(tmp_path, tls=True)
    try:
        ctl = Ctl(p.url, "admin", ADMIN_PASSWORD)
        r = ctl.ok("me", "--insecure")
        assert r.stderr.count("warning") == 1, r.stderr
        assert "warning" not in ctl.run("me").stderr  # checks on: no warning (it fails instead)
    finally:
        p.stop()


def test_plain_http_warns_unless_loopback(pbxd):
    r = Ctl("http://192.0.2.1:1", "admin", "x").run("me")
    assert r.returncode == 1 and "warning" in r.stderr and "unencrypted" in r.stderr, r.stderr
    for url in (pbxd.url, pbxd.url.replace("127.0.0.1", "localhost"),
                "http://[::1]:1", "http://127.0.0.2:1"):
        r = Ctl(url).run("info")
        assert "warning" not in r.stderr, (url, r.stderr)


def test_help_explains_stdin_passwords():
    out = Ctl("http://127.0.0.1:1").ok("--help", flags=False).stdout
    assert "standard input" in out and "NEWPW|-" in out and "/proc" in out
