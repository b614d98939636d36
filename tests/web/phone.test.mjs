// The browser phone (/phone/, issue 14; FEATURES SIP-04, SIP-05, APP-01): two
// Chromium phones sign in with their web logins, register over WSS with the
// credentials pbxd mints for the session, and call each other; each hears the
// other's tone (different frequencies, measured in the page with WebAudio on the
// remote stream) and the media goes through pbxd (the pair the browsers chose
// is pbxd's candidate, a port of --rtp-ports). Each Chromium has its own fake
// microphone (a WAV of one tone); loopback WebRTC needs
// --allow-loopback-in-peer-connection; pbxd's WSS certificate is self-signed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import net from "node:net";
import { CHROMIUM, Pbxd, assertAccessible, assertFits, byRole, chromium, field, tenantWithUsers, waitFor } from "./harness.mjs";

const DOMAIN = "phone.test";
const RTP_MIN = 34000;
const RTP_MAX = 34999;
const TONE = { "101": 600, "102": 1400 };

function freeTcpPort() {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const p = srv.address().port;
      srv.close(() => ok(p));
    });
  });
}

// A mono 16-bit 48 kHz WAV of one sine tone, as Chromium's fake microphone plays it.
function toneWav(path, freq, seconds = 20) {
  const rate = 48000;
  const n = rate * seconds;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write("RIFF", 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write("WAVEfmt ", 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write("data", 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(12000 * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + i * 2);
  writeFileSync(path, buf);
}

// Records every RTCPeerConnection the page makes (through DevTools, before any
// page script: the page's CSP does not apply), for getStats.
const RECORD_PCS = `(() => {
  const Orig = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...a) { const pc = new Orig(...a); window.__pcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Orig.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Orig);
})();`;

async function launchPhone(ext, dir) {
  const wav = join(dir, `tone-${ext}.wav`);
  toneWav(wav, TONE[ext]);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--disable-features=Translate,MediaRouter",
      "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${wav}`,
      "--allow-loopback-in-peer-connection", "--ignore-certificate-errors", "--autoplay-policy=no-user-gesture-required"],
  });
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await page.addInitScript(RECORD_PCS);
  return { browser, page, ext };
}

// The strongest frequency the page hears from the other side (the remote
// stream of its <audio>), over about a second.
function heardFrequency(page) {
  return page.evaluate(async () => {
    const el = document.querySelector("audio");
    const stream = el && el.srcObject;
    if (!stream) return { error: "no remote stream" };
    const ctx = new AudioContext();
    await ctx.resume();
    const src = ctx.createMediaStreamSource(stream);
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    src.connect(an);
    const bins = new Float32Array(an.frequencyBinCount);
    const votes = {};
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      an.getFloatFrequencyData(bins);
      let best = 0;
      for (let k = 1; k < bins.length; k++) if (bins[k] > bins[best]) best = k;
      const f = Math.round((best * ctx.sampleRate) / an.fftSize / 50) * 50;
      if (bins[best] > -70) votes[f] = (votes[f] || 0) + 1;
    }
    await ctx.close();
    return { votes };
  });
}

// The candidate pair the page's connection uses: the remote end's address and port.
function selectedRemote(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs[window.__pcs.length - 1];
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
    if (!pair) return null;
    const r = stats.get(pair.remoteCandidateId);
    return r ? { address: r.address || r.ip, port: r.port, packetsReceived: pair.packetsReceived } : null;
  });
}

async function signIn(phone, base, username) {
  const { page } = phone;
  await page.goto(`${base}/phone/`);
  await field(page, "SIP domain").fill(DOMAIN);
  await field(page, "Username").fill(username);
  await field(page, "Password").fill("User-pass-1");
  await byRole(page, "button", "Sign in").click();
  await page.getByText("Ready", { exact: true }).waitFor({ timeout: 15000 });
}

describe("browser phone", () => {
  let pbxd;
  let phones = [];
  let users;
  before(async () => {
    const wss = await freeTcpPort();
    pbxd = await new Pbxd([`--sip-wss-port=${wss}`, `--rtp-ports=${RTP_MIN}-${RTP_MAX}`]).start();
    ({ users } = await tenantWithUsers(pbxd, DOMAIN));
    phones = [await launchPhone("101", pbxd.dir), await launchPhone("102", pbxd.dir)];
  });
  after(async () => {
    for (const p of phones) await p.browser.close().catch(() => undefined);
    const r = await pbxd.stop();
    assert.equal(r.sanitizer, false, "pbxd's log has a sanitizer report");
  });

  test("two browser phones register over WSS and call each other; each hears the other's tone through pbxd", async () => {
    const [a, b] = phones;
    await signIn(a, pbxd.base, "james.bond");
    await signIn(b, pbxd.base, "moneypenny");
    const boss = await pbxd.client("boss", "Boss-pass-1", DOMAIN);
    const devs = await boss.ok("GET", `/api/users/${users["102"]}/devices`);
    assert.deepEqual(devs.items.map((d) => d.transport), ["wss"], JSON.stringify(devs));

    await field(a.page, "Number").fill("102");
    await byRole(a.page, "button", "Call").click();
    await b.page.getByText("Incoming call from", { exact: false }).waitFor({ timeout: 10000 });
    await byRole(b.page, "button", "Answer").click();
    await a.page.getByText("In call with 102", { exact: false }).waitFor({ timeout: 10000 });
    await b.page.getByText("In call with", { exact: false }).waitFor({ timeout: 10000 });

    for (const [p, other] of [[a, b], [b, a]]) {
      const r = await waitFor(`${p.ext} to hear ${other.ext}'s ${TONE[other.ext]} Hz`, async () => {
        const h = await heardFrequency(p.page);
        return h.votes && (h.votes[TONE[other.ext]] || 0) >= 5 ? h : null;
      }, 15000);
      assert.ok(!r.votes[TONE[p.ext]] || r.votes[TONE[p.ext]] < 3, `${p.ext} hears its own tone: ${JSON.stringify(r)}`);
      const sel = await selectedRemote(p.page);
      assert.ok(sel, `${p.ext}: no selected candidate pair`);
      assert.equal(sel.address, "127.0.0.1");
      assert.ok(sel.port >= RTP_MIN && sel.port <= RTP_MAX, `${p.ext}'s media goes to ${sel.port}, not a port of pbxd's range`);
      assert.ok(sel.packetsReceived > 20, JSON.stringify(sel));
    }
    const calls = await boss.ok("GET", "/api/call_sessions");
    assert.equal(calls.items.length, 1, JSON.stringify(calls));
    assert.equal(calls.items[0].state, "talking");

    await byRole(a.page, "button", "Hang up").click();
    await b.page.getByText("The other side hung up.", { exact: true }).waitFor({ timeout: 10000 });
    await waitFor("the call's CDR", async () => {
      const c = await boss.ok("GET", "/api/cdrs");
      return c.items.length ? c : null;
    });
  });

  test("the phone page passes axe-core and fits a 390-px-wide screen", async () => {
    const [a] = phones;
    await assertAccessible(a.page, "phone");
    await assertFits(a.page, "phone");
  });
});
