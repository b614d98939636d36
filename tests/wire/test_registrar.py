"""The registrar against real clients (issue 11, "How it is checked"): SIPp's REGISTER
scenarios with digest over UDP and TCP (register, refresh, several devices,
unregister by Expires: 0 and by Contact: *, wrong password, unknown extension, stale
nonce, expiry too brief, another tenant's domain), baresip as a real phone, and the
bindings surviving a restart of pbxd. What pbxd holds is read back through the REST
API (GET /api/users/{id}/devices).

Features: REG-01 (digest REGISTER: extension number, extension password, tenant
domain), REG-02 (several devices per extension), REG-03 (address, port, transport,
User-Agent per device), REG-08 (a real client configured as documented), SIP-01 and
SIP-02 (UDP and TCP), SIP-11 (the tenant chosen by the SIP domain)."""

import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Pbxd, SipMsg, free_port, free_port_both
from sipua import RegUA, contact_expiries

SCEN = Path(__file__).resolve().parent / "scenarios"
DOMAIN = "pbx.local"
OTHER_DOMAIN = "b.wire.test"

# Extensions of the default tenant, each used by one test so that tests do not see
# each other's devices.
PASSWORDS = {ext: f"sip-Secret-{ext}" for ext in range(101, 112)}
OTHER_101 = "other-Tenant-101"  # extension 101 of the other tenant


class Reg:
    """The module's pbxd with its users: `ids[ext]` the user id of extension ext of
    pbx.local, `other_101` the id of 101 of the other tenant."""

    def __init__(self, p):
        self.p = p
        self.api = p.tenant_admin()
        self.ids = {ext: self.api.create_user(ext, pw) for ext, pw in PASSWORDS.items()}
        sa = p.sysadmin()
        sa.ok("POST", "/tenants", {
            "name": "Other", "domain": OTHER_DOMAIN,
            "admin": {"username": "otheradmin", "password": "Other-admin-1",
                      "email": f"otheradmin@{OTHER_DOMAIN}"}}, status=201)
        self.other_api = p.api("otheradmin", "Other-admin-1", OTHER_DOMAIN)
        self.other_101 = self.other_api.create_user(101, OTHER_101, domain=OTHER_DOMAIN)

    def devices(self, ext, settle=True):
        if settle:
            time.sleep(0.05)  # the API reads the PBX's state through its queue
        return self.api.devices(self.ids[ext])


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    """A pbxd that bans no one here (the refused registrations of this module are
    many; bans have their tests in test_registrar_abuse.py)."""
    p = Pbxd(tmp_path_factory.mktemp("registrar"), args=["--auth-max-failures=1000"]).start()
    try:
        yield Reg(p)
    finally:
        p.assert_clean_exit()


def sipp(p, scenario, tmp_path, transport="udp", ext="101", password=None, domain=DOMAIN,
         cport=None, ua="SIPp pbxd-wire-tests", sets=(), name=None, timeout=25):
    """Runs one call of a scenario of scenarios/ against pbxd; returns (exit status,
    the SIPp message log, the local port SIPp used)."""
    name = name or f"{Path(scenario).stem}-{transport}-{ext}"
    log = tmp_path / f"{name}.msg"
    err = tmp_path / f"{name}.err"
    lport = free_port(socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM,
                      avoid=(p.udp_port, p.tcp_port))
    target = p.udp_port if transport == "udp" else p.tcp_port
    argv = ["sipp", "-sf", str(SCEN / scenario), "-m", "1", "-t", "u1" if transport == "udp" else "t1",
            "-s", str(ext), "-au", str(ext), "-ap", password or PASSWORDS.get(int(ext), "x"),
            "-set", "domain", domain, "-set", "cport", str(cport or lport), "-set", "ua", ua]
    for k, v in sets:
        argv += ["-set", k, str(v)]
    argv += ["-i", "127.0.0.1", "-p", str(lport), "-nostdin", "-timeout", f"{timeout - 5}s",
             "-timeout_error", "-trace_msg", "-message_file", str(log), "-trace_err",
             "-error_file", str(err), f"127.0.0.1:{target}"]
    r = subprocess.run(argv, capture_output=True, timeout=timeout, cwd=tmp_path)
    text = log.read_text(errors="replace") if log.exists() else ""
    if r.returncode != 0:
        text += "\n--- sipp stderr:\n" + r.stderr.decode(errors="replace")[-2000:]
        if err.exists():
            text += "\n--- sipp errors:\n" + err.read_text(errors="replace")[-2000:]
    return r.returncode, text, lport


