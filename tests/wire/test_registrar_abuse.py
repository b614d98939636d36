"""The registrar under attack (issue 11 item 3 and "How it is checked"): sipvicious'
svwar finds no extension and svcrack is banned before it finds the password; the
first unauthenticated request and its 401 never count as a failure; failures from
one source within --auth-window ban it after --auth-max-failures, visibly in
GET /api/security/bans and until POST /api/security/bans/{address}/destroy or
--auth-ban-time; trusted addresses are never banned; blocked User-Agents get no
answer; a source flooding beyond --sip-source-rate is dropped while another is
still answered.

Features: SEC-01 (an attacking source blocked after repeated failures), REG-01.
Sources other than 127.0.0.1 are other loopback addresses (127.0.0.0/8 is all on
lo), so that one test's ban does not silence another's client."""

import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Pbxd, SipMsg, make_options
from sipua import RegUA

DOMAIN = "pbx.local"
PW = "sip-Secret-101"
NO_ANSWER = 0.5  # how long to wait where pbxd must stay silent (it answers in milliseconds)


def start(tmp_path, name, *args, users=(101,)):
    """A pbxd with `args` and extensions `users` (password sip-Secret-EXT)."""
    p = Pbxd(tmp_path / name, args=list(args)).start()
    api = p.tenant_admin()
    ids = {ext: api.create_user(ext, f"sip-Secret-{ext}") for ext in users}
    return p, api, ids


def options_text(p, src, lport):
    """An OPTIONS whose Via and Contact name src:lport."""
    return make_options(p.udp_port, local_port=lport).replace(f"127.0.0.1:{lport}", f"{src}:{lport}")


def options_from(p, src, ua="pbxd-wire-tests", timeout=1.0):
    """The status code pbxd answers an OPTIONS from address `src` with, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    try:
        lp = s.getsockname()[1]
        text = options_text(p, src, lp).replace("User-Agent: pbxd-wire-tests", f"User-Agent: {ua}")
        s.settimeout(timeout)
        s.sendto(text.encode(), ("127.0.0.1", p.udp_port))
        return SipMsg(s.recv(65535)).code
    except socket.timeout:
        return None
    finally:
        s.close()


def wrong(p, src, ext="101", tcp=False, timeout=1.0):
    """One REGISTER with a wrong password from `src`: the final answer's code (None
    if none)."""
    with RegUA(p.tcp_port if tcp else p.udp_port, transport="tcp" if tcp else "udp", bind=src,
               timeout=timeout) as ua:
        r = ua.register(ext, "not-the-password", DOMAIN, expires=300)
        return r.code if r is not None else None


def ban_addresses(p):
    return [b["address"] for b in p.sysadmin().bans()]


def concurrently(*fns):
    """The results of fns, each called in a thread of its own, all at once: where
    pbxd must leave several requests unanswered, their NO_ANSWER windows overlap
    instead of adding up."""
    with ThreadPoolExecutor(len(fns)) as ex:
        futures = [ex.submit(fn) for fn in fns]
        return [f.result() for f in futures]


# --------------------------------------------------------------------------- sipvicious


def _need(tool):
    if not shutil.which(tool):
        pytest.fail(f"{tool} is not installed (Debian sipvicious; tools/install-deps.sh installs it)")


def svwar(p, tmp_path, method, extra=()):
    _need("svwar")
    r = subprocess.run(["svwar", "-e100-130", "-m", method, "--domain", DOMAIN, "-b", "127.0.0.1",
                        "-P", str(free_local_port()), "--maximumtime=2", *extra,
                        f"udp://127.0.0.1:{p.udp_port}"],
                       capture_output=True, timeout=30, cwd=tmp_path)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def free_local_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_svwar_finds_no_extension(tmp_path):
    """svwar over 100-130 (by REGISTER, forced past its sanity check, and by
    INVITE) against a pbxd where 101, 102, 115 and 120 exist, with the User-Agent
    block list empty so that the answers themselves are what is tested: it finds
    none, and its unauthenticated probes ban nobody."""
    p, _, _ = start(tmp_path, "svwar", "--blocked-user-agents=", "--auth-max-failures=3",
                    users=(101, 102, 115, 120))
    try:
        for method, extra in (("REGISTER", ("--force",)), ("INVITE", ())):
            rc, out = svwar(p, tmp_path, method, extra)
            assert "found nothing" in out, f"svwar -m {method}:\n{out}"
            found = re.findall(r"\|\s*(1\d\d)\s*\|", out)
            assert not found, f"svwar -m {method} found {found}:\n{out}"
        # svwar was answered (pbxd does not hide from it here): every INVITE is
        # challenged alike, so svwar gives up after its first few probes ...
        assert "SIP/2.0 " in p.log_text() and p.log_text().count("friendly-scanner") >= 2
        # ... and nothing it sent counted as a failed authentication
        assert ban_addresses(p) == []
        assert options_from(p, "127.0.0.1") == 200
    finally:
        p.assert_clean_exit()


def test_svwar_blocked_user_agent_gets_no_answer(tmp_path):
    """With the default --blocked-user-agents (friendly-scanner, sipvicious, ...)
    svwar gets no answer at all: pbxd sends nothing in reply to its requests."""
    p, _, _ = start(tmp_path, "svwar-blocked")
    try:
        before = p.log_text().count("SIP send")
        rc, out = svwar(p, tmp_path, "REGISTER", ("--force",))
        assert "found nothing" in out, out
        assert re.search(r"timed out|no server response|did not respond", out, re.I), out
        time.sleep(0.2)
        log = p.log_text()
        assert log.count("SIP send") == before, "pbxd answered svwar:\n" + p.log_tail(60)
        assert "blocked User-Agent" in log
        assert options_from(p, "127.0.0.1") == 200  # everyone else is answered
    finally:
        p.assert_clean_exit()


def run_svcrack(argv, cwd, timeout=40):
    """Runs svcrack; its stdout and stderr. Once svcrack says it stops (no answer
    for --maximumtime seconds: it sends nothing more), it only reads for answers
    to what it sent, with a fixed 10-s socket timeout, before it reports; pbxd
    answers a banned source nothing, so that read is cut short (half a second
    later) with SIGINT, on which svcrack reports the same way: "found nothing",
    or the password it found."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    out, err, stopping = [], [], threading.Event()

    def read(pipe, into, watch):
        for line in pipe:
            into.append(line)
            if watch and b"since we last received a response - stopping" in line:
                stopping.set()

    readers = [threading.Thread(target=read, args=(proc.stdout, out, False), daemon=True),
               threading.Thread(target=read, args=(proc.stderr, err, True), daemon=True)]
    for th in readers:
        th.start()
    deadline = time.monotonic() + timeout
    while not stopping.wait(0.05) and proc.poll() is None and time.monotonic() < deadline:
        pass
    if proc.poll() is None and stopping.is_set():
        time.sleep(0.5)  # an answer still in flight would come now (pbxd answers in milliseconds)
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for th in readers:
        th.join(5)
    return b"".join(out).decode(errors="replace") + b"".join(err).decode(errors="replace")


