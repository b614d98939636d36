"""Calls through pbxd's B2BUA (issue 12) with SIPp on both sides: the scenarios
test_calls.py does with its python phones, here with a third-party UA whose
scenario files (scenarios/call_*.xml) say exactly what must come and in which
order. The caller answers pbxd's 407 with digest; each callee registers first
from the port its scenario then listens on (register_digest.xml). Every SIPp run
must exit 0 (each expected message came, in order, within its time-outs); what
pbxd kept of the call is then read back from GET /api/cdrs.

- cancelled while ringing (caller: 407, 180, CANCEL, its 200, 487, ACK; callee:
  INVITE, 180, CANCEL answered 200 and 487, ACK);
- no answer: the caller gets 408 after --call-ring-timeout, the callee a CANCEL;
- an unknown number: 404 once authenticated;
- a session timer the caller asked to refresh and never does (RFC 4028): pbxd
  refreshes the callee that does no timers with a re-INVITE at half the interval
  and hangs up both sides once the caller's interval, less a third, ran out;
- forking: two SIPp devices of one extension, one answers, the other gets CANCEL
  with Reason: SIP;cause=200;text="Call completed elsewhere";
- RTP sent by SIPp reaches the other side through pbxd's relay, each way.

This module's pbxd: --call-ring-timeout=5 (its minimum), --session-expires=10 and
--session-min-se=10 (so that the timers fire within a test; calls here last
under 2 s but that one). Nothing waits more than ~12 s; the module takes ~21 s
(~26 s with ASan)."""

import re
import socket
import struct
import subprocess
import time
from datetime import datetime

import pytest

from conftest import Pbxd, free_port
from test_calls import (DOMAIN, ELSEWHERE, RTP_MAX, RTP_MIN, SCEN, Pbx, Sipp, check_cdr_shape, check_ext_cdr,
                        sipp_header, wait_cdr)

SE = 10  # --session-expires and --session-min-se
RING = 5  # --call-ring-timeout (its minimum)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("callsipp"),
             args=[f"--rtp-ports={RTP_MIN}-{RTP_MAX}", "--auth-max-failures=1000", f"--session-expires={SE}",
                   f"--session-min-se={SE}", f"--call-ring-timeout={RING}"]).start()
    try:
        yield Pbx(p)
    finally:
        p.assert_clean_exit()
        # every call of the module gave its media ports back
        assert "were not given back" not in p.log_text(), p.log_tail(20)


class SippRuns(Sipp):
    """test_calls.Sipp, with extra SIPp arguments (-set rtpport ...) for callers
    and callees, several callees per test, and the message logs with their times."""

    def start(self, scenario, ext, lport, extra=()):
        name, argv = self.argv(scenario, lport, ("-s", ext, *extra))
        return self._spawn(scenario, name, argv, lport)

    def _spawn(self, scenario, name, argv, lport):
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, cwd=self.tmp)
        self.procs.append((name, proc))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.1", lport))
            except OSError:
                return name  # SIPp holds the port
            finally:
                s.close()
            time.sleep(0.05)
        pytest.fail(f"SIPp {scenario} did not start on {lport}:\n{self.log(name)}")

    def run(self, scenario, caller, callee, extra=()):
        inf = self.tmp / f"calls-{caller}.csv"
        inf.write_text(f"SEQUENTIAL\n{caller};{callee};{DOMAIN};\n")
        name, argv = self.argv(scenario, free_port(avoid=(self.pbx.p.udp_port,)),
                               ("-inf", str(inf), "-au", caller, "-ap", self.pbx.passwords[caller], *extra))
        r = subprocess.run(argv, capture_output=True, timeout=25, cwd=self.tmp)
        return name, r.returncode

    def callee(self, scenario, ext, extra=()):
        """A device of `ext` (registered from a fresh port) running `scenario`."""
        lport = free_port(avoid=(self.pbx.p.udp_port,))
        self.register(ext, lport)
        return self.start(scenario, ext, lport, extra), lport

    def messages(self, name, way=None):
        """The SIP messages of a run's log, in order: (time.time()-like seconds,
        'sent'|'received', text)."""
        f = self.tmp / f"{name}.msg"
        text = f.read_text(errors="replace") if f.exists() else ""
        out = []
        parts = re.split(r"-{10,} ([0-9-]+ [0-9:.]+)\n", text)
        for stamp, body in zip(parts[1::2], parts[2::2]):
            m = re.match(r"(?:UDP|TCP) message (sent|received)[^\n]*\n\n?", body)
            if not m or (way and m.group(1) != way):
                continue
            t = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
            out.append((t, m.group(1), body[m.end():]))
        return out

    def why(self, *names):
        return "\n".join(self.log(n, 6000) for n in names) + "\n--- pbxd log:\n" + self.pbx.p.log_tail(40)


