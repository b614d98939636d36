// What the browser phone's tests share (phone.test.mjs, phone-baresip.test.mjs):
// a Chromium whose fake microphone plays one tone, the tone a page hears on its
// remote stream (WebAudio), the ICE pair its connection chose (getStats), and
// signing in to /phone/.
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { CHROMIUM, byRole, chromium, field } from "./harness.mjs";

export function freeTcpPort(avoid = []) {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const p = srv.address().port;
      srv.close(() => (avoid.includes(p) ? freeTcpPort(avoid).then(ok, fail) : ok(p)));
    });
  });
}

// A mono 16-bit 48 kHz WAV of one sine tone, as Chromium's fake microphone plays it.
export function toneWav(path, freq, seconds = 30) {
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

// A Chromium whose microphone plays `freq` Hz (a WAV written in dir), at phone
// width. WebRTC on 127.0.0.1 needs --allow-loopback-in-peer-connection; pbxd's
// WSS certificate is self-signed here.
export async function launchPhone(name, freq, dir) {
  const wav = join(dir, `tone-${name}.wav`);
  toneWav(wav, freq);
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
  return { browser, page, ext: name };
}

// The strongest frequencies the page hears from the other side (the remote
// stream of its <audio>), over about a second: votes per 50-Hz step.
export function heardFrequency(page) {
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

// The candidate pair the page's connection uses: the remote end's address and
// port, packets received, and the codec of what it receives.
export function selectedRemote(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs[window.__pcs.length - 1];
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    let codec = null;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      if (s.type === "inbound-rtp" && s.kind === "audio" && s.codecId) codec = stats.get(s.codecId)?.mimeType ?? null;
    });
    if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
    if (!pair) return null;
    const r = stats.get(pair.remoteCandidateId);
    return r ? { address: r.address || r.ip, port: r.port, packetsReceived: pair.packetsReceived, codec } : null;
  });
}

// Signs in on /phone/ and waits until the phone is registered ("Ready").
export async function signInPhone(page, base, domain, username, password = "User-pass-1") {
  await page.goto(`${base}/phone/`);
  await field(page, "SIP domain").fill(domain);
  await field(page, "Username").fill(username);
  await field(page, "Password").fill(password);
  await byRole(page, "button", "Sign in").click();
  await page.getByText("Ready", { exact: true }).waitFor({ timeout: 15000 });
}
