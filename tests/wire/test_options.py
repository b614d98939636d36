"""OPTIONS and request-line handling over UDP and TCP: from Python sockets, and from
SIPp (Debian's sip-tester) with tests/wire/scenarios/options.xml."""

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import (free_port, make_options, make_request, sip_udp_exchange, tcp_connect)

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "options.xml"
WAIT = 3.0


def _tcp_request(pbxd, method="OPTIONS", **kw):
    """One request over a new TCP connection; returns (final response or None, stream)."""
    st = tcp_connect(pbxd.tcp_port)
    lport = st.sock.getsockname()[1]
    st.sock.sendall(make_request(method, pbxd.tcp_port, transport="TCP", local_port=lport,
                                 **kw).encode())
    return st.read_final(WAIT), st


def _check_options_200(resp):
    assert resp is not None, "no final response"
    assert resp.code == 200, f"expected 200, got:\n{resp}"
    for h in ("allow", "accept", "supported"):
        assert resp.get(h) is not None, f"200 to OPTIONS lacks {h}:\n{resp}"
    assert "OPTIONS" in resp.get("allow").upper().replace(" ", "").split(","), str(resp)


def test_options_udp(pbxd):
    code, resp = sip_udp_exchange(pbxd.udp_port, make_options(pbxd.udp_port), timeout=WAIT)
    _check_options_200(resp)


def test_options_tcp(pbxd):
    resp, st = _tcp_request(pbxd)
    try:
        _check_options_200(resp)
    finally:
        st.sock.close()


def test_tcp_pipelined_requests(pbxd):
    """Two OPTIONS in one TCP write: both answered, each with its own CSeq."""
    st = tcp_connect(pbxd.tcp_port)
    try:
        lport = st.sock.getsockname()[1]
        two = "".join(make_options(pbxd.tcp_port, transport="TCP", local_port=lport, cseq=n)
                      for n in (1, 2))
        st.sock.sendall(two.encode())
        got = []
        for _ in range(2):
            r = st.read_final(WAIT)
            assert r is not None, f"only {len(got)} of 2 pipelined requests answered"
            got.append(r)
        assert [r.code for r in got] == [200, 200], "\n".join(map(str, got))
        assert sorted(" ".join(r.get("cseq").split()) for r in got) == [
            "1 OPTIONS", "2 OPTIONS"]
    finally:
        st.sock.close()


def test_tcp_keepalive_ping(pbxd):
    """RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a CRLF pong, and the
    connection still carries SIP afterwards."""
    st = tcp_connect(pbxd.tcp_port)
    try:
        st.sock.sendall(b"\r\n\r\n")
        assert st.read_exact(2, WAIT) == b"\r\n"
        lport = st.sock.getsockname()[1]
        st.sock.sendall(make_options(pbxd.tcp_port, transport="TCP", local_port=lport).encode())
        r = st.read_final(WAIT)
        assert r is not None and r.code == 200, f"OPTIONS after ping: {r}"
    finally:
        st.sock.close()


CASES = [
    # (id, method, request kwargs, expected code)
    ("max-forwards-0", "OPTIONS", {"max_forwards": 0}, 483),
    ("unknown-method", "FOO", {}, 501),
    ("bad-version", "OPTIONS", {"version": "SIP/3.0"}, 505),
]


@pytest.mark.parametrize("method,kw,want", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_answers_tcp(pbxd, method, kw, want):
    resp, st = _tcp_request(pbxd, method, **kw)
    st.sock.close()
    assert resp is not None, f"no answer, expected {want}"
    assert resp.code == want, f"expected {want}, got:\n{resp}"


@pytest.mark.parametrize("method,kw,want", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_answers_udp(pbxd, method, kw, want):
    code, resp = sip_udp_exchange(pbxd.udp_port, make_request(method, pbxd.udp_port, **kw),
                                  timeout=WAIT)
    assert code == want, f"expected {want}, got {code}:\n{resp}"


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) not installed")
@pytest.mark.parametrize("transport", ["u1", "t1"], ids=["udp", "tcp"])
def test_sipp_options(pbxd, tmp_path, transport):
    port = pbxd.udp_port if transport == "u1" else pbxd.tcp_port
    lport = free_port(socket.SOCK_DGRAM if transport == "u1" else socket.SOCK_STREAM,
                      avoid=(pbxd.udp_port, pbxd.tcp_port))
    cmd = ["sipp", "-sf", str(SCENARIO), "-m", "20", "-r", "50", "-t", transport,
           f"127.0.0.1:{port}", "-i", "127.0.0.1", "-p", str(lport), "-s", "pbxd",
           "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err"]
    try:
        p = subprocess.run(cmd, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=40)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sipp did not finish: {' '.join(cmd)}")
    errs = "".join(f.read_text(errors="replace")[-3000:] for f in tmp_path.glob("*errors.log"))
    assert p.returncode == 0, (
        f"sipp exited {p.returncode}: {' '.join(cmd)}\n"
        f"{p.stdout.decode(errors='replace')[-3000:]}\n{p.stderr.decode(errors='replace')}\n"
        f"{errs}")
