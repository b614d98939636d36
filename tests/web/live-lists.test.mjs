// Live lists (issue 16: "every list updates live from the API's event stream
// where one exists, else on an interval"): one event stream (/api/events) for
// the whole portal, opened once for a tenant admin and shared by the pages,
// closed at Sign out, never opened for a user; the Users list's Status column
// follows registrations (extension_registered: at once, before its 10-s read)
// and calls (call_start, call_answered, call_cdr: at once); the CDR list shows a call's record as the call ends,
// without a reload. Real calls go through a real pbxd between two of the
// harness's SIP phones; what the pages show is checked against the REST API.
//
// Run through tests/web/run.mjs (inside a private network namespace).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { byRole, launchBrowser, openPage, Pbxd, phone, row, signInTenant, tenantWithUsers, waitFor } from "./harness.mjs";

let pbxd;
let browser;
let boss; // the REST API as the tenant's admin
const domain = `live${Date.now().toString(36)}.example.com`;

before(async () => {
  pbxd = await new Pbxd().start();
  browser = await launchBrowser();
  ({ boss } = await tenantWithUsers(pbxd, domain));
});

after(async () => {
  await browser?.close();
  const st = await pbxd?.stop();
  if (st) assert.equal(st.sanitizer, false, "pbxd's log has a sanitizer report");
});

