"""A registration storm (issue 11 item 4, "How it is checked"): thousands of phones,
each its own extension and password, all register at once, as after an outage.
pbxd admits --register-rate authenticated REGISTERs a second and answers the rest
503 with a Retry-After spread over --register-retry-spread; the phones honour it.
Throughout, OPTIONS from another process is answered within a second; at the end
every phone is registered (each saw its 200, the API lists its device, and the
bindings table written at shutdown holds one row per extension).

Features: REG-01 at scale, OPS-13 (sizing: the storm is bounded and measured).

The extensions are made by copying one user row in pbxd's SQLite file while pbxd is
stopped (as bench/register_users.py's `clone` does): the API hashes every login
password with Argon2 (two at a time), which would cost ~25 ms per user."""

import heapq
import multiprocessing
import random
import re
import secrets
import select
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import Pbxd, SipMsg, make_options
from sipua import digest_header, md5_challenge

DOMAIN = "pbx.local"
N = 3000             # phones, one extension each
FIRST = 10000        # their extensions: FIRST .. FIRST+N-1
SOURCES = 60         # source addresses 127.0.1.1 .. (N / SOURCES phones behind each)
RATE = 500           # --register-rate: the storm outruns it sixfold
SPREAD = 3           # --register-retry-spread: Retry-After 1..3 s
DEADLINE = 60.0      # the storm must be over by then


def password(ext):
    return f"storm-{ext}"