def received(log):
    """The SIP messages SIPp received, from its message log (str each)."""
    parts = re.split(r"-{10,} [0-9-]+ [0-9:.]+\n", log)
    return [p.split("\n", 2)[2] for p in parts if re.match(r"(UDP|TCP) message received", p)]


def responses(log, code):
    return [m for m in received(log) if m.startswith(f"SIP/2.0 {code} ")]


def source_port(log):
    """The port SIPp sent from, as its Via says (the TCP connection's own port)."""
    return int(re.search(r"Via: SIP/2\.0/\w+ 127\.0\.0\.1:(\d+)", log).group(1))


def contacts_of(msg):
    """{contact URI: expires} of a response's Contact headers (SIPp log text)."""
    out = {}
    for m in re.finditer(r"(?im)^(?:contact|m)\s*:\s*<([^>]*)>[^\r\n]*?;expires=(\d+)", msg):
        out[m.group(1)] = int(m.group(2))
    return out


def one_device(devs, cport):
    mine = [d for d in devs if f":{cport};" in d["contact"] or d["contact"].endswith(f":{cport}")]
    assert len(mine) == 1, f"want one device with contact port {cport}: {devs}"
    return mine[0]


# --------------------------------------------------------------------------- SIPp


@pytest.mark.parametrize("transport,ext", [("udp", 101), ("tcp", 102)])
def test_sipp_register_refresh_unregister(reg, tmp_path, transport, ext):
    """REG-01, REG-03, SIP-01/SIP-02: SIPp registers with digest (401, then 200
    listing its Contact with the 120 s asked for), refreshes in the same Call-ID
    with 300 s, and the API shows the device with its source address and port,
    transport, User-Agent and remaining time; Expires: 0 on that Contact removes
    it; registered again, Contact: * removes every binding."""
    ua = f"SIPp-{transport}/3.6 pbxd-wire-tests"
    cport = free_port()
    rc, log, _ = sipp(reg.p, "register_digest.xml", tmp_path, transport, ext, cport=cport, ua=ua,
                      sets=(("exp1", 120), ("exp2", 300)))
    assert rc == 0, log
    oks = responses(log, 200)
    assert len(oks) == 2, log
    uri = f"sip:{ext}@127.0.0.1:{cport};transport={transport.upper()}"
    assert contacts_of(oks[0]) == {uri: 120}, oks[0]
    assert contacts_of(oks[1]) == {uri: 300}, oks[1]
    sport = source_port(log)

    devs = reg.devices(ext)
    assert len(devs) == 1, devs
    d = devs[0]
    assert d["contact"] == uri
    assert d["address"] == "127.0.0.1"
    assert d["port"] == sport
    assert d["transport"] == transport
    assert d["user_agent"] == ua
    assert 295 <= d["expires"] <= 300, d

    rc, log, _ = sipp(reg.p, "unregister.xml", tmp_path, transport, ext, cport=cport, ua=ua)
    assert rc == 0, log
    assert contacts_of(responses(log, 200)[-1]) == {}, log
    assert reg.devices(ext) == []

    rc, log, _ = sipp(reg.p, "register_digest.xml", tmp_path, transport, ext, cport=cport, ua=ua,
                      sets=(("exp1", 120), ("exp2", 120)), name=f"again-{transport}")
    assert rc == 0, log
    assert len(reg.devices(ext)) == 1
    rc, log, _ = sipp(reg.p, "unregister_star.xml", tmp_path, transport, ext, ua=ua)
    assert rc == 0, log
    assert reg.devices(ext) == []