@pytest.fixture
def sipp(pbx, tmp_path):
    s = SippRuns(pbx, tmp_path)
    try:
        yield s
    finally:
        s.close()


def first(msgs, pred, what):
    hit = [m for m in msgs if pred(m)]
    assert hit, f"no {what} in the log"
    return hit[0]


def starts(start):
    return lambda m: m[2].startswith(start)


def response_to(code, method):
    return lambda m: m[2].startswith(f"SIP/2.0 {code} ") and \
        re.fullmatch(rf"\d+ {method}", sipp_header(m[2], "CSeq") or "") is not None


def x_session_id(msg):
    sid = sipp_header(msg, "X-Session-Id")
    assert sid and re.fullmatch(r"\d+", sid), msg
    return sid


def sdp_of(msg):
    return msg.split("\n\n", 1)[1].strip()


def origin_version(sdp):
    return int(re.search(r"^o=\S+ \S+ (\d+) ", sdp, re.M).group(1))


def check_done(sipp, caller, rc, callees=()):
    """The caller's exit status and the background callees' ones, all 0."""
    done = sipp.finish()
    assert rc == 0 and all(done[c] == 0 for c in callees), \
        f"caller {rc}, callees {[done.get(c) for c in callees]}:\n{sipp.why(caller, *callees)}"


# --------------------------------------------------------------------------- calls that fail


def test_sipp_caller_cancels_while_ringing(pbx, sipp):
    """CALL-08 with SIPp on both sides: the caller CANCELs once it has the 180:
    200 to the CANCEL and 487 to the INVITE (which it ACKs); the callee gets the
    CANCEL (with the Call-ID, branch and CSeq number of its INVITE), answers 200
    and 487, and pbxd ACKs the 487. The CDR: cancelled, never answered, one
    target."""
    x, y = pbx.new_ext(), pbx.new_ext()
    callee, _ = sipp.callee("call_uas_cancelled.xml", y)
    caller, rc = sipp.run("call_uac_cancel.xml", x, y)
    check_done(sipp, caller, rc, [callee])

    got = sipp.messages(callee, "received")
    inv = first(got, starts("INVITE "), "INVITE")[2]
    cancel = first(got, starts("CANCEL "), "CANCEL")[2]
    ack = first(got, starts("ACK "), "ACK")[2]
    assert sipp_header(cancel, "Call-ID") == sipp_header(inv, "Call-ID")
    branch = re.search(r"branch=([^;\s]+)", sipp_header(inv, "Via")).group(1)
    assert re.search(rf"branch={re.escape(branch)}\b", sipp_header(cancel, "Via")), cancel
    assert re.search(rf"branch={re.escape(branch)}\b", sipp_header(ack, "Via")), ack  # ACK of a non-2xx
    assert sipp_header(cancel, "CSeq").split()[0] == sipp_header(inv, "CSeq").split()[0], cancel
    sid = x_session_id(inv)

    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "cancelled", answered=False, status=cdr["status_code"])
    assert cdr["status_code"] in ("0", "487"), cdr
    t = cdr["call_targets"][0]
    assert (t["callee"], t["answered_time"], t["end_reason"]) == (y, "0", "cancelled"), t
    calls = sipp.messages(caller, "sent")
    assert cdr["call_id"] == sipp_header(calls[0][2], "Call-ID"), cdr


