// The browser phone (/phone/, issue 14) and a real SIP phone: baresip (Debian's
// `baresip`, plain RTP over UDP, G.711 only) call each other through pbxd, which
// bridges the browser's WebRTC leg (ICE-lite, DTLS-SRTP) to baresip's RTP leg
// without transcoding; each side hears the other's tone.
//
// The browser is extension 101 (james.bond): Chromium with a fake microphone
// playing a 600 Hz WAV; what it hears is measured in the page with WebAudio on
// the remote stream, and its selected ICE pair must be pbxd's candidate, a port
// of --rtp-ports. baresip is extension 102 (SIP password sip-pw-102), headless as
// in tests/wire/test_baresip.py: a 1400 Hz sine source (ausine), what it hears
// and sends recorded by sndfile (dump-*-dec.wav, dump-*-enc.wav: analysed here
// with a Goertzel filter), driven over ctrl_tcp (netstring JSON: dial, hangup;
// events CALL_ESTABLISHED, CALL_CLOSED), answering by itself (answermode=auto).
// A fresh baresip per test, stopped (SIGTERM, then SIGKILL) at its end.
//
// Skipped, saying why, when baresip or one of its modules is not installed.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import net from "node:net";
import { Pbxd, byRole, field, tenantWithUsers, waitFor } from "./harness.mjs";
import { freeTcpPort, heardFrequency, launchPhone, selectedRemote, signInPhone } from "./rtc.mjs";

const DOMAIN = "phone.test";
const RTP_MIN = 35000; // pbxd's --rtp-ports
const RTP_MAX = 35999;
const PHONE_RTP = [41000, 41999]; // baresip's own rtp_ports, outside pbxd's
const BROWSER_TONE = 600; // Hz: the browser's (101) fake microphone
const BARESIP_TONE = 1400; // Hz: baresip's (102) ausine source
const TALK_MS = 5000; // how long each call stays up at least
const HEARD_MIN = 2.0; // seconds of baresip's recording that must be the browser's tone

const MODULES = ["g711", "ausine", "alsa", "sndfile", "account", "menu", "ctrl_tcp"];
const MODULE_DIRS = ["/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules", "/usr/local/lib/baresip/modules"];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function which(cmd) {
  for (const d of (process.env.PATH || "").split(delimiter)) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return null;
}

// baresip's executable and the module directory holding every module used; or why not.
function baresipEnv() {
  const exe = which("baresip");
  if (!exe) return { skip: "baresip is not installed (Debian package baresip; tools/install-deps.sh)" };
  const mods = MODULE_DIRS.find((d) => MODULES.every((m) => existsSync(join(d, `${m}.so`))));
  if (!mods) return { skip: `baresip modules ${MODULES.join(", ")} not all found in ${MODULE_DIRS.join(", ")}` };
  return { exe, mods };
}
const ENV = baresipEnv();

// --- ports -----------------------------------------------------------------------

function udpFree(port) {
  return new Promise((ok) => {
    const s = dgram.createSocket("udp4");
    s.on("error", () => ok(false));
    s.bind(port, "127.0.0.1", () => s.close(() => ok(true)));
  });
}

// A port free on 127.0.0.1 for TCP and UDP at once (baresip's sip_listen binds both).
async function freePortBoth(avoid = []) {
  for (let i = 0; i < 50; i++) {
    const p = await freeTcpPort(avoid);
    if (await udpFree(p)) return p;
  }
  throw new Error("no port free for both UDP and TCP");
}

// --- the browser: tests/web/rtc.mjs ------------------------------------------------

async function signIn(page, base, username) {
  await signInPhone(page, base, DOMAIN, username);
}

// --- baresip -----------------------------------------------------------------------