def test_sipp_two_devices_each_own_expiry(reg, tmp_path):
    """REG-02, REG-03: two devices of extension 103 (a desk phone over UDP for
    120 s, a softphone over TCP for 600 s) are both bound, each with its own expiry:
    the second 200 lists both Contacts, the API lists both with address, port,
    transport, User-Agent and expiry. Expires: 0 from the phone removes only it."""
    ext = 103
    phone, soft = free_port(), free_port()
    rc, log_a, _ = sipp(reg.p, "register_digest.xml", tmp_path, "udp", ext, cport=phone,
                        ua="Yealink SIP-T53 96.86.0.70", sets=(("exp1", 120), ("exp2", 120)))
    assert rc == 0, log_a
    rc, log_b, _ = sipp(reg.p, "register_digest.xml", tmp_path, "tcp", ext, cport=soft,
                        ua="PortSIP ONE 1.0", sets=(("exp1", 600), ("exp2", 600)))
    assert rc == 0, log_b
    uri_a = f"sip:{ext}@127.0.0.1:{phone};transport=UDP"
    uri_b = f"sip:{ext}@127.0.0.1:{soft};transport=TCP"
    listed = contacts_of(responses(log_b, 200)[-1])
    assert set(listed) == {uri_a, uri_b}, log_b
    assert 115 <= listed[uri_a] <= 120 and listed[uri_b] == 600, listed

    devs = reg.devices(ext)
    assert len(devs) == 2, devs
    a, b = one_device(devs, phone), one_device(devs, soft)
    assert (a["address"], a["port"], a["transport"], a["user_agent"]) == \
        ("127.0.0.1", source_port(log_a), "udp", "Yealink SIP-T53 96.86.0.70")
    assert (b["address"], b["port"], b["transport"], b["user_agent"]) == \
        ("127.0.0.1", source_port(log_b), "tcp", "PortSIP ONE 1.0")
    assert 110 <= a["expires"] <= 120 and 590 <= b["expires"] <= 600, devs
    assert len({a["id"], b["id"]}) == 2

    rc, log, _ = sipp(reg.p, "unregister.xml", tmp_path, "udp", ext, cport=phone)
    assert rc == 0, log
    assert set(contacts_of(responses(log, 200)[-1])) == {uri_b}, log
    devs = reg.devices(ext)
    assert [d["contact"] for d in devs] == [uri_b], devs

    rc, log, _ = sipp(reg.p, "unregister_star.xml", tmp_path, "tcp", ext)
    assert rc == 0, log
    assert reg.devices(ext) == []


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_wrong_password_403(reg, tmp_path, transport):
    """REG-01: the right extension with a wrong password: 401, then 403; nothing bound."""
    rc, log, _ = sipp(reg.p, "register_refused.xml", tmp_path, transport, 104, password="not-it-104",
                      sets=(("exp", 300),))
    assert rc == 0, log
    assert reg.devices(104) == []


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_unknown_extension_403(reg, tmp_path, transport):
    """An extension that does not exist is challenged like any other and its
    answer refused with 403, as a wrong password is (no enumeration)."""
    rc, log, _ = sipp(reg.p, "register_refused.xml", tmp_path, transport, 999, password="whatever-999",
                      sets=(("exp", 300),))
    assert rc == 0, log
    assert len(responses(log, 401)) == 1, log


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_expiry_too_brief_423(reg, tmp_path, transport):
    """RFC 3261 10.3 step 7: Expires: 30 below --register-min-expires (60): after
    authentication, 423 with Min-Expires: 60; nothing bound."""
    rc, log, _ = sipp(reg.p, "register_brief.xml", tmp_path, transport, 105, sets=(("exp", 30),))
    assert rc == 0, log
    r423 = responses(log, 423)
    assert len(r423) == 1 and re.search(r"(?im)^Min-Expires:\s*60\s*$", r423[0]), log
    assert reg.devices(105) == []


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_other_tenants_domain_403(reg, tmp_path, transport):
    """SIP-11: extension 101 of pbx.local with its own password at the other tenant's
    domain gets 403 (the realm is that tenant's and so is the extension); the other
    tenant's 101 with its password registers there, under that tenant's user only."""
    rc, log, _ = sipp(reg.p, "register_refused.xml", tmp_path, transport, 101, password=PASSWORDS[101],
                      domain=OTHER_DOMAIN, sets=(("exp", 300),))
    assert rc == 0, log
    assert f'realm="{OTHER_DOMAIN}"' in responses(log, 401)[0], log
    time.sleep(0.05)
    assert reg.other_api.devices(reg.other_101) == []

    cport = free_port()
    rc, log, _ = sipp(reg.p, "register_digest.xml", tmp_path, transport, 101, password=OTHER_101,
                      domain=OTHER_DOMAIN, cport=cport, sets=(("exp1", 120), ("exp2", 120)),
                      name=f"other-ok-{transport}")
    assert rc == 0, log
    time.sleep(0.05)
    devs = reg.other_api.devices(reg.other_101)
    assert [d["contact"] for d in devs] == [f"sip:101@127.0.0.1:{cport};transport={transport.upper()}"]
    assert all(f":{cport};" not in d["contact"] for d in reg.devices(101))
    # A tenant admin does not see the other tenant's user (404, as for no such id).
    code, _ = reg.api.get(f"/users/{reg.other_101}/devices")
    assert code == 404
    rc, log, _ = sipp(reg.p, "unregister_star.xml", tmp_path, transport, 101, password=OTHER_101,
                      domain=OTHER_DOMAIN, name=f"other-star-{transport}")
    assert rc == 0, log


