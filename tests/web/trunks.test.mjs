// The portal's SIP trunk pages (issue 15's UI) against a real pbxd: a system
// admin's SIP Trunks (Add with a refusal beside its field, the live status
// cell, Tenants: assign to a tenant, Export CSV, Delete refused with the API's
// 409 while a rule uses the trunk); a tenant admin's SIP Trunks (the system's
// read-only), Inbound Rules (an extension picked from the tenant's users; a
// DID taken twice refused beside DID), Outbound Rules (trunks in order, moved),
// Call Restrictions (disallowed codes, blacklisted numbers, outbound limits).
// Each change is read back through the REST API; each Export CSV downloads
// the created rows. axe-core on each page.
//
// Run through tests/web/run.mjs (inside a private network namespace).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ADMIN_PASSWORD, assertAccessible, byRole, field, launchBrowser, openPage, Pbxd, row, signInTenant, tenantWithUsers, waitFor } from "./harness.mjs";

let pbxd;
let browser;
let admin; // the REST API as the system admin
let boss; // ... as the tenant's admin
let sys; // the system admin's page
let ten; // the tenant admin's page
let carrierId;
const domain = `trunks${Date.now().toString(36)}.example.com`;

before(async () => {
  pbxd = await new Pbxd().start();
  browser = await launchBrowser();
  ({ boss } = await tenantWithUsers(pbxd, domain));
  admin = await pbxd.client("admin");
});

after(async () => {
  await sys?.context().close();
  await ten?.context().close();
  await browser?.close();
  const st = await pbxd?.stop();
  if (st) assert.equal(st.sanitizer, false, "pbxd's log has a sanitizer report");
});

// Clicks the scope's Export CSV; the downloaded file's name and text.
async function exported(page, scope) {
  const [dl] = await Promise.all([page.waitForEvent("download"), byRole(scope, "button", "Export CSV").click()]);
  return { name: dl.suggestedFilename(), text: readFileSync(await dl.path(), "utf8") };
}

const dialog = (page, name) => page.getByRole("dialog", { name });

describe("system admin: SIP Trunks", () => {
  test("Add: a refusal beside its field, then the trunk with its live status (axe-core)", async () => {
    sys = await openPage(browser, pbxd.base);
    await byRole(sys, "radio", "System administrator").check();
    await field(sys, "Username").fill("admin");
    await field(sys, "Password").fill(ADMIN_PASSWORD);
    await byRole(sys, "button", "Sign in").click();
    await byRole(sys, "link", "SIP Trunks").click();
    await byRole(sys, "heading", "SIP Trunks").waitFor();
    await sys.getByText("No SIP trunks yet.").waitFor();

    await byRole(sys, "button", "Add").click();
    const dlg = dialog(sys, "Add SIP trunk");
    await field(dlg, "Name").fill("Carrier A");
    await field(dlg, "Hostname").fill("127.0.0.1");
    // nothing listens on TCP port 9 here: the registration fails at once
    await field(dlg, "Port").fill("9");
    await field(dlg, "Transport").selectOption({ label: "TCP" });
    assert.equal(await byRole(dlg, "radio", "Register with username and password").isChecked(), true);
    await field(dlg, "Username").fill("acct-a");
    await assertAccessible(sys, "Add SIP trunk");
    await byRole(dlg, "button", "Save").click();
    const pwErr = sys.locator("#pr-password-error");
    await pwErr.waitFor();
    assert.match(await pwErr.innerText(), /required when authentication is register/);
    assert.equal(await field(dlg, "Password").getAttribute("aria-invalid"), "true");

    // ip authentication asks for addresses instead of the account
    await byRole(dlg, "radio", "IP address (no registration)").check();
    assert.equal(await field(dlg, "Username").count(), 0);
    await field(dlg, "IP addresses").fill("192.0.2.1, 192.0.2.300");
    await byRole(dlg, "button", "Save").click();
    const ipErr = sys.locator("#pr-ips-error");
    await ipErr.waitFor();
    assert.match(await ipErr.innerText(), /^Address 2: must be an IPv4 or IPv6 address/);

    await byRole(dlg, "radio", "Register with username and password").check();
    assert.equal(await field(dlg, "Username").inputValue(), "acct-a", "what was typed is kept");
    await field(dlg, "Password").fill("secret-a");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });

    const list = await admin.ok("GET", "/api/providers");
    assert.equal(list.count, 1);
    const p = list.items[0];
    carrierId = p.id;
    assert.equal(p.name, "Carrier A");
    assert.equal(p.port, 9);
    assert.equal(p.transport, "tcp");
    assert.equal(p.authentication, "register");
    assert.equal(p.username, "acct-a");
    assert.equal(p.password_set, true);

    // The status cell follows GET /api/providers/{id}/status.
    const r = row(sys, "Carrier A");
    await waitFor("the status cell", async () => /Registration failed/.test(await r.innerText()), 20000);
    const st = await admin.ok("GET", `/api/providers/${carrierId}/status`);
    assert.equal(st.state, "failed");
    if (st.last_error) assert.ok((await r.innerText()).includes(st.last_error), "the last error shown");
    assert.match(await r.innerText(), /127\.0\.0\.1:9 \(TCP\)/);
    await assertAccessible(sys, "SIP Trunks");
  });

  test("Tenants: assigned to the tenant; Export CSV has the trunk", async () => {
    await byRole(row(sys, "Carrier A"), "button", "Tenants").click();
    const dlg = dialog(sys, "Tenants of Carrier A");
    await dlg.getByText("Not assigned to any tenant.").waitFor();
    await field(dlg, "Tenant").selectOption({ label: `Calls (${domain})` });
    await byRole(dlg, "button", "Assign").click();
    await row(dlg, domain).waitFor();
    await assertAccessible(sys, "Tenants of Carrier A");
    const as = await admin.ok("GET", `/api/providers/${carrierId}/assignees`);
    assert.deepEqual(as.items.map((a) => a.domain), [domain]);
    await byRole(dlg, "button", "Close").click();
    await waitFor("the Tenants column", async () => (await row(sys, "Carrier A").innerText()).includes(`Calls (${domain})`));

    const csv = await exported(sys, sys);
    assert.equal(csv.name, "providers.csv");
    assert.match(csv.text, /^id,name,owner,hostname/);
    assert.match(csv.text, new RegExp(`${carrierId},Carrier A,system,127.0.0.1,9,tcp`));
  });
});

