"""Real phones through pbxd (issue 12): two baresip instances (Debian's `baresip`)
register as two extensions of the default tenant (pbx.local) and call each other
through pbxd's B2BUA, which anchors the media on its --rtp-ports.

Each baresip is headless: its config, accounts and recordings live in a temp dir
(`baresip -f DIR`), it binds to 127.0.0.1 only (`-n 127.0.0.1`, sip_listen), plays
a sine tone of its own frequency (the `ausine` source: 48 kHz stereo, resampled to
the codec's 8 kHz), plays what it hears to ALSA's `null` device, and records both
directions of its audio (the `sndfile` filter: dump-...-enc.wav is what it sent,
dump-...-dec.wav what it decoded from the RTP it got). It is driven over `ctrl_tcp`
(netstring JSON commands of the `menu` module: dial, hangup) and reports its call
events there (CALL_ESTABLISHED, CALL_CLOSED). The callee answers by itself
(answermode=auto).

After a few seconds of talk the call is hung up, and each side's recording of what
it heard is checked with a Goertzel filter (pure python): it must hold the other
side's tone, for a good part of the call, and not its own (pbxd must not loop a
phone's audio back to it). While the call is up it is listed by GET
/api/call_sessions (state talking, the caller's Call-ID); once ended, GET /api/cdrs
has it with the numbers and the side that hung up as ended_reason.

Nothing waits unbounded: baresip is SIGTERMed (then killed) at the end of each
test, every control read has a deadline. Skipped only when baresip or one of the
modules used is not installed (tools/install-deps.sh installs it). Run:

    PBXD_BIN=build/pbxd tools/netns-run /usr/bin/python3 -m pytest tests/wire/test_baresip.py"""

import itertools
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid
import wave
from pathlib import Path

import pytest

from conftest import Pbxd, free_port, free_port_both

DOMAIN = "pbx.local"
RTP_MIN, RTP_MAX = 31000, 31999          # pbxd's --rtp-ports here
PHONE_RTP = (41000, 41999)               # baresip's rtp_ports (its own side)
FREQ = {"caller": 600, "callee": 1000}   # Hz: each phone's tone
TALK = 4.0        # seconds the call stays up
API_SETTLE = 3.0  # how long the API may lag behind SIP
HEARD_MIN = 2.0   # seconds of the recording that must be the other side's tone
MODULES = ("g711", "ausine", "alsa", "sndfile", "account", "menu", "ctrl_tcp")
MODULE_DIRS = ("/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules",
               "/usr/local/lib/baresip/modules")


def module_dir():
    """baresip's module directory holding every module used, or None."""
    for d in MODULE_DIRS:
        if all(os.path.exists(os.path.join(d, f"{m}.so")) for m in MODULES):
            return d
    return None


@pytest.fixture(scope="module")
def baresip_env():
    exe = shutil.which("baresip")
    if not exe:
        pytest.skip("baresip is not installed (Debian package baresip; tools/install-deps.sh)")
    mods = module_dir()
    if not mods:
        pytest.skip(f"baresip modules {', '.join(MODULES)} not all found in {', '.join(MODULE_DIRS)}")
    return exe, mods


class Pbx:
    """The module's pbxd and its tenant admin's API; `new_ext` makes a user with the
    next extension number and remembers its SIP password and id."""

    def __init__(self, p):
        self.p = p
        self.api = p.tenant_admin()
        self.numbers = itertools.count(201)
        self.passwords, self.ids = {}, {}

    def new_ext(self):
        ext = str(next(self.numbers))
        pw = f"bs-Secret-{ext}"
        self.ids[ext] = self.api.create_user(ext, pw)
        self.passwords[ext] = pw
        return ext


@pytest.fixture(scope="module")
def pbx(tmp_path_factory, baresip_env):
    """A pbxd relaying media on --rtp-ports 31000-31999; on teardown it must exit 0
    with no sanitizer report."""
    p = Pbxd(tmp_path_factory.mktemp("baresip-pbxd"), args=[f"--rtp-ports={RTP_MIN}-{RTP_MAX}"]).start()
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()


# --------------------------------------------------------------------------- baresip