def test_sipp_stale_nonce(tmp_path):
    """RFC 2617 3.2.1 / RFC 7616 3.3: the right credentials on a nonce older than
    --auth-nonce-lifetime (2 s here, on a pbxd of this test's own: the module's
    keeps its nonces fresh for its other tests) get a new 401 with stale=true, not
    403; the answer to the new nonce registers."""
    p = Pbxd(tmp_path / "pbxd", args=["--auth-nonce-lifetime=2"]).start()
    try:
        api = p.tenant_admin()
        uid = api.create_user(106, PASSWORDS[106])
        cport = free_port()
        rc, log, _ = sipp(p, "register_stale.xml", tmp_path, "udp", 106, cport=cport, sets=(("exp", 120),))
        assert rc == 0, log
        chals = responses(log, 401)
        assert len(chals) == 2, log
        assert "stale" not in chals[0].lower()
        md5 = [ln for ln in chals[1].splitlines() if "algorithm=MD5" in ln]
        assert md5 and re.search(r"stale=\"?true", md5[0], re.I), chals[1]
        assert not responses(log, 403), log
        time.sleep(0.05)  # the API reads the PBX's state through its queue
        assert [d["contact"] for d in api.devices(uid)] == [f"sip:106@127.0.0.1:{cport};transport=UDP"]
    finally:
        p.assert_clean_exit()


# --------------------------------------------------------------------------- raw client


def _sans_dialog(resp):
    """A response without what differs per request (Via, From, To, Call-ID, CSeq)."""
    skip = {"via", "from", "to", "call-id", "cseq"}
    return resp.start, sorted((n, v) for n, v in resp.headers if n not in skip), resp.body


