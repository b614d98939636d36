"""pbxctl end to end against a running pbxd: tenants, users, extensions and
passwords through the REST API, in tables and in --json."""
import json

from .pbxctl_env import ADMIN_PASSWORD, Ctl, Pbxd, clean_env, unique


def ids(listing):
    return {str(i["id"]) for i in listing["items"]}


def test_help_lists_commands_and_options():
    r = Ctl("http://127.0.0.1:1").run("--help", flags=False)
    assert r.returncode == 0
    for word in ("info", "tenant", "user", "extension", "registrations", "calls", "init",
                 "password", "--url", "--username", "--password", "--domain", "--json",
                 "--insecure", "PBXCTL_URL", "--admin-password"):
        assert word in r.stdout, word


def test_info_needs_no_sign_in(pbxd):
    info = Ctl(pbxd.url).json("info")
    assert isinstance(info, dict)
    r = Ctl(pbxd.url).ok("info")
    assert r.stdout.strip()


def test_me_as_system_admin(admin):
    me = admin.json("me")
    assert "admin" in json.dumps(me)
    assert "admin" in admin.ok("me").stdout


def test_tenant_add_list_show_update_delete(admin):
    name = unique("acme")
    domain = name + ".example.test"
    t = admin.json("tenant", "add", "--name=" + name, "--domain=" + domain,
                   "--admin-username=boss", "--admin-password=Boss-pass-1")
    tid = str(t["id"])
    assert tid.isdigit()

    # The table has a header and one aligned row per tenant.
    table = admin.ok("tenant", "list").stdout.splitlines()
    assert table[0].split()[:2] == ["ID", "NAME"]
    row = [line for line in table if line.startswith(tid + " ")]
    assert row and name in row[0] and domain in row[0]
    assert table[0].index("NAME") == row[0].index(name)

    listing = admin.json("tenant", "list")
    assert listing["count"] >= 1 and tid in ids(listing)

    shown = admin.json("tenant", "show", tid)
    assert shown["name"] == name and shown["domain"] == domain
    assert domain in admin.ok("tenant", "show", tid).stdout

    admin.ok("tenant", "update", tid, "--name=" + name + "x")
    assert admin.json("tenant", "show", tid)["name"] == name + "x"
    # Fields are typed like their current value; dots reach nested objects.
    admin.ok("tenant", "update", tid, "--enabled=false", "--limits.max-users=7")
    shown = admin.json("tenant", "show", tid)
    assert shown["enabled"] is False and shown["limits"]["max_users"] == 7
    admin.ok("tenant", "update", tid, "--enabled=true")

    # Its first tenant admin can sign in with the tenant's domain.
    boss = admin.as_("boss", "Boss-pass-1", domain)
    assert "boss" in json.dumps(boss.json("me"))

    admin.ok("tenant", "delete", tid)
    assert tid not in ids(admin.json("tenant", "list"))
    r = admin.run("tenant", "show", tid)
    assert r.returncode == 1 and r.stderr.strip()


def test_user_add_list_show_update_delete(tenant):
    _, boss = tenant
    u = boss.json("user", "add", "--username=alice", "--password=Alice-pass-1",
                  "--email=alice@example.test", "--display-name=Alice Liddell", "--role=user",
                  "--extension-number=101", "--extension-password=Sip-pass-101")
    uid = str(u["id"])
    assert "password" not in u and "extension_password" not in u  # write only

    table = boss.ok("user", "list").stdout
    assert "alice" in table and "Alice Liddell" in table and "101" in table
    assert uid in ids(boss.json("user", "list"))

    shown = boss.json("user", "show", uid)
    assert shown["username"] == "alice"
    assert shown["email"] == "alice@example.test"
    assert shown["display_name"] == "Alice Liddell"
    assert shown["role"] == "user"
    assert str(shown["extension_number"]) == "101"

    boss.ok("user", "update", uid, "--display-name=Alice L.", "--email=al@example.test")
    shown = boss.json("user", "show", uid)
    assert shown["display_name"] == "Alice L." and shown["email"] == "al@example.test"

    ext = boss.ok("extension", "list").stdout
    assert "101" in ext and "alice" in ext

    boss.ok("user", "delete", uid)
    assert uid not in ids(boss.json("user", "list"))
    assert boss.run("user", "show", uid).returncode == 1


def test_user_password_set_by_admin_then_sign_in(pbxd, tenant):
    _, boss = tenant
    u = boss.json("user", "add", "--username=bob", "--password=Bob-pass-1", "--email=bob@example.test",
                  "--extension-number=102", "--extension-password=Sip-pass-102")
    bob = boss.as_("bob", "Bob-pass-1", boss.domain)
    bob.ok("me")
    boss.ok("user", "password", str(u["id"]), "Bob-pass-2")
    assert "bob" in json.dumps(boss.as_("bob", "Bob-pass-2", boss.domain).json("me"))