class Ctrl:
    """A ctrl_tcp client: netstrings of JSON. Commands carry a token and get a
    {"response": true, "token": ...} answer; events ({"event": true, "type": ...})
    are kept in `events` in the order they came."""

    def __init__(self, port, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.events = []
        self.responses = {}

    def close(self):
        self.sock.close()

    def _pump(self, deadline):
        """Reads what arrives before `deadline` (at least one read attempt); False
        once the connection is closed."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            return True
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        while True:
            m = re.match(rb"(\d+):", self.buf)
            if not m:
                break
            n = int(m.group(1))
            end = m.end() + n
            if len(self.buf) < end + 1:
                break
            msg = json.loads(self.buf[m.end():end])
            self.buf = self.buf[end + 1:]  # the netstring's ','
            if msg.get("event"):
                self.events.append(msg)
            elif msg.get("response"):
                self.responses[msg.get("token")] = msg
        return True

    def command(self, cmd, params="", timeout=5.0):
        """Sends a command; its response (dict), asserted to come."""
        token = uuid.uuid4().hex[:12]
        js = json.dumps({"command": cmd, "params": params, "token": token}).encode()
        self.sock.sendall(b"%d:%s," % (len(js), js))
        deadline = time.monotonic() + timeout
        while token not in self.responses:
            assert time.monotonic() < deadline, f"baresip did not answer {cmd!r} within {timeout}s"
            assert self._pump(deadline), f"baresip closed its control connection after {cmd!r}"
        return self.responses.pop(token)

    def wait_event(self, etype, timeout=10.0):
        """The first event of type `etype` received (now or within `timeout`), or None."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev.get("type") == etype:
                    return ev
            if time.monotonic() >= deadline or not self._pump(deadline):
                return None


class Baresip:
    """One baresip: extension `ext` of pbx.local registered through pbxd
    (outbound=127.0.0.1:udp_port), a tone of `freq` Hz, recordings in its dir."""

    def __init__(self, env, workdir, ext, password, pbx_port, freq, codec, addr="127.0.0.1",
                 pbx_host="127.0.0.1", rtp_ports=PHONE_RTP, transport="udp", cafile=None):
        self.exe, self.mods = env
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ext, self.freq, self.addr, self.transport = ext, freq, addr, transport
        self.sip_port = free_port_both(avoid=(pbx_port,))  # sip_listen binds UDP and TCP
        self.ctrl_port = free_port(socket.SOCK_STREAM, avoid=(pbx_port, self.sip_port))
        (self.dir / "config").write_text(f"""\
poll_method		epoll
sip_listen		{addr}:{self.sip_port}
call_local_timeout	30
call_max_calls		4
audio_player		alsa,null
audio_source		ausine,{freq}
audio_alert		alsa,null
ausrc_srate		48000
ausrc_channels		2
audio_buffer		20-160
rtp_ports		{rtp_ports[0]}-{rtp_ports[1]}
rtp_timeout		0
module_path		{self.mods}
module			g711.so
module			ausine.so
module			alsa.so
module			sndfile.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:{self.ctrl_port}
snd_path		{self.dir}
""" + (f"sip_cafile\t\t{cafile}\n" if cafile else ""))
        (self.dir / "accounts").write_text(
            f'<sip:{ext}@{DOMAIN}>;auth_pass={password};outbound="sip:{pbx_host}:{pbx_port};transport={transport}"'
            f";regint=60;answermode=auto;audio_codecs={codec};ptime=20\n")
        self.logpath = self.dir / "baresip.log"
        self._log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            [self.exe, "-f", str(self.dir), "-n", addr, "-v"], stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir)
        try:
            self.ctrl = Ctrl(self.ctrl_port)
        except OSError:
            self.stop()
            pytest.fail(f"baresip {ext}: no control connection on {self.ctrl_port}:\n{self.log_tail()}")

    def log_tail(self, n=60):
        try:
            text = self.logpath.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        # the menu's call status line, redrawn in place: keep its last state only
        text = re.sub(r"(?:\[\d+:\d\d:\d\d\] audio=\S+ \(bit/s\)\s*)+", "[status lines]\n", text)
        return f"--- baresip {self.ext} log:\n" + "\n".join(text.splitlines()[-n:])

    def stop(self):
        if getattr(self, "ctrl", None):
            self.ctrl.close()
            self.ctrl = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()

    def recordings(self, kind):
        """The sndfile recordings of this phone: kind 'dec' (heard) or 'enc' (sent)."""
        return sorted(self.dir.glob(f"dump-*-{kind}.wav"))


