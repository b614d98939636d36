"""Requests and transport limits seen from the wire (issue 3): stateless refusals,
retransmissions, CANCEL/BYE without a transaction, TCP idle time-out, per-address
cap, framing errors, resets and pipelined bursts. pbxd runs with a short T1 so that
any Timer G retransmission would come quickly; no assertion is on timing."""

import socket
import time

import pytest

from conftest import Pbxd, SipMsg, make_request, tcp_connect

T1 = 100  # ms


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("pbxd-tsx"),
             args=[f"--sip-t1={T1}", "--sip-tcp-max-per-address=3",
                   "--sip-tcp-idle-timeout=1"]).start()
    yield p
    p.assert_clean_exit()


def _udp_sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def _recv_all(s, seconds):
    """Every datagram that arrives within `seconds` (bounded wait)."""
    out = []
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return out
        s.settimeout(left)
        try:
            out.append(SipMsg(s.recv(65535)))
        except socket.timeout:
            return out


def _refused(host, port, source=None):
    """Connects (from `source` if given) and sends an OPTIONS: True when pbxd
    closes the connection without answering (a connection cap at work)."""
    c = socket.create_connection((host, port), timeout=2.0,
                                 source_address=(source, 0) if source else None)
    c.settimeout(2.0)
    try:
        c.sendall(make_request("OPTIONS", port, transport="TCP").encode())
        data = c.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    c.close()
    return data == b""


def _invite(port, lport):
    return make_request("INVITE", port, local_port=lport)


def _ack_for(invite, resp):
    """ACK for a non-2xx: same branch, Call-ID, From, CSeq number; To from the response."""
    req = SipMsg(invite.encode())
    lines = [req.start.replace("INVITE", "ACK", 1),
             f"Via: {req.get('via')}",
             "Max-Forwards: 70",
             f"From: {req.get('from')}",
             f"To: {resp.get('to')}",
             f"Call-ID: {req.get('call-id')}",
             "CSeq: 1 ACK",
             "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_invite_refused_with_one_datagram(fast):
    """An INVITE without credentials is challenged statelessly: exactly one 407 and
    no 100 Trying or Timer G retransmissions, so a forged INVITE cannot make pbxd
    send a third party more than it was sent (the transaction timers themselves
    are tested on a virtual clock in tests/unit/sip/test_tsx.c)."""
    s = _udp_sock()
    inv = _invite(fast.udp_port, s.getsockname()[1])
    s.sendto(inv.encode(), ("127.0.0.1", fast.udp_port))
    # Timer G would have retransmitted at T1, 3*T1 and 7*T1 within this wait.
    got = _recv_all(s, 8 * T1 / 1000 + 0.5)
    assert [m.code for m in got] == [407], [str(m) for m in got]
    assert ";tag=" in got[0].get("to")
    s.close()


def test_invite_retransmission_gets_the_same_answer(fast):
    s = _udp_sock()
    inv = _invite(fast.udp_port, s.getsockname()[1])
    s.sendto(inv.encode(), ("127.0.0.1", fast.udp_port))
    first = [m for m in _recv_all(s, 0.05 + T1 / 2000) if m.code >= 200]
    assert first and first[0].code == 407
    s.sendto(inv.encode(), ("127.0.0.1", fast.udp_port))  # same branch: a retransmission
    again = [m for m in _recv_all(s, 0.3) if m.code >= 200]
    assert again, "retransmitted INVITE got no answer"
    # the same answer again: a stateless To tag is derived from the request
    assert {m.get("to") for m in again} == {first[0].get("to")}
    s.sendto(_ack_for(inv, first[0]), ("127.0.0.1", fast.udp_port))
    s.close()


@pytest.mark.parametrize("method", ["CANCEL", "BYE"])
def test_no_transaction_or_dialog_gets_one_481(fast, method):
    """A CANCEL matching no INVITE and a BYE outside any dialog: exactly one 481."""
    s = _udp_sock()
    req = make_request(method, fast.udp_port, local_port=s.getsockname()[1])
    s.sendto(req.encode(), ("127.0.0.1", fast.udp_port))
    got = [m for m in _recv_all(s, 1.0) if m.code]
    assert [m.code for m in got] == [481]
    s.close()


def test_tcp_idle_connection_closed(fast):
    st = tcp_connect(fast.tcp_port, timeout=5.0)
    st.sock.settimeout(5.0)
    # The idle time-out is 1 s: pbxd closes the connection, recv sees EOF.
    assert st.sock.recv(100) == b""
    st.sock.close()


def test_tcp_connections_per_address_capped(fast):
    keep = []
    try:
        for _ in range(3):
            st = tcp_connect(fast.tcp_port)
            lport = st.sock.getsockname()[1]
            st.sock.sendall(make_request("OPTIONS", fast.tcp_port, transport="TCP",
                                         local_port=lport).encode())
            r = st.read_final(2.0)
            assert r is not None and r.code == 200
            keep.append(st)
        assert _refused("127.0.0.1", fast.tcp_port), "a fourth connection from one address was served"
    finally:
        for st in keep:
            st.sock.close()


def test_tcp_missing_content_length_400_and_closed(fast):
    st = tcp_connect(fast.tcp_port)
    lport = st.sock.getsockname()[1]
    req = make_request("OPTIONS", fast.tcp_port, transport="TCP", local_port=lport)
    req = req.replace("Content-Length: 0\r\n", "")
    st.sock.sendall(req.encode())
    r = st.read_final(2.0)
    assert r is not None and r.code == 400, str(r)
    assert "content-length" in r.start.lower()
    st.sock.settimeout(2.0)
    assert st.sock.recv(100) == b"", "connection stayed open after a framing error"
    st.sock.close()


def test_response_without_transaction_dropped(fast):
    s = _udp_sock()
    resp = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKnone\r\n"
            "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: stray\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n") % s.getsockname()[1]
    s.sendto(resp.encode(), ("127.0.0.1", fast.udp_port))
    assert _recv_all(s, 0.5) == []
    s.close()


