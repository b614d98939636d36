"""WebRTC in calls, as far as SIP, SDP and ICE go (issue 14, part 2; the media
with DTLS-SRTP is checked by tests/unit/media/test_webrtc.c and, end to end with
browsers, by tests/web): a device registered over WSS is a browser and is
offered DTLS-SRTP (UDP/TLS/RTP/SAVPF with ICE-lite, one host candidate, pbxd's
fingerprint, setup actpass, rtcp-mux, a mid in a BUNDLE group); a browser's
offer is answered in kind (setup passive); the plain phone on the other side
sees plain RTP/AVP and none of it. pbxd's candidate answers an ICE check made
with the credentials of its SDP (a STUN binding request with MESSAGE-INTEGRITY
and FINGERPRINT, as Chrome sends) with the browser's address, and refuses one
with a wrong password (401). An offer of DTLS-SRTP without ICE credentials or
a fingerprint is refused (488)."""

import hashlib
import hmac
import itertools
import os
import re
import socket
import struct
import zlib

import pytest

from callua import CallUA, Sdp, branch_of, make_sdp, method_of
from conftest import Pbxd

COOKIE = 0x2112A442
FP = "sha-256 " + ":".join(f"{b:02X}" for b in hashlib.sha256(b"the browser's certificate").digest())


class Pbx:
    def __init__(self, p):
        self.p = p
        self.api = p.tenant_admin()
        self.numbers = itertools.count(501)
        self.passwords = {}

    def new_ext(self):
        ext = str(next(self.numbers))
        self.passwords[ext] = f"rtc-Secret-{ext}"
        self.api.create_user(ext, self.passwords[ext])
        return ext

    def ua(self, ext, transport="UDP"):
        port = self.p.wss_port if transport == "WSS" else self.p.udp_port
        ua = CallUA(port, ext, self.passwords[ext], transport=transport)
        r = ua.register()
        assert r is not None and r.code == 200, ua.dump()
        return ua


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("webrtc"), args=["--rtp-ports=32000-32999"]).start()
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()


@pytest.fixture
def uas():
    made = []
    yield made
    for ua in made:
        ua.hang_up_all()
        ua.close()


