"""pbxctl's office hours, holidays and feature codes commands end to end, as a
tenant admin: `office-hours` (the tenant's week; a user's own with --user),
`holiday` (the tenant's; a user's with --user) and `feature-codes`. Tables for
people, --json for scripts, the API's refusals (exit 1, the field named) and
usage errors (exit 2, nothing sent)."""
import json

import pytest

from .pbxctl_env import Ctl, unique

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAY = [{"start": "00:00", "end": "23:59"}]


_ext = [500]


def add_user(boss):
    name = unique("oh")
    _ext[0] += 1
    u = boss.json("user", "add", "--username=" + name, "--password=User-pass-1",
                  "--email=%s@example.test" % name, "--extension-number=%d" % _ext[0],
                  "--extension-password=Sip-pass-%d" % _ext[0])
    return str(u["id"])


def test_help_lists_the_commands():
    out = Ctl("http://127.0.0.1:1").run("--help", flags=False).stdout
    for words in ("office-hours [show] [--user=ID]", "office-hours set", "holiday list", "holiday add",
                  "holiday update ID", "holiday delete ID", "feature-codes [list]", "feature-codes set",
                  "feature-codes reset"):
        assert words in out, words


def test_tenant_office_hours(tenant):
    _, boss = tenant
    assert boss.json("office-hours") == {d: ALL_DAY for d in DAYS}
    w = boss.json("office-hours", "set", "--mon=09:00-12:00,13:00-18:00", "--sun=closed")
    assert w["mon"] == [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}]
    assert w["sun"] == [] and w["tue"] == ALL_DAY
    lines = boss.ok("office-hours", "show").stdout.splitlines()
    assert lines[0].split() == ["DAY", "OPEN"]
    rows = {ln.split()[0]: ln.split(None, 1)[1] for ln in lines[1:]}
    assert rows["mon"] == "09:00-12:00 13:00-18:00" and rows["sun"] == "closed"
    assert rows["tue"] == "00:00-23:59"


def test_user_office_hours(tenant):
    _, boss = tenant
    uid = add_user(boss)
    assert boss.json("office-hours", "--user=" + uid) == {"mode": "global"}
    oh = boss.json("office-hours", "set", "--user=" + uid, "--mode=specific", "--tue=08:00-16:00")
    assert oh == {"mode": "specific", "week": {"tue": [{"start": "08:00", "end": "16:00"}]}}
    out = boss.ok("office-hours", "--user=" + uid).stdout
    assert out.startswith("mode: specific\n") and "08:00-16:00" in out
    out = boss.ok("office-hours", "set", "--user=" + uid, "--mode=global").stdout
    assert out.startswith("mode: global\n")


def test_office_hours_errors(tenant):
    _, boss = tenant
    r = boss.run("office-hours", "set", "--mon=9:00-17:00")
    assert r.returncode == 1 and "mon[0].start" in r.stderr, r.stderr
    for args in (["office-hours", "set"], ["office-hours", "set", "--mode=specific"],
                 ["office-hours", "set", "--mon=0900"], ["office-hours", "set", "--funday=closed"],
                 ["office-hours", "frob"], ["office-hours", "set", "--user", "--mon=closed"]):
        r = boss.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.strip(), args


@pytest.mark.parametrize("owner", ["tenant", "user"])
def test_holidays(tenant, owner):
    _, boss = tenant
    who = [] if owner == "tenant" else ["--user=" + add_user(boss)]
    assert boss.json("holiday", "list", *who) == {"count": 0, "items": []}
    h = boss.json("holiday", "add", "--name=Christmas", "--start-date=2031-12-24", "--end-date=2031-12-26",
                  "--every-year", *who)
    assert (h["name"], h["start_date"], h["end_date"], h["every_year"]) == (
        "Christmas", "2031-12-24", "2031-12-26", True)
    hid = h["id"]
    assert boss.json("holiday", "show", hid, *who) == h
    lines = boss.ok("holiday", "list", *who).stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "FROM", "AT", "TO", "UNTIL", "EVERY", "YEAR"]
    assert lines[1].split() == [hid, "Christmas", "2031-12-24", "00:00", "2031-12-26", "23:59", "true"]
    h = boss.json("holiday", "update", hid, "--end-time=12:00", "--every-year=false", *who)
    assert h["end_time"] == "12:00" and h["every_year"] is False
    r = boss.run("holiday", "update", hid, "--end-date=2031-12-01", *who)
    assert r.returncode == 1 and "end_date" in r.stderr, r.stderr
    boss.ok("holiday", "delete", hid, *who)
    assert boss.json("holiday", "list", *who)["count"] == 0
    assert boss.run("holiday", "show", hid, *who).returncode == 1


def test_holiday_errors(tenant):
    _, boss = tenant
    r = boss.run("holiday", "add", "--name=Bad", "--start-date=2031-02-30")
    assert r.returncode == 1 and "start_date" in r.stderr, r.stderr
    for args in (["holiday"], ["holiday", "add", "--name=x"], ["holiday", "add", "--start-date=2031-01-01"],
                 ["holiday", "show"], ["holiday", "delete"], ["holiday", "list", "extra"],
                 ["holiday", "list", "--user="]):
        r = boss.run(*args)
        assert r.returncode == 2, (args, r.stderr)


def test_feature_codes(tenant):
    _, boss = tenant
    lst = boss.json("feature-codes")
    codes = {c["feature"]: c["code"] for c in lst["items"]}
    assert codes["dnd_on"] == "*78" and codes["forward_all_on"] == "*72"
    lines = boss.ok("feature-codes", "list").stdout.splitlines()
    assert lines[0].split()[:4] == ["FEATURE", "CODE", "DEFAULT", "NUMBER"]
    assert [ln.split()[:4] for ln in lines if ln.startswith("forward_all_on ")] == [
        ["forward_all_on", "*72", "*72", "true"]]
    lst = boss.json("feature-codes", "set", "--dnd-on=*11", "--forward-all-on=*4")
    codes = {c["feature"]: c["code"] for c in lst["items"]}
    assert codes["dnd_on"] == "*11" and codes["forward_all_on"] == "*4"
    r = boss.run("feature-codes", "set", "--dnd-off=*11")
    assert r.returncode == 1 and "dnd_off" in r.stderr, r.stderr
    r = boss.run("feature-codes", "set", "--dnd-off=*1")
    assert r.returncode == 1 and "dnd_off" in r.stderr and "prefix" in r.stderr, r.stderr
    lst = boss.json("feature-codes", "reset", "dnd-on", "forward_all_on")
    codes = {c["feature"]: c["code"] for c in lst["items"]}
    assert codes["dnd_on"] == "*78" and codes["forward_all_on"] == "*72"
    for args in (["feature-codes", "set"], ["feature-codes", "reset"], ["feature-codes", "frob"]):
        assert boss.run(*args).returncode == 2, args


def test_system_admin_is_told_to_switch(admin, tenant):
    t, _ = tenant
    r = admin.run("office-hours")
    assert r.returncode == 1 and "--tenant" in r.stderr, r.stderr
    w = json.loads(admin.ok("--json", "--tenant=" + str(t["id"]), "feature-codes").stdout)
    assert w["count"] == 13
