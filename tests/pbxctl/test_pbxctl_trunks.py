"""pbxctl's SIP trunk commands end to end against a real pbxd (issue 15):
`provider` (the system admin's, assigned to tenants, and a tenant's own; status,
assignees, the password kept out of every output), `inbound` and `outbound`
rules, the toll-fraud lists `country-code`, `disallowed` and `blacklist`, and
`outbound-limits`. Each family: add, list shows it, show, set changes it, export
has it, remove. The API's refusals are shown with exit 1; usage errors exit 2
with nothing sent.
FEATURES: TRK-01 (provider CRUD, status, export), TRK-05 (DIDs and ranges),
TRK-06 (assignees), TRK-07 (inbound rules), TRK-08 (outbound rules),
TRK-09 (allowed country codes), TRK-10 (disallowed codes),
TRK-11 (blacklisted numbers)."""
import csv
import io
import json
import re

import pytest

from .pbxctl_env import PBXCTL_BIN, Ctl, unique
from .test_pbxctl_secrets import _pty_session

SECRET = "Trunk-secret-93"
STATES = {"registered", "registering", "failed", "unregistered", "ip", "disabled"}

_dids = [0]


def did():
    """A DID no other test of this module uses (one rule per DID across tenants)."""
    _dids[0] += 1
    return "1880%04d" % _dids[0]


def table(out):
    """A table's header (its words) and rows (split on 2+ spaces, as aligned)."""
    lines = out.splitlines()
    return lines[0].split(), [re.split(r"\s{2,}", ln.strip()) for ln in lines[1:]]