def test_sipp_no_answer_408(pbx, sipp):
    """Nobody answers: after --call-ring-timeout (5 s from the authenticated
    INVITE) the caller gets 408 (and ACKs it) and the ringing device a CANCEL,
    answered 200 and 487. The CDR: cancelled, status 408, never answered."""
    x, y = pbx.new_ext(), pbx.new_ext()
    callee, _ = sipp.callee("call_uas_cancelled.xml", y)
    caller, rc = sipp.run("call_uac_no_answer.xml", x, y)
    check_done(sipp, caller, rc, [callee])

    sent = sipp.messages(caller, "sent")
    got = sipp.messages(caller, "received")
    t_inv = [m for m in sent if m[2].startswith("INVITE ")][-1][0]  # the one with credentials
    t_408 = first(got, response_to(408, "INVITE"), "408")[0]
    assert RING - 0.5 <= t_408 - t_inv <= RING + 2, t_408 - t_inv
    cgot = sipp.messages(callee, "received")
    t_cancel = first(cgot, starts("CANCEL "), "CANCEL")[0]
    assert abs(t_cancel - t_408) < 1.0, (t_cancel, t_408)
    sid = x_session_id(first(cgot, starts("INVITE "), "INVITE")[2])

    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "cancelled", answered=False, status="408")


def test_sipp_unknown_number_404(pbx, sipp):
    """SIP-10: a number that is no one's (999): challenged like any call (407),
    then 404 to the authenticated INVITE, ACKed; the CDR has status 404."""
    x = pbx.new_ext()
    caller, rc = sipp.run("call_uac_unknown.xml", x, "999")
    check_done(sipp, caller, rc)
    call_id = sipp_header(sipp.messages(caller, "sent")[0][2], "Call-ID")
    cdr = wait_cdr(pbx, call_id=call_id)
    check_cdr_shape(cdr)
    assert (cdr["caller"], cdr["callee"], cdr["status_code"], cdr["answered_time"]) == (x, "999", "404", "0"), cdr


# --------------------------------------------------------------------------- timers


def test_sipp_session_timer_expires(pbx, sipp):
    """RFC 4028 with SIPp on both sides: the caller asks Session-Expires: 10 with
    refresher=uac (Supported: timer) and never refreshes. pbxd's 200 says so
    (Session-Expires: 10;refresher=uac, Require: timer); the callee, which does no
    timers, gets pbxd's refresh re-INVITE at about half the interval and answers
    200; then, the caller's interval less a third (~6.7 s) after the answer, pbxd
    sends BYE to both sides. The CDR: caller_disconnect, status 408. Last, the
    refresh's SDP: with the o= version of pbxd's first offer it must be that offer,
    identical (RFC 3264 8), or else have the version incremented."""
    x, y = pbx.new_ext(), pbx.new_ext()
    callee, _ = sipp.callee("call_uas_timer_refresh.xml", y)
    caller, rc = sipp.run("call_uac_timer_silent.xml", x, y)
    check_done(sipp, caller, rc, [callee])

    got = sipp.messages(caller, "received")
    t_ok = first(got, response_to(200, "INVITE"), "200")[0]
    t_bye = first(got, starts("BYE "), "BYE to the caller")[0]
    assert SE / 2 < t_bye - t_ok <= SE + 0.5, t_bye - t_ok

    cgot = sipp.messages(callee, "received")
    invites = [m for m in cgot if m[2].startswith("INVITE ")]
    assert len(invites) == 2, [m[2].split("\n", 1)[0] for m in cgot]
    t_answer = first(sipp.messages(callee, "sent"), response_to(200, "INVITE"), "200")[0]
    refresh = invites[1]
    assert SE / 2 - 1 <= refresh[0] - t_answer <= SE / 2 + 1.5, refresh[0] - t_answer
    t_cbye = first(cgot, starts("BYE "), "BYE to the callee")[0]
    assert refresh[0] < t_cbye and abs(t_cbye - t_bye) < 1.0, (t_cbye, t_bye)
    sid = x_session_id(invites[0][2])

    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "caller_disconnect", answered=True, status="408")

    # RFC 3264 8: an SDP whose o= version did not increment is the SDP of that
    # version, identical (a refresh changes nothing, so keeps the version)
    offer, again = sdp_of(invites[0][2]), sdp_of(refresh[2])
    if origin_version(again) == origin_version(offer):
        assert again == offer, f"the refresh offers another SDP with the same o= version:\n{offer}\n---\n{again}"
    else:
        assert origin_version(again) == origin_version(offer) + 1, (offer, again)