def browser_sdp(port, setup="actpass", ufrag="brwU", pwd="browser-ice-password-0123", fp=FP, mid="0"):
    """What a browser writes: DTLS-SRTP, ICE credentials, a candidate, BUNDLE."""
    lines = ["v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    if mid:
        lines.append(f"a=group:BUNDLE {mid}")
    lines += [f"m=audio {port} UDP/TLS/RTP/SAVPF 111 0 8 126", "c=IN IP4 127.0.0.1",
              "a=rtcp:9 IN IP4 0.0.0.0", f"a=candidate:1 1 udp 2122260223 127.0.0.1 {port} typ host"]
    if ufrag:
        lines += [f"a=ice-ufrag:{ufrag}", f"a=ice-pwd:{pwd}"]
    if fp:
        lines.append(f"a=fingerprint:{fp}")
    lines += [f"a=setup:{setup}"]
    if mid:
        lines.append(f"a=mid:{mid}")
    lines += ["a=sendrecv", "a=rtcp-mux", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
              "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:126 telephone-event/8000"]
    return "\r\n".join(lines) + "\r\n"


def attrs(text):
    """The a= lines of an SDP as (name, value) pairs, in order."""
    out = []
    for line in text.splitlines():
        if line.startswith("a="):
            name, _, val = line[2:].partition(":")
            out.append((name, val))
    return out


def attr(text, name):
    vals = [v for n, v in attrs(text) if n == name]
    return vals[0] if vals else None


def check_webrtc_sdp(text, setup):
    """pbxd's SDP to a browser."""
    m = re.search(r"^m=audio (\d+) UDP/TLS/RTP/SAVPF ", text, re.M)
    assert m, text
    port = int(m.group(1))
    names = [n for n, _ in attrs(text)]
    assert "ice-lite" in names and "rtcp-mux" in names and "end-of-candidates" in names, text
    ufrag, pwd = attr(text, "ice-ufrag"), attr(text, "ice-pwd")
    assert ufrag and len(ufrag) >= 4 and pwd and len(pwd) >= 22, text
    assert re.fullmatch(r"sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}", attr(text, "fingerprint")), text
    assert attr(text, "setup") == setup, text
    mid = attr(text, "mid")
    assert mid and attr(text, "group") == f"BUNDLE {mid}", text
    cand = attr(text, "candidate").split()
    assert cand[2].upper() == "UDP" and cand[4] == "127.0.0.1" and int(cand[5]) == port and cand[7] == "host", cand
    return port, ufrag, pwd


def check_plain_sdp(text):
    assert re.search(r"^m=audio \d+ RTP/AVP ", text, re.M), text
    for n in ("ice-ufrag", "ice-pwd", "fingerprint", "setup", "candidate", "ice-lite"):
        assert attr(text, n) is None, (n, text)


# ---- STUN, as a browser's ICE agent sends it

def crc32_fp(data):
    return (zlib.crc32(data) ^ 0x5354554E) & 0xFFFFFFFF


def stun_check(username, pwd, use_candidate=True):
    tid = os.urandom(12)
    body = b""
    u = username.encode()
    body += struct.pack(">HH", 0x0006, len(u)) + u + b"\0" * (-len(u) % 4)
    body += struct.pack(">HHI", 0x0024, 4, 1853824767)
    body += struct.pack(">HHQ", 0x802A, 8, 0x0102030405060708)
    if use_candidate:
        body += struct.pack(">HH", 0x0025, 0)
    hdr = struct.pack(">HHI", 0x0001, len(body) + 24, COOKIE) + tid
    mac = hmac.new(pwd.encode(), hdr + body, hashlib.sha1).digest()
    body += struct.pack(">HH", 0x0008, 20) + mac
    hdr = struct.pack(">HHI", 0x0001, len(body) + 8, COOKIE) + tid
    body += struct.pack(">HHI", 0x8028, 4, crc32_fp(hdr + body))
    return tid, hdr + body


def stun_attrs(msg):
    out, at = {}, 20
    while at + 4 <= len(msg):
        t, ln = struct.unpack(">HH", msg[at:at + 4])
        out.setdefault(t, (at, msg[at + 4:at + 4 + ln]))
        at += 4 + ln + (-ln % 4)
    return out


def ice_check(port, ufrag_pair, pwd, key_for_answer):
    """A check to 127.0.0.1:port; returns (type, mapped (ip, port), our address),
    with the answer's integrity (key_for_answer) and fingerprint checked."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    try:
        tid, req = stun_check(ufrag_pair, pwd)
        s.sendto(req, ("127.0.0.1", port))
        data, src = s.recvfrom(2048)
        assert src == ("127.0.0.1", port)
        typ, ln, cookie = struct.unpack(">HHI", data[:8])
        assert cookie == COOKIE and data[8:20] == tid and ln + 20 == len(data)
        a = stun_attrs(data)
        fp_at, fp = a[0x8028]
        head = data[:2] + struct.pack(">H", fp_at + 8 - 20) + data[4:fp_at]
        assert struct.unpack(">I", fp)[0] == crc32_fp(head), "bad FINGERPRINT"
        mapped = None
        if typ == 0x0101:
            mi_at, mi = a[0x0008]
            head = data[:2] + struct.pack(">H", mi_at + 24 - 20) + data[4:mi_at]
            assert hmac.new(key_for_answer.encode(), head, hashlib.sha1).digest() == mi, "bad MESSAGE-INTEGRITY"
            _, xm = a[0x0020]
            xport = struct.unpack(">H", xm[2:4])[0] ^ (COOKIE >> 16)
            xip = bytes(b ^ c for b, c in zip(xm[4:8], struct.pack(">I", COOKIE)))
            mapped = (socket.inet_ntoa(xip), xport)
        return typ, mapped, s.getsockname()
    finally:
        s.close()


# ---- tests

def test_browser_is_called(pbx, uas):
    """A phone calls a browser (registered over WSS): the browser's INVITE
    carries pbxd's WebRTC offer; the browser answers (setup active); the phone
    gets a plain answer; pbxd's candidate answers the browser's ICE checks."""
    x, y = pbx.new_ext(), pbx.new_ext()
    phone = pbx.ua(x, "UDP")
    brw = pbx.ua(y, "WSS")
    uas += [phone, brw]
    call = phone.invite(y)
    inc = brw.wait_invite()
    assert inc is not None, brw.dump()
    offer = inc.req.body.decode()
    port, ufrag, pwd = check_webrtc_sdp(offer, "actpass")
    assert Sdp.parse(offer).codecs()[:2] == ["PCMU", "PCMA"], offer
    inc.respond(200, sdp=browser_sdp(inc.rtp.port, setup="active", mid=attr(offer, "mid")))
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, phone.dump()
    check_plain_sdp(ok.body.decode())
    assert inc.wait_ack() is not None

    typ, mapped, me = ice_check(port, f"{ufrag}:brwU", pwd, pwd)
    assert typ == 0x0101 and mapped == me, (typ, mapped, me)
    typ, _, _ = ice_check(port, f"{ufrag}:brwU", "a-wrong-password-0123456789", pwd)
    assert typ == 0x0111
    typ, _, _ = ice_check(port, "someone:else", pwd, pwd)
    assert typ == 0x0111
    assert call.bye().code == 200


def test_browser_calls(pbx, uas):
    """A browser's DTLS-SRTP offer is answered in kind (passive, its mid,
    BUNDLE); the phone it calls is offered plain RTP/AVP."""
    x, y = pbx.new_ext(), pbx.new_ext()
    brw = pbx.ua(x, "WSS")
    phone = pbx.ua(y, "UDP")
    uas += [brw, phone]
    call = brw.invite(y, sdp=browser_sdp(9, mid="audio0"))
    inc = phone.wait_invite()
    assert inc is not None, phone.dump()
    check_plain_sdp(inc.req.body.decode())
    assert Sdp.parse(inc.req.body.decode()).codecs()[:3] == ["opus", "PCMU", "PCMA"], inc.req.body
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, brw.dump()
    answer = ok.body.decode()
    port, ufrag, pwd = check_webrtc_sdp(answer, "passive")
    assert attr(answer, "mid") == "audio0", answer
    typ, mapped, me = ice_check(port, f"{ufrag}:brwU", pwd, pwd)
    assert typ == 0x0101 and mapped == me
    assert call.bye().code == 200


def reoffer(call, brw, phone, sdp, code):
    """A re-INVITE from the browser's call with sdp, passed on to the phone, which
    answers code; returns pbxd's final answer to the browser."""
    branch = call.request("INVITE", extra=[f"Contact: {brw.contact()}"], body=sdp)
    num = call.local_cseq
    inv = phone.take(lambda m: method_of(m) == "INVITE" and m.body)
    assert inv is not None, phone.dump()
    with phone._cv:
        st = phone._stsx[(branch_of(inv), "INVITE")]
        phone._respond(st, code, body=make_sdp(phone_port(inv)) if code == 200 else "")
    final = brw.wait_response(branch, "INVITE")
    assert final is not None and final.code == code, brw.dump()
    if code == 200:
        call.request("ACK", cseq=num)
    return final


