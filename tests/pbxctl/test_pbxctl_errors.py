"""pbxctl's failures: API errors exit 1 with the API's message, usage errors exit
2 before anything is sent. This module has its own pbxd (see conftest's pbxd
fixture) because it signs in with wrong passwords on purpose."""
from .pbxctl_env import ADMIN_PASSWORD, Ctl, clean_env


def test_wrong_password_exits_1_with_message(pbxd):
    r = Ctl(pbxd.url, "admin", "wrong-password").run("me")
    assert r.returncode == 1
    assert r.stderr.strip() and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_unreachable_server_exits_1():
    r = Ctl("http://127.0.0.1:1", "admin", "x").run("me")
    assert r.returncode == 1 and r.stderr.strip()


def test_api_validation_error_names_the_field(admin):
    r = admin.run("tenant", "add", "--name=bad", "--domain=not a domain!",
                  "--admin-username=boss", "--admin-password=Boss-pass-1")
    assert r.returncode == 1
    assert "domain" in r.stderr


def test_not_found_exits_1(admin):
    r = admin.run("tenant", "show", "999999999")
    assert r.returncode == 1 and r.stderr.strip()


def test_usage_errors_exit_2(pbxd, admin):
    u = Ctl(pbxd.url)
    assert u.run(flags=False).returncode == 2                      # no command
    assert u.run("frobnicate").returncode == 2                     # unknown command
    assert u.run("--bogus", "info", flags=False).returncode == 2   # unknown option
    for args in (["tenant"], ["tenant", "show"], ["tenant", "add", "--name=x"],
                 ["tenant", "update", "1"], ["tenant", "delete"],
                 ["user", "add", "--username=x"], ["user", "show"], ["user", "password", "1"],
                 ["user", "list", "--no-such-option=1"], ["password"], ["extension"],
                 ["init"]):
        r = admin.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.strip(), args


def test_missing_credentials_exit_2(pbxd):
    r = Ctl(pbxd.url).run("me")
    assert r.returncode == 2 and "username" in r.stderr
    r = Ctl(pbxd.url, "admin").run("me")  # stdin is not a terminal: no prompt
    assert r.returncode == 2 and "password" in r.stderr


def test_json_error_is_json(admin):
    import json
    r = admin.run("--json", "tenant", "show", "999999999")
    assert r.returncode == 1
    assert "error" in json.loads(r.stdout)


def test_bad_url_exit_2():
    r = Ctl("ftp://example.test", "a", "b").run("me")
    assert r.returncode == 2


def test_env_password_used_when_no_flag(pbxd):
    env = clean_env(PBXCTL_URL=pbxd.url, PBXCTL_USERNAME="admin", PBXCTL_PASSWORD=ADMIN_PASSWORD)
    r = Ctl(pbxd.url).run("me", env=env, flags=False)
    assert r.returncode == 0, r.stderr