# --------------------------------------------------------------------------- forking


def test_sipp_forking_one_answers(pbx, sipp):
    """CALL-03 with SIPp on both sides: two SIPp devices registered for one
    extension from different ports both get the INVITE (same X-Session-Id); one
    answers, the caller has its 200 and hangs up; the other gets CANCEL with
    Reason: SIP;cause=200;text="Call completed elsewhere" (the scenario checks it
    with an ereg, and so does the test here, exactly) and answers 200 and 487.
    The CDR: caller_disconnect, a target per device, only the answering one
    answered."""
    x, y = pbx.new_ext(), pbx.new_ext()
    winner, wport = sipp.callee("call_uas_answer.xml", y)
    loser, lport = sipp.callee("call_uas_cancelled_elsewhere.xml", y)
    caller, rc = sipp.run("call_uac_bye.xml", x, y)
    check_done(sipp, caller, rc, [winner, loser])

    wgot, lgot = sipp.messages(winner, "received"), sipp.messages(loser, "received")
    winv = first(wgot, starts("INVITE "), "INVITE")[2]
    linv = first(lgot, starts("INVITE "), "INVITE")[2]
    sid = x_session_id(winv)
    assert x_session_id(linv) == sid
    cancel = first(lgot, starts("CANCEL "), "CANCEL")[2]
    assert ELSEWHERE.match(sipp_header(cancel, "Reason") or ""), cancel
    assert not [m for m in wgot if m[2].startswith("CANCEL ")], "CANCEL to the device that answered"
    ok = first(sipp.messages(caller, "received"), response_to(200, "INVITE"), "200")[2]
    assert x_session_id(ok) == sid

    cdr = wait_cdr(pbx, session_id=sid)
    check_ext_cdr(cdr, x, y, "caller_disconnect", answered=True, targets=2)
    by_port = {}
    for t in cdr["call_targets"]:
        m = re.search(r"@127\.0\.0\.1:(\d+)", t["destination"] or "")
        assert m, t
        by_port[int(m.group(1))] = t
    assert set(by_port) == {wport, lport}, cdr["call_targets"]
    assert by_port[wport]["answered_time"] != "0" and by_port[lport]["answered_time"] == "0", cdr
    assert by_port[lport]["end_reason"] == "cancelled", cdr


# --------------------------------------------------------------------------- media

RTP_PACKETS = 25  # 0.5 s of PCMU


def rtp_payloads():
    """25 payloads of 160 bytes, each its own (a byte pattern shifted per packet)."""
    return [bytes((17 * i + j) % 256 for j in range(160)) for i in range(RTP_PACKETS)]


def write_pcmu(path, payloads):
    """The payloads end to end in a raw file: SIPp 3.6.1's rtp_stream sends a file
    as it is, 160 bytes a packet (a WAV file's header would go out as audio)."""
    path.write_bytes(b"".join(payloads))