// A ctrl_tcp client: netstrings of JSON. Commands carry a token and get a
// {"response": true, "token": ...} answer; events ({"event": true, "type": ...})
// are kept in `events` in the order they came.
class Ctrl {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.events = [];
    this.responses = new Map();
    this.waiters = [];
    this.closed = false;
    sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const colon = this.buf.indexOf(":");
        if (colon < 0) break;
        const n = Number(this.buf.subarray(0, colon).toString());
        if (!Number.isInteger(n)) throw new Error(`ctrl_tcp: not a netstring: ${this.buf.subarray(0, 40)}`);
        if (this.buf.length < colon + 1 + n + 1) break;
        const msg = JSON.parse(this.buf.subarray(colon + 1, colon + 1 + n).toString());
        this.buf = this.buf.subarray(colon + 1 + n + 1); // the netstring's ','
        if (msg.event) this.events.push(msg);
        else if (msg.response) this.responses.set(msg.token, msg);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("error", () => undefined);
  }

  static connect(port, timeout = 10000) {
    const end = Date.now() + timeout;
    return new Promise((ok, fail) => {
      const attempt = () => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => ok(new Ctrl(s)));
        s.once("error", (e) => {
          s.destroy();
          if (Date.now() > end) fail(e);
          else setTimeout(attempt, 50);
        });
      };
      attempt();
    });
  }

  // Resolves with fn()'s value once truthy (checked on each message), or null after ms.
  until(fn, ms) {
    return new Promise((ok) => {
      const t = setTimeout(() => ok(null), ms);
      const check = () => {
        const v = fn();
        if (v || this.closed) {
          clearTimeout(t);
          ok(v || null);
        } else this.waiters.push(check);
      };
      check();
    });
  }

  async command(command, params = "", ms = 5000) {
    const token = randomBytes(6).toString("hex");
    const js = Buffer.from(JSON.stringify({ command, params, token }));
    this.sock.write(Buffer.concat([Buffer.from(`${js.length}:`), js, Buffer.from(",")]));
    const r = await this.until(() => this.responses.get(token), ms);
    if (!r) throw new Error(`baresip did not answer ${command} within ${ms} ms`);
    this.responses.delete(token);
    return r;
  }

  // The first event of type `type` (received now or within ms), or null.
  event(type, ms = 10000) {
    return this.until(() => this.events.find((e) => e.type === type), ms);
  }

  close() {
    this.sock.destroy();
  }
}

// One baresip: extension `ext` of DOMAIN registered over UDP through pbxd
// (outbound=127.0.0.1:pbxd.sipPort), a tone of `freq` Hz, recordings in its dir.
class Baresip {
  constructor(ext, password, pbxdSipPort, freq) {
    Object.assign(this, { ext, password, pbxdSipPort, freq });
    this.dir = mkdtempSync(join(tmpdir(), `baresip-${ext}-`));
  }

  async start() {
    this.sipPort = await freePortBoth([this.pbxdSipPort]);
    this.ctrlPort = await freeTcpPort([this.pbxdSipPort, this.sipPort]);
    writeFileSync(join(this.dir, "config"), [
      "poll_method\t\tepoll",
      `sip_listen\t\t127.0.0.1:${this.sipPort}`,
      "call_local_timeout\t30",
      "call_max_calls\t\t4",
      "audio_player\t\talsa,null",
      `audio_source\t\tausine,${this.freq}`,
      "audio_alert\t\talsa,null",
      "ausrc_srate\t\t48000",
      "ausrc_channels\t\t2",
      "audio_buffer\t\t20-160",
      `rtp_ports\t\t${PHONE_RTP[0]}-${PHONE_RTP[1]}`,
      "rtp_timeout\t\t0",
      `module_path\t\t${ENV.mods}`,
      "module\t\t\tg711.so",
      "module\t\t\tausine.so",
      "module\t\t\talsa.so",
      "module\t\t\tsndfile.so",
      "module_tmp\t\taccount.so",
      "module_app\t\tmenu.so",
      "module_app\t\tctrl_tcp.so",
      `ctrl_tcp_listen\t\t127.0.0.1:${this.ctrlPort}`,
      `snd_path\t\t${this.dir}`,
      "",
    ].join("\n"));
    writeFileSync(join(this.dir, "accounts"),
      `<sip:${this.ext}@${DOMAIN}>;auth_pass=${this.password};outbound="sip:127.0.0.1:${this.pbxdSipPort};transport=udp"` +
      ";regint=60;answermode=auto;audio_codecs=PCMU,PCMA;ptime=20\n");
    this.logPath = join(this.dir, "baresip.log");
    const log = openSync(this.logPath, "a");
    this.proc = spawn(ENV.exe, ["-f", this.dir, "-n", "127.0.0.1", "-v"], { stdio: ["ignore", log, log], cwd: this.dir });
    closeSync(log);
    this.exited = new Promise((r) => this.proc.on("exit", (code, sig) => r({ code, sig })));
    try {
      this.ctrl = await Ctrl.connect(this.ctrlPort);
    } catch (e) {
      await this.stop();
      throw new Error(`baresip ${this.ext}: no control connection on ${this.ctrlPort} (${e.message}):\n${this.logTail()}`);
    }
    return this;
  }

