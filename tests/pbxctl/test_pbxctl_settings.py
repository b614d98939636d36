"""pbxctl's extension settings command end to end: `settings [show]`, `settings
set` and `settings forward`, for the signed-in user's own extension and, with
--user=ID, a tenant admin's view of a user's. What pbxctl changed is read back
through the REST API itself, so the test checks what pbxd stored, not what
pbxctl printed. Also: the API's refusals (exit 1, the field named, nothing
changed) and usage errors (exit 2, nothing sent).

One tenant for the whole module and a fresh user per test (made through REST,
which is quicker than pbxctl): the module runs twice in make test."""
import json
import urllib.error
import urllib.request

import pytest

from .pbxctl_env import Ctl, unique

BOSS_PW = "Boss-pass-1"
USER_PW = "User-pass-1"


class Rest:
    """The REST API signed in as one account, to read back what pbxctl did."""

    _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __init__(self, url, username, password, domain):
        self.url, self.token = url, None
        st, body = self.call("POST", "/api/auth/sign_in",
                             {"username": username, "password": password, "domain": domain})
        assert st == 200, body
        self.token = body["token"]

    def call(self, method, path, body=None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path):
        st, body = self.call("GET", path)
        assert st == 200, (path, st, body)
        return body


@pytest.fixture(scope="module")
def acme(admin):
    """A tenant for the module: its admin as a Ctl and through REST."""
    name = unique("st")
    domain = name + ".example.test"
    t = admin.json("tenant", "add", "--name=" + name, "--domain=" + domain,
                   "--admin-username=boss", "--admin-password=" + BOSS_PW)
    boss = admin.as_("boss", BOSS_PW, domain)
    yield boss, Rest(admin.url, "boss", BOSS_PW, domain)
    admin.run("tenant", "delete", str(t["id"]))


_ext = [600]


def add_user(rest):
    """A user with an extension (role user), made through REST: (id, username)."""
    name = unique("u")
    _ext[0] += 1
    st, u = rest.call("POST", "/api/users", {
        "username": name, "password": USER_PW, "email": name + "@example.test",
        "extension_number": str(_ext[0]), "extension_password": "Sip-pass-%d" % _ext[0]})
    assert st == 201, u
    return str(u["id"]), name


@pytest.fixture
def user(acme):
    """A fresh user: (id, their Ctl, their REST)."""
    boss, rest = acme
    uid, name = add_user(rest)
    return uid, boss.as_(name, USER_PW, boss.domain), Rest(boss.url, name, USER_PW, boss.domain)


def ext_of(rest, uid):
    return rest.get("/api/users/%s/extension" % uid)


def test_help_lists_the_commands():
    out = Ctl("http://127.0.0.1:1").run("--help", flags=False).stdout
    for words in ("settings [show] [--user=ID]", "settings set [--user=ID] [--dnd=on|off]",
                  "--max-calls=N", "--ring-time=SECONDS",
                  "settings forward [--user=ID] always|busy|no-answer|not-reachable DESTINATION",
                  "settings forward [--user=ID] off"):
        assert words in out, words


def test_user_sets_own_dnd_and_status(user):
    _, me, my_rest = user
    out = me.ok("settings", "set", "--dnd=on", "--status=away").stdout
    assert "DND: on\n" in out and "status: away\n" in out, out
    got = my_rest.get("/api/user/extension")
    assert (got["dnd"], got["status"], got["effective_status"]) == (True, "away", "away")
    # what they may not change is untouched
    assert got["max_simultaneous_calls"] == 2 and got["call_waiting"] is True
    # --json is the API's own answer; the summary reads the same settings
    assert me.json("settings") == my_rest.get("/api/user/extension")
    lines = me.ok("settings", "show").stdout.splitlines()
    for ln in ("DND: on", "status: away", "status in force: away", "call waiting: on",
               "max simultaneous calls: 2", "anonymous outbound: off", "forwarding:",
               "  unconditional: off", "  busy: voicemail", "  no answer after 20 s: voicemail"):
        assert ln in lines, (ln, lines)
    me.ok("settings", "set", "--dnd=off", "--status=available", "--call-waiting=off")
    got = my_rest.get("/api/user/extension")
    assert (got["dnd"], got["status"], got["call_waiting"]) == (False, "available", False)


def test_admin_sets_busy_and_no_answer_forward(acme, user):
    boss, rest = acme
    uid, _, _ = user
    boss.ok("settings", "forward", "--user=" + uid, "busy", "102")
    out = boss.ok("settings", "forward", "--user=" + uid, "no-answer", "103", "--ring-time=30").stdout
    assert "  busy: forward to 102\n" in out and "  no answer after 30 s: forward to 103\n" in out, out
    fw = ext_of(rest, uid)["forwarding"]
    assert fw["busy"] == {"action": "number", "number": "102"}
    assert fw["no_answer"] == {"action": "number", "number": "103", "ring_time": 30}
    # the admin's own fields, the ring time alone, and voicemail of another mailbox
    got = boss.json("settings", "set", "--user=" + uid, "--max-calls=4", "--anonymous=on", "--ring-time=45")
    s = ext_of(rest, uid)
    # --json is the API's answer to the change, which has no effective_status
    assert got == {k: v for k, v in s.items() if k != "effective_status"}
    assert (s["max_simultaneous_calls"], s["anonymous_outbound"]) == (4, True)
    assert s["forwarding"]["no_answer"] == {"action": "number", "number": "103", "ring_time": 45}
    boss.ok("settings", "forward", "--user=" + uid, "not-reachable", "voicemail:105")
    assert ext_of(rest, uid)["forwarding"]["not_reachable"] == {"action": "voicemail", "mailbox": "105"}