def test_svcrack_banned_before_it_finds_the_password(tmp_path):
    """svcrack against extension 101 with a wordlist of 8 wrong passwords and then
    the right one, pbxd banning after 5 failures (--auth-max-failures=5): it is
    banned first and reports no password; GET /api/security/bans lists 127.0.0.1;
    pbxd answers it nothing more; POST /api/security/bans/127.0.0.1/destroy lifts
    the ban and 101 registers with its password."""
    _need("svcrack")
    p, api, ids = start(tmp_path, "svcrack", "--blocked-user-agents=", "--auth-max-failures=5")
    try:
        words = tmp_path / "words.txt"
        words.write_text("\n".join([f"guess-{i}" for i in range(8)] + [PW, "after-1", "after-2"]) + "\n")
        t0 = time.monotonic()
        out = run_svcrack(["svcrack", "-u", "101", "-d", str(words), "--domain", DOMAIN, "-b", "127.0.0.1",
                           "-P", str(free_local_port()), "--maximumtime=2",
                           f"udp://127.0.0.1:{p.udp_port}"], tmp_path)
        assert time.monotonic() - t0 < 30, out
        assert PW not in out and "found nothing" in out, out
        assert "banned for" in p.log_text()
        assert "registered from" not in p.log_text()  # no guess was ever accepted
        assert api.devices(ids[101]) == []
        bans = p.sysadmin().bans()
        assert [b["address"] for b in bans] == ["127.0.0.1"], bans
        assert bans[0]["prefix"] == 32 and bans[0]["failures"] == 5, bans
        # banned: no answer, not even to OPTIONS or the right password
        assert options_from(p, "127.0.0.1", timeout=NO_ANSWER) is None
        with RegUA(p.udp_port, timeout=NO_ANSWER) as ua:
            assert ua.register("101", PW, DOMAIN, expires=300) is None
        # another source is answered meanwhile
        assert options_from(p, "127.0.0.2") == 200

        sa = p.sysadmin()
        assert sa.call("POST", "/security/bans/127.0.0.1/destroy", body={})[0] == 204
        assert sa.bans() == []
        assert sa.call("POST", "/security/bans/127.0.0.1/destroy", body={})[0] == 404
        assert options_from(p, "127.0.0.1") == 200
        with RegUA(p.udp_port) as ua:
            r = ua.register("101", PW, DOMAIN, expires=300)
            assert r is not None and r.code == 200, r
        time.sleep(0.05)
        assert len(api.devices(ids[101])) == 1
    finally:
        p.assert_clean_exit()