def clone_users(dbfile, first, count):
    """Copies the row of extension `first` (made through the API) for the next
    count-1 extensions, each with its own id, username, email and SIP password."""
    db = sqlite3.connect(dbfile)
    try:
        cols = [r[1] for r in db.execute("PRAGMA table_info(users)")]
        row = dict(zip(cols, db.execute("SELECT * FROM users WHERE ext_number = ?", (str(first),)).fetchone()))
        base = db.execute("SELECT max(id) FROM users").fetchone()[0]
        rows = []
        for i in range(1, count):
            ext = first + i
            r = dict(row)
            r.update(id=base + i, username=f"u{ext}", email=f"u{ext}@{DOMAIN}", ext_number=str(ext),
                     ext_password=password(ext))
            rows.append(tuple(r[c] for c in cols))
        with db:
            db.executemany(f"INSERT INTO users ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
        return {int(e): i for i, e in db.execute("SELECT id, ext_number FROM users WHERE ext_number >= ?",
                                                  (str(first),)) if e.isdigit() and int(e) >= first}
    finally:
        db.close()


# --------------------------------------------------------------------------- OPTIONS probe


def _probe(port, stop, out):
    """In its own process (so the storm client's work does not delay it): an
    OPTIONS every 100 ms from 127.0.0.1, each waited for up to 2 s; puts the
    latencies (None: no answer) on `out`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    lp = s.getsockname()[1]
    lat = []
    while not stop.is_set():
        req = make_options(port, local_port=lp)
        cid = re.search(r"Call-ID: (\S+)", req).group(1)
        t0 = time.monotonic()
        s.sendto(req.encode(), ("127.0.0.1", port))
        got = None
        while got is None and time.monotonic() - t0 < 2.0:
            s.settimeout(max(0.01, 2.0 - (time.monotonic() - t0)))
            try:
                m = SipMsg(s.recv(65535))
            except socket.timeout:
                break
            if m.get("call-id") == cid and m.code == 200:
                got = time.monotonic() - t0
        lat.append(got)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
    s.close()
    out.put(lat)


# --------------------------------------------------------------------------- the phones


class Phone:
    __slots__ = ("ext", "sock", "src", "lport", "call_id", "tag", "cseq", "text", "gen", "rto", "done",
                 "challenge", "nc", "n503", "retry_after")

    def __init__(self, ext, sock):
        self.ext = ext
        self.sock = sock
        self.src, self.lport = sock.getsockname()
        self.call_id = f"{secrets.token_hex(8)}-{ext}@{self.src}"
        self.tag = secrets.token_hex(4)
        self.cseq = 0
        self.gen = 0
        self.done = False
        self.challenge = None
        self.nc = 0
        self.n503 = 0
        self.retry_after = []

    def request(self):
        self.cseq += 1
        auth = ""
        if self.challenge:
            self.nc += 1
            auth = "Authorization: " + digest_header(self.challenge, str(self.ext), password(self.ext),
                                                     "REGISTER", f"sip:{DOMAIN}", nc=self.nc) + "\r\n"
        self.text = (f"REGISTER sip:{DOMAIN} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP {self.src}:{self.lport};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
                     f"Max-Forwards: 70\r\nFrom: <sip:{self.ext}@{DOMAIN}>;tag={self.tag}\r\n"
                     f"To: <sip:{self.ext}@{DOMAIN}>\r\nCall-ID: {self.call_id}\r\n"
                     f"CSeq: {self.cseq} REGISTER\r\n"
                     f"Contact: <sip:{self.ext}@{self.src}:{self.lport};line={self.ext}>\r\n"
                     f"Expires: 3600\r\n{auth}User-Agent: storm-phone/1.0\r\nContent-Length: 0\r\n\r\n"
                     ).encode()
        self.gen += 1
        self.rto = 0.5


def storm(port, phones, deadline):
    """Drives every phone to its 200: REGISTER, 401, REGISTER with credentials;
    503 Retry-After: that long, then again; silence: retransmit (T1 doubling to
    4 s). Returns the number of requests sent."""
    by_cid = {ph.call_id: ph for ph in phones}
    socks = sorted({ph.sock for ph in phones}, key=lambda s: s.fileno())
    timers = []  # (when, seq, phone, gen, resend)
    seq = 0
    now = time.monotonic()
    for ph in phones:
        ph.request()
        heapq.heappush(timers, (now, seq, ph, ph.gen, False))
        seq += 1
    sent = 0
    left = len(phones)
    while left and time.monotonic() < deadline:
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            _, _, ph, gen, _ = heapq.heappop(timers)
            if ph.done or gen != ph.gen:
                continue
            try:
                ph.sock.sendto(ph.text, ("127.0.0.1", port))
                sent += 1
            except BlockingIOError:
                pass  # as good as lost: the retransmission covers it
            heapq.heappush(timers, (now + ph.rto, seq, ph, ph.gen, True))
            seq += 1
            ph.rto = min(ph.rto * 2, 4.0)
        wait = min(0.05, max(0.0, timers[0][0] - time.monotonic())) if timers else 0.05
        r, _, _ = select.select(socks, [], [], wait)
        for s in r:
            while True:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                m = SipMsg(data)
                ph = by_cid.get(m.get("call-id"))
                cseq = (m.get("cseq") or "0").split()[0]
                if ph is None or ph.done or m.code is None or cseq != str(ph.cseq) or m.code < 200:
                    continue
                when = time.monotonic()
                if m.code == 200:
                    ph.done = True
                    left -= 1
                    continue
                if m.code == 401:
                    ph.challenge = md5_challenge(m)
                    ph.nc = 0
                elif m.code == 503:
                    ra = int(m.get("retry-after") or "-1")
                    ph.n503 += 1
                    ph.retry_after.append(ra)
                    when += max(ra, 0)
                else:
                    raise AssertionError(f"extension {ph.ext}: unexpected answer\n{m}")
                ph.request()
                heapq.heappush(timers, (when, seq, ph, ph.gen, False))
                seq += 1
    return sent


def test_registration_storm(tmp_path):
    """3000 extensions behind 60 addresses register at once against
    --register-rate=500: some are told 503 with a Retry-After within
    [1, --register-retry-spread], not all the same; every phone ends registered
    within the deadline; OPTIONS answered within 1 s throughout."""
    args = [f"--register-rate={RATE}", f"--register-retry-spread={SPREAD}", "--sip-trace=off",
            "--log-level=info"]
    p = Pbxd(tmp_path / "pbxd", args=args)
    p.start()
    try:
        api = p.tenant_admin()
        api.create_user(FIRST, password(FIRST))
        assert p.stop() == 0
        ids = clone_users(p.datadir / "pbxd.db", FIRST, N)
        assert len(ids) == N
        p.start()

        socks = []
        for i in range(SOURCES):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((f"127.0.1.{i + 1}", 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
            s.setblocking(False)
            socks.append(s)
        phones = [Phone(FIRST + i, socks[i % SOURCES]) for i in range(N)]

        ctx = multiprocessing.get_context("fork")
        stop, out = ctx.Event(), ctx.Queue()
        probe = ctx.Process(target=_probe, args=(p.udp_port, stop, out), daemon=True)
        probe.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        try:
            sent = storm(p.udp_port, phones, t0 + DEADLINE)
        finally:
            took = time.monotonic() - t0
            time.sleep(0.3)
            stop.set()
            lat = out.get(timeout=10)
            probe.join(timeout=5)
            for s in socks:
                s.close()

        missing = [ph.ext for ph in phones if not ph.done]
        assert not missing, (f"{len(missing)} of {N} phones not registered after {took:.1f} s "
                             f"(e.g. {missing[:10]}):\n{p.log_tail(40)}")
        refused = [ph for ph in phones if ph.n503]
        ras = [ra for ph in phones for ra in ph.retry_after]
        assert refused, "the storm outran --register-rate but no phone was told 503"
        assert all(1 <= ra <= SPREAD for ra in ras), sorted(set(ras))
        assert len(set(ras)) > 1, f"every Retry-After was {ras[0]}: phones would return together"

        answered = [x for x in lat if x is not None]
        assert len(lat) >= 5, lat
        assert len(answered) == len(lat) and max(answered) < 1.0, (
            f"OPTIONS during the storm: {len(lat) - len(answered)} of {len(lat)} unanswered, "
            f"slowest {max(answered, default=0):.3f} s")

        # every one is registered, as the API sees it (a sample) and as saved
        api = p.tenant_admin()
        sample = random.sample(sorted(ids), 200)

        def devices(ext):
            return ext, api.devices(ids[ext])

        with ThreadPoolExecutor(4) as ex:
            for ext, devs in ex.map(devices, sample):
                assert len(devs) == 1 and devs[0]["user_agent"] == "storm-phone/1.0", (ext, devs)
        assert p.stop() == 0
        db = sqlite3.connect(p.datadir / "pbxd.db")
        try:
            rows = db.execute("SELECT count(*), count(DISTINCT user_id) FROM locations").fetchone()
        finally:
            db.close()
        assert rows == (N, N), rows
        print(f"storm: {N} phones registered in {took:.1f} s, {sent} requests, {len(refused)} told 503, "
              f"OPTIONS slowest {max(answered):.3f} s over {len(lat)} probes")
        p.start()  # for the clean-exit check below
    finally:
        p.assert_clean_exit()