def csv_rows(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def with_extension(boss, ext="101"):
    name = unique("tr")
    boss.ok("user", "add", "--username=" + name, "--password=User-pass-1", "--email=%s@example.test" % name,
            "--extension-number=" + ext, "--extension-password=Sip-pass-" + ext)


def ip_provider(ctl, **kw):
    args = ["--name=" + unique("ip"), "--hostname=192.0.2.10", "--ip=192.0.2.0/24"]
    args += ["--%s=%s" % (k.replace("_", "-"), v) for k, v in kw.items()]
    return ctl.json("provider", "add", *args)


def test_help_lists_the_commands():
    out = Ctl("http://127.0.0.1:1").run("--help", flags=False).stdout
    for words in ("provider list", "provider add --name=N --hostname=H", "provider set ID", "provider remove ID",
                  "provider status ID", "provider export", "provider assign ID --tenant=", "provider unassign ID",
                  "provider assignees ID", "inbound add --name=N --provider=ID --did=DID --to=EXT",
                  "outbound add --name=N --pattern=P --providers=ID", "country-code list|add CODE",
                  "disallowed list|add CODE", "blacklist list|add NUMBER", "outbound-limits [show]",
                  "outbound-limits set [--max-concurrent=N]"):
        assert words in out, words


def test_provider_crud_and_the_password_never_shown(admin, tmp_path):
    """TRK-01: a system admin's register provider with its password from stdin:
    add, list, show, set, export, remove; the password appears in no output."""
    name = unique("carrier")
    r = admin.ok("--json", "provider", "add", "--name=" + name, "--hostname=sip.carrier.example",
                 "--username=acct-7", "--password=-", "--ip=192.0.2.1", "--ip=198.51.100.0/24,2001:db8::7",
                 "--country-code=44", "--max-calls=5", "--expires=600", input=SECRET + "\n")
    outputs = [r.stdout + r.stderr]
    p = json.loads(r.stdout)
    pid = p["id"]
    assert admin.json("provider", "show", pid) == p
    assert (p["name"], p["hostname"], p["authentication"], p["username"], p["owner"]) == (
        name, "sip.carrier.example", "register", "acct-7", "system")
    assert p["ip_addresses"] == ["192.0.2.1", "198.51.100.0/24", "2001:db8::7"]
    assert (p["country_code"], p["max_calls"], p["register_expires"], p["port"], p["enabled"]) == (
        "44", 5, 600, 5060, True)
    assert p["password_set"] is True and "password" not in p

    r = admin.ok("provider", "list")
    outputs.append(r.stdout)
    head, rows = table(r.stdout)
    assert head == ["ID", "NAME", "OWNER", "HOSTNAME", "PORT", "TRANSPORT", "AUTH", "ENABLED"]
    assert [pid, name, "system", "sip.carrier.example", "5060", "udp", "register", "true"] in rows

    r = admin.ok("provider", "show", pid)
    outputs.append(r.stdout)
    shown = dict(ln.split(None, 1) for ln in r.stdout.splitlines() if len(ln.split(None, 1)) == 2)
    assert shown["ip_addresses"] == "192.0.2.1, 198.51.100.0/24, 2001:db8::7" and shown["password_set"] == "true"

    # set: named options typed (--port an integer), --disabled, --ip= replaced
    p2 = admin.json("provider", "set", pid, "--port=5070", "--transport=tcp", "--disabled", "--ip=203.0.113.5",
                    "--outbound-proxy=proxy.carrier.example:5080")
    assert (p2["port"], p2["transport"], p2["enabled"], p2["ip_addresses"], p2["outbound_proxy"]) == (
        5070, "tcp", False, ["203.0.113.5"], "proxy.carrier.example:5080")
    assert p2["password_set"] is True and p2["username"] == "acct-7"
    # a new password through a bare --password (stdin), never echoed
    r = admin.ok("--json", "provider", "set", pid, "--password", "--enabled", input="Other-secret-5\n")
    outputs.append(r.stdout + r.stderr)
    assert json.loads(r.stdout)["enabled"] is True

    r = admin.ok("provider", "export")
    outputs.append(r.stdout)
    rows = csv_rows(r.stdout)
    assert rows[0][:4] == ["id", "name", "owner", "hostname"] and "password" not in rows[0]
    mine = [dict(zip(rows[0], row)) for row in rows[1:] if row[0] == pid]
    assert len(mine) == 1 and mine[0]["port"] == "5070" and mine[0]["ip_addresses"] == "203.0.113.5"
    out = tmp_path / "providers.csv"
    r = admin.ok("provider", "export", "--output=%s" % out)
    assert str(out) in r.stdout and out.read_text() == admin.ok("provider", "export").stdout
    r = admin.run("provider", "export", "--output=%s" % (tmp_path / "no-such-dir" / "x.csv"))
    assert r.returncode == 1 and "No such file or directory" in r.stderr, r.stderr

    outputs.append(admin.ok("--json", "provider", "list").stdout)
    for text in outputs:
        assert SECRET not in text and "Other-secret-5" not in text

    r = admin.ok("provider", "remove", pid)
    assert "deleted" in r.stdout
    r = admin.run("provider", "show", pid)
    assert r.returncode == 1 and "provider not found" in r.stderr, r.stderr


def test_provider_password_asked_on_a_terminal(pbxd, admin):
    """TRK-01: a bare --password on a terminal is asked twice without echo."""
    name = unique("tty")
    argv = [PBXCTL_BIN, "--url=" + pbxd.url, "--username=admin", "--password=" + pbxd.admin_password, "--json",
            "provider", "add", "--name=" + name, "--hostname=192.0.2.30", "--username=acct", "--password"]
    rc, shown = _pty_session(argv, [SECRET, SECRET])
    assert rc == 0, shown
    assert SECRET not in shown and shown.count("Password at the provider") == 2, shown
    p = [x for x in admin.json("provider", "list")["items"] if x["name"] == name][0]
    assert p["password_set"] is True and p["authentication"] == "register"
    admin.ok("provider", "remove", p["id"])


def test_provider_status(admin, tenant):
    """TRK-01: a provider's status, as a table and as JSON (admin and tenant)."""
    _, boss = tenant
    reg = admin.json("provider", "add", "--name=" + unique("reg"), "--hostname=192.0.2.20", "--username=u",
                     "--password=-", "--disabled", input=SECRET + "\n")
    st = admin.json("provider", "status", reg["id"])
    assert st["id"] == reg["id"] and st["state"] == "disabled" and st["registered"] is False and st["calls"] == 0
    own = ip_provider(boss)
    assert own["authentication"] == "ip" and own["owner"] == "tenant"
    st = boss.json("provider", "status", own["id"])
    assert st["state"] in STATES and st["registered"] is False and st["calls"] == 0
    lines = dict(ln.split(None, 1) for ln in boss.ok("provider", "status", own["id"]).stdout.splitlines()
                 if len(ln.split(None, 1)) == 2)
    assert lines["id"] == own["id"] and lines["state"] == st["state"] and lines["calls"] == "0"
    r = boss.run("provider", "status", "999999999")
    assert r.returncode == 1 and "not found" in r.stderr, r.stderr
    admin.ok("provider", "remove", reg["id"])


def test_assign_unassign_and_what_the_tenant_sees(admin, tenant):
    """TRK-06: the system admin assigns a system provider to a tenant (by domain or
    ID); the tenant's admin then lists and reads it without its account, may route
    over it but not change it; once unassigned the tenant no longer sees it."""
    t, boss = tenant
    p = admin.json("provider", "add", "--name=" + unique("shared"), "--hostname=sip.shared.example",
                   "--username=shared-acct", "--password=-", input=SECRET + "\n")
    pid = p["id"]
    assert admin.json("provider", "assignees", pid) == {"count": 0, "items": []}
    assert pid not in [x["id"] for x in boss.json("provider", "list")["items"]]

    got = admin.json("provider", "assign", pid, "--tenant=" + boss.domain)
    assert got == {"count": 1, "items": [{"tenant_id": t["id"], "name": t["name"], "domain": t["domain"]}]}
    head, rows = table(admin.ok("provider", "assignees", pid).stdout)
    assert head == ["TENANT", "ID", "NAME", "DOMAIN"] and rows == [[t["id"], t["name"], t["domain"]]]
    assert admin.json("provider", "show", pid)["assignees"] == [t["id"]]

    seen = {x["id"]: x for x in boss.json("provider", "list")["items"]}[pid]
    assert seen["owner"] == "system" and seen["hostname"] == "sip.shared.example"
    for hidden in ("username", "password", "password_set", "assignees"):
        assert hidden not in seen, hidden
    r = boss.ok("provider", "show", pid)
    assert "shared-acct" not in r.stdout and SECRET not in r.stdout
    assert SECRET not in boss.ok("provider", "export").stdout
    r = boss.run("provider", "set", pid, "--port=5099")
    assert r.returncode == 1 and "only a system administrator" in r.stderr, r.stderr
    r = boss.run("provider", "assign", pid, "--tenant=" + t["id"])
    assert r.returncode == 1 and "403" in r.stderr, r.stderr
    # it can carry the tenant's calls
    with_extension(boss)
    rule = boss.json("inbound", "add", "--name=via-shared", "--provider=" + pid, "--did=" + did(), "--to=101")
    boss.ok("inbound", "remove", rule["id"])

    r = admin.ok("provider", "unassign", pid, "--tenant=" + t["id"])
    assert "unassigned" in r.stdout
    assert admin.json("provider", "assignees", pid)["count"] == 0
    assert pid not in [x["id"] for x in boss.json("provider", "list")["items"]]
    r = boss.run("provider", "show", pid)
    assert r.returncode == 1 and "not found" in r.stderr
    r = admin.run("provider", "unassign", pid, "--tenant=" + t["id"])
    assert r.returncode == 1 and "not found" in r.stderr, r.stderr
    r = admin.run("provider", "assign", pid, "--tenant=no-such.example.test")
    assert r.returncode == 1 and "no such tenant" in r.stderr, r.stderr
    admin.ok("provider", "remove", pid)


def test_inbound_rules(admin, tenant):
    """TRK-07/TRK-05: inbound rules: a DID (and a range) to an extension, office
    hours' destination, one rule per DID (the API's 409 shown), export."""
    _, boss = tenant
    with_extension(boss, "101")
    with_extension(boss, "102")
    prov = ip_provider(boss)["id"]
    number = did()
    r = boss.json("inbound", "add", "--name=main", "--provider=" + prov, "--did=" + number, "--to=101",
                  "--outside-hours-to=hangup")
    rid = r["id"]
    assert r["destination"] == {"action": "number", "number": "101"}
    assert r["outside_hours_destination"] == {"action": "hangup"} and r["provider_id"] == prov
    head, rows = table(boss.ok("inbound", "list").stdout)
    assert head == ["ID", "NAME", "PROVIDER", "DID", "TO", "OUTSIDE", "HOURS", "TO"]
    assert rows == [[rid, "main", prov, number, "101", "hangup"]]
    assert boss.json("inbound", "show", rid) == r
    assert boss.json("inbound", "list")["items"] == [r]

    # the same number again, or a range over it: the API's conflict, shown
    r2 = boss.run("inbound", "add", "--name=dup", "--provider=" + prov, "--did=" + number, "--to=102")
    assert r2.returncode == 1 and "did: %s is (partly) taken by another inbound rule" % number in r2.stderr, r2.stderr
    r2 = boss.run("inbound", "add", "--name=over", "--provider=" + prov, "--did=%s-%s" % (number, number[:-1] + "9"),
                  "--to=102")
    assert r2.returncode == 1 and "taken" in r2.stderr, r2.stderr
    # TRK-05: a range of its own is fine
    rng = boss.json("inbound", "add", "--name=pool", "--provider=" + prov, "--did=1990000-1990099", "--to=102")
    assert rng["did"] == "1990000-1990099"

    s = boss.json("inbound", "set", rid, "--to=102", "--outside-hours-to=", "--name=renamed")
    assert s["destination"] == {"action": "number", "number": "102"} and s["name"] == "renamed"
    assert s.get("outside_hours_destination") is None
    rows = csv_rows(boss.ok("inbound", "export").stdout)
    assert rows[0][:4] == ["id", "name", "provider_id", "did"]
    by_id = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    assert by_id[rid]["did"] == number and by_id[rid]["name"] == "renamed" and rng["id"] in by_id
    assert json.loads(by_id[rid]["destination"]) == {"action": "number", "number": "102"}

    r2 = boss.run("inbound", "add", "--name=x", "--provider=999999999", "--did=" + did(), "--to=101")
    assert r2.returncode == 1 and "provider_id: no such provider" in r2.stderr, r2.stderr
    r2 = boss.run("inbound", "add", "--name=x", "--provider=" + prov, "--did=" + did(), "--to=555")
    assert r2.returncode == 1 and "no extension 555" in r2.stderr, r2.stderr
    # a system admin acts in the tenant with --tenant
    r2 = admin.run("inbound", "list")
    assert r2.returncode == 1 and "--tenant=" in r2.stderr, r2.stderr
    assert [x["id"] for x in admin.json("--tenant=" + boss.domain, "inbound", "list")["items"]] == [rid, rng["id"]]

    for x in (rid, rng["id"]):
        boss.ok("inbound", "remove", x)
    assert boss.json("inbound", "list")["count"] == 0
    r2 = boss.run("inbound", "remove", rid)
    assert r2.returncode == 1 and "not found" in r2.stderr


def test_outbound_rules(tenant):
    """TRK-08: outbound rules: a pattern to providers in order, strip/prepend,
    priority; bad pattern and unknown providers refused with the API's words."""
    _, boss = tenant
    a, b = ip_provider(boss)["id"], ip_provider(boss)["id"]
    r = boss.json("outbound", "add", "--name=intl", "--pattern=900X.", "--providers=%s, %s" % (a, b), "--strip=1",
                  "--prepend=0044", "--priority=5")
    oid = r["id"]
    assert (r["pattern"], r["provider_ids"], r["strip_digits"], r["prepend"], r["priority"]) == (
        "900X.", [a, b], 1, "0044", 5)
    head, rows = table(boss.ok("outbound", "list").stdout)
    assert head == ["ID", "NAME", "PATTERN", "STRIP", "PREPEND", "PROVIDERS", "PRIORITY"]
    assert rows == [[oid, "intl", "900X.", "1", "0044", "%s, %s" % (a, b), "5"]]
    assert boss.json("outbound", "show", oid) == r
    d = boss.json("outbound", "add", "--name=local", "--pattern=9NXXXXXX", "--providers=" + a)
    assert (d["strip_digits"], d["prepend"], d["priority"]) == (0, "", 100)

    s = boss.json("outbound", "set", oid, "--providers=" + b, "--providers=" + a, "--priority=7", "--strip=0")
    assert (s["provider_ids"], s["priority"], s["strip_digits"]) == ([b, a], 7, 0)
    rows = csv_rows(boss.ok("outbound", "export").stdout)
    assert rows[0] == ["id", "name", "pattern", "strip_digits", "prepend", "provider_ids", "priority"]
    assert [oid, "intl", "900X.", "0", "0044", "%s;%s" % (b, a), "7"] in rows

    r2 = boss.run("outbound", "add", "--name=bad", "--pattern=9X(", "--providers=" + a)
    assert r2.returncode == 1 and "pattern:" in r2.stderr and "invalid_field" in r2.stderr, r2.stderr
    r2 = boss.run("outbound", "set", oid, "--pattern=")
    assert r2.returncode == 1 and "pattern" in r2.stderr, r2.stderr
    r2 = boss.run("outbound", "add", "--name=bad", "--pattern=9X.", "--providers=%s,999999999" % a)
    assert r2.returncode == 1 and "provider_ids[1]: no such provider" in r2.stderr, r2.stderr
    # a provider in use is not removed
    r2 = boss.run("provider", "remove", a)
    assert r2.returncode == 1 and "in_use" in r2.stderr, r2.stderr

    for x in (oid, d["id"]):
        boss.ok("outbound", "remove", x)
    assert boss.json("outbound", "list") == {"count": 0, "items": []}
    boss.ok("provider", "remove", a)


@pytest.mark.parametrize("cmd,field,value,bad", [
    ("country-code", "code", "44", "0044"),       # TRK-09
    ("disallowed", "code", "1900", "19a"),        # TRK-10
    ("blacklist", "number", "+442071234567", "+44-20"),  # TRK-11
])
def test_number_lists(tenant, cmd, field, value, bad):
    """TRK-09/TRK-10/TRK-11: allowed country codes, disallowed codes and
    blacklisted numbers: add, list, show, set, export, remove; refusals shown."""
    _, boss = tenant
    x = boss.json(cmd, "add", value, "--name=first")
    assert (x[field], x["name"]) == (value, "first")
    head, rows = table(boss.ok(cmd, "list").stdout)
    assert head == ["ID", field.upper(), "NAME"] and rows == [[x["id"], value, "first"]]
    assert boss.json(cmd, "show", x["id"]) == x
    assert boss.json(cmd, "set", x["id"], "--name=renamed")["name"] == "renamed"
    rows = csv_rows(boss.ok(cmd, "export").stdout)
    assert rows == [["id", field, "name"], [x["id"], value, "renamed"]]
    r = boss.run(cmd, "add", value)
    assert r.returncode == 1 and "already in use" in r.stderr and "409" in r.stderr, r.stderr
    r = boss.run(cmd, "add", bad)
    assert r.returncode == 1 and field in r.stderr and "422" in r.stderr, r.stderr
    assert "deleted" in boss.ok(cmd, "remove", x["id"]).stdout
    assert boss.json(cmd, "list") == {"count": 0, "items": []}
    r = boss.run(cmd, "remove", x["id"])
    assert r.returncode == 1 and "not found" in r.stderr


def test_outbound_limits(tenant):
    """The tenant's toll-fraud caps: the defaults, a partial change, refusals."""
    _, boss = tenant
    assert boss.json("outbound-limits") == {"max_concurrent_calls": 10, "max_calls_per_hour": 60,
                                            "extension_max_concurrent_calls": 2, "extension_max_calls_per_hour": 20}
    got = boss.json("outbound-limits", "set", "--max-concurrent=3", "--ext-max-per-hour=0")
    assert got == {"max_concurrent_calls": 3, "max_calls_per_hour": 60,
                   "extension_max_concurrent_calls": 2, "extension_max_calls_per_hour": 0}
    boss.ok("outbound-limits", "set", "--max-per-hour=100", "--ext-max-concurrent=1")
    lines = dict(ln.split() for ln in boss.ok("outbound-limits", "show").stdout.splitlines())
    assert lines == {"max_concurrent_calls": "3", "max_calls_per_hour": "100",
                     "extension_max_concurrent_calls": "1", "extension_max_calls_per_hour": "0"}
    r = boss.run("outbound-limits", "set", "--max-concurrent=-1")
    assert r.returncode == 1 and "max_concurrent_calls" in r.stderr and "422" in r.stderr, r.stderr
    assert boss.json("outbound-limits")["max_concurrent_calls"] == 3


def test_usage_errors_send_nothing(admin, tenant):
    """Wrong command lines exit 2 before anything is sent (a wrong password
    would fail exit 1 only if something were)."""
    _, boss = tenant
    wrong = boss.as_("boss", "not-the-password", boss.domain)
    for args in (["provider"], ["provider", "frob"], ["provider", "add", "--name=x"],
                 ["provider", "add", "--hostname=h"], ["provider", "add", "--name=x", "--hostname=h", "--port=abc"],
                 ["provider", "add", "--name=x", "--hostname=h", "--ip"], ["provider", "set", "1"],
                 ["provider", "show"], ["provider", "status"], ["provider", "assign", "1"],
                 ["provider", "unassign", "1", "--tenant="], ["provider", "export", "--output="],
                 ["provider", "list", "--bogus=1"],
                 ["inbound", "add", "--name=x", "--provider=1", "--did=1"],
                 ["inbound", "add", "--name=x", "--provider=1", "--did=1", "--to="],
                 ["outbound", "add", "--name=x", "--pattern=9X."], ["outbound", "add", "--name=x", "--pattern=9",
                                                                    "--providers=1", "--strip=x"],
                 ["country-code", "add"], ["country-code", "add", "1", "2"], ["blacklist", "remove"],
                 ["disallowed", "export", "extra"], ["outbound-limits", "set"],
                 ["outbound-limits", "set", "--max-concurrent=many"], ["outbound-limits", "set", "--frob=1"],
                 ["outbound-limits", "frob"]):
        r = wrong.run(*args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert r.stderr.strip() and "HTTP" not in r.stderr, (args, r.stderr)
    # one value from stdin per run: the sign-in password and the provider's
    r = Ctl(admin.url, "admin", "-").run("provider", "add", "--name=x", "--hostname=h", "--password=-",
                                          input="x\n")
    assert r.returncode == 2 and "only one value" in r.stderr, r.stderr


def test_unknown_provider_id(admin):
    """An unknown provider: the API's 404 shown, exit 1, for every verb."""
    for args in (["provider", "show", "999999999"], ["provider", "set", "999999999", "--port=5070"],
                 ["provider", "remove", "999999999"], ["provider", "status", "999999999"],
                 ["provider", "assignees", "999999999"]):
        r = admin.run(*args)
        assert r.returncode == 1 and "provider not found" in r.stderr and "404" in r.stderr, (args, r.stderr)
    # an ID is escaped into the path: it never reaches another route
    r = admin.run("provider", "show", "../tenants")
    assert r.returncode == 1 and "404" in r.stderr and "tenants" not in r.stdout, r.stderr