# --------------------------------------------------------------------------- bans


def test_challenges_never_count_as_failures(tmp_path):
    """The first unauthenticated REGISTER and its 401 are normal: 40 of them from
    one source (and 10 complete registrations, 401 then 200), with
    --auth-max-failures=3, ban nothing."""
    p, api, ids = start(tmp_path, "challenges", "--auth-max-failures=3")
    try:
        src = "127.0.0.11"
        for i in range(40):
            with RegUA(p.udp_port, bind=src) as ua:
                r = ua.request("101" if i % 2 else "555", DOMAIN, expires=300)
                assert r is not None and r.code == 401, (i, r)
        for i in range(10):
            with RegUA(p.udp_port, bind=src) as ua:
                r = ua.register("101", PW, DOMAIN, expires=300 if i < 9 else 0)
                assert r is not None and r.code == 200, (i, r)
        assert ban_addresses(p) == []
        assert options_from(p, src) == 200
        assert "refused" not in p.log_text()
    finally:
        p.assert_clean_exit()


def test_failures_ban_a_source_within_the_window(tmp_path):
    """--auth-max-failures=3 --auth-window=1: two failures, a pause longer than the
    window, two more: not banned (the count starts again). Three within the window:
    the third is still answered 403, then the source is banned: nothing from it is
    answered (UDP, nor a new TCP connection's requests), GET /api/security/bans
    lists it with its failures, other sources are still answered, and POST
    .../bans/{address}/destroy lifts it (404 when there is no ban)."""
    p, api, ids = start(tmp_path, "bans", "--auth-max-failures=3", "--auth-window=1")
    try:
        src, other = "127.0.0.21", "127.0.0.22"
        assert [wrong(p, src), wrong(p, src)] == [403, 403]
        time.sleep(1.2)
        assert [wrong(p, src), wrong(p, src)] == [403, 403]
        assert ban_addresses(p) == []
        time.sleep(1.2)

        assert [wrong(p, src), wrong(p, src), wrong(p, src)] == [403, 403, 403]
        bans = p.sysadmin().bans()
        assert [(b["address"], b["prefix"], b["failures"]) for b in bans] == [(src, 32, 3)], bans
        assert bans[0]["banned_at"] < bans[0]["until"]

        # banned: nothing from it is answered
        def right_password():
            with RegUA(p.udp_port, bind=src, timeout=NO_ANSWER) as ua:
                return ua.register("101", PW, DOMAIN, expires=300)

        def wrong_over_tcp():
            try:
                return wrong(p, src, tcp=True, timeout=NO_ANSWER)
            except (ConnectionError, socket.timeout, OSError):
                return None  # refusing the connection itself is as good

        answers = concurrently(lambda: options_from(p, src, timeout=NO_ANSWER),
                               lambda: wrong(p, src, timeout=NO_ANSWER), right_password, wrong_over_tcp)
        assert answers == [None] * 4, answers
        assert options_from(p, other) == 200
        with RegUA(p.udp_port, bind=other) as ua:
            assert ua.register("101", PW, DOMAIN, expires=300).code == 200

        sa = p.sysadmin()
        assert sa.call("POST", "/security/bans/127.0.0.99/destroy", body={})[0] == 404
        assert sa.call("POST", f"/security/bans/{src}/destroy", body={})[0] == 204
        assert ban_addresses(p) == []
        assert options_from(p, src) == 200
        with RegUA(p.udp_port, bind=src) as ua:
            assert ua.register("101", PW, DOMAIN, expires=300).code == 200
    finally:
        p.assert_clean_exit()


