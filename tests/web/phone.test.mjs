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
import { Pbxd, assertAccessible, assertFits, byRole, field, tenantWithUsers, waitFor } from "./harness.mjs";
import { freeTcpPort, heardFrequency, launchPhone, selectedRemote, signInPhone } from "./rtc.mjs";

const DOMAIN = "phone.test";
const RTP_MIN = 34000;
const RTP_MAX = 34999;
const TONE = { "101": 600, "102": 1400 };

async function signIn(phone, base, username) {
  await signInPhone(phone.page, base, DOMAIN, username);
}

describe("browser phone", () => {
  let pbxd;
  let phones = [];
  let users;
  before(async () => {
    const wss = await freeTcpPort();
    pbxd = await new Pbxd([`--sip-wss-port=${wss}`, `--rtp-ports=${RTP_MIN}-${RTP_MAX}`]).start();
    ({ users } = await tenantWithUsers(pbxd, DOMAIN));
    phones = [await launchPhone("101", TONE["101"], pbxd.dir), await launchPhone("102", TONE["102"], pbxd.dir)];
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

  // Votes for freq over about a second in what the page hears (0..10).
  const hears = async (p, freq) => ((await heardFrequency(p.page)).votes || {})[freq] || 0;
  const until = (what, fn, ms = 10000) => waitFor(what, async () => ((await fn()) ? true : null), ms);

  test("in a call: Mute silences the microphone, Hold stops what the holder hears, the dial pad sends DTMF in the media", async () => {
    const [a, b] = phones;
    if (!(await a.page.getByText("Ready", { exact: true }).isVisible())) await signIn(a, pbxd.base, "james.bond");
    if (!(await b.page.getByText("Ready", { exact: true }).isVisible())) await signIn(b, pbxd.base, "moneypenny");
    await field(a.page, "Number").fill("102");
    await byRole(a.page, "button", "Call").click();
    await byRole(b.page, "button", "Answer").click({ timeout: 10000 });
    await a.page.getByText("In call with 102", { exact: false }).waitFor({ timeout: 10000 });
    await until("102 to hear 101", async () => (await hears(b, TONE["101"])) >= 5, 15000);

    await byRole(a.page, "button", "Mute").click();
    await a.page.getByText("(muted)", { exact: false }).waitFor();
    await until("101's tone to stop at 102 while 101 is muted", async () => (await hears(b, TONE["101"])) <= 1);
    await byRole(a.page, "button", "Unmute").click();
    await until("101's tone back at 102", async () => (await hears(b, TONE["101"])) >= 5);

    await byRole(a.page, "button", "Hold").click();
    await a.page.getByText("(on hold)", { exact: false }).waitFor({ timeout: 10000 });
    await until("101, holding, to stop hearing 102", async () => (await hears(a, TONE["102"])) <= 1);
    await byRole(a.page, "button", "Resume").click();
    await until("101 to hear 102 again", async () => (await hears(a, TONE["102"])) >= 5);

    // RFC 4733 events through pbxd's WebRTC leg: the call engine sees the digit
    await byRole(a.page, "button", "5").click();
    await until("pbxd to see DTMF 5", async () => /DTMF 5 from the caller/.test(pbxd.fullLog()));

    await byRole(b.page, "button", "Hang up").click();
    await a.page.getByText("The other side hung up.", { exact: true }).waitFor({ timeout: 10000 });
  });

  test("the phone page passes axe-core and fits a 390-px-wide screen", async () => {
    const [a] = phones;
    await assertAccessible(a.page, "phone");
    await assertFits(a.page, "phone");
  });
});