def test_tcp_reset_by_peer_survived(pbxd):
    """A peer that resets its connection (SO_LINGER 0) must not hurt pbxd (a
    pbxd without the tight per-address cap, so the resets need not be seen first)."""
    fast = pbxd
    import struct
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", fast.tcp_port), timeout=2.0)
        s.sendall(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n")  # half a message
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    st = tcp_connect(fast.tcp_port)
    lport = st.sock.getsockname()[1]
    st.sock.sendall(make_request("OPTIONS", fast.tcp_port, transport="TCP",
                                 local_port=lport).encode())
    r = st.read_final(2.0)
    assert r is not None and r.code == 200
    st.sock.close()


def test_tcp_burst_of_pipelined_requests_all_answered(fast):
    """400 OPTIONS (~80 KB, more than one message's size limit) in one write: each
    is framed as it arrives and answered; none is lost."""
    st = tcp_connect(fast.tcp_port, timeout=5.0)
    lport = st.sock.getsockname()[1]
    n = 400
    burst = "".join(make_request("OPTIONS", fast.tcp_port, transport="TCP", local_port=lport,
                                 cseq=i + 1) for i in range(n)).encode()
    assert len(burst) > 65535
    st.sock.sendall(burst)
    cseqs = []
    for _ in range(n):
        r = st.read_final(5.0)
        assert r is not None, f"only {len(cseqs)} of {n} answered"
        assert r.code == 200
        cseqs.append(int(r.get("cseq").split()[0]))
    assert cseqs == list(range(1, n + 1))
    st.sock.close()


def test_udp_answer_leaves_from_the_address_it_was_sent_to(tmp_path):
    """pbxd bound to every address answers from the address the request reached
    (IP_PKTINFO), as a multi-homed server behind NAT must: here 127.0.0.2, which a
    wildcard socket would otherwise answer from 127.0.0.1."""
    p = Pbxd(tmp_path / "any", args=["--sip-address=0.0.0.0"]).start()
    try:
        s = _udp_sock()
        req = make_request("OPTIONS", p.udp_port, local_port=s.getsockname()[1])
        for target in ("127.0.0.2", "127.0.0.1"):
            s.sendto(req.encode(), (target, p.udp_port))
            s.settimeout(2.0)
            data, src = s.recvfrom(65535)
            assert SipMsg(data).code == 200
            assert src == (target, p.udp_port), src
        s.close()
    finally:
        p.assert_clean_exit()


def test_tcp_cap_counts_an_ipv6_64_as_one_source(tmp_path):
    """Connections from different addresses of one IPv6 /64 share the per-address
    cap: a /64 is one subscriber, not 2^64 of them."""
    import subprocess
    addrs = [f"2001:db8:64::{i}" for i in (1, 2, 3, 4)]
    for a in addrs:
        r = subprocess.run(["ip", "-6", "addr", "add", f"{a}/64", "dev", "lo", "nodad"],
                           capture_output=True)
        if r.returncode != 0 and b"exists" not in r.stderr:
            pytest.skip(f"cannot add IPv6 addresses here: {r.stderr.decode().strip()}")
    p = Pbxd(tmp_path / "v6", args=["--sip-address=2001:db8:64::1",
                                    "--sip-tcp-max-per-address=2"]).start(wait=False)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("2001:db8:64::1", p.tcp_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, p.log_tail()
                time.sleep(0.05)
        time.sleep(0.2)  # let pbxd see the probe connection close
        keep = []
        for a in addrs[1:3]:
            s = socket.create_connection(("2001:db8:64::1", p.tcp_port), timeout=2,
                                         source_address=(a, 0))
            s.sendall(make_request("OPTIONS", p.tcp_port, transport="TCP").encode())
            s.settimeout(2)
            assert s.recv(65535).startswith(b"SIP/2.0 200"), "a connection under the cap refused"
            keep.append(s)
        assert _refused("2001:db8:64::1", p.tcp_port, addrs[3]), \
            "a third connection from the same /64 was served"
        for s in keep:
            s.close()
    finally:
        p.assert_clean_exit()