def test_ban_ends_after_ban_time(tmp_path):
    """--auth-ban-time=1: a banned source is answered again a second later."""
    p, _, _ = start(tmp_path, "bantime", "--auth-max-failures=2", "--auth-ban-time=1")
    try:
        src = "127.0.0.31"
        assert [wrong(p, src), wrong(p, src)] == [403, 403]
        assert options_from(p, src, timeout=NO_ANSWER) is None
        time.sleep(1.2)
        assert options_from(p, src) == 200
        assert ban_addresses(p) == []
    finally:
        p.assert_clean_exit()


def test_trusted_addresses_never_banned(tmp_path):
    """--trusted-addresses=127.0.0.0/8: 12 failures from 127.0.0.41 with
    --auth-max-failures=3 are each answered 403, and nothing is banned."""
    p, _, _ = start(tmp_path, "trusted", "--auth-max-failures=3", "--trusted-addresses=127.0.0.0/8")
    try:
        codes = [wrong(p, "127.0.0.41") for _ in range(12)]
        assert codes == [403] * 12, codes
        assert ban_addresses(p) == []
        with RegUA(p.udp_port, bind="127.0.0.41") as ua:
            assert ua.register("101", PW, DOMAIN, expires=300).code == 200
    finally:
        p.assert_clean_exit()


# --------------------------------------------------------------------------- User-Agents, flood


def test_blocked_user_agents_get_no_answer(tmp_path):
    """The default list drops friendly-scanner and (case-insensitively) SIPVicious
    unanswered, REGISTER and OPTIONS alike, while the same requests with another
    User-Agent are answered; --blocked-user-agents=EvilPhone blocks that one and
    no longer the defaults."""
    p, _, _ = start(tmp_path, "ua-default")
    try:
        def register(ua):
            with RegUA(p.udp_port, bind="127.0.0.51", user_agent=ua, timeout=NO_ANSWER) as c:
                return c.request("101", DOMAIN, expires=300)

        blocked = ("friendly-scanner", "SIPVicious/0.3.3", "x sipcli/v1.8")
        answers = concurrently(*[lambda ua=ua: options_from(p, "127.0.0.51", ua=ua, timeout=NO_ANSWER)
                                 for ua in blocked],
                               *[lambda ua=ua: register(ua) for ua in blocked])
        assert answers == [None] * 6, list(zip(blocked * 2, answers))
        assert options_from(p, "127.0.0.51", ua="Yealink SIP-T53") == 200
        with RegUA(p.udp_port, bind="127.0.0.51", user_agent="Yealink SIP-T53") as c:
            assert c.register("101", PW, DOMAIN, expires=300).code == 200
        assert ban_addresses(p) == []  # dropping is not banning
    finally:
        p.assert_clean_exit()
    p, _, _ = start(tmp_path, "ua-custom", "--blocked-user-agents=EvilPhone")
    try:
        assert options_from(p, "127.0.0.52", ua="EvilPhone/2.1", timeout=NO_ANSWER) is None
        assert options_from(p, "127.0.0.52", ua="friendly-scanner") == 200
    finally:
        p.assert_clean_exit()


def test_source_flood_dropped_other_source_answered(tmp_path):
    """--sip-source-rate=50 --sip-source-burst=50 (and no stateless-answer budget,
    so that only the per-source request rate acts): 400 OPTIONS sent at once from
    127.0.0.61 get about the burst answered and the rest dropped, while
    127.0.0.62 is answered meanwhile; the flooder is answered again once it slows
    down."""
    p, _, _ = start(tmp_path, "flood", "--sip-source-rate=50", "--sip-source-burst=50",
                    "--sip-stateless-rate=0", users=())
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.61", 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        lp = s.getsockname()[1]
        t0 = time.monotonic()
        for _ in range(400):
            s.sendto(options_text(p, "127.0.0.61", lp).encode(), ("127.0.0.1", p.udp_port))
        sent_in = time.monotonic() - t0
        other = options_from(p, "127.0.0.62")
        answered = 0
        s.settimeout(0.5)
        try:
            while True:
                s.recv(65535)
                answered += 1
        except socket.timeout:
            pass
        s.close()
        allowed = 50 + 50 * (time.monotonic() - t0)  # burst + rate over the whole exchange
        assert 40 <= answered <= allowed + 5, (answered, sent_in)
        assert answered < 300, answered
        assert other == 200
        assert "sends more than its rate of requests" in p.log_text()
        time.sleep(1.1)
        assert options_from(p, "127.0.0.61") == 200
        assert ban_addresses(p) == []  # throttling is not banning
    finally:
        p.assert_clean_exit()