class Phones:
    """The baresips of one test, stopped (SIGTERM, then kill) when it ends."""

    def __init__(self, pbx, env, tmp_path):
        self.pbx, self.env, self.tmp = pbx, env, tmp_path
        self.all = []

    def start(self, ext, freq, codec="PCMU", transport="udp"):
        """A baresip registering over UDP, or over TLS (trusting pbxd's certificate,
        the self-signed HTTPS one, as its CA file)."""
        tls = transport == "tls"
        b = Baresip(self.env, self.tmp / f"bs-{ext}", ext, self.pbx.passwords[ext],
                    self.pbx.p.tls_port if tls else self.pbx.p.udp_port, freq, codec, transport=transport,
                    cafile=self.pbx.p.datadir / "tls" / "cert.pem" if tls else None)
        self.all.append(b)
        return b

    def wait_registered(self, b, timeout=10.0):
        """pbxd lists a device of b's extension registered from b's SIP port."""
        uid = self.pbx.ids[b.ext]
        deadline = time.monotonic() + timeout
        while True:
            devs = self.pbx.api.devices(uid)
            # over UDP from its SIP port; over TLS from the connection it opened
            if any(d.get("port") == b.sip_port if b.transport == "udp" else d.get("transport") == b.transport
                   for d in devs):
                b.device = next(d for d in devs if d.get("transport") == b.transport)
                return devs
            if time.monotonic() > deadline or b.proc.poll() is not None:
                pytest.fail(f"baresip {b.ext} did not register within {timeout}s (devices: {devs}):\n"
                            f"{self.dump()}")
            time.sleep(0.1)

    def dump(self):
        return "\n".join(b.log_tail() for b in self.all) + "\n--- pbxd log:\n" + self.pbx.p.log_tail(60)

    def close(self):
        for b in self.all:
            b.stop()


@pytest.fixture
def phones(pbx, baresip_env, tmp_path):
    ph = Phones(pbx, baresip_env, tmp_path)
    try:
        yield ph
    finally:
        ph.close()


# --------------------------------------------------------------------------- API


def sessions(pbx):
    data = pbx.api.ok("GET", "/call_sessions")
    assert data["count"] == len(data["items"]), data
    return data["items"]


def wait_session(pbx, pred, timeout=API_SETTLE):
    deadline = time.monotonic() + timeout
    while True:
        items = sessions(pbx)
        hit = [s for s in items if pred(s)]
        if hit or time.monotonic() > deadline:
            assert len(hit) == 1, f"want one such call session: {items}"
            return hit[0]
        time.sleep(0.05)


def wait_no_session(pbx, sid, timeout=API_SETTLE):
    deadline = time.monotonic() + timeout
    while True:
        items = sessions(pbx)
        if all(s.get("session_id") != sid for s in items):
            return
        assert time.monotonic() < deadline, f"session {sid} still listed: {items}"
        time.sleep(0.05)


def wait_cdr(pbx, sid, timeout=API_SETTLE):
    deadline = time.monotonic() + timeout
    while True:
        items, skip = [], 0
        while True:
            data = pbx.api.ok("GET", "/cdrs", params={"skip": skip, "top": 100})
            items += data["items"]
            skip += len(data["items"])
            if not data["items"] or skip >= data["count"]:
                break
        hit = [c for c in items if c.get("session_id") == sid]
        if hit or time.monotonic() > deadline:
            assert len(hit) == 1, f"want one CDR of session {sid}, have {len(hit)}: {items[:5]}"
            return hit[0]
        time.sleep(0.1)


# --------------------------------------------------------------------------- audio


