"""pbxctl's device and ban commands end to end: a tiny SIP client registers a
device for a user made with pbxctl (`user devices`, `user unregister`,
`registrations`), and fails authentication until pbxd bans its address
(`ban list`, `ban lift`). Devices use the default tenant (pbx.local); the bans
get a pbxd of their own, started with --auth-max-failures=3, because a banned
127.0.0.1 has every SIP request dropped."""
import json
import os
import re
import socket
import sys

import pytest

from .pbxctl_env import ADMIN_PASSWORD, Ctl, Pbxd, unique

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sipdigest import Phone  # noqa: E402 (the digest client every suite shares)

DOMAIN = "pbx.local"
UA = "pbxctl-tests/1"


def SipPhone(sip_port, ext, password):
    """A phone that registers over UDP from 127.0.0.1 (tests/sipdigest.py)."""
    return Phone(sip_port, ext, password, DOMAIN, user_agent=UA)


@pytest.fixture(scope="module")
def pbxadmin(pbxd):
    """The default tenant's admin, which pbxd makes at first start."""
    return Ctl(pbxd.url, "pbxadmin", ADMIN_PASSWORD, DOMAIN)


def add_user(ctl, ext):
    name = unique("dev")
    u = ctl.json("user", "add", "--username=" + name, "--password=Dev-pass-1",
                 "--email=%s@example.test" % name, "--extension-number=" + ext,
                 "--extension-password=Sip-pass-" + ext)
    return str(u["id"]), name, "Sip-pass-" + ext


def test_help_lists_device_and_ban_commands():
    out = Ctl("http://127.0.0.1:1").run("--help", flags=False).stdout
    for words in ("user devices ID", "user unregister ID DEVICE_ID", "ban list", "ban lift ADDRESS"):
        assert words in out, words


def test_user_devices_then_unregister(pbxd, pbxadmin):
    uid, name, sip_pw = add_user(pbxadmin, "401")
    assert pbxadmin.json("user", "devices", uid) == {"count": 0, "items": []}

    phone = SipPhone(pbxd.sip_port, "401", sip_pw)
    try:
        assert phone.register() == 200

        devs = pbxadmin.json("user", "devices", uid)
        assert devs["count"] == 1 and len(devs["items"]) == 1
        d = devs["items"][0]
        dev_id = d["id"]
        assert dev_id.isdigit()
        assert (d["address"], d["port"], d["transport"], d["user_agent"]) == (
            "127.0.0.1", phone.port, "udp", UA)
        assert "127.0.0.1:%d" % phone.port in d["contact"]
        assert 3500 < d["expires"] <= 3600

        # The table: one aligned row, the address with its port, the time left in words.
        lines = pbxadmin.ok("user", "devices", uid).stdout.splitlines()
        assert lines[0].split() == ["ID", "ADDRESS", "TRANSPORT", "USER", "AGENT", "EXPIRES", "IN"]
        assert len(lines) == 2
        row = lines[1]
        assert row.startswith(dev_id + " ")
        assert row.index("127.0.0.1:%d" % phone.port) == lines[0].index("ADDRESS")
        assert row.index(UA) == lines[0].index("USER AGENT")
        assert re.search(r"(59m \d\ds|1h 00m)$", row), row

        # `registrations` gathers every user's devices, with the owner in front.
        regs = pbxadmin.json("registrations")
        mine = [r for r in regs["items"] if r["id"] == dev_id]
        assert len(mine) == 1 and mine[0]["username"] == name
        assert str(mine[0]["extension_number"]) == "401"
        table = pbxadmin.ok("registrations").stdout
        assert name in table and dev_id in table and "127.0.0.1:%d" % phone.port in table

        r = pbxadmin.ok("user", "unregister", uid, dev_id)
        assert r.stdout.strip() == "device %s unregistered" % dev_id
        assert pbxadmin.json("user", "devices", uid) == {"count": 0, "items": []}
        assert pbxadmin.ok("user", "devices", uid).stdout.splitlines()[1:] == []

        # Gone: unregistering it again is an API error naming what was not found.
        r = pbxadmin.run("user", "unregister", uid, dev_id)
        assert r.returncode == 1 and r.stdout == ""
        assert "device not found" in r.stderr and "HTTP 404" in r.stderr
        assert "pbxctl user devices %s" % uid in r.stderr

        # It may register again, and --json unregister prints JSON even for a 204.
        assert phone.register() == 200
        dev_id = pbxadmin.json("user", "devices", uid)["items"][0]["id"]
        assert pbxadmin.json("user", "unregister", uid, dev_id) == {}
        assert pbxadmin.json("user", "devices", uid)["count"] == 0
    finally:
        phone.close()


