"""REGISTER is challenged with digest (issue 3's REGISTER path; the registrar issue
fills in the bindings): the challenge order follows --auth-algorithms, MD5 first by
default because phones and SIPp answer only the first challenge, and a real client
(SIPp with -au/-ap) answers it. No extension exists yet, so its answer gets 403."""

import socket
import subprocess
from pathlib import Path

import pytest

from conftest import Pbxd, SipMsg, make_request, free_port

SHARED_REG = Path(__file__).resolve().parents[3] / "shared" / "bench" / "register_auth.xml"


def _challenge(p):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    s.sendto(make_request("REGISTER", p.udp_port, local_port=s.getsockname()[1]).encode(),
             ("127.0.0.1", p.udp_port))
    m = SipMsg(s.recv(65535))
    s.close()
    return m


def _algs(m):
    return [v.split("algorithm=")[1].split(",")[0].strip() for v in m.all("www-authenticate")]


def test_default_challenge_md5(pbxd):
    """MD5 alone by default: libre (baresip) refuses a 401 that also offers an
    algorithm it lacks, and many phones answer only the first challenge."""
    m = _challenge(pbxd)
    assert m.code == 401
    assert _algs(m) == ["MD5"]


def test_challenge_order_configurable(tmp_path):
    p = Pbxd(tmp_path / "sha", args=["--auth-algorithms=SHA-256"]).start()
    try:
        assert _algs(_challenge(p)) == ["SHA-256"]
    finally:
        p.assert_clean_exit()


def test_bad_algorithm_list_refused(tmp_path):
    p = Pbxd(tmp_path / "bad", args=["--auth-algorithms=SHA-1"])
    p.start(wait=False)
    assert p.proc.wait(timeout=10) != 0
    assert "auth-algorithms" in p.log_text()


def test_sipp_answers_the_challenge(pbxd, tmp_path):
    """SIPp's REGISTER scenario with digest: its second REGISTER carries
    Authorization, which pbxd refuses with 403 (no extension exists yet)."""
    if not SHARED_REG.exists():
        pytest.skip("shared/bench/register_auth.xml not found")
    msgs = tmp_path / "sipp.log"
    r = subprocess.run(["sipp", "-sf", str(SHARED_REG), "-au", "100", "-ap", "secret",
                        "-m", "1", "-timeout", "10s", "-i", "127.0.0.1",
                        "-p", str(free_port(avoid=(pbxd.udp_port,))),
                        "-trace_msg", "-message_file", str(msgs),
                        f"127.0.0.1:{pbxd.udp_port}"],
                       capture_output=True, timeout=30, cwd=tmp_path)
    log = msgs.read_text(errors="replace")
    assert "Authorization: Digest" in log, log[-3000:]
    assert "algorithm=MD5" in log.split("Authorization: Digest", 1)[1].split("\n", 1)[0]
    assert "SIP/2.0 403" in log, log[-3000:]
    assert r.returncode != 0  # the scenario expects 200: there is no extension yet