def test_unknown_disabled_wrong_answer_alike(reg):
    """Issue 11 item 3: an unknown extension, a disabled one and a wrong password
    are answered identically (the same 403, header for header), so that the answers
    do not tell which extensions exist."""
    ext = 107
    answers = {}
    with RegUA(reg.p.udp_port) as ua:
        answers["wrong"] = ua.register(str(ext), "not-the-password", DOMAIN, expires=300)
    with RegUA(reg.p.udp_port) as ua:
        answers["unknown"] = ua.register("998", "not-the-password", DOMAIN, expires=300)
    reg.api.ok("POST", f"/users/{reg.ids[ext]}", {"enabled": False}, status=200)
    try:
        deadline = time.monotonic() + 3
        while True:  # the PBX learns of the change through the storage worker
            with RegUA(reg.p.udp_port) as ua:
                r = ua.register(str(ext), PASSWORDS[ext], DOMAIN, expires=300)
            if r is not None and r.code != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        answers["disabled"] = r
    finally:
        reg.api.ok("POST", f"/users/{reg.ids[ext]}", {"enabled": True}, status=200)
    for k, r in answers.items():
        assert r is not None and r.code == 403, f"{k}: {r}"
    shapes = {k: _sans_dialog(r) for k, r in answers.items()}
    assert shapes["unknown"] == shapes["wrong"], (answers["unknown"], answers["wrong"])
    assert shapes["disabled"] == shapes["wrong"], (answers["disabled"], answers["wrong"])
    assert reg.devices(ext) == []


def test_refresh_with_next_nonce_count_and_replay(reg):
    """A phone refreshes with the nonce it has and the next nonce-count (200
    without a new challenge); the same nonce-count again is a replay and does not
    register (RFC 7616 3.3)."""
    ext = 108
    with RegUA(reg.p.udp_port) as ua:
        r = ua.register(str(ext), PASSWORDS[ext], DOMAIN, expires=120)
        assert r.code == 200, r
        r = ua.register(str(ext), PASSWORDS[ext], DOMAIN, expires=240, reuse_nonce=True)
        assert r.code == 200, r
        assert ua.got[-1] is r and sum(1 for m in ua.got if m.code == 401) == 1
        assert contact_expiries(r) == {ua.contact(ext)[1:-1]: 240}
        # replay: the previous Authorization (same nonce, same nc) on a new request
        ua.nc -= 1
        r = ua.request(str(ext), DOMAIN, expires=600,
                       auth=ua.auth_for(str(ext), PASSWORDS[ext], DOMAIN, reuse=True))
        assert r is not None and r.code in (401, 403), r
    devs = reg.devices(ext)
    assert len(devs) == 1 and 230 <= devs[0]["expires"] <= 240, devs
    with RegUA(reg.p.udp_port) as ua:
        assert ua.register(str(ext), PASSWORDS[ext], DOMAIN, expires=0, contacts=["*"]).code == 200


@pytest.mark.parametrize("auth", [
    'Digest username="109", realm="pbx.local", nonce=',
    'Digest username="109", realm="pbx.local", nonce="x", uri="sip:pbx.local", response="0", nc=zz, qop=auth',
    'Digest ' + ",".join(f"p{i}=v" for i in range(200)),
])
def test_malformed_authorization_400(reg, auth):
    """Issue 11 item 2: a malformed Authorization header gets 400 and pbxd goes on."""
    with RegUA(reg.p.udp_port) as ua:
        r = ua.request("109", DOMAIN, expires=300, auth=auth)
        assert r is not None and r.code == 400, r
        assert ua.register("109", PASSWORDS[109], DOMAIN, expires=300).code == 200
        assert ua.register("109", PASSWORDS[109], DOMAIN, expires=0).code == 200


def test_max_contacts_oldest_dropped(reg):
    """--register-max-contacts (10): an eleventh device of one extension pushes out
    the least recently refreshed one; the 200 lists the ten that remain."""
    ext = 110
    uas = [RegUA(reg.p.udp_port, user_agent=f"dev-{i}") for i in range(11)]
    try:
        for ua in uas:
            r = ua.register(str(ext), PASSWORDS[ext], DOMAIN, expires=300)
            assert r.code == 200, r
            time.sleep(0.002)
        listed = contact_expiries(r)
        assert len(listed) == 10 and uas[0].contact(ext)[1:-1] not in listed, r
        devs = reg.devices(ext)
        assert sorted(d["user_agent"] for d in devs) == sorted(f"dev-{i}" for i in range(1, 11))
        r = uas[1].register(str(ext), PASSWORDS[ext], DOMAIN, expires=0, contacts=["*"])
        assert r.code == 200 and contact_expiries(r) == {}
    finally:
        for ua in uas:
            ua.close()