def phone_port(inv):
    return int(re.search(r"^m=audio (\d+) ", inv.body.decode(), re.M).group(1))


def test_ice_restart(pbx, uas):
    """A browser restarts ICE (RFC 8445 §9: a re-INVITE with new ice-ufrag and
    ice-pwd, its DTLS terms unchanged): pbxd answers with new credentials of its
    own (RFC 8839), checks with the new ones pass and the old are refused. An ICE
    restart the phone refuses (488) changes nothing: pbxd's credentials and the
    browser's stay as they were."""
    x, y = pbx.new_ext(), pbx.new_ext()
    brw = pbx.ua(x, "WSS")
    phone = pbx.ua(y, "UDP")
    uas += [brw, phone]
    call = brw.invite(y, sdp=browser_sdp(9))
    inc = phone.wait_invite()
    assert inc is not None, phone.dump()
    inc.answer()
    ok = call.wait_final()
    assert ok is not None and ok.code == 200, brw.dump()
    port, ufrag, pwd = check_webrtc_sdp(ok.body.decode(), "passive")
    assert ice_check(port, f"{ufrag}:brwU", pwd, pwd)[0] == 0x0101

    # refused by the phone: nothing changes
    final = reoffer(call, brw, phone, browser_sdp(9, ufrag="brwX", pwd="browser-ice-password-XXXXX"), 488)
    assert ice_check(port, f"{ufrag}:brwU", pwd, pwd)[0] == 0x0101
    assert ice_check(port, f"{ufrag}:brwX", pwd, pwd)[0] == 0x0111

    # accepted: new credentials both ways, same port
    final = reoffer(call, brw, phone, browser_sdp(9, ufrag="brwV", pwd="browser-ice-password-VVVVV"), 200)
    port2, ufrag2, pwd2 = check_webrtc_sdp(final.body.decode(), "passive")
    assert port2 == port and ufrag2 != ufrag and pwd2 != pwd, final.body
    typ, mapped, me = ice_check(port, f"{ufrag2}:brwV", pwd2, pwd2)
    assert typ == 0x0101 and mapped == me
    assert ice_check(port, f"{ufrag}:brwU", pwd, pwd)[0] == 0x0111

    # a re-INVITE of the same terms (hold, say) keeps them
    final = reoffer(call, brw, phone, browser_sdp(9, ufrag="brwV", pwd="browser-ice-password-VVVVV"), 200)
    assert check_webrtc_sdp(final.body.decode(), "passive")[1:] == (ufrag2, pwd2)
    assert call.bye().code == 200