def test_own_password_change_then_sign_in(tenant):
    _, boss = tenant
    boss.json("user", "add", "--username=carol", "--password=Carol-pass-1",
              "--email=carol@example.test", "--extension-number=103",
              "--extension-password=Sip-pass-103")
    carol = boss.as_("carol", "Carol-pass-1", boss.domain)
    carol.ok("password", "Carol-pass-2")
    assert "carol" in json.dumps(boss.as_("carol", "Carol-pass-2", boss.domain).json("me"))


def test_system_admin_changes_own_password(tmp_path):
    """`password NEWPW` works for a system admin too (POST /api/me/password)."""
    d = Pbxd(tmp_path)
    try:
        Ctl(d.url, "admin", d.admin_password).ok("password", "New-admin-pass-2")
        assert Ctl(d.url, "admin", "New-admin-pass-2").json("me")["role"] == "system_admin"
        assert Ctl(d.url, "admin", d.admin_password).run("me").returncode != 0
    finally:
        d.stop()


def test_system_admin_acts_in_a_tenant(admin, tenant):
    t, boss = tenant
    for which in (str(t["id"]), boss.domain):
        listing = admin.json("--tenant=" + which, "user", "list")
        assert "boss" in [u["username"] for u in listing["items"]]
    u = admin.json("--tenant=" + boss.domain, "user", "add", "--username=dave",
                   "--password=Dave-pass-1", "--email=dave@example.test",
                   "--extension-number=104", "--extension-password=Sip-pass-104")
    assert str(u["id"]) in ids(boss.json("user", "list"))
    r = admin.run("--tenant=no-such-tenant.example.test", "user", "list")
    assert r.returncode == 1 and "no such tenant" in r.stderr


def test_environment_configuration(pbxd):
    env = clean_env(PBXCTL_URL=pbxd.url, PBXCTL_USERNAME="admin",
                    PBXCTL_PASSWORD=ADMIN_PASSWORD)
    r = Ctl(pbxd.url).run("--json", "me", env=env, flags=False)
    assert r.returncode == 0, r.stderr
    assert "admin" in json.dumps(json.loads(r.stdout))
    # Flags win over the environment.
    env["PBXCTL_PASSWORD"] = "not-the-password"
    r = Ctl(pbxd.url).run("--password=" + ADMIN_PASSWORD, "me", env=env, flags=False)
    assert r.returncode == 0, r.stderr


def test_json_output_parses(admin, tenant):
    _, boss = tenant
    for ctl, args in ((admin, ["info"]), (admin, ["me"]), (admin, ["tenant", "list"]),
                      (boss, ["user", "list"]), (boss, ["extension", "list"])):
        r = ctl.ok("--json", *args)
        json.loads(r.stdout)
        r = ctl.ok(*args, "--json")  # also accepted after the command
        json.loads(r.stdout)


def test_list_paging_options(tenant):
    _, boss = tenant
    for n in range(3):
        boss.ok("user", "add", "--username=p%d" % n, "--password=Page-pass-%d" % n,
                "--email=p%d@example.test" % n, "--extension-number=20%d" % n,
                "--extension-password=Sip-pass-20%d" % n)
    page = boss.json("user", "list", "--top=1")
    assert len(page["items"]) == 1 and page["count"] >= 4
    assert len(boss.json("user", "list")["items"]) == page["count"]


def test_registrations_and_calls_answer_or_say_not_available(admin, tenant):
    _, boss = tenant
    for cmd in ("registrations", "calls"):
        r = boss.run(cmd)
        if r.returncode != 0:
            assert r.returncode == 1 and "not available" in r.stderr, r.stderr


def test_init_then_pbxd_creates_the_admin(tmp_path):
    from .pbxctl_env import Pbxd
    d = tmp_path / "fresh" / "data"
    r = Ctl("http://127.0.0.1:1").run("init", "--data-dir=%s" % d, "--admin-password=Init-pass-1",
                                      flags=False)
    assert r.returncode == 0, r.stderr
    assert d.is_dir() and "pbxd --data-dir=%s --admin-password=Init-pass-1" % d in r.stdout
    # Initialising it twice is refused.
    assert Ctl("x").run("init", "--data-dir=%s" % tmp_path, flags=False).returncode == 1
    # Starting pbxd as printed gives an admin with that password.
    p = Pbxd(tmp_path, data_dir=d, admin_password="Init-pass-1")
    try:
        Ctl(p.url, "admin", "Init-pass-1").ok("me")
    finally:
        p.stop()


def test_https_self_signed_needs_insecure(tmp_path):
    from .pbxctl_env import Pbxd
    p = Pbxd(tmp_path, tls=True)
    try:
        ctl = Ctl(p.url, "admin", ADMIN_PASSWORD)
        r = ctl.run("me")
        assert r.returncode == 1 and "certificate" in r.stderr, r.stderr
        ctl.ok("--insecure", "me")
        r = ctl.run("me", env=clean_env(PBXCTL_INSECURE="1"))
        assert r.returncode == 0, r.stderr
    finally:
        p.stop()