def read_wav(path):
    """(sample rate, samples of the first channel) of a 16-bit PCM WAV."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2, f"{path}: {w.getsampwidth() * 8}-bit samples"
        rate, ch, n = w.getframerate(), w.getnchannels(), w.getnframes()
        raw = w.readframes(n)
    samples = struct.unpack(f"<{len(raw) // 2}h", raw[:len(raw) // 2 * 2])
    return rate, samples[::ch]


def tone_amplitude(samples, rate, freq):
    """Amplitude of the `freq` component of `samples` (Goertzel)."""
    w = 2 * math.pi * freq / rate
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / len(samples)


def analyse(path, freqs, block=0.25):
    """Per block of `block` seconds: (rms, {freq: share of the block's power in that
    tone}). A pure tone has a share near 1, silence 0 for every tone."""
    rate, x = read_wav(path)
    n = int(rate * block)
    out = []
    for i in range(0, len(x) - n + 1, n):
        blk = x[i:i + n]
        ms = sum(v * v for v in blk) / n
        rms = math.sqrt(ms)
        shares = {f: (tone_amplitude(blk, rate, f) ** 2 / 2) / ms if ms > 0 else 0.0 for f in freqs}
        out.append((rms, shares))
    return rate, out


def check_heard(phone, want, other, dump):
    """phone's recording of what it heard holds `want` Hz (the far side's tone) for
    at least HEARD_MIN seconds, and never `other` Hz (its own tone): pbxd must not
    send a phone's audio back to it."""
    recs = phone.recordings("dec")
    assert len(recs) == 1, f"baresip {phone.ext}: want one recording of what it heard, have {recs}:\n{dump()}"
    rate, blocks = analyse(recs[0], (want, other))
    heard = [b for b in blocks if b[0] > 500 and b[1][want] > 0.6]
    own = [b for b in blocks if b[0] > 500 and b[1][other] > 0.1]
    summary = (f"{recs[0].name}: {len(blocks)} blocks of 0.25 s at {rate} Hz; rms/share per block: "
               + " ".join(f"{int(b[0])}/{b[1][want]:.2f}" for b in blocks))
    assert len(heard) * 0.25 >= HEARD_MIN, \
        f"baresip {phone.ext} heard {len(heard) * 0.25:.2f}s of the other side's {want} Hz tone " \
        f"(want >= {HEARD_MIN}s):\n{summary}\n{dump()}"
    assert not own, f"baresip {phone.ext} heard its own {other} Hz tone back:\n{summary}"


def check_sent(phone, freq, dump):
    """The phone's own tone source works (what it encoded is its tone): else the
    test, not pbxd, is broken."""
    recs = phone.recordings("enc")
    assert len(recs) == 1, f"baresip {phone.ext}: no recording of what it sent: {recs}:\n{dump()}"
    _, blocks = analyse(recs[0], (freq,))
    assert sum(1 for b in blocks if b[1][freq] > 0.6) * 0.25 >= HEARD_MIN, \
        f"baresip {phone.ext} did not send its {freq} Hz tone (ausine):\n{dump()}"


def rtp_sources(phone):
    """Where baresip says its RTP came from ("receiving from ADDR:PORT"): [(addr, port)]."""
    text = phone.logpath.read_bytes().decode("utf-8", "replace")
    return [(a, int(p)) for a, p in re.findall(r"receiving from (\d+\.\d+\.\d+\.\d+):(\d+)", text)]


# --------------------------------------------------------------------------- calls