@pytest.mark.parametrize("missing", ["fingerprint", "ice"])
def test_dtls_offer_without_terms_refused(pbx, uas, missing):
    x, y = pbx.new_ext(), pbx.new_ext()
    brw = pbx.ua(x, "WSS")
    phone = pbx.ua(y, "UDP")
    uas += [brw, phone]
    sdp = browser_sdp(9, fp=None) if missing == "fingerprint" else browser_sdp(9, ufrag=None)
    call = brw.invite(y, sdp=sdp)
    final = call.wait_final()
    assert final is not None and final.code == 488, brw.dump()
    assert phone.no_request(0.5, "INVITE")


# ---- the browser phone's credentials

def phone_credentials(pbx, ext):
    user = pbx.p.api(f"u{ext}", f"Login-pw-{ext}", "pbx.local")
    return user.ok("POST", "/user/phone_credentials", {}, status=201)


def test_phone_credentials_register_over_wss(pbx, uas):
    """POST /api/user/phone_credentials mints a credential for the user's own
    extension ("<number>~<id>", a 32-character secret, an hour, the WSS port):
    a WSS phone registers and calls with it; a wrong secret, an unknown id, or
    the id with the extension's own password are refused (403)."""
    x, y = pbx.new_ext(), pbx.new_ext()
    cred = phone_credentials(pbx, x)
    assert cred["username"].startswith(f"{x}~") and len(cred["password"]) == 32, cred
    assert cred["extension_number"] == x and cred["domain"] == "pbx.local", cred
    assert cred["expires_in"] == 3600 and cred["wss_port"] == pbx.p.wss_port, cred
    brw = CallUA(pbx.p.wss_port, x, cred["password"], transport="WSS", auth_user=cred["username"])
    uas.append(brw)
    r = brw.register()
    assert r is not None and r.code == 200, brw.dump()
    assert [d["transport"] for d in pbx.api.devices(pbx.api.ok("GET", "/users", params={"search": f"u{x}"})
                                                     ["items"][0]["id"])] == ["wss"]
    phone = pbx.ua(y, "UDP")
    uas.append(phone)
    call = brw.invite(y, sdp=browser_sdp(9))
    inc = phone.wait_invite()
    assert inc is not None, brw.dump()
    inc.answer()
    assert call.wait_final().code == 200
    assert call.bye().code == 200
    for user, pw in ((cred["username"], "x" * 32), (f"{x}~nosuchid0000", cred["password"]),
                     (cred["username"], pbx.passwords[x])):
        bad = CallUA(pbx.p.wss_port, x, pw, transport="WSS", auth_user=user)
        uas.append(bad)
        r = bad.register()
        assert r is not None and r.code == 403, (user, bad.dump())


def test_phone_credentials_end_with_the_sip_password(pbx, uas):
    """A new SIP password for the extension (or its account disabled) forgets
    every browser phone credential: the next REGISTER with one is refused."""
    x = pbx.new_ext()
    cred = phone_credentials(pbx, x)
    uid = pbx.api.ok("GET", "/users", params={"search": f"u{x}"})["items"][0]["id"]
    pbx.api.ok("POST", f"/users/{uid}/extension_password", {"extension_password": "another-Secret-99"}, status=204)
    brw = CallUA(pbx.p.wss_port, x, cred["password"], transport="WSS", auth_user=cred["username"])
    uas.append(brw)
    r = brw.register()
    assert r is not None and r.code == 403, brw.dump()
    cred = phone_credentials(pbx, x)
    brw2 = CallUA(pbx.p.wss_port, x, cred["password"], transport="WSS", auth_user=cred["username"])
    uas.append(brw2)
    assert brw2.register().code == 200