def test_unknown_device_and_user(pbxadmin):
    uid, _, _ = add_user(pbxadmin, "402")
    for dev in ("123456789", "not-an-id"):
        r = pbxadmin.run("user", "unregister", uid, dev)
        assert r.returncode == 1, r.stderr
        assert "device not found" in r.stderr and "Traceback" not in r.stderr
    r = pbxadmin.run("--json", "user", "unregister", uid, "123456789")
    assert r.returncode == 1 and json.loads(r.stdout)["error"]["code"] == "not_found"
    r = pbxadmin.run("user", "devices", "999999999")
    assert r.returncode == 1 and "HTTP 404" in r.stderr


def test_device_usage_errors_exit_2(pbxadmin):
    for args in (["user", "devices"], ["user", "devices", "1", "2"], ["user", "devices", "1", "--top=1"],
                 ["user", "unregister", "1"], ["user", "unregister", "1", "2", "3"],
                 ["ban"], ["ban", "frob"], ["ban", "list", "x"], ["ban", "list", "--search=x"],
                 ["ban", "lift"], ["ban", "lift", "not-an-address"], ["ban", "lift", "127.0.0.1/32"]):
        r = pbxadmin.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("pbxctl: "), args


def test_devices_need_a_tenant(admin, pbxd):
    # A system admin must act in a tenant for user routes; pbxctl says how.
    r = admin.run("user", "devices", "1")
    assert r.returncode == 1 and "--tenant" in r.stderr
    uid, _, _ = add_user(Ctl(pbxd.url, "pbxadmin", ADMIN_PASSWORD, DOMAIN), "403")
    assert admin.json("--tenant=" + DOMAIN, "user", "devices", uid)["count"] == 0


@pytest.fixture(scope="module")
def banning(tmp_path_factory):
    """A pbxd that bans a source after three failed SIP authentications."""
    d = Pbxd(tmp_path_factory.mktemp("pbxd-bans"), extra_args=("--auth-max-failures=3",))
    yield d
    d.stop()


def test_ban_list_and_lift(banning):
    admin = Ctl(banning.url, "admin", ADMIN_PASSWORD)
    boss = Ctl(banning.url, "pbxadmin", ADMIN_PASSWORD, DOMAIN)
    _, _, sip_pw = add_user(boss, "501")
    assert admin.json("ban", "list") == {"count": 0, "items": []}

    phone = SipPhone(banning.sip_port, "501", "wrong-" + sip_pw)
    try:
        for _ in range(3):
            assert phone.register() == 403

        bans = admin.json("ban", "list")
        assert bans["count"] == 1
        b = bans["items"][0]
        assert (b["address"], b["prefix"], b["failures"]) == ("127.0.0.1", 32, 3)
        assert b["banned_at"] < b["until"]
        lines = admin.ok("ban", "list").stdout.splitlines()
        assert lines[0].split() == ["ADDRESS", "PREFIX", "FAILURES", "BANNED", "AT", "UNTIL"]
        assert len(lines) == 2 and lines[1].split()[:3] == ["127.0.0.1", "32", "3"]

        # Banned: even the right password is not answered at all.
        phone.password = sip_pw
        with pytest.raises(socket.timeout):
            phone.register(timeout=1)

        # Bans are the system admin's: a tenant admin is refused.
        r = boss.run("ban", "list")
        assert r.returncode == 1 and "HTTP 403" in r.stderr

        r = admin.ok("ban", "lift", "127.0.0.1")
        assert r.stdout.strip() == "ban of 127.0.0.1 lifted"
        assert admin.json("ban", "list") == {"count": 0, "items": []}
        assert admin.ok("ban", "list").stdout.splitlines()[1:] == []
        assert phone.register() == 200

        # Nothing left to lift: a clear API error, exit 1, JSON with --json.
        r = admin.run("ban", "lift", "127.0.0.1")
        assert r.returncode == 1 and r.stdout == ""
        assert "no ban of this address" in r.stderr and "HTTP 404" in r.stderr
        r = admin.run("--json", "ban", "lift", "127.0.0.1")
        assert r.returncode == 1 and json.loads(r.stdout)["error"]["code"] == "not_found"
        r = admin.run("ban", "lift", "::1")
        assert r.returncode == 1 and "no ban" in r.stderr
    finally:
        phone.close()