def test_always_forward_then_off(acme, user):
    boss, rest = acme
    uid, _, _ = user
    out = boss.ok("settings", "forward", "--user=" + uid, "always", "+33612345678").stdout
    assert "  unconditional: always -> +33612345678\n" in out, out
    un = ext_of(rest, uid)["forwarding"]["unconditional"]
    assert (un["mode"], un["destination"]) == ("always", {"action": "number", "number": "+33612345678"})
    out = boss.ok("settings", "forward", "--user=" + uid, "off").stdout
    assert "  unconditional: off\n" in out, out
    assert ext_of(rest, uid)["forwarding"]["unconditional"]["mode"] == "off"


def test_status_rule_set_then_default(acme, user):
    boss, rest = acme
    uid, me, my_rest = user
    # the user for their own extension, the admin for the user's: one storage
    me.ok("settings", "forward", "--status=lunch", "busy", "hangup")
    out = boss.ok("settings", "forward", "--user=" + uid, "--status=away", "no-answer", "104",
                  "--ring-time=15").stdout
    assert "  at lunch:\n    busy: hangup\n" in out, out
    assert "  when away:\n    no answer after 15 s: forward to 104\n" in out, out
    bs = ext_of(rest, uid)["forwarding"]["by_status"]
    assert bs == {"lunch": {"busy": {"action": "hangup"}},
                  "away": {"no_answer": {"action": "number", "number": "104", "ring_time": 15}}}
    # a status's no-answer rule without a ring time rings the top-level one's
    me.ok("settings", "forward", "no-answer", "105", "--ring-time=40")
    out = me.ok("settings", "forward", "--status=lunch", "no-answer", "106").stdout
    assert "  at lunch:\n    busy: hangup\n    no answer after 40 s: forward to 106\n" in out, out
    me.ok("settings", "forward", "--status=lunch", "no-answer", "default")
    # default: lunch's busy goes (available's applies again), away's stays
    out = me.ok("settings", "forward", "--status=lunch", "busy", "default").stdout
    assert "  at lunch: as available\n" in out, out
    bs = my_rest.get("/api/user/extension")["forwarding"]["by_status"]
    assert "busy" not in bs.get("lunch", {}) and bs["away"]["no_answer"]["number"] == "104"
    # the escape hatch: raw JSON for any field, here null for a whole set
    boss.ok("settings", "set", "--user=" + uid, "--forwarding.by-status.away:=null")
    assert "away" not in ext_of(rest, uid)["forwarding"]["by_status"]


def test_refusals_change_nothing(acme, user):
    boss, rest = acme
    uid, _, _ = user
    before = ext_of(rest, uid)
    for args, field in ((["set", "--max-calls=-1"], "max_simultaneous_calls"),
                        (["forward", "busy", "reception"], "forwarding.busy.number"),
                        (["forward", "no-answer", "voicemail:box1"], "forwarding.no_answer.mailbox"),
                        (["set", "--status=holiday"], "status")):
        r = boss.run("settings", *args, "--user=" + uid)
        assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
        assert field + ":" in r.stderr and "HTTP 422" in r.stderr, (args, r.stderr)
        assert r.stdout == "", (args, r.stdout)
    assert ext_of(rest, uid) == before


def test_user_cannot_reach_another_user(acme, user):
    boss, rest = acme
    _, me, _ = user
    bid, _ = add_user(rest)
    for args in (["settings", "--user=" + bid], ["settings", "set", "--user=" + bid, "--dnd=on"],
                 ["settings", "forward", "--user=" + bid, "always", "102"]):
        r = me.run(*args)
        assert r.returncode == 1 and "HTTP 403" in r.stderr, (args, r.stderr)
    s = ext_of(rest, bid)
    assert s["dnd"] is False and s["forwarding"]["unconditional"]["mode"] == "off"
    # nor the fields that are the admin's on their own extension
    r = me.run("settings", "set", "--max-calls=3")
    assert r.returncode == 1 and "max_simultaneous_calls" in r.stderr and "403" in r.stderr, r.stderr


def test_usage_errors_send_nothing(acme, user):
    """Wrong command lines exit 2 before anything is sent: signed in with a wrong
    password, anything sent would fail with exit 1 instead."""
    boss, rest = acme
    uid, _, _ = user
    before = ext_of(rest, uid)
    wrong = boss.as_("boss", "not-the-password", boss.domain)
    u = "--user=" + uid
    for args in (["frob"], ["show", "extra"], ["show", "--user="], ["show", "--bogus=1"],
                 ["set", u], ["set", u, "--dnd=maybe"], ["set", u, "--max-calls=many"],
                 ["set", u, "--bogus"], ["set", u, "--voicemail:={not json"],
                 ["forward", u], ["forward", u, "sometimes", "102"], ["forward", u, "busy"],
                 ["forward", u, "busy", "102", "103"], ["forward", u, "off", "102"],
                 ["forward", u, "busy", ""], ["forward", u, "busy", "voicemail:"],
                 ["forward", u, "busy", "default"], ["forward", u, "always", "102", "--status=away"],
                 ["forward", u, "off", "--status=lunch"], ["forward", u, "busy", "102", "--status=holiday"],
                 ["forward", u, "busy", "102", "--ring-time=30"],
                 ["forward", u, "no-answer", "default", "--status=away", "--ring-time=30"],
                 ["forward", u, "no-answer", "102", "--ring-time=soon"],
                 ["forward", u, "busy", "102", "--bogus=1"]):
        r = wrong.run("settings", *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert r.stderr.strip() and "HTTP" not in r.stderr, (args, r.stderr)
    assert ext_of(rest, uid) == before
