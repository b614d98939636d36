// The personal portal's settings (issue 16, second slice): a user's Status,
// Forwarding Rule (unconditional with schedules, rules by status, exceptions,
// exception numbers), Office Hours and holidays. Every change made on a page is
// read back through the REST API; axe-core and a 390-px viewport check the pages.
//
// Run through tests/web/run.mjs (inside a private network namespace).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertAccessible, assertFits, byRole, field, launchBrowser, openPage, Pbxd, row, signInTenant, tenantWithUsers, waitFor } from "./harness.mjs";

let pbxd;
let browser;
let boss; // the REST API as the tenant's admin
let users; // ext -> user id
const domain = `mine${Date.now().toString(36)}.example.com`;
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

const settingsOf = (ext) => boss.ok("GET", `/api/users/${users[ext]}/extension`);

describe("a user's own settings", () => {
  let page;

  before(async () => {
    page = await openPage(browser, pbxd.base);
    await signInTenant(page, domain, "james.bond", "User-pass-1");
    await byRole(page, "heading", "My portal").waitFor();
  });
  after(async () => {
    await page?.context().close();
  });

  test("Status on My portal is saved at once", async () => {
    const st = field(page, "Status");
    await st.waitFor();
    assert.equal(await st.inputValue(), "available");
    await st.selectOption({ label: "Away" });
    await waitFor("status away through the API", async () => (await settingsOf("101")).status === "away");
    await st.selectOption({ label: "Available" });
    await waitFor("status available through the API", async () => (await settingsOf("101")).status === "available");
  });

  test("Forwarding Rule: forward every call to a number (axe-core)", async () => {
    await byRole(page, "link", "Forwarding Rule").click();
    await byRole(page, "heading", "Forwarding Rule").waitFor();
    const off = byRole(page, "radio", "Don't forward calls");
    await off.waitFor();
    assert.equal(await off.isChecked(), true);
    await noSeriousViolations(page, "Forwarding Rule");
    await byRole(page, "radio", "Forward calls to a destination number").check();
    const dest = page.getByRole("group", { name: "Destination", exact: true });
    await field(dest, "Forward to").selectOption({ label: "Forward to number" });
    await field(dest, "Destination number").fill("0612345678");
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const f = (await settingsOf("101")).forwarding;
    assert.equal(f.unconditional.mode, "always");
    assert.deepEqual(f.unconditional.destination, { action: "number", number: "0612345678" });
    // read back on a fresh load
    await page.reload();
    await byRole(page, "radio", "Forward calls to a destination number").waitFor();
    assert.equal(await byRole(page, "radio", "Forward calls to a destination number").isChecked(), true);
    assert.equal(await field(page.getByRole("group", { name: "Destination", exact: true }), "Destination number").inputValue(), "0612345678");
  });

  test("conditional rules by status: Available's and Away's own; a condition left out follows Available", async () => {
    await byRole(page, "radio", "Don't forward calls").check();
    // Available (the top-level rules)
    const busy = page.getByRole("group", { name: "Forward calls when number is busy (Available)" });
    await field(busy, "Forward to").selectOption({ label: "Hang up" });
    const noAns = page.getByRole("group", { name: "Forward calls when number doesn't answer (Available)" });
    await field(noAns, "Extension ring time (seconds)").fill("25");
    // Away, by the keyboard: the tab list moves with the arrow keys
    await byRole(page, "tab", "Available").focus();
    await page.keyboard.press("ArrowRight");
    const away = byRole(page, "tab", "Away");
    assert.equal(await away.getAttribute("aria-selected"), "true");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Away");
    const awayNoAns = page.getByRole("group", { name: "Forward calls when number doesn't answer (Away)" });
    assert.equal(await field(awayNoAns, "Forward to").inputValue(), "same", "a status's rule starts as Available's");
    await field(awayNoAns, "Forward to").selectOption({ label: "Forward to number" });
    await field(awayNoAns, "Destination number").fill("0700");
    await field(awayNoAns, "Extension ring time (seconds)").fill("30");
    await field(awayNoAns, "Extension ring time (seconds)").press("Enter"); // submits the form
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const f = (await settingsOf("101")).forwarding;
    assert.equal(f.unconditional.mode, "off");
    assert.deepEqual(f.busy, { action: "hangup" });
    assert.equal(f.no_answer.ring_time, 25);
    assert.deepEqual(f.by_status, { away: { no_answer: { action: "number", number: "0700", ring_time: 30 } } });
  });

  test("a refusal shows beside its field on its status's tab, and the form keeps what was typed", async () => {
    await byRole(page, "tab", "Lunch").click();
    const lunchBusy = page.getByRole("group", { name: "Forward calls when number is busy (Lunch)" });
    await field(lunchBusy, "Forward to").selectOption({ label: "Forward to number" });
    await byRole(page, "tab", "Available").click();
    const noAns = page.getByRole("group", { name: "Forward calls when number doesn't answer (Available)" });
    await field(noAns, "Extension ring time (seconds)").fill("40");
    await byRole(page, "button", "Save").click();
    const err = lunchBusy.getByRole("alert");
    await err.waitFor();
    assert.match(await err.innerText(), /required/i);
    assert.equal(await byRole(page, "tab", "Lunch").getAttribute("aria-selected"), "true");
    assert.equal(await field(lunchBusy, "Destination number").getAttribute("aria-invalid"), "true");
    await byRole(page, "tab", "Available").click();
    assert.equal(await field(noAns, "Extension ring time (seconds)").inputValue(), "40", "what was typed is kept");
    assert.equal((await settingsOf("101")).forwarding.no_answer.ring_time, 25, "nothing was saved");
    // a ring time out of range is named too
    await field(noAns, "Extension ring time (seconds)").fill("3");
    await byRole(page, "tab", "Lunch").click();
    await field(lunchBusy, "Destination number").fill("0800");
    await byRole(page, "button", "Save").click();
    const err2 = noAns.getByRole("alert");
    await err2.waitFor();
    assert.match(await err2.innerText(), /5 to 300/);
    await field(noAns, "Extension ring time (seconds)").fill("40");
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const f = (await settingsOf("101")).forwarding;
    assert.equal(f.no_answer.ring_time, 40);
    assert.deepEqual(f.by_status.lunch, { busy: { action: "number", number: "0800" } });
  });

  test("a schedule for the unconditional forward; schedule mode without one is refused", async () => {
    await byRole(page, "radio", "Forward calls according to schedule rules").check();
    const dest = page.getByRole("group", { name: "Destination", exact: true });
    await field(dest, "Forward to").selectOption({ label: "Forward to voicemail" });
    await byRole(page, "button", "Save").click();
    const err = page.getByRole("alert").first();
    await err.waitFor();
    assert.match(await err.innerText(), /schedules.*at least one/i);
    await byRole(page, "button", "Add schedule").click();
    const sch = page.getByRole("group", { name: "Schedule 1" });
    for (const d of ["Mon", "Tue", "Wed", "Thu", "Fri"]) await field(sch, d).uncheck();
    await field(sch, "Sat").check();
    await field(sch, "Sun").check();
    await field(sch, "Start").fill("10:00");
    await field(sch, "End").fill("14:30");
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const u = (await settingsOf("101")).forwarding.unconditional;
    assert.deepEqual(u, { mode: "schedule", destination: { action: "voicemail" }, schedules: [{ days: ["sat", "sun"], start: "10:00", end: "14:30" }] });
    await byRole(page, "radio", "Don't forward calls").check();
    await byRole(page, "button", "Save").click();
    await waitFor("mode off", async () => (await settingsOf("101")).forwarding.unconditional.mode === "off");
  });

  test("exceptions and exception numbers: added, saved, removed", async () => {
    await byRole(page, "radio", "Don't forward calls").check();
    await byRole(page, "button", "Add exception").click();
    const ex = page.getByRole("group", { name: "Exception 1" });
    await field(ex, "Caller ID").fill("0612000000");
    await byRole(ex, "radio", "A time shift").check();
    await field(ex, "Start").fill("08:00");
    await field(ex, "End").fill("12:00");
    await field(ex.getByRole("group", { name: "Destination" }), "Destination number").fill("102");
    await byRole(page, "button", "Add number").click();
    await field(page, "Exception number 1").fill("0800123");
    await noSeriousViolations(page, "Forwarding Rule with an exception");
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    let f = (await settingsOf("101")).forwarding;
    assert.deepEqual(f.exceptions, [{ caller_id: "0612000000", days: ["mon", "tue", "wed", "thu", "fri"], start: "08:00", end: "12:00", destination: { action: "number", number: "102" } }]);
    assert.deepEqual(f.exception_numbers, ["0800123"]);
    await byRole(page, "button", "Remove exception 1").click();
    await byRole(page, "button", "Remove number 1").click();
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    f = (await settingsOf("101")).forwarding;
    assert.deepEqual(f.exceptions, []);
    assert.deepEqual(f.exception_numbers, []);
    assert.equal(f.unconditional.mode, "off");
  });

  test("Forwarding Rule fits a 390-px-wide screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await byRole(page, "radio", "Forward calls according to schedule rules").check();
      await byRole(page, "button", "Add schedule").click();
      await byRole(page, "button", "Add exception").click();
      await fits(page, "Forwarding Rule");
      await noSeriousViolations(page, "Forwarding Rule at 390 px");
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.reload(); // nothing of this is saved
    }
  });

  test("Office Hours: a week of the user's own, read back through the API (axe-core)", async () => {
    await byRole(page, "link", "Office Hours").click();
    await byRole(page, "heading", "Office Hours").waitFor();
    const global = byRole(page, "radio", "Use global office hours");
    await global.waitFor();
    assert.equal(await global.isChecked(), true);
    await noSeriousViolations(page, "Office Hours (global)");
    await byRole(page, "radio", "Use specific office hours").check();
    const mon = page.getByRole("group", { name: "Monday" });
    await field(mon, "End").fill("12:00");
    await byRole(mon, "button", "Add shift").click();
    const second = mon.locator(".shift").nth(1);
    await field(second, "Start").fill("13:30");
    await field(second, "End").fill("18:00");
    const fri = page.getByRole("group", { name: "Friday" });
    await byRole(fri, "button", "Remove shift 1").click();
    await fri.getByText("Closed").waitFor();
    const sat = page.getByRole("group", { name: "Saturday" });
    await byRole(sat, "button", "Add shift").click();
    await field(sat, "Start").fill("10:00");
    await field(sat, "End").fill("12:00");
    await noSeriousViolations(page, "Office Hours (specific)");
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const oh = await boss.ok("GET", `/api/users/${users["101"]}/office_hours`);
    assert.equal(oh.mode, "specific");
    assert.deepEqual(oh.week.mon, [{ start: "09:00", end: "12:00" }, { start: "13:30", end: "18:00" }]);
    assert.deepEqual(oh.week.tue, [{ start: "09:00", end: "17:00" }]);
    assert.deepEqual(oh.week.fri, []);
    assert.deepEqual(oh.week.sat, [{ start: "10:00", end: "12:00" }]);
    assert.deepEqual(oh.week.sun, []);
    await page.reload();
    await byRole(page, "radio", "Use specific office hours").waitFor();
    assert.equal(await field(page.getByRole("group", { name: "Monday" }).locator(".shift").nth(1), "Start").inputValue(), "13:30");
  });

  test("Office Hours fit a 390-px-wide screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.getByRole("group", { name: "Monday" }).waitFor();
      await fits(page, "Office Hours");
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  test("back to the global office hours: the own week is kept for later", async () => {
    await byRole(page, "radio", "Use global office hours").check();
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const oh = await boss.ok("GET", `/api/users/${users["101"]}/office_hours`);
    assert.equal(oh.mode, "global");
    await byRole(page, "radio", "Use specific office hours").check();
    assert.equal(await field(page.getByRole("group", { name: "Saturday" }), "Start").inputValue(), "10:00");
    await byRole(page, "radio", "Use global office hours").check();
  });

  test("holidays: an error beside its field, add, edit, delete after confirmation", async () => {
    await page.getByText("No holidays.").waitFor();
    await byRole(page, "button", "Add holiday").click();
    const dlg = page.getByRole("dialog");
    await field(dlg, "Name").fill("Summer");
    await field(dlg, "Start date").fill("2026-08-01");
    await field(dlg, "End date").fill("2026-07-01");
    await noSeriousViolations(page, "Add holiday");
    await byRole(dlg, "button", "Save").click();
    const err = dlg.getByRole("alert");
    await err.waitFor();
    assert.match(await err.innerText(), /before/i);
    assert.equal(await field(dlg, "End date").getAttribute("aria-invalid"), "true");
    assert.equal(await field(dlg, "Name").inputValue(), "Summer", "what was typed is kept");
    await field(dlg, "End date").fill("2026-08-15");
    await field(dlg, "Every year").check();
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    const r = row(page, "Summer");
    await r.waitFor();
    assert.match(await r.innerText(), /2026-08-01 – 2026-08-15/);
    assert.match(await r.innerText(), /Yes/);
    const me = await pbxd.client("james.bond", "User-pass-1", domain);
    let list = await me.ok("GET", "/api/user/holidays");
    assert.equal(list.count, 1);
    assert.deepEqual(
      { name: list.items[0].name, start_date: list.items[0].start_date, end_date: list.items[0].end_date, every_year: list.items[0].every_year, start_time: list.items[0].start_time, end_time: list.items[0].end_time },
      { name: "Summer", start_date: "2026-08-01", end_date: "2026-08-15", every_year: true, start_time: "00:00", end_time: "23:59" },
    );
    // the admin sees it as the user's
    assert.equal((await boss.ok("GET", `/api/users/${users["101"]}/holidays`)).count, 1);

    await byRole(r, "button", "Edit").click();
    const ed = page.getByRole("dialog");
    assert.equal(await field(ed, "Name").inputValue(), "Summer");
    await field(ed, "Name").fill("Summer break");
    await field(ed, "End time").fill("12:00");
    await byRole(ed, "button", "Save").click();
    await ed.waitFor({ state: "detached" });
    await row(page, "Summer break").waitFor();
    list = await me.ok("GET", "/api/user/holidays");
    assert.equal(list.items[0].name, "Summer break");
    assert.equal(list.items[0].end_time, "12:00");

    await byRole(row(page, "Summer break"), "button", "Delete").click();
    const conf = page.getByRole("dialog");
    assert.match(await conf.innerText(), /Summer break/);
    await byRole(conf, "button", "Cancel").click();
    await conf.waitFor({ state: "detached" });
    assert.equal((await me.ok("GET", "/api/user/holidays")).count, 1);
    await byRole(row(page, "Summer break"), "button", "Delete").click();
    await byRole(page.getByRole("dialog"), "button", "Delete").click();
    await page.getByText("No holidays.").waitFor();
    assert.equal((await me.ok("GET", "/api/user/holidays")).count, 0);
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

// The third slice: the tenant's office hours and holidays shown read-only under
// "Use global office hours", the status in force now, a status's rule put back
// to "Same as Available" (null to the API), Voicemail, and the link to the browser phone.
describe("a user's portal: the office hours in force, Same as Available, the phone", () => {
  let page;
  let me;

  before(async () => {
    me = await pbxd.client("james.bond", "User-pass-1", domain);
    page = await openPage(browser, pbxd.base);
    await signInTenant(page, domain, "james.bond", "User-pass-1");
    await byRole(page, "heading", "My portal").waitFor();
  });
  after(async () => {
    await page?.context().close();
  });

  test("Use global office hours shows the tenant's week and holidays, read-only (axe-core, 390 px)", async () => {
    await boss.ok("POST", "/api/tenant/office_hours", {
      mon: [{ start: "08:00", end: "12:00" }, { start: "13:00", end: "17:30" }], tue: [{ start: "00:00", end: "23:59" }], wed: [], sat: [], sun: [],
    });
    await boss.ok("POST", "/api/holidays", { name: "Founders day", start_date: "2026-06-12", every_year: true });
    assert.equal((await me.ok("GET", "/api/user/extension")).office_hours.mode, "global");
    await byRole(page, "link", "Office Hours").click();
    const global = byRole(page, "radio", "Use global office hours");
    await global.waitFor();
    assert.equal(await global.isChecked(), true);
    const table = page.getByRole("table", { name: "Global office hours" });
    await table.waitFor();
    const day = (d) => table.getByRole("row", { name: new RegExp(`^${d}\\b`) }).getByRole("cell");
    assert.equal(await day("Monday").innerText(), "08:00–12:00, 13:00–17:30");
    assert.equal(await day("Tuesday").innerText(), "Open all day");
    assert.equal(await day("Wednesday").innerText(), "Closed");
    const hol = page.getByRole("list", { name: "Global holidays" });
    assert.match(await hol.innerText(), /Founders day: 2026-06-12 \(every year\)/);
    assert.equal(await table.locator("input, button, select").count(), 0, "read-only");
    await assertAccessible(page, "Office Hours with the global ones");
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await assertFits(page, "Office Hours with the global ones");
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  test("My portal says the status in force: Outside office hours while the tenant is closed", async () => {
    const closed = {};
    for (const d of ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]) closed[d] = [];
    await boss.ok("POST", "/api/tenant/office_hours", closed);
    assert.equal((await settingsOf("101")).effective_status, "outside_office_hours");
    await byRole(page, "link", "My portal").click();
    const now = page.locator("#effective-status");
    await now.waitFor();
    assert.equal(await now.innerText(), "Now: Outside office hours");
    await field(page, "Status").selectOption({ label: "Away" });
    await waitFor("Now: Away", async () => (await now.innerText()) === "Now: Away");
    assert.equal((await settingsOf("101")).effective_status, "away");
    await field(page, "Status").selectOption({ label: "Available" });
    await waitFor("Now: Outside office hours again", async () => (await now.innerText()) === "Now: Outside office hours");
    const open = {};
    for (const d of Object.keys(closed)) open[d] = [{ start: "00:00", end: "23:59" }];
    await boss.ok("POST", "/api/tenant/office_hours", open);
    await page.reload();
    await waitFor("Now: Available", async () => (await now.innerText()) === "Now: Available");
    assert.equal((await settingsOf("101")).effective_status, "available");
  });

  test("a status's stored rule goes back to Same as Available (removed through the API)", async () => {
    let f = (await settingsOf("101")).forwarding;
    assert.ok(f.by_status?.away?.no_answer && f.by_status?.lunch?.busy, JSON.stringify(f.by_status));
    await byRole(page, "link", "Forwarding Rule").click();
    await byRole(page, "tab", "Lunch").click();
    const lunchBusy = page.getByRole("group", { name: "Forward calls when number is busy (Lunch)" });
    assert.equal(await field(lunchBusy, "Forward to").inputValue(), "number");
    await field(lunchBusy, "Forward to").selectOption({ label: "Same as Available" });
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    f = (await settingsOf("101")).forwarding;
    assert.equal(f.by_status?.lunch, undefined, "Lunch's set is gone");
    assert.deepEqual(f.by_status.away, { no_answer: { action: "number", number: "0700", ring_time: 30 } }, "Away's is kept");
    await byRole(page, "tab", "Away").click();
    const awayNoAns = page.getByRole("group", { name: "Forward calls when number doesn't answer (Away)" });
    await field(awayNoAns, "Forward to").selectOption({ label: "Same as Available" });
    await byRole(page, "button", "Save").click();
    await waitFor("Away's set gone", async () => !(await settingsOf("101")).forwarding.by_status?.away);
    await page.reload();
    await byRole(page, "tab", "Away").click();
    assert.equal(await field(page.getByRole("group", { name: "Forward calls when number doesn't answer (Away)" }), "Forward to").inputValue(), "same");
  });

  test("Voicemail: a bad notification email refused beside its field, then saved (axe-core, 390 px)", async () => {
    await byRole(page, "link", "Voicemail").click();
    await page.getByRole("heading", { name: "Voicemail", level: 1 }).waitFor();
    const mail = field(page, "Email notification");
    await mail.waitFor();
    await mail.check();
    await field(page, "Notification email").fill("not an address");
    await byRole(page, "button", "Save").click();
    const err = page.locator("#vm-email-error");
    await err.waitFor();
    assert.equal(await field(page, "Notification email").getAttribute("aria-invalid"), "true");
    assert.equal((await settingsOf("101")).voicemail.email_notification, false, "nothing saved");
    await field(page, "Notification email").fill("bond@example.com");
    await field(page, "Enable voicemail").uncheck();
    await byRole(page, "button", "Save").click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const v = (await settingsOf("101")).voicemail;
    assert.equal(v.email_notification, true);
    assert.equal(v.email, "bond@example.com");
    assert.equal(v.enabled, false);
    await assertAccessible(page, "Voicemail");
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await assertFits(page, "Voicemail");
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  test("Open the phone leads to the browser phone (axe-core, 390 px)", async () => {
    await byRole(page, "link", "My portal").click();
    const link = byRole(page, "link", "Open the phone");
    await link.waitFor();
    assert.equal(await link.getAttribute("href"), "/phone/");
    await assertAccessible(page, "My portal");
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await assertFits(page, "My portal");
      assert.ok(await link.isVisible());
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    await link.focus(); // a plain link: Enter follows it

    await Promise.all([page.waitForURL(pbxd.base + "/phone/"), page.keyboard.press("Enter")]);
    const r = await fetch(pbxd.base + "/phone/");
    assert.equal(r.status, 200);
  });
});
