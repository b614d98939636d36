// A tenant admin's Users > Edit dialog beyond User and Extension (issue 16):
// Forwarding Rule and Office Hours (the personal pages' editors on
// /api/users/{id}/extension, with the user's holidays), Voicemail, Devices (the
// registrations of the extension, Unregister after confirmation) and Reset
// password (after confirmation). Each change is read back through the REST API;
// the tabs move by keyboard; axe-core on each tab and a 390-px viewport.
//
// Run through tests/web/run.mjs (inside a private network namespace).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Api, assertAccessible, assertFits, byRole, field, launchBrowser, openPage, Pbxd, row, signInTenant, tenantWithUsers, waitFor } from "./harness.mjs";

let pbxd;
let browser;
let boss;
let users;
const domain = `edit${Date.now().toString(36)}.example.com`;

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

describe("Users > Edit", () => {
  let page;
  let dlg;

  before(async () => {
    page = await openPage(browser, pbxd.base);
    await signInTenant(page, domain, "boss", "Boss-pass-1");
    await byRole(page, "heading", "Users").waitFor();
    await byRole(row(page, "james.bond"), "button", "Edit").click();
    dlg = page.getByRole("dialog", { name: "Edit james.bond" });
    await dlg.waitFor();
  });
  after(async () => {
    await page?.context().close();
  });

  test("the seeds' tabs, by keyboard", async () => {
    const names = await dlg.getByRole("tablist", { name: "Settings" }).getByRole("tab").allInnerTexts();
    assert.deepEqual(names, ["User", "Extension", "Forwarding Rule", "Voicemail", "Office Hours", "Devices", "Reset password"]);
    await byRole(dlg, "tab", "User").focus();
    await page.keyboard.press("End");
    assert.equal(await byRole(dlg, "tab", "Reset password").getAttribute("aria-selected"), "true");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Reset password");
    await page.keyboard.press("ArrowLeft");
    assert.equal(await byRole(dlg, "tab", "Devices").getAttribute("aria-selected"), "true");
    await page.keyboard.press("Home");
    assert.equal(await byRole(dlg, "tab", "User").getAttribute("aria-selected"), "true");
    assert.equal(await field(dlg, "Username").inputValue(), "james.bond");
  });

  test("Forwarding Rule: the user's rules saved; a status's rule back to Same as Available (axe-core)", async () => {
    await byRole(dlg, "tab", "Forwarding Rule").click();
    const fwd = dlg.getByRole("tabpanel", { name: "Forwarding Rule" });
    await byRole(fwd, "radio", "Forward calls to a destination number").check();
    const dest = fwd.getByRole("group", { name: "Destination", exact: true });
    await field(dest, "Forward to").selectOption({ label: "Forward to number" });
    await field(dest, "Destination number").fill("0611");
    await byRole(fwd, "tab", "Away").click();
    const awayBusy = fwd.getByRole("group", { name: "Forward calls when number is busy (Away)" });
    await field(awayBusy, "Forward to").selectOption({ label: "Hang up" });
    await assertAccessible(page, "Edit > Forwarding Rule");
    await byRole(fwd, "button", "Save").click();
    await fwd.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    let f = (await settingsOf("101")).forwarding;
    assert.deepEqual(f.unconditional, { mode: "always", destination: { action: "number", number: "0611" }, schedules: [] });
    assert.deepEqual(f.by_status, { away: { busy: { action: "hangup" } } });
    // the other user is untouched
    assert.equal((await settingsOf("102")).forwarding.unconditional.mode, "off");

    await field(awayBusy, "Forward to").selectOption({ label: "Same as Available" });
    await byRole(fwd, "radio", "Don't forward calls").check();
    await byRole(fwd, "button", "Save").click();
    await waitFor("Away's rule removed", async () => {
      f = (await settingsOf("101")).forwarding;
      return f.unconditional.mode === "off" && !f.by_status?.away;
    });
    assert.equal(await field(awayBusy, "Forward to").inputValue(), "same");
  });

  test("Voicemail: a bad PIN refused beside Voicemail PIN, then PIN authentication saved (axe-core)", async () => {
    await byRole(dlg, "tab", "Voicemail").click();
    const vm = dlg.getByRole("tabpanel", { name: "Voicemail" });
    const enabled = field(vm, "Enable voicemail");
    await enabled.waitFor();
    assert.equal(await enabled.isChecked(), true);
    await field(vm, "PIN authentication").check();
    await byRole(vm, "button", "Save").click();
    const err = page.locator("#vm-pin-error");
    await err.waitFor();
    assert.match(await err.innerText(), /required/i);
    assert.equal(await field(vm, "Voicemail PIN").getAttribute("aria-invalid"), "true");
    await field(vm, "Voicemail PIN").fill("12");
    await byRole(vm, "button", "Save").click();
    await waitFor("4 to 12 digits", async () => /4 to 12 digits/.test(await err.innerText()));
    assert.equal(await field(vm, "PIN authentication").isChecked(), true, "what was chosen is kept");
    assert.equal((await settingsOf("101")).voicemail.pin_auth, false, "nothing saved");
    await field(vm, "Voicemail PIN").fill("4321");
    await field(vm, "Read out the date and time of each message").check();
    await assertAccessible(page, "Edit > Voicemail");
    await byRole(vm, "button", "Save").click();
    await vm.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const got = (await settingsOf("101")).voicemail;
    assert.equal(got.pin, "4321");
    assert.equal(got.pin_auth, true);
    assert.equal(got.read_datetime, true);
    assert.equal(got.enabled, true);
    assert.equal((await settingsOf("102")).voicemail.pin_auth, false, "the other user is untouched");
  });

  test("Office Hours: specific hours and a holiday of the user's (axe-core)", async () => {
    await byRole(dlg, "tab", "Office Hours").click();
    const oh = dlg.getByRole("tabpanel", { name: "Office Hours" });
    const global = byRole(oh, "radio", "Use global office hours");
    await global.waitFor();
    assert.equal(await global.isChecked(), true);
    await oh.getByRole("table", { name: "Global office hours" }).waitFor();
    await byRole(oh, "radio", "Use specific office hours").check();
    const mon = oh.getByRole("group", { name: "Monday" });
    await field(mon, "Start").fill("08:00");
    await field(mon, "End").fill("16:00");
    await assertAccessible(page, "Edit > Office Hours");
    await byRole(oh, "button", "Save").click();
    await oh.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const got = await boss.ok("GET", `/api/users/${users["101"]}/office_hours`);
    assert.equal(got.mode, "specific");
    assert.deepEqual(got.week.mon, [{ start: "08:00", end: "16:00" }]);

    await byRole(oh, "button", "Add holiday").click();
    const hd = page.getByRole("dialog", { name: "Add holiday" });
    await field(hd, "Name").fill("Training");
    await field(hd, "Start date").fill("2026-03-02");
    await byRole(hd, "button", "Save").click();
    await hd.waitFor({ state: "detached" });
    await row(oh, "Training").waitFor();
    const hol = await boss.ok("GET", `/api/users/${users["101"]}/holidays`);
    assert.equal(hol.count, 1);
    assert.equal(hol.items[0].name, "Training");
    assert.equal(hol.items[0].start_date, "2026-03-02");
    assert.equal(hol.items[0].end_date, "2026-03-02");
  });

  test("Devices: the registered phone; Unregister after confirmation (axe-core)", async () => {
    assert.equal(await pbxd.register("101", "sip-pw-101", domain), 200);
    await byRole(dlg, "tab", "Devices").click();
    const dev = dlg.getByRole("tabpanel", { name: "Devices" });
    const r = row(dev, "pbxd-web-tests/1");
    await r.waitFor();
    assert.match(await r.innerText(), /127\.0\.0\.1:\d+/);
    assert.match(await r.innerText(), /UDP/);
    const d = (await boss.ok("GET", `/api/users/${users["101"]}/devices`)).items[0];
    assert.match(await r.innerText(), new RegExp(`${d.address}:${d.port}`));
    await assertAccessible(page, "Edit > Devices");
    await byRole(r, "button", "Unregister").click();
    let conf = page.getByRole("dialog", { name: "Unregister device" });
    assert.match(await conf.innerText(), /pbxd-web-tests\/1/);
    await byRole(conf, "button", "Cancel").click();
    await conf.waitFor({ state: "detached" });
    assert.equal((await boss.ok("GET", `/api/users/${users["101"]}/devices`)).count, 1, "Cancel keeps it");
    await byRole(r, "button", "Unregister").click();
    conf = page.getByRole("dialog", { name: "Unregister device" });
    await byRole(conf, "button", "Unregister").click();
    await conf.waitFor({ state: "detached" });
    await dev.getByText("No device is registered.").waitFor();
    assert.equal((await boss.ok("GET", `/api/users/${users["101"]}/devices`)).count, 0);
  });

  test("Reset password: refused beside New password, then reset after confirmation (axe-core)", async () => {
    await byRole(dlg, "tab", "Reset password").click();
    const rp = dlg.getByRole("tabpanel", { name: "Reset password" });
    await field(rp, "New password").fill("short");
    await byRole(rp, "button", "Reset password").click();
    await byRole(page.getByRole("dialog", { name: "Reset password" }), "button", "Reset").click();
    const err = page.locator("#rp-password-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("role"), "alert");
    assert.equal(await field(rp, "New password").getAttribute("aria-invalid"), "true");
    assert.equal(await field(rp, "New password").inputValue(), "short", "what was typed is kept");
    await assertAccessible(page, "Edit > Reset password");

    await field(rp, "New password").fill("Fresh-pass-2");
    await byRole(rp, "button", "Reset password").click();
    const conf = page.getByRole("dialog", { name: "Reset password" });
    await byRole(conf, "button", "Cancel").click();
    await conf.waitFor({ state: "detached" });
    assert.equal((await new Api(pbxd.base).request("POST", "/api/auth/sign_in", { username: "james.bond", password: "User-pass-1", domain })).status, 200, "Cancel keeps the old password");
    await byRole(rp, "button", "Reset password").click();
    await byRole(page.getByRole("dialog", { name: "Reset password" }), "button", "Reset").click();
    await rp.getByRole("status").filter({ hasText: "was reset" }).waitFor();
    const c = new Api(pbxd.base);
    assert.equal((await c.request("POST", "/api/auth/sign_in", { username: "james.bond", password: "User-pass-1", domain })).status, 401);
    assert.equal((await c.request("POST", "/api/auth/sign_in", { username: "james.bond", password: "Fresh-pass-2", domain })).status, 200);
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });

  test("the dialog's tabs fit a 390-px-wide screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const t of ["User", "Forwarding Rule", "Voicemail", "Office Hours", "Devices", "Reset password"]) {
        await byRole(dlg, "tab", t).click();
        await fitsDialog(page, `Edit > ${t}`);
      }
      await assertAccessible(page, "Edit at 390 px");
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });
});

// The page and the dialog (which scrolls on its own) need no sideways scrolling.
async function fitsDialog(page, what) {
  await assertFits(page, what);
  const [sw, cw] = await page.evaluate(() => {
    const d = document.querySelector("dialog[open]");
    return [d.scrollWidth, d.clientWidth];
  });
  assert.ok(sw <= cw, `${what}: the dialog scrolls sideways (${sw} > ${cw})`);
}