  logTail(n = 60) {
    let text = "";
    try {
      text = readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
    text = text.replace(/\x1b\[[0-9;]*m/g, "").replace(/(?:\[\d+:\d\d:\d\d\] audio=\S+ \(bit\/s\)\s*)+/g, "[status lines]\n");
    return `--- baresip ${this.ext} log:\n` + text.split("\n").slice(-n).join("\n");
  }

  // Where baresip says its RTP came from ("receiving from ADDR:PORT").
  rtpSources() {
    const text = readFileSync(this.logPath, "utf8");
    return [...text.matchAll(/receiving from (\d+\.\d+\.\d+\.\d+):(\d+)/g)].map((m) => ({ address: m[1], port: Number(m[2]) }));
  }

  // The sndfile recordings: kind "dec" (what it heard) or "enc" (what it sent).
  recordings(kind) {
    return readdirSync(this.dir).filter((f) => f.startsWith("dump-") && f.endsWith(`-${kind}.wav`)).sort().map((f) => join(this.dir, f));
  }

  async stop() {
    this.ctrl?.close();
    this.ctrl = null;
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(t);
    }
  }

  remove() {
    if (!process.env.KEEP_PBXD_DIR) rmSync(this.dir, { recursive: true, force: true });
  }
}

// --- what baresip heard --------------------------------------------------------------

// (sample rate, samples of the first channel) of a 16-bit PCM WAV.
function readWav(path) {
  const b = readFileSync(path);
  assert.equal(b.toString("latin1", 0, 4), "RIFF", `${path}: not a RIFF file`);
  assert.equal(b.toString("latin1", 8, 12), "WAVE", `${path}: not a WAVE file`);
  let fmt = null;
  let data = null;
  for (let o = 12; o + 8 <= b.length;) {
    const id = b.toString("latin1", o, o + 4);
    let size = b.readUInt32LE(o + 4);
    const body = o + 8;
    if (id === "data" && (size === 0 || size === 0xffffffff || body + size > b.length)) size = b.length - body; // left unfinished
    if (id === "fmt ") fmt = { format: b.readUInt16LE(body), channels: b.readUInt16LE(body + 2), rate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14) };
    if (id === "data") data = b.subarray(body, body + size);
    o = body + size + (size & 1);
  }
  assert.ok(fmt && data, `${path}: no fmt or data chunk`);
  assert.equal(fmt.bits, 16, `${path}: ${fmt.bits}-bit samples`);
  const n = Math.floor(data.length / 2 / fmt.channels);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = data.readInt16LE(i * 2 * fmt.channels);
  return { rate: fmt.rate, x };
}

// Amplitude of the `freq` component of x[from, to) (Goertzel).
function toneAmplitude(x, from, to, rate, freq) {
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = from; i < to; i++) {
    const s = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(power, 0))) / (to - from);
}

// Per block of 0.25 s: its rms and, per tone, the share of the block's power in
// that tone (a pure tone: near 1; silence or another tone: near 0).
function analyse(path, freqs) {
  const { rate, x } = readWav(path);
  const n = Math.floor(rate / 4);
  const blocks = [];
  for (let i = 0; i + n <= x.length; i += n) {
    let ms = 0;
    for (let j = i; j < i + n; j++) ms += x[j] * x[j];
    ms /= n;
    const shares = {};
    for (const f of freqs) shares[f] = ms > 0 ? toneAmplitude(x, i, i + n, rate, f) ** 2 / 2 / ms : 0;
    blocks.push({ rms: Math.sqrt(ms), shares });
  }
  return { rate, blocks };
}