describe("tenant admin: trunks, rules and restrictions", () => {
  let ownId;

  before(async () => {
    // the tenant's own trunk, for the outbound rule's order
    ownId = (await boss.ok("POST", "/api/providers", { name: "Own B", hostname: "192.0.2.10", authentication: "ip", ip_addresses: ["192.0.2.10"] })).id;
    ten = await openPage(browser, pbxd.base);
    await signInTenant(ten, domain, "boss", "Boss-pass-1");
    await byRole(ten, "heading", "Users").waitFor();
  });

  test("SIP Trunks: the system's assigned one read-only, the own one editable", async () => {
    await byRole(ten, "link", "Call Routing").click();
    await byRole(ten, "heading", "SIP Trunks").waitFor();
    const sysRow = row(ten, "Carrier A");
    await sysRow.getByText("Read-only").waitFor();
    assert.match(await sysRow.innerText(), /\bSystem\b/);
    assert.equal(await byRole(sysRow, "button", "Edit").count(), 0);
    assert.equal(await byRole(sysRow, "button", "Delete").count(), 0);
    const own = row(ten, "Own B");
    await own.getByText("This tenant").waitFor();
    await waitFor("the own trunk's status", async () => /IP authentication/.test(await own.innerText()));
    await byRole(own, "button", "Edit").waitFor();
    await assertAccessible(ten, "tenant SIP Trunks");
  });

  test("Inbound Rules: a DID to an extension; the same DID again refused (409) beside DID; Export CSV", async () => {
    await byRole(ten, "link", "Inbound Rules").click();
    await byRole(ten, "heading", "Inbound Rules").waitFor();
    await byRole(ten, "button", "Add").click();
    let dlg = dialog(ten, "Add inbound rule");
    await field(dlg, "Name").fill("Main line");
    await field(dlg, "SIP trunk").selectOption({ label: "Carrier A (system)" });
    await field(dlg, "DID").fill("18800606");
    await field(dlg, "Destination").selectOption({ label: "Extension 101 (James Bond)" });
    await field(dlg, "Outside office hours").selectOption({ label: "Extension 102 (Eve Moneypenny)" });
    await assertAccessible(ten, "Add inbound rule");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    const r = row(ten, "Main line");
    await r.waitFor();
    assert.match(await r.innerText(), /18800606\s+Carrier A\s+Extension 101 \(James Bond\)\s+Extension 102/);
    const rules = await boss.ok("GET", "/api/inbound_rules");
    assert.equal(rules.count, 1);
    assert.equal(rules.items[0].provider_id, carrierId);
    assert.deepEqual(rules.items[0].destination, { action: "number", number: "101" });
    assert.deepEqual(rules.items[0].outside_hours_destination, { action: "number", number: "102" });

    await byRole(ten, "button", "Add").click();
    dlg = dialog(ten, "Add inbound rule");
    await field(dlg, "Name").fill("Again");
    await field(dlg, "SIP trunk").selectOption({ label: "Own B" });
    await field(dlg, "DID").fill("18800606");
    await byRole(dlg, "button", "Save").click();
    const err = ten.locator("#ir-did-error");
    await err.waitFor();
    assert.match(await err.innerText(), /18800606 is \(partly\) taken by another inbound rule/);
    assert.equal(await field(dlg, "DID").getAttribute("aria-invalid"), "true");
    await byRole(dlg, "button", "Cancel").click();
    assert.equal((await boss.ok("GET", "/api/inbound_rules")).count, 1);

    const csv = await exported(ten, ten);
    assert.equal(csv.name, "inbound_rules.csv");
    assert.match(csv.text, /Main line,\d+,18800606,/);
  });

  test("Outbound Rules: the notation explained, trunks in order (moved), then edited; Export CSV", async () => {
    await byRole(ten, "link", "Outbound Rules").click();
    await byRole(ten, "heading", "Outbound Rules").waitFor();
    await byRole(ten, "button", "Add").click();
    const dlg = dialog(ten, "Add outbound rule");
    const hint = await ten.locator("#or-pattern-hint").innerText();
    for (const s of ["X any digit", "Z 1–9", "N 2–9", "[1-5]", ". one or more", "! zero or more"]) assert.ok(hint.includes(s), `the hint explains ${s}`);
    await field(dlg, "Name").fill("International");
    await field(dlg, "Pattern").fill("9NXXXXXX");
    await field(dlg, "Strip digits").fill("1");
    await field(dlg, "Prepend").fill("020");
    await byRole(dlg, "button", "Save").click();
    const err = ten.locator("#or-add-provider-error");
    await err.waitFor();
    assert.match(await err.innerText(), /^At least 1 item/);
    await field(dlg, "SIP trunk to add").selectOption({ label: "Carrier A (system)" });
    await byRole(dlg, "button", "Add to the list").click();
    await field(dlg, "SIP trunk to add").selectOption({ label: "Own B" });
    await byRole(dlg, "button", "Add to the list").click();
    await byRole(dlg, "button", "Move Own B up").click();
    assert.deepEqual(await dlg.locator("ol.ordered li span").allInnerTexts(), ["Own B", "Carrier A"]);
    await assertAccessible(ten, "Add outbound rule");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    let got = (await boss.ok("GET", "/api/outbound_rules")).items[0];
    assert.equal(got.pattern, "9NXXXXXX");
    assert.equal(got.strip_digits, 1);
    assert.equal(got.prepend, "020");
    assert.deepEqual(got.provider_ids, [ownId, carrierId]);
    assert.equal(got.priority, 100);
    await waitFor("the row", async () => /9NXXXXXX\s+1\s+020\s+Own B → Carrier A\s+100/.test(await row(ten, "International").innerText()));

    await byRole(row(ten, "International"), "button", "Edit").click();
    const ed = dialog(ten, "Edit outbound rule International");
    await field(ed, "Priority").fill("50");
    await byRole(ed, "button", "Move Carrier A up").click();
    await byRole(ed, "button", "Save").click();
    await ed.waitFor({ state: "detached" });
    got = (await boss.ok("GET", "/api/outbound_rules")).items[0];
    assert.equal(got.priority, 50);
    assert.deepEqual(got.provider_ids, [carrierId, ownId]);
    await waitFor("the edited row", async () => /Carrier A → Own B\s+50/.test(await row(ten, "International").innerText()));

    const csv = await exported(ten, ten);
    assert.equal(csv.name, "outbound_rules.csv");
    assert.ok(csv.text.includes(`International,9NXXXXXX,1,020,${carrierId};${ownId},50\r\n`), csv.text);
  });

  test("Call Restrictions: a disallowed code and a blacklisted number (exported, edited, deleted), the outbound limits (axe-core)", async () => {
    await byRole(ten, "link", "Call Restrictions").click();
    await byRole(ten, "heading", "Call Restrictions").waitFor();

    const dis = ten.getByRole("region", { name: "Disallowed codes" });
    await byRole(dis, "button", "Add").click();
    let dlg = dialog(ten, "Add disallowed code");
    await field(dlg, "Code").fill("1900");
    await field(dlg, "Note").fill("Premium rate");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    await row(dis, "Premium rate").waitFor();

    const bl = ten.getByRole("region", { name: "Blacklisted numbers" });
    await byRole(bl, "button", "Add").click();
    dlg = dialog(ten, "Add blacklisted number");
    await field(dlg, "Number").fill("+44 20");
    await byRole(dlg, "button", "Save").click();
    const err = ten.locator("#bl-key-error");
    await err.waitFor();
    assert.equal(await field(dlg, "Number").getAttribute("aria-invalid"), "true");
    await field(dlg, "Number").fill("+442079460000");
    await field(dlg, "Note").fill("Nuisance");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    await row(bl, "+442079460000").waitFor();
    await assertAccessible(ten, "Call Restrictions");

    let csv = await exported(ten, dis);
    assert.equal(csv.name, "disallowed_codes.csv");
    assert.match(csv.text, /,1900,Premium rate\r\n/);
    csv = await exported(ten, bl);
    assert.equal(csv.name, "blacklisted_numbers.csv");
    assert.match(csv.text, /,\+442079460000,Nuisance\r\n/);

    await byRole(row(bl, "+442079460000"), "button", "Edit").click();
    dlg = dialog(ten, "Edit blacklisted number +442079460000");
    await field(dlg, "Note").fill("Known fraud");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    await row(bl, "Known fraud").waitFor();
    assert.equal((await boss.ok("GET", "/api/blacklisted_numbers")).items[0].name, "Known fraud");

    await byRole(row(dis, "1900"), "button", "Delete").click();
    const conf = dialog(ten, "Delete disallowed code");
    await byRole(conf, "button", "Delete").click();
    await conf.waitFor({ state: "detached" });
    await dis.getByText("None yet.").waitFor();
    assert.equal((await boss.ok("GET", "/api/disallowed_codes")).count, 0);

    const lim = ten.getByRole("region", { name: "Outbound call limits" });
    const perHour = field(lim, "Outbound calls of the tenant per hour");
    assert.equal(await perHour.inputValue(), "60");
    await perHour.fill("x");
    await byRole(lim, "button", "Save").click();
    await ten.locator("#lim-max_calls_per_hour-error").waitFor();
    await perHour.fill("30");
    await byRole(lim, "button", "Save").click();
    await lim.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const l = await boss.ok("GET", "/api/tenant/outbound_limits");
    assert.equal(l.max_calls_per_hour, 30);
    assert.equal(l.max_concurrent_calls, 10);
    assert.deepEqual(ten.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

describe("system admin: a trunk in use", () => {
  test("Delete is refused with the API's 409 message while a rule uses it", async () => {
    await sys.reload();
    const r = row(sys, "Carrier A");
    await byRole(r, "button", "Delete").click();
    const conf = dialog(sys, "Delete SIP trunk");
    await byRole(conf, "button", "Delete").click();
    const a = conf.getByRole("alert");
    await a.waitFor();
    // the API's own words (a refused delete changes nothing)
    const r409 = await admin.request("POST", `/api/providers/${carrierId}/destroy`);
    assert.equal(r409.status, 409);
    assert.match(r409.body.error.message, /used by/);
    assert.ok((await a.innerText()).toLowerCase().includes(r409.body.error.message.toLowerCase()), await a.innerText());
    await byRole(conf, "button", "Cancel").click();
    assert.equal((await admin.ok("GET", "/api/providers")).count, 1);
    assert.deepEqual(sys.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});
