// The portal's Active Calls (issue 16, second slice): a tenant admin's calls in
// progress, live from the /api/events WebSocket with a refresh every 10 s, and
// Hang up. Real calls go through a real pbxd between two of the harness's SIP
// phones; what the page shows is checked against GET /api/call_sessions and the
// phones, with axe-core and a 390-px viewport.
//
// Run through tests/web/run.mjs (inside a private network namespace).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertAccessible, assertFits, byRole, launchBrowser, openPage, Pbxd, phone, row, signInTenant, tenantWithUsers, waitFor } from "./harness.mjs";

let pbxd;
let browser;
let boss; // the REST API as the tenant's admin
let users; // ext -> user id
const domain = `calls${Date.now().toString(36)}.example.com`;
const noSeriousViolations = assertAccessible;
const fits = assertFits;

before(async () => {
  pbxd = await new Pbxd().start();
  browser = await launchBrowser();
  ({ boss, users } = await tenantWithUsers(pbxd, domain));
});

after(async () => {
  await browser?.close();
  const st = await pbxd?.stop();
  if (st) assert.equal(st.sanitizer, false, "pbxd's log has a sanitizer report");
});

describe("Active Calls (tenant admin)", () => {
  let page;
  let a;
  let b;
  const frames = []; // what the page's WebSocket received
  const sockets = [];

  before(async () => {
    page = await openPage(browser, pbxd.base);
    page.on("websocket", (ws) => {
      sockets.push(ws.url());
      ws.on("framereceived", (f) => frames.push(String(f.payload)));
    });
    a = await phone(pbxd, "101", "sip-pw-101", domain);
    b = await phone(pbxd, "102", "sip-pw-102", domain);
  });
  after(async () => {
    a?.close();
    b?.close();
    await page?.context().close();
  });

  test("the page opens from Call Statistics, empty, with its event stream connected (axe-core)", async () => {
    await signInTenant(page, domain, "boss", "Boss-pass-1");
    await byRole(page, "heading", "Users").waitFor();
    await byRole(page, "link", "Active Calls").click();
    await byRole(page, "heading", "Active calls").waitFor();
    await page.getByText("No calls in progress.").waitFor();
    await page.getByRole("status").filter({ hasText: "Live: calls show as they start and end." }).waitFor();
    assert.equal(sockets.length, 1, `one WebSocket: ${sockets}`);
    const u = new URL(sockets[0]);
    assert.equal(u.pathname, "/api/events");
    assert.ok(u.searchParams.get("token"), "the token goes in ?token=");
    await noSeriousViolations(page, "Active calls (empty)");
  });

  // The page reads the list every 10 s: a change made just after one of those
  // reads and shown within 5 s was shown because of the event stream.
  const afterAPoll = () => page.waitForRequest((r) => new URL(r.url()).pathname === "/api/call_sessions", { timeout: 15000 });

  test("a call shows as it starts, from its call_start event, with who calls whom and Ringing", async () => {
    await afterAPoll();
    const t0 = Date.now();
    const c = a.call("102");
    await b.until("the call ringing 102", () => b.incoming.length === 1);
    const r = row(page, "James Bond (101)");
    await r.waitFor({ timeout: 5000 });
    assert.ok(Date.now() - t0 < 5000, `shown after ${Date.now() - t0} ms (the periodic refresh is 10 s)`);
    await waitFor("a call_start frame", () => frames.some((f) => JSON.parse(f).event_type === "call_start"));
    const text = await r.innerText();
    assert.match(text, /102/);
    assert.match(text, /Internal/);
    assert.match(text, /Ringing/);
    const api = await boss.ok("GET", "/api/call_sessions");
    assert.equal(api.count, 1);
    assert.equal(api.items[0].state, "ringing");
    assert.equal(c.state, "ringing");
    await noSeriousViolations(page, "Active calls (a call)");
  });

  test("the answer shows at once, from its call_answered event: Talking", async () => {
    const t0 = Date.now();
    b.answer();
    await a.until("the call answered", () => a.calls[0].state === "talking");
    await waitFor("Talking in the row", async () => /Talking/.test(await row(page, "James Bond (101)").innerText()), 5000);
    assert.ok(Date.now() - t0 < 5000, `shown after ${Date.now() - t0} ms (the periodic refresh is 10 s)`);
    assert.equal((await boss.ok("GET", "/api/call_sessions")).items[0].state, "talking");
  });

  test("Hang up asks first, then ends the call for both phones", async () => {
    const r = row(page, "James Bond (101)");
    await byRole(r, "button", "Hang up").click();
    let dlg = page.getByRole("dialog");
    assert.match(await dlg.innerText(), /James Bond \(101\).*102/s);
    await noSeriousViolations(page, "Hang up dialog");
    await byRole(dlg, "button", "Cancel").click();
    await dlg.waitFor({ state: "detached" });
    assert.equal((await boss.ok("GET", "/api/call_sessions")).count, 1, "Cancel hangs nothing up");
    await byRole(r, "button", "Hang up").click();
    dlg = page.getByRole("dialog");
    await byRole(dlg, "button", "Hang up").click();
    await dlg.waitFor({ state: "detached" });
    await page.getByText("No calls in progress.").waitFor();
    await page.getByRole("status").filter({ hasText: "was hung up" }).waitFor();
    await a.until("BYE at 101", () => a.calls[0].state === "ended");
    await b.until("BYE at 102", () => b.incoming[0].state === "ended");
    assert.equal((await boss.ok("GET", "/api/call_sessions")).count, 0);
  });

  test("a call that ends by itself leaves the list from its call_cdr event", async () => {
    b.autoAnswer = true;
    const c = a.call("102");
    await a.until("the second call answered", () => c.state === "talking");
    const r = row(page, "James Bond (101)");
    await r.waitFor({ timeout: 8000 });
    const cdrs = () => frames.filter((f) => JSON.parse(f).event_type === "call_cdr").length;
    const before = cdrs();
    await afterAPoll();
    const t0 = Date.now();
    a.bye(c);
    await a.until("the BYE answered", () => c.state === "ended");
    await waitFor("the row gone", async () => (await r.count()) === 0, 5000);
    assert.ok(Date.now() - t0 < 5000, `gone after ${Date.now() - t0} ms (the periodic refresh is 10 s)`);
    await waitFor("a call_cdr frame", () => cdrs() > before);
    assert.equal((await boss.ok("GET", "/api/call_sessions")).count, 0);
  });

  test("fits a 390-px-wide screen with a call listed", async () => {
    const small = await openPage(browser, pbxd.base, { width: 390, height: 844 });
    try {
      await signInTenant(small, domain, "boss", "Boss-pass-1");
      await byRole(small, "heading", "Users").waitFor();
      const c = a.call("102");
      await a.until("the third call answered", () => c.state === "talking");
      await small.goto(pbxd.base + "/call-statistics/active-calls");
      await row(small, "James Bond (101)").waitFor();
      await fits(small, "Active calls");
      await noSeriousViolations(small, "Active calls at 390 px");
      a.bye(c);
      await a.until("the third call ended", () => c.state === "ended");
    } finally {
      await small.context().close();
    }
  });

  test("a user gets no Active Calls: not in the menu, and the page says so", async () => {
    const up = await openPage(browser, pbxd.base);
    try {
      await signInTenant(up, domain, "james.bond", "User-pass-1");
      await byRole(up, "heading", "My portal").waitFor();
      assert.equal(await byRole(up, "link", "Active Calls").count(), 0);
      await up.goto(pbxd.base + "/call-statistics/active-calls");
      const alert = up.getByRole("alert").first();
      await alert.waitFor();
      assert.match(await alert.innerText(), /not allowed/i);
    } finally {
      await up.context().close();
    }
  });
});
