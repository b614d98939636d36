"""GET /api/system/info (issue 16's system page): what this pbxd is and holds, for
the system admin only: the version and uptime, where SIP, HTTP and RTP listen as
configured, and the tenants, extensions, registered devices and calls of now."""
from conftest import new_tenant, new_user
from sipdigest import register


def test_system_info(pbxd):
    admin = pbxd.admin()
    before = admin.ok("GET", "/api/system/info")
    assert before["sip"]["udp_port"] == pbxd.sip_port and before["sip"]["tls_port"] == 0, before
    assert before["http"]["port"] == pbxd.port and before["http"]["address"] == "127.0.0.1", before
    assert before["rtp"]["port_min"] <= before["rtp"]["port_max"] and before["rtp"]["media_threads"] >= 1, before
    # the network as the seeds show it: no public address set, the private one an
    # address of this host (only loopback in the test's namespace), no web domain
    net = before["network"]
    assert net["public_address"] == "" and net["web_domain"] == "", net
    assert net["private_address"].startswith("127."), net
    t, boss = new_tenant(admin)
    u = new_user(boss, extension_number="301", extension_password="sip-Secret-301")
    r = register(pbxd.sip_port, "301", "sip-Secret-301", t["domain"])
    assert r == 200, r
    after = admin.ok("GET", "/api/system/info")
    c0, c1 = before["counts"], after["counts"]
    assert c1["tenants"] == c0["tenants"] + 1 and c1["extensions"] == c0["extensions"] + 2, (c0, c1)
    assert c1["registered_devices"] == c0["registered_devices"] + 1 and c1["active_calls"] == 0, (c0, c1)
    assert after["uptime_s"] >= before["uptime_s"] and after["started_at"] == before["started_at"]
    # a tenant's administrator is refused
    assert boss.request("GET", "/api/system/info").status_code == 403


def test_system_info_network(make_pbxd):
    """--public-address and --web-domain are shown as configured."""
    p = make_pbxd(["--public-address=203.0.113.7", "--web-domain=pbx.example.com"])
    net = p.admin().ok("GET", "/api/system/info")["network"]
    assert net == {"public_address": "203.0.113.7", "private_address": net["private_address"],
                   "web_domain": "pbx.example.com"}, net