// baresip's recording of what it heard holds the browser's tone for at least
// HEARD_MIN seconds and never its own (pbxd must not loop its audio back); what
// it sent is its own tone (else the test, not pbxd, is broken).
function checkBaresipAudio(bs) {
  const enc = bs.recordings("enc");
  assert.equal(enc.length, 1, `baresip: want one recording of what it sent, have ${enc}\n${bs.logTail()}`);
  const sent = analyse(enc[0], [BARESIP_TONE]);
  const sentTone = sent.blocks.filter((b) => b.shares[BARESIP_TONE] > 0.6).length * 0.25;
  assert.ok(sentTone >= HEARD_MIN, `baresip sent only ${sentTone} s of its ${BARESIP_TONE} Hz tone (ausine)\n${bs.logTail()}`);

  const dec = bs.recordings("dec");
  assert.equal(dec.length, 1, `baresip: want one recording of what it heard, have ${dec}\n${bs.logTail()}`);
  const { rate, blocks } = analyse(dec[0], [BROWSER_TONE, BARESIP_TONE]);
  const summary = `${dec[0]}: ${blocks.length} blocks of 0.25 s at ${rate} Hz; rms/share of ${BROWSER_TONE} Hz per block: ` +
    blocks.map((b) => `${Math.round(b.rms)}/${b.shares[BROWSER_TONE].toFixed(2)}`).join(" ");
  const heard = blocks.filter((b) => b.rms > 500 && b.shares[BROWSER_TONE] > 0.6).length * 0.25;
  const own = blocks.filter((b) => b.rms > 500 && b.shares[BARESIP_TONE] > 0.1).length;
  assert.ok(heard >= HEARD_MIN, `baresip heard ${heard} s of the browser's ${BROWSER_TONE} Hz tone (want >= ${HEARD_MIN} s):\n${summary}\n${bs.logTail()}`);
  assert.equal(own, 0, `baresip heard its own ${BARESIP_TONE} Hz tone back in ${own} blocks:\n${summary}`);
  return heard;
}

// The browser hears baresip's tone (and not its own) from pbxd's candidate.
async function checkBrowserAudio(page) {
  const r = await waitFor(`the browser to hear baresip's ${BARESIP_TONE} Hz`, async () => {
    const h = await heardFrequency(page);
    return h.votes && (h.votes[BARESIP_TONE] || 0) >= 5 ? h : null;
  }, 15000);
  assert.ok(!r.votes[BROWSER_TONE] || r.votes[BROWSER_TONE] < 3, `the browser hears its own tone: ${JSON.stringify(r)}`);
  const sel = await selectedRemote(page);
  assert.ok(sel, "the browser: no selected candidate pair");
  assert.equal(sel.address, "127.0.0.1");
  assert.ok(sel.port >= RTP_MIN && sel.port <= RTP_MAX, `the browser's media goes to ${sel.port}, not a port of pbxd's range`);
  assert.ok(sel.packetsReceived > 20, JSON.stringify(sel));
  assert.match(sel.codec ?? "", /^audio\/(PCMU|PCMA)$/i, `the browser receives ${sel.codec}: baresip speaks G.711 only`);
  return sel;
}

// baresip got its RTP from pbxd's address and a port of its --rtp-ports.
function checkAnchored(bs) {
  const src = bs.rtpSources();
  assert.ok(src.length && src.every((s) => s.address === "127.0.0.1" && s.port >= RTP_MIN && s.port <= RTP_MAX),
    `baresip received RTP from ${JSON.stringify(src)}, not from 127.0.0.1:${RTP_MIN}-${RTP_MAX}\n${bs.logTail()}`);
}

// --- the tests -------------------------------------------------------------------------