# --------------------------------------------------------------------------- baresip


def run_baresip(p, api, uid, ext, password, tmp_path):
    """Starts baresip with a minimal config (no audio driver, loopback only) and one
    account for ext@pbx.local through pbxd's UDP port; waits (10 s at most) for the
    API to list its device, returns that list, and stops baresip (SIGTERM, so it
    unregisters), checking that the device is gone then."""
    if not shutil.which("baresip"):
        pytest.fail("baresip is not installed (tools/install-deps.sh installs it)")
    conf = tmp_path / "baresip"
    conf.mkdir()
    sport = free_port_both(avoid=(p.udp_port, p.tcp_port))  # baresip listens on both
    (conf / "config").write_text(
        "poll_method\t\tepoll\n"
        f"sip_listen\t\t127.0.0.1:{sport}\n"
        "module_path\t\t/usr/lib/baresip/modules\n"
        "module\t\t\tg711.so\n"
        "module_tmp\t\taccount.so\n")
    (conf / "accounts").write_text(
        f"<sip:{ext}@{DOMAIN}>;auth_pass={password};regint=300;"
        f'outbound="sip:127.0.0.1:{p.udp_port};transport=udp"\n')
    logpath = tmp_path / "baresip.log"
    out = open(logpath, "wb")
    # -n: bind to loopback (the namespace has no other address); -t: a bound life
    bs = subprocess.Popen(["baresip", "-f", str(conf), "-n", "127.0.0.1", "-t", "30"],
                          stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        devs = []
        while time.monotonic() < deadline and not devs and bs.poll() is None:
            time.sleep(0.2)
            devs = api.devices(uid)
            if re.search(r"Register: |failed to register", logpath.read_text(errors="replace")):
                break  # baresip gave up: no use waiting
        log = logpath.read_text(errors="replace")
        assert len(devs) == 1, f"baresip did not register within 10 s:\n{log[-3000:]}"
        d = devs[0]
        assert "baresip" in d["user_agent"].lower(), d
        assert (d["address"], d["port"], d["transport"]) == ("127.0.0.1", sport, "udp"), d
        assert 250 <= d["expires"] <= 300, d
        assert "200 OK" in log and "[1 binding]" in log, log[-3000:]
    finally:
        bs.send_signal(signal.SIGTERM)
        try:
            bs.wait(timeout=5)
        except subprocess.TimeoutExpired:
            bs.kill()
            bs.wait(timeout=5)
        out.close()
    # baresip unregisters as it quits
    deadline = time.monotonic() + 5
    while api.devices(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api.devices(uid) == []
    return devs


def test_baresip_registers(reg, tmp_path):
    """REG-08: baresip (Debian's 1.0, on libre 1.1), configured as a user would
    (account <sip:111@pbx.local>;auth_pass=...;outbound=...), registers to pbxd
    with its default options over UDP, and the API lists it with its User-Agent."""
    run_baresip(reg.p, reg.api, reg.ids[111], 111, PASSWORDS[111], tmp_path)


def test_baresip_registers_md5_only(tmp_path):
    """As test_baresip_registers against a pbxd that challenges with MD5 alone
    (--auth-algorithms=MD5): tells a failure of the algorithm list apart from one
    of the rest of the path."""
    p = Pbxd(tmp_path / "pbxd", args=["--auth-algorithms=MD5"]).start()
    try:
        api = p.tenant_admin()
        uid = api.create_user(111, PASSWORDS[111])
        run_baresip(p, api, uid, 111, PASSWORDS[111], tmp_path)
    finally:
        p.assert_clean_exit()


# --------------------------------------------------------------------------- restart


def test_bindings_survive_restart(tmp_path):
    """Issue 11 item 1: a device registered just before pbxd stops (SIGTERM, so
    within the batching delay) and one registered well before are both listed
    after a start on the same data dir, with the same id, contact, source and
    User-Agent and their remaining time; one unregistered before the stop is not."""
    p = Pbxd(tmp_path / "pbxd")
    p.start()
    try:
        api = p.tenant_admin()
        uid = api.create_user(101, PASSWORDS[101])
        early = RegUA(p.udp_port, user_agent="early-phone")
        gone = RegUA(p.tcp_port, transport="tcp", user_agent="gone-phone")
        late = RegUA(p.tcp_port, transport="tcp", user_agent="late-phone")
        assert early.register("101", PASSWORDS[101], DOMAIN, expires=600).code == 200
        assert gone.register("101", PASSWORDS[101], DOMAIN, expires=600).code == 200
        time.sleep(1.0)  # past the batching delay (0.5 s)
        assert gone.register("101", PASSWORDS[101], DOMAIN, expires=0).code == 200
        assert late.register("101", PASSWORDS[101], DOMAIN, expires=900).code == 200
        time.sleep(0.05)
        before = {d["user_agent"]: d for d in api.devices(uid)}
        assert set(before) == {"early-phone", "late-phone"}, before
        for ua in (early, gone, late):
            ua.close()
        assert p.stop() == 0, p.log_tail()
        p.start()
        api = p.tenant_admin()
        after = {d["user_agent"]: d for d in api.devices(uid)}
        assert set(after) == {"early-phone", "late-phone"}, after
        for k, d in after.items():
            b = before[k]
            for f in ("id", "contact", "address", "port", "transport", "expires_at", "registered_at"):
                assert d[f] == b[f], (f, b, d)
            assert b["expires"] - 15 <= d["expires"] <= b["expires"], (b, d)
    finally:
        p.assert_clean_exit()


def _read_request(ua, timeout):
    """The next request pbxd sends to ua (over its UDP socket or its TCP flow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ua.stream:
            m = ua.stream.read_msg(deadline - time.monotonic())
        else:
            ua.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                m = SipMsg(ua.sock.recvfrom(65535)[0])
            except (socket.timeout, BlockingIOError):
                m = None
        if m is not None and m.code is None:
            return m
    return None


def _answer_200(ua, req):
    hdrs = [f"{n}: {req.get(n)}" for n in ("via", "from", "to", "call-id", "cseq")]
    ua.send("SIP/2.0 200 OK\r\n" + "\r\n".join(hdrs) + "\r\nContent-Length: 0\r\n\r\n")


def test_keepalives_go_over_the_registered_flow(tmp_path):
    """Issue 11 item 4: with --register-keepalive, pbxd sends OPTIONS to each device,
    a TCP device over the very connection it registered on (its flow) and a UDP one
    to the address and port it registered from; a device whose connection is gone
    is unregistered as unreachable, one that answers stays."""
    p = Pbxd(tmp_path / "pbxd", args=["--register-keepalive=1", "--register-keepalive-misses=1"])
    p.start()
    try:
        api = p.tenant_admin()
        uid = api.create_user(101, PASSWORDS[101])
        tcp = RegUA(p.tcp_port, transport="tcp", user_agent="tcp-phone")
        udp = RegUA(p.udp_port, user_agent="udp-phone")
        assert tcp.register("101", PASSWORDS[101], DOMAIN, expires=600).code == 200
        assert udp.register("101", PASSWORDS[101], DOMAIN, expires=600).code == 200
        for ua in (tcp, udp):
            for _ in range(2):  # two rounds: the device answers, and is pinged again
                m = _read_request(ua, 4.0)
                assert m is not None and m.start.startswith("OPTIONS "), f"no keep-alive to {ua.user_agent}"
                assert f":{ua.lport}" in m.start, m.start
                _answer_200(ua, m)
        assert {d["user_agent"] for d in api.devices(uid)} == {"tcp-phone", "udp-phone"}
        tcp.close()  # the flow is gone: the next round finds the device unreachable
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and len(api.devices(uid)) != 1:
            m = _read_request(udp, 0.5)
            if m is not None:
                _answer_200(udp, m)
        assert [d["user_agent"] for d in api.devices(uid)] == ["udp-phone"]
        assert "unreachable" in p.log_text()
        udp.close()
    finally:
        p.assert_clean_exit()
