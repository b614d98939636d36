"""pbxctl's call commands end to end: `cdrs` with its filters over more than one
page, a user's own call log, tables and --json; `calls` and `calls hangup` with no
call active. CDRs are written straight into pbxd's database while it is stopped
(the call engine writes them in pbxd itself), then pbxd is started again on it."""
import json
import os
import sqlite3

import pytest

from .pbxctl_env import ADMIN_PASSWORD, Ctl, Pbxd, unique

T0 = 1795000000  # 2026-11-18T11:06:40Z
N = 130          # more than one page (the API gives at most 100)
DIRS = ["ext", "in", "out", "in2out"]


def cdr_rows(tenant_id, domain, users):
    """N CDRs, one every 60 s from T0: callers 101/102/5551000 in turn, every
    fifth unanswered (487); alice in the log of those she made or was called in,
    bob in his."""
    rows = []
    for i in range(N):
        cid, sid = 910000000000000000 + 2 * i, 910000000000000001 + 2 * i
        start = T0 + 60 * i
        caller = ["101", "102", "5551000"][i % 3]
        callee = ["102", "101", "5552000"][i % 3]
        ans = 0 if i % 5 == 0 else start + 3
        doc = {"event_type": "call_cdr", "answered_time": str(ans), "call_id": "c%d" % i, "callee": callee,
               "callee_domain": domain, "caller": caller, "caller_display_name": "", "caller_domain": domain,
               "did_cid": "", "direction": DIRS[i % 4],
               "ended_reason": "cancelled" if ans == 0 else "caller_disconnect",
               "ended_time": str(start + 45), "outbound_caller_id": "", "ring_time": str(start),
               "session_id": str(sid), "start_time": str(start), "status_code": "487" if ans == 0 else "0",
               "tenant_id": str(tenant_id), "tenant_name": "T", "trunk_name": "", "user_data": "",
               "call_targets": []}
        log = [u for num, u in users.items() if num in (caller, callee)]
        rows.append((cid, sid, start, ans, caller, callee, DIRS[i % 4], 0 if ans else 487, doc, log))
    return rows


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pbxd-cdrs")
    d = Pbxd(tmp)
    admin = Ctl(d.url, "admin", ADMIN_PASSWORD)
    name = unique("cdr")
    domain = name + ".example.test"
    t = admin.json("tenant", "add", "--name=" + name, "--domain=" + domain,
                   "--admin-username=boss", "--admin-password=Boss-pass-1")
    boss = admin.as_("boss", "Boss-pass-1", domain)
    users = {}
    for uname, ext in (("alice", "101"), ("bob", "102")):
        users[ext] = int(boss.json("user", "add", "--username=" + uname, "--password=User-pass-1",
                                   "--email=%s@example.test" % uname, "--extension-number=" + ext,
                                   "--extension-password=Sip-pass-" + ext)["id"])
    d.stop()
    rows = cdr_rows(int(t["id"]), domain, users)
    db = sqlite3.connect(os.path.join(d.data_dir, "pbxd.db"))
    with db:
        for cid, sid, start, ans, caller, callee, direction, status, doc, log in rows:
            db.execute("INSERT INTO cdrs (id, tenant_id, session_id, start_time, answered_time, ended_time,"
                       " caller, callee, direction, status_code, json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (cid, int(t["id"]), sid, start, ans, start + 45, caller, callee, direction, status,
                        json.dumps(doc)))
            for u in log:
                db.execute("INSERT INTO cdr_users (cdr_id, tenant_id, user_id) VALUES (?,?,?)",
                           (cid, int(t["id"]), u))
    db.close()
    d = Pbxd(tmp, data_dir=d.data_dir)
    boss = Ctl(d.url, "boss", "Boss-pass-1", domain)
    yield {"pbxd": d, "domain": domain, "rows": rows, "users": users,
           "admin": Ctl(d.url, "admin", ADMIN_PASSWORD), "boss": boss,
           "alice": boss.as_("alice", "User-pass-1", domain)}
    d.stop()


def want(rows, pred=lambda r: True):
    """The CDR ids pbxd should list, newest first."""
    return [str(r[0]) for r in sorted((r for r in rows if pred(r)), key=lambda r: r[2], reverse=True)]


def listed(ctl, *args):
    out = ctl.json("cdrs", *args)
    assert out["count"] == len(out["items"]), out["count"]
    return [x["cdr_id"] for x in out["items"]]


def test_help_lists_call_commands():
    out = Ctl("http://127.0.0.1:1").run("--help", flags=False).stdout
    for words in ("cdrs [--from=TIME] [--to=TIME]", "--direction=ext|in|out|in2out", "calls [list]",
                  "calls hangup SESSION_ID"):
        assert words in out, words


def test_cdrs_every_page_newest_first(world):
    # Without --skip/--top every page is fetched: all 130, in the API's order.
    assert listed(world["boss"]) == want(world["rows"])
    page = world["boss"].json("cdrs", "--top=10", "--skip=5")
    assert page["count"] == N and [x["cdr_id"] for x in page["items"]] == want(world["rows"])[5:15]