describe("Live lists (tenant admin)", () => {
  let page;
  let a;
  let b;
  const sockets = []; // the page's WebSockets: {url, closed}

  // The next read of path the page makes by itself (its interval): a change made
  // just after it and shown within less than the interval was shown by an event.
  const nextRead = (path) => page.waitForRequest((r) => new URL(r.url()).pathname === path, { timeout: 20000 });
  const status = async (name) => (await row(page, name).innerText()).replace(/\s+/g, " ");

  before(async () => {
    page = await openPage(browser, pbxd.base);
    page.on("websocket", (ws) => {
      const s = { url: ws.url(), closed: false };
      sockets.push(s);
      ws.on("close", () => (s.closed = true));
    });
    await signInTenant(page, domain, "boss", "Boss-pass-1");
    await byRole(page, "heading", "Users").waitFor();
    // nothing of the page is loaded again below: this mark stays while it is the same document
    await page.evaluate(() => (window.__sameDocument = true));
  });
  after(async () => {
    a?.close();
    b?.close();
    await page?.context().close();
  });

  test("Users: a device that registers shows in Status at once (extension_registered), without a reload", async () => {
    await row(page, "james.bond").waitFor();
    assert.match(await status("james.bond"), /Not registered/);
    const t0 = Date.now();
    a = await phone(pbxd, "101", "sip-pw-101", domain);
    await waitFor("1 device registered", async () => /1 device registered/.test(await status("james.bond")), 15000);
    assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms: the event, not a 10-s read, showed it`);
    const api = await boss.ok("GET", "/api/users?search=james.bond");
    assert.equal(api.items[0].registered_devices, 1);
    assert.match(await status("moneypenny"), /Not registered/);
    b = await phone(pbxd, "102", "sip-pw-102", domain);
    const t1 = Date.now();
    await waitFor("102 registered", async () => /1 device registered/.test(await status("moneypenny")), 15000);
    assert.ok(Date.now() - t1 < 5000);
    assert.equal(await page.evaluate(() => window.__sameDocument), true);
  });

  test("Users: a call shows in Status as it starts and leaves as it ends (call_start, call_cdr)", async () => {
    await nextRead("/api/users");
    let t0 = Date.now();
    const c = a.call("102");
    await b.until("the call ringing 102", () => b.incoming.length === 1);
    await waitFor("Ringing at 102", async () => /Ringing/.test(await status("moneypenny")), 5000);
    await waitFor("In a call at 101", async () => /In a call/.test(await status("james.bond")), 5000);
    assert.ok(Date.now() - t0 < 6000, `shown after ${Date.now() - t0} ms (the list is read every 10 s)`);
    const sessions = await boss.ok("GET", "/api/call_sessions");
    assert.equal(sessions.count, 1);
    assert.equal(sessions.items[0].caller, "101");
    assert.equal(sessions.items[0].callee, "102");

    const ta = Date.now();
    b.answer();
    await a.until("the call answered", () => c.state === "talking");
    await waitFor("In a call at 102", async () => /In a call/.test(await status("moneypenny")), 5000);
    assert.ok(Date.now() - ta < 5000, `answered shown after ${Date.now() - ta} ms (call_answered)`);

    await nextRead("/api/users");
    t0 = Date.now();
    a.bye(c);
    await a.until("the BYE answered", () => c.state === "ended");
    await waitFor("no call at 101 and 102", async () => !/In a call|Ringing/.test((await status("james.bond")) + (await status("moneypenny"))), 5000);
    assert.ok(Date.now() - t0 < 6000, `gone after ${Date.now() - t0} ms (the list is read every 10 s)`);
    assert.equal((await boss.ok("GET", "/api/call_sessions")).count, 0);
    assert.match(await status("james.bond"), /1 device registered/, "the registration stays");
  });

  test("CDR: a call's record shows as the call ends, without a reload", async () => {
    // Every read of the list from the page's opening: its own interval is 15 s
    // from the first, its re-read after an event 1 s after the event.
    const reads = [];
    const onRequest = (r) => new URL(r.url()).pathname === "/api/cdrs" && reads.push(Date.now());
    page.on("request", onRequest);
    await byRole(page, "link", "CDR").click();
    await byRole(page, "heading", "CDR").waitFor();
    const before = await boss.ok("GET", "/api/cdrs");
    assert.equal(before.count, 1, "the call of the test before");
    const rows = page.locator("tbody tr");
    await waitFor("the record of the call before", async () => (await rows.count()) === 1);

    b.autoAnswer = true;
    const c = a.call("102");
    await a.until("the second call answered", () => c.state === "talking");
    await new Promise((r) => setTimeout(r, 1200)); // talk a little: a talk time of 1 s or more
    const t0 = Date.now();
    // the list's next own read is 15 s after its first: not before the row can show
    assert.ok(reads.length >= 1 && t0 + 6000 < reads[0] + 15000, `the page opened ${t0 - reads[0]} ms ago`);
    const before0 = reads.length;
    a.bye(c);
    await a.until("the BYE answered", () => c.state === "ended");
    await waitFor("a second record", async () => (await rows.count()) === 2, 5000);
    const shown = Date.now();
    page.off("request", onRequest);
    assert.ok(shown - t0 < 6000, `shown after ${shown - t0} ms`);
    // the record came from the call_cdr event: no read of the list came between
    assert.ok(reads.slice(before0).every((t) => t >= shown), `a read came ${reads[before0] - t0} ms after the hang-up`);

    // pbxd sends call_cdr as it hands the record to be written: the API may have it a moment later
    const now = await waitFor("the record in GET /api/cdrs", async () => {
      const r = await boss.ok("GET", "/api/cdrs");
      return r.count === 2 && r;
    }, 3000);
    const cdr = now.items[0];
    assert.notEqual(cdr.cdr_id, before.items[0].cdr_id);
    assert.equal(cdr.caller, "101");
    assert.equal(cdr.callee, "102");
    const first = rows.first();
    const text = await first.innerText();
    assert.match(text, /\(101\)/);
    assert.match(text, /102/);
    assert.match(text, /Internal/);
    assert.doesNotMatch(text, /Not answered/);
    await page.getByText("2 items").waitFor();

    // its details, as the API has them
    await byRole(first, "button", "Details").click();
    const dlg = page.getByRole("dialog", { name: "Call details" });
    await dlg.waitFor();
    assert.match(await dlg.innerText(), new RegExp(`Session id\\s+${cdr.session_id}`));
    await byRole(dlg, "button", "Close").click();
    await dlg.waitFor({ state: "detached" });

    // read again (the 1-s re-read after the event): the same two records, no double
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await rows.count(), 2);
    assert.equal(await page.evaluate(() => window.__sameDocument), true);
  });

  test("one event stream for every page, closed at Sign out", async () => {
    await byRole(page, "link", "Active Calls").click();
    await byRole(page, "heading", "Active calls").waitFor();
    await page.getByRole("status").filter({ hasText: "Live: calls show as they start and end." }).waitFor();
    await byRole(page, "link", "Users").click();
    await byRole(page, "heading", "Users").waitFor();
    assert.equal(sockets.length, 1, `one WebSocket across Users, CDR, Active Calls: ${sockets.map((s) => s.url)}`);
    const u = new URL(sockets[0].url);
    assert.equal(u.pathname, "/api/events");
    assert.ok(u.searchParams.get("token"));
    assert.equal(sockets[0].closed, false);
    await byRole(page, "button", "Sign out").click();
    await byRole(page, "button", "Next").waitFor();
    await waitFor("the stream closed", () => sockets[0].closed, 5000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sockets.length, 1, "no stream opened again after Sign out");
    assert.deepEqual(page.errors, []);
  });

  test("a user's portal opens no event stream (the stream is the administrators')", async () => {
    const up = await openPage(browser, pbxd.base);
    const mine = [];
    up.on("websocket", (ws) => mine.push(ws.url()));
    try {
      await signInTenant(up, domain, "james.bond", "User-pass-1");
      await byRole(up, "heading", "My portal").waitFor();
      await up.getByRole("heading", { name: "Call history" }).waitFor();
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(mine, []);
    } finally {
      await up.context().close();
    }
  });
});
