"""Opus <-> G.711 transcoding in calls (issue 14: "Opus <-> G.711 through libopus
when they do not [share a codec]"), seen from two phones (callua.py): one offers
Opus alone, the other takes only G.711. pbxd offers the callee G.711 as well (last,
so that a shared codec would still win), answers the caller Opus, and its media
engine transcodes: a 440 Hz tone the caller sends as Opus (encoded here with the
system's libopus through ctypes) arrives at the callee as G.711 at 440 Hz, and the
callee's 1 kHz G.711 tone arrives as Opus at 1 kHz. When both share G.711 nothing
is transcoded: the payloads arrive byte for byte (test_calls covers that too).
FEATURES: APP-01 (a browser's Opus to any phone), CALL-01."""

import audioop
import ctypes
import ctypes.util
import itertools
import math
import struct
import time

import pytest

from callua import CallUA, Sdp, make_sdp
from conftest import Pbxd

OPUS_ONLY = ((111, "opus/48000/2"), (110, "telephone-event/48000"))
G711_ONLY = ("PCMU", "PCMA", "telephone-event")


class Opus:
    """libopus through ctypes: a 48 kHz mono encoder and decoder."""

    def __init__(self):
        lib = ctypes.CDLL(ctypes.util.find_library("opus") or "libopus.so.0")
        err = ctypes.c_int()
        lib.opus_encoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.restype = ctypes.c_void_p
        self.enc = lib.opus_encoder_create(48000, 1, 2048, ctypes.byref(err))  # OPUS_APPLICATION_VOIP
        assert err.value == 0
        self.dec = lib.opus_decoder_create(48000, 1, ctypes.byref(err))
        assert err.value == 0
        self.lib = lib

    def encode(self, pcm):
        """960 samples (20 ms) -> one Opus packet."""
        buf = (ctypes.c_int16 * len(pcm))(*pcm)
        out = ctypes.create_string_buffer(1500)
        n = self.lib.opus_encode(ctypes.c_void_p(self.enc), buf, len(pcm), out, 1500)
        assert n > 0
        return out.raw[:n]

    def decode(self, data):
        pcm = (ctypes.c_int16 * 5760)()
        n = self.lib.opus_decode(ctypes.c_void_p(self.dec), data, len(data), pcm, 5760, 0)
        assert n > 0, n
        return list(pcm[:n])

    def close(self):
        self.lib.opus_encoder_destroy(ctypes.c_void_p(self.enc))
        self.lib.opus_decoder_destroy(ctypes.c_void_p(self.dec))


def tone(freq, rate, n, start=0):
    return [int(9000 * math.sin(2 * math.pi * freq * (start + i) / rate)) for i in range(n)]


def share(pcm, freq, rate):
    """The share of freq in pcm's power (Goertzel)."""
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = energy = 0.0
    for x in pcm:
        s1, s2 = x + k * s1 - s2, s1
        energy += x * x
    p = s1 * s1 + s2 * s2 - k * s1 * s2
    return p / (energy * len(pcm) / 2) if energy else 0.0


def send_rtp(rtp, dest, pt, payloads, step):
    """payloads as RTP packets of payload type pt, timestamps step apart."""
    for i, p in enumerate(payloads):
        rtp.seq = (rtp.seq + 1) & 0xFFFF
        rtp.ts = (rtp.ts + step) & 0xFFFFFFFF
        hdr = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | pt, rtp.seq, rtp.ts, rtp.ssrc)
        rtp.sock.sendto(hdr + p, dest)
        time.sleep(0.002)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("xcode"), args=["--rtp-ports=34000-34999", "--auth-max-failures=1000"]).start()
    try:
        api = p.tenant_admin()
        numbers = itertools.count(301)
        yield p, api, numbers
    finally:
        p.assert_clean_exit()


@pytest.fixture
def call(pbx):
    """An answered call: caller offering Opus alone, callee taking G.711 alone."""
    p, api, numbers = pbx
    uas = []
    exts = []
    for _ in range(2):
        ext = str(next(numbers))
        api.create_user(ext, f"xc-Secret-{ext}")
        ua = CallUA(p.udp_port, ext, f"xc-Secret-{ext}")
        uas.append(ua)
        exts.append(ext)
        assert ua.register().code == 200
    a, b = uas
    opus = Opus()
    try:
        yield p, a, b, exts, opus
    finally:
        opus.close()
        for ua in uas:
            ua.hang_up_all()
            ua.close()


def test_opus_caller_g711_callee(call):
    p, a, b, exts, opus = call
    out = a.invite(exts[1], codecs=OPUS_ONLY)
    inc = b.wait_invite()
    assert inc is not None, a.dump() + p.log_tail(40)
    offered = inc.offer.codecs()
    # the caller's Opus first, what pbxd can transcode to after it
    assert offered[0] == "opus" and "PCMU" in offered and offered.index("PCMU") > 0, offered
    inc.answer(sdp=make_sdp(inc.rtp.port, ((0, "PCMU/8000"), (101, "telephone-event/8000")), addr=inc.rtp.addr))
    fin = out.wait_final(timeout=5)
    assert fin is not None and fin.code == 200, a.dump() + p.log_tail(40)
    ans = Sdp.parse(fin.body)
    assert ans.codecs()[0] == "opus", ans.codecs()  # the caller is answered in its own codec

    # caller -> callee: Opus 440 Hz in, PCMU 440 Hz out
    frames = [opus.encode(tone(440, 48000, 960, 960 * k)) for k in range(50)]
    send_rtp(out.rtp, out.media(), 111, frames, 960)
    got = inc.rtp.recv(50, timeout=4)
    assert len(got) >= 45, f"{len(got)} packets"
    assert {g.pt for g in got} == {0}
    assert all(len(g.payload) == 160 for g in got)
    assert all((got[i + 1].ts - got[i].ts) & 0xFFFFFFFF == 160 for i in range(len(got) - 1) if
               got[i + 1].seq == (got[i].seq + 1) & 0xFFFF)
    pcm = audioop.ulaw2lin(b"".join(g.payload for g in got[20:]), 2)
    samples = list(struct.unpack(f"<{len(pcm) // 2}h", pcm))
    assert share(samples, 440, 8000) > 0.7, share(samples, 440, 8000)

    # callee -> caller: PCMU 1 kHz in, Opus 1 kHz out
    pcmu = [audioop.lin2ulaw(struct.pack(f"<160h", *tone(1000, 8000, 160, 160 * k)), 2) for k in range(50)]
    send_rtp(inc.rtp, inc.media(), 0, pcmu, 160)
    got = out.rtp.recv(50, timeout=4)
    assert len(got) >= 45, f"{len(got)} packets"
    assert {g.pt for g in got} == {111}
    decoded = []
    for g in got:
        decoded += opus.decode(g.payload)
    assert share(decoded[len(decoded) // 2:], 1000, 48000) > 0.7
    assert out.bye().code == 200


def test_shared_codec_is_not_transcoded(call):
    """Both offer PCMU: relayed untouched (the payloads' bytes arrive as sent)."""
    p, a, b, exts, opus = call
    out = a.invite(exts[1])
    inc = b.wait_invite()
    assert inc is not None
    assert "opus" not in inc.offer.codecs()  # nothing added for a plain phone that shares G.711
    inc.answer()
    assert out.wait_final(timeout=5).code == 200
    sent = out.rtp.send(out.media(), 10, pt=0)
    got = inc.rtp.recv(10)
    assert [g.payload for g in got] == sent
    out.bye()