describe("browser phone and baresip", () => {
  let pbxd;
  let phone;
  let boss;
  let users;
  const baresips = [];

  before(async () => {
    if (ENV.skip) return; // each test says why it is skipped
    const wss = await freeTcpPort();
    pbxd = await new Pbxd([`--sip-wss-port=${wss}`, `--rtp-ports=${RTP_MIN}-${RTP_MAX}`]).start();
    ({ boss, users } = await tenantWithUsers(pbxd, DOMAIN));
    phone = await launchPhone("101", BROWSER_TONE, pbxd.dir);
    await signIn(phone.page, pbxd.base, "james.bond");
  });
  afterEach(async () => {
    for (const b of baresips) await b.stop();
  });
  after(async () => {
    for (const b of baresips) {
      await b.stop();
      b.remove();
    }
    await phone?.browser.close().catch(() => undefined);
    if (pbxd) {
      const r = await pbxd.stop();
      assert.equal(r.sanitizer, false, "pbxd's log has a sanitizer report");
    }
  });

  // A fresh baresip as 102, registered: pbxd lists it among 102's devices (UDP, its SIP port).
  async function startBaresip() {
    const bs = await new Baresip("102", "sip-pw-102", pbxd.sipPort, BARESIP_TONE).start();
    baresips.push(bs);
    const devs = await waitFor("baresip to register as 102", async () => {
      if (bs.proc.exitCode !== null) throw new Error(`baresip exited:\n${bs.logTail()}`);
      const d = await boss.ok("GET", `/api/users/${users["102"]}/devices`);
      return d.items.some((x) => x.transport === "udp" && x.port === bs.sipPort) ? d : null;
    }, 10000).catch((e) => {
      throw new Error(`${e.message}\n${bs.logTail()}\n--- pbxd log:\n${pbxd.log()}`);
    });
    assert.ok(devs.items.some((d) => /baresip/i.test(d.user_agent || "")), JSON.stringify(devs));
    return bs;
  }

  async function talkingSession(caller, callee) {
    const s = await waitFor("the call session", async () => {
      const c = await boss.ok("GET", "/api/call_sessions");
      return c.items.length === 1 && c.items[0].state === "talking" ? c.items[0] : null;
    }, 5000);
    assert.equal(s.caller, caller, JSON.stringify(s));
    assert.equal(s.callee, callee, JSON.stringify(s));
    return s;
  }

  async function cdrOf(sessionId) {
    return waitFor("the call's CDR", async () => {
      const c = await boss.ok("GET", "/api/cdrs");
      return c.items.find((x) => x.session_id === sessionId) ?? null;
    }, 5000);
  }

  const dumpOf = (bs) => `${bs.logTail()}\n--- pbxd log:\n${pbxd.log()}`;

  test("the browser phone calls baresip (G.711 over UDP); each hears the other's tone through pbxd; the page hangs up", { skip: ENV.skip ?? false }, async () => {
    const bs = await startBaresip();
    const { page } = phone;
    await field(page, "Number").fill("102");
    await byRole(page, "button", "Call").click();
    const est = await bs.ctrl.event("CALL_ESTABLISHED", 10000);
    assert.ok(est, `baresip did not answer (answermode=auto):\n${dumpOf(bs)}`);
    assert.equal(est.direction, "incoming", JSON.stringify(est));
    assert.match(est.peeruri || "", new RegExp(`sip:101@${DOMAIN.replace(".", "\\.")}`), JSON.stringify(est));
    const up = Date.now();
    await page.getByText("In call with 102", { exact: false }).waitFor({ timeout: 10000 });

    await checkBrowserAudio(page);
    const s = await talkingSession("101", "102");
    await sleep(Math.max(0, TALK_MS - (Date.now() - up)));
    assert.equal(pbxd.proc.exitCode, null, `pbxd died during the call:\n${pbxd.log()}`);

    await byRole(page, "button", "Hang up").click();
    const closed = await bs.ctrl.event("CALL_CLOSED", 10000);
    assert.ok(closed, `baresip did not see the call end:\n${dumpOf(bs)}`);
    await page.getByText("Call ended.", { exact: true }).waitFor({ timeout: 10000 });
    const cdr = await cdrOf(s.session_id);
    assert.equal(cdr.ended_reason, "caller_disconnect", JSON.stringify(cdr));

    await bs.stop(); // baresip closes its recordings with the call's audio; stopped, they are complete
    checkBaresipAudio(bs);
    checkAnchored(bs);
  });

  test("baresip calls the browser phone; it answers; each hears the other's tone through pbxd; baresip hangs up", { skip: ENV.skip ?? false }, async () => {
    const bs = await startBaresip();
    const { page } = phone;
    const r = await bs.ctrl.command("dial", `sip:101@${DOMAIN}`);
    assert.ok(r.ok, `dial refused: ${JSON.stringify(r)}`);
    await page.getByText("Incoming call from", { exact: false }).waitFor({ timeout: 10000 });
    await byRole(page, "button", "Answer").click();
    await page.getByText("In call with", { exact: false }).waitFor({ timeout: 10000 });
    const est = await bs.ctrl.event("CALL_ESTABLISHED", 10000);
    assert.ok(est, `baresip's call was not established:\n${dumpOf(bs)}`);
    assert.equal(est.direction, "outgoing", JSON.stringify(est));
    const up = Date.now();

    await checkBrowserAudio(page);
    const s = await talkingSession("102", "101");
    await sleep(Math.max(0, TALK_MS - (Date.now() - up)));
    assert.equal(pbxd.proc.exitCode, null, `pbxd died during the call:\n${pbxd.log()}`);

    const h = await bs.ctrl.command("hangup");
    assert.ok(h.ok, `hangup refused: ${JSON.stringify(h)}`);
    await page.getByText("The other side hung up.", { exact: true }).waitFor({ timeout: 10000 });
    const closed = await bs.ctrl.event("CALL_CLOSED", 10000);
    assert.ok(closed, `baresip did not see the call end:\n${dumpOf(bs)}`);
    const cdr = await cdrOf(s.session_id);
    assert.equal(cdr.ended_reason, "caller_disconnect", JSON.stringify(cdr));

    await bs.stop();
    checkBaresipAudio(bs);
    checkAnchored(bs);
  });
});
