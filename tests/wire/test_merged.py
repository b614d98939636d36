"""Merged requests (RFC 3261 §8.2.2.2, issue 12): a request without a To tag whose
From tag, Call-ID and CSeq are those of a server transaction pbxd still holds, but
which does not match it (another branch: forked upstream, it came back along
another path), is answered 482 (Loop Detected), statelessly. An authenticated
REGISTER is answered through a server transaction that lives on for Timer J
(32 s over UDP), so the same REGISTER with a new branch within that time is one."""

import re
import secrets
import socket

import pytest

from conftest import SipMsg
from sipua import RegUA

DOMAIN = "pbx.local"
EXT, PW = 121, "sip-Merged-121"


@pytest.fixture(scope="module")
def user(pbxd):
    return pbxd.tenant_admin().create_user(EXT, PW)


def _rebranch(text, via_host=None):
    """text with a fresh branch (and, given, another Via sent-by)."""
    text = re.sub(r"branch=z9hG4bK[0-9a-f]+", f"branch=z9hG4bK{secrets.token_hex(10)}", text)
    if via_host:
        text = re.sub(r"(Via: SIP/2.0/UDP )[^;]+", rf"\g<1>{via_host}", text)
    return text


def _ask(sock, port, text):
    sock.sendto(text.encode(), ("127.0.0.1", port))
    sock.settimeout(2.0)
    while True:
        m = SipMsg(sock.recv(65535))
        if m.code >= 200:
            return m


def test_merged_register_gets_482(pbxd, user):
    with RegUA(pbxd.udp_port) as ua:
        r = ua.register(EXT, PW, DOMAIN, expires=60)
        assert r is not None and r.code == 200, r
        done = ua.sent[-1]
        assert "Authorization:" in done
        # its retransmission (same branch) is absorbed and answered 200 again
        assert _ask(ua.sock, pbxd.udp_port, done).code == 200
        # the same request by another path (new branch): a loop
        m = _ask(ua.sock, pbxd.udp_port, _rebranch(done))
        assert m.code == 482, m
        assert m.get("call-id") == ua.call_id
        # from elsewhere, through another proxy's Via
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(("127.0.0.1", 0))
        try:
            lport = other.getsockname()[1]
            m = _ask(other, pbxd.udp_port, _rebranch(done, f"127.0.0.1:{lport}"))
            assert m.code == 482, m
        finally:
            other.close()
        # a new CSeq is a new request, not a merge: it registers (after its challenge)
        r = ua.register(EXT, PW, DOMAIN, expires=60, reuse_nonce=True)
        assert r is not None and r.code == 200, r


def test_other_call_id_not_merged(pbxd, user):
    """Two devices' REGISTERs never merge: their Call-IDs and From tags differ."""
    with RegUA(pbxd.udp_port) as a, RegUA(pbxd.udp_port) as b:
        assert a.register(EXT, PW, DOMAIN, expires=60).code == 200
        assert b.register(EXT, PW, DOMAIN, expires=60).code == 200