def baresip_call(pbx, phones, codec, hang_up_by, transports=("udp", "udp")):
    """A call from one baresip to another with `codec`, TALK seconds long, hung up
    by 'caller' or 'callee', each registered over its transport. Checks the call
    session, the CDR and what each heard."""
    x, y = pbx.new_ext(), pbx.new_ext()
    a = phones.start(x, FREQ["caller"], codec, transports[0])
    b = phones.start(y, FREQ["callee"], codec, transports[1])
    phones.wait_registered(a)
    devs = phones.wait_registered(b)
    assert any("baresip" in (d.get("user_agent") or "").lower() for d in devs), devs

    r = a.ctrl.command("dial", f"sip:{y}@{DOMAIN}")
    assert r.get("ok"), f"dial refused: {r}\n{phones.dump()}"
    ea = a.ctrl.wait_event("CALL_ESTABLISHED", timeout=10)
    eb = b.ctrl.wait_event("CALL_ESTABLISHED", timeout=10)
    assert ea is not None and eb is not None, \
        f"call not established (caller {ea}, callee {eb}):\n{phones.dump()}"
    t_up = time.monotonic()
    assert ea.get("direction") == "outgoing" and eb.get("direction") == "incoming", (ea, eb)
    assert f"sip:{x}@{DOMAIN}" in eb.get("peeruri", ""), eb

    s = wait_session(pbx, lambda s: s.get("caller") == x and s.get("callee") == y)
    assert s["state"] == "talking" and s["direction"] == "ext", s
    assert s["call_id"] == ea.get("id"), (s, ea)
    assert re.fullmatch(r"\d+", s["session_id"]) and s["answered_time"] != "0", s
    sid = s["session_id"]

    time.sleep(max(0.0, TALK - (time.monotonic() - t_up)))
    assert a.proc.poll() is None and b.proc.poll() is None, phones.dump()
    assert pbx.p.proc.poll() is None, f"pbxd died during the call:\n{pbx.p.log_tail(80)}"
    s = wait_session(pbx, lambda s: s.get("session_id") == sid)
    assert s["state"] == "talking", s

    ender, far = (a, b) if hang_up_by == "caller" else (b, a)
    r = ender.ctrl.command("hangup")
    assert r.get("ok"), f"hangup refused: {r}"
    ca = a.ctrl.wait_event("CALL_CLOSED", timeout=5)
    cb = b.ctrl.wait_event("CALL_CLOSED", timeout=5)
    assert ca is not None and cb is not None, f"call not closed on both sides ({ca}, {cb}):\n{phones.dump()}"
    wait_no_session(pbx, sid)
    cdr = wait_cdr(pbx, sid)
    assert (cdr["caller"], cdr["callee"], cdr["direction"]) == (x, y, "ext"), cdr
    assert cdr["ended_reason"] == f"{hang_up_by}_disconnect", cdr
    assert cdr["answered_time"] != "0" and cdr["status_code"] == "0", cdr
    assert cdr["call_id"] == ea.get("id"), cdr
    assert int(cdr["ended_time"]) - int(cdr["answered_time"]) >= int(TALK) - 1, cdr
    assert len(cdr["call_targets"]) == 1, cdr
    t = cdr["call_targets"][0]
    assert t["callee"] == y and re.search(rf"@127\.0\.0\.1:{b.device['port']}(?:[;>]|$)", t["destination"]), t
    assert t["answered_time"] != "0", t

    # baresip closes its recordings when the call's audio is destroyed
    for p in (a, b):
        p.stop()
    check_sent(a, FREQ["caller"], phones.dump)
    check_sent(b, FREQ["callee"], phones.dump)
    check_heard(a, FREQ["callee"], FREQ["caller"], phones.dump)
    check_heard(b, FREQ["caller"], FREQ["callee"], phones.dump)
    # the media was anchored: each phone got its RTP from a port of pbxd's range
    for p in (a, b):
        check_anchored(p, "127.0.0.1", RTP_MIN, RTP_MAX)


def check_anchored(phone, pbx_addr, rtp_min, rtp_max):
    """The media was anchored: baresip got its RTP from pbxd's address and a port of
    its --rtp-ports (as baresip's log tells)."""
    src = rtp_sources(phone)
    assert src and all(a == pbx_addr and rtp_min <= port <= rtp_max for a, port in src), \
        f"baresip {phone.ext} received RTP from {src}, not from pbxd's {pbx_addr}:{rtp_min}-{rtp_max}:\n" \
        f"{phone.log_tail()}"


def test_baresip_call_pcmu_caller_hangs_up(pbx, phones):
    """CALL-01, CALL-07 with real phones: baresip calls baresip (PCMU), each hears
    the other's tone through pbxd; the caller hangs up: caller_disconnect."""
    baresip_call(pbx, phones, "PCMU", "caller")


def test_baresip_call_pcma_callee_hangs_up(pbx, phones):
    """CALL-01, CALL-07 with real phones: the same in PCMA; the callee hangs up:
    callee_disconnect."""
    baresip_call(pbx, phones, "PCMA", "callee")


@pytest.mark.parametrize("transports", [("tls", "udp"), ("udp", "tls")], ids=["tls-calls-udp", "udp-calls-tls"])
def test_baresip_over_tls(pbx, phones, transports):
    """SIP-03 with a real phone: baresip registers over TLS (port --sip-tls-port,
    verifying pbxd's certificate against it as CA), calls and is called; each side
    hears the other's tone; the callee over TLS is rung over its own connection."""
    baresip_call(pbx, phones, "PCMU", "callee", transports)