def recv_rtp(sock, count, timeout=3.0):
    """Up to `count` RTP packets: (source, pt, seq, ssrc, payload)."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, src = sock.recvfrom(2048)
        except socket.timeout:
            break
        if len(data) < 12 or data[0] >> 6 != 2:
            continue
        cc = data[0] & 0x0F
        pt, seq, _ts, ssrc = data[1] & 0x7F, *struct.unpack("!HII", data[2:12])
        out.append((src, pt, seq, ssrc, data[12 + 4 * cc:]))
    return out


def sdp_port(msg):
    m = re.search(r"^m=audio (\d+) ", msg, re.M)
    assert m, msg
    return int(m.group(1))


@pytest.mark.parametrize("direction", ["caller-to-callee", "callee-to-caller"])
def test_sipp_rtp_through_the_relay(pbx, sipp, direction):
    """CALL-01's media with SIPp: RTP that SIPp sends reaches the other side through
    pbxd's ports, every packet, payloads and payload type unchanged, from pbxd's
    port of that leg (the one of pbxd's SDP to the receiving side).

    How: the sending SIPp plays a file with <exec rtp_stream="FILE,1,0"/> (the
    RTPSTREAM feature of SIPp 3.6.1, as Debian builds it): 160 bytes of the file a
    packet, every 20 ms, payload type 0, to the address and port of the SDP it
    received from pbxd. The file is written here, raw PCMU with 25 distinct
    payloads (not a WAV: SIPp 3.6.1 sends a WAV file's header as audio too). The
    receiving SIPp answers (or offers) an SDP naming a port where this test's own
    UDP socket listens, which counts the packets and compares their payloads,
    payload type, SSRC, sequence numbers and source (pbxd's port of that leg).
    Not SIPp's -rtp_echo, nor a second SIPp reading the media: SIPp 3.6 cannot
    check what it receives (no rtpcheck), so an echo would prove nothing that
    could fail; and not pcap play (play_pcap_audio), which needs a capture file
    with link-layer headers where a raw file is one write. The receiving side
    never sends, so pbxd sends where its SDP says (no latching to move the
    stream away); one direction per call, since the sender's SIPp is the one
    that plays the file."""
    x, y = pbx.new_ext(), pbx.new_ext()
    payloads = rtp_payloads()
    write_pcmu(sipp.tmp / ("rtp_caller.pcmu" if direction == "caller-to-callee" else "rtp_callee.pcmu"), payloads)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        rtpport = sink.getsockname()[1]
        if direction == "caller-to-callee":
            callee, _ = sipp.callee("call_uas_rtp_sink.xml", y, ("-set", "rtpport", str(rtpport)))
            caller, rc = sipp.run("call_uac_rtp_send.xml", x, y)
        else:
            callee, _ = sipp.callee("call_uas_rtp_send.xml", y)
            caller, rc = sipp.run("call_uac_rtp_sink.xml", x, y, ("-set", "rtpport", str(rtpport)))
        check_done(sipp, caller, rc, [callee])
        got = recv_rtp(sink, RTP_PACKETS + 5, timeout=1.0)
    finally:
        sink.close()

    cgot = sipp.messages(callee, "received")
    inv = first(cgot, starts("INVITE "), "INVITE")[2]
    ok = first(sipp.messages(caller, "received"), response_to(200, "INVITE"), "200")[2]
    # pbxd's port toward the receiver: the one of its SDP to the receiving side
    relay = ("127.0.0.1", sdp_port(inv) if direction == "caller-to-callee" else sdp_port(ok))
    assert RTP_MIN <= relay[1] <= RTP_MAX, relay
    assert [p[4] for p in got] == payloads, \
        f"{len(got)} packets of {RTP_PACKETS}, payloads {'equal' if [p[4] for p in got] == payloads[:len(got)] else 'differ'}" \
        f"\n{sipp.why(caller, callee)}"
    assert {p[0] for p in got} == {relay}, {p[0] for p in got}
    assert {p[1] for p in got} == {0} and len({p[3] for p in got}) == 1, got[:2]
    seqs = [p[2] for p in got]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:])), seqs

    cdr = wait_cdr(pbx, session_id=x_session_id(inv))
    check_ext_cdr(cdr, x, y, "caller_disconnect" if direction == "caller-to-callee" else "callee_disconnect",
                  answered=True)