def test_cdrs_table(world):
    lines = world["boss"].ok("cdrs", "--top=5").stdout.splitlines()
    head = lines[0]
    assert head.split() == ["ID", "START", "(UTC)", "DIRECTION", "CALLER", "CALLEE", "TALK", "STATUS", "ENDED"]
    assert len(lines) == 6
    newest = world["rows"][-1]  # i = 129: answered, 42 s of talk
    row = lines[1]
    assert row.startswith(str(newest[0]) + " ")
    assert row[head.index("START"):].startswith("2026-11-18 13:15:40")
    assert row[head.index("TALK"):].startswith("42s")
    assert row[head.index("CALLER"):].startswith(newest[4])
    unanswered = [l for l in lines[1:] if " 487 " in l]  # i = 125: not answered
    assert len(unanswered) == 1
    assert unanswered[0][head.index("TALK"):].startswith("- ")
    assert unanswered[0].rstrip().endswith("cancelled")


def test_cdrs_filters(world):
    boss, rows = world["boss"], world["rows"]
    t = T0 + 60 * 100
    assert listed(boss, "--from=%d" % t) == want(rows, lambda r: r[2] >= t)
    assert listed(boss, "--to=%d" % t) == want(rows, lambda r: r[2] < t)
    # ISO 8601 UTC: T0 + 6000 s is 2026-11-18T12:46:40Z
    assert listed(boss, "--from=2026-11-18T12:46:40Z") == want(rows, lambda r: r[2] >= t)
    assert listed(boss, "--from=2026-11-18", "--to=2026-11-19") == want(rows)
    assert listed(boss, "--to=2026-11-18") == []
    assert listed(boss, "--caller=102") == want(rows, lambda r: r[4] == "102")
    assert listed(boss, "--callee=5552000") == want(rows, lambda r: r[5] == "5552000")
    for d in DIRS:
        assert listed(boss, "--direction=" + d) == want(rows, lambda r, d=d: r[6] == d)
    assert listed(boss, "--caller=101", "--direction=out", "--from=%d" % t) == want(
        rows, lambda r: r[4] == "101" and r[6] == "out" and r[2] >= t)


def test_cdrs_user_sees_own_call_log(world):
    alice = world["users"]["101"]
    mine = want(world["rows"], lambda r: alice in r[9])
    assert 0 < len(mine) < N
    assert listed(world["alice"]) == mine
    assert listed(world["alice"], "--direction=ext") == want(world["rows"],
                                                             lambda r: alice in r[9] and r[6] == "ext")


def test_cdrs_system_admin_acts_in_a_tenant(world):
    r = world["admin"].run("cdrs")
    assert r.returncode == 1 and "HTTP 403" in r.stderr and "--tenant" in r.stderr
    out = world["admin"].json("--tenant=" + world["domain"], "cdrs", "--top=3")
    assert [x["cdr_id"] for x in out["items"]] == want(world["rows"])[:3]


def test_cdrs_errors(world):
    boss = world["boss"]
    # Wrong command lines: exit 2, nothing sent.
    for args in (["cdrs", "x"], ["cdrs", "--filter=caller eq '101'"], ["cdrs", "--search=1"], ["cdrs", "--from"],
                 ["cdrs", "--caller="], ["cdrs", "--frm=1"]):
        r = boss.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("pbxctl: "), args
    # Values the API refuses: exit 1 with its message naming the option.
    for args, words in ((["--direction=sideways"], "direction: ext, in, out or in2out"),
                        (["--from=yesterday"], "start_time_from: must be Unix seconds"),
                        (["--to=2026-02-30"], "start_time_to"),
                        (["--top=0"], "top: must be from 1 to 100")):
        r = boss.run("cdrs", *args)
        assert r.returncode == 1 and words in r.stderr and "HTTP 400" in r.stderr, (args, r.stderr)
        assert r.stdout == ""
    r = boss.run("--json", "cdrs", "--direction=sideways")
    assert r.returncode == 1 and json.loads(r.stdout)["error"]["field"] == "direction"


def test_calls_none_active(world):
    boss, alice = world["boss"], world["alice"]
    for ctl in (boss, alice):
        assert ctl.json("calls") == {"count": 0, "items": []}
        assert ctl.json("calls", "list") == {"count": 0, "items": []}
        lines = ctl.ok("calls").stdout.splitlines()
        assert lines == ["SESSION ID  STATE  DIRECTION  CALLER  CALLEE  START (UTC)  TALKING FOR"]
    r = world["admin"].run("calls")
    assert r.returncode == 1 and "--tenant" in r.stderr
    assert world["admin"].json("--tenant=" + world["domain"], "calls")["count"] == 0


def test_calls_hangup_unknown(world):
    boss = world["boss"]
    for sid in ("123456789", "not-a-session"):
        r = boss.run("calls", "hangup", sid)
        assert r.returncode == 1 and r.stdout == "", r.stderr
        assert "not found" in r.stderr and "HTTP 404" in r.stderr
        assert "`pbxctl calls` lists the active calls" in r.stderr
    r = boss.run("--json", "calls", "hangup", "123456789")
    assert r.returncode == 1 and json.loads(r.stdout)["error"]["code"] == "not_found"
    # Users may list their calls but not hang calls up.
    r = world["alice"].run("calls", "hangup", "123456789")
    assert r.returncode == 1 and "HTTP 403" in r.stderr
    for args in (["calls", "hangup"], ["calls", "hangup", "1", "2"], ["calls", "frob"], ["calls", "list", "x"],
                 ["calls", "--top=1"], ["calls", "hangup", "1", "--force"]):
        r = boss.run(*args)
        assert r.returncode == 2, (args, r.stderr)
