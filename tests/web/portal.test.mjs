// The web portal end to end (issue 16): a real pbxd serves web/dist, headless
// Chromium signs in and clicks through the pages as a person would, finding
// every control by its role and visible name, and each change is checked again
// through the REST API. axe-core checks the main pages.
//
// Run through tests/web/run.mjs (inside a private network namespace):
//   tools/netns-run node tests/web/run.mjs
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN_PASSWORD, launchBrowser, Pbxd, rawGet, seriousViolations } from "./harness.mjs";

const TOKEN_LIFETIME = 20; // s: short, so that the page's own refresh is seen within the run

let pbxd;
let browser;
let admin; // the REST API as the system admin

const uniq = (p) => `${p}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

async function waitFor(what, fn, timeout = 10000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

async function newPage(viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && page.errors.push(m.text()));
  await page.goto(pbxd.base + "/");
  return page;
}

const byRole = (page, role, name) => page.getByRole(role, { name, exact: true });
const field = (scope, label) => scope.getByLabel(label, { exact: true });

async function signInSystem(page, password = ADMIN_PASSWORD) {
  await byRole(page, "radio", "System administrator").check();
  await field(page, "Username").fill("admin");
  await field(page, "Password").fill(password);
  await byRole(page, "button", "Sign in").click();
}

async function signInTenant(page, domain, username, password) {
  await field(page, "SIP domain").fill(domain);
  await byRole(page, "button", "Next").click();
  await field(page, "Username").fill(username);
  await field(page, "Password").fill(password);
  await byRole(page, "button", "Sign in").click();
}

async function alertText(page) {
  const a = page.getByRole("alert").first();
  await a.waitFor({ state: "visible", timeout: 10000 });
  return a.innerText();
}

async function noSeriousViolations(page, what) {
  const v = await seriousViolations(page);
  assert.deepEqual(v, [], `${what}: axe-core found serious or critical violations:\n${JSON.stringify(v, null, 1)}`);
}

function row(page, text) {
  return page.getByRole("row").filter({ hasText: text });
}

const session = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem("pbxd.session") || "null"));

before(async () => {
  pbxd = await new Pbxd([`--token-lifetime=${TOKEN_LIFETIME}`]).start();
  browser = await launchBrowser();
  admin = await pbxd.client("admin");
});

after(async () => {
  await browser?.close();
  const st = await pbxd?.stop();
  if (st) assert.equal(st.sanitizer, false, "pbxd's log has a sanitizer report");
});

describe("pbxd serves the portal", () => {
  test("index.html: HTML, no-cache, a strict CSP, nosniff", async () => {
    const r = await fetch(pbxd.base + "/");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /^text\/html/);
    assert.equal(r.headers.get("cache-control"), "no-cache");
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    const csp = r.headers.get("content-security-policy");
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.match(csp, /frame-ancestors 'none'/);
    const html = await r.text();
    assert.doesNotMatch(html, /<script>|<script(?![^>]*\bsrc=)[^>]*>/, "no inline script in index.html");
    assert.doesNotMatch(html, /https?:\/\//, "nothing from another origin (no CDN)");
    // revalidation: the ETag answers 304
    const again = await fetch(pbxd.base + "/", { headers: { "If-None-Match": r.headers.get("etag") } });
    assert.equal(again.status, 304);
  });

  test("hashed assets: their type, cached for a year as immutable", async () => {
    const html = await (await fetch(pbxd.base + "/")).text();
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const css = /href="(\/assets\/[^"]+\.css)"/.exec(html)?.[1];
    assert.ok(js && css, "index.html names its script and style sheet");
    assert.match(js, /-[A-Z0-9]{8}\.js$/, "the script's name carries a hash");
    for (const [path, type] of [[js, /^text\/javascript/], [css, /^text\/css/]]) {
      const r = await fetch(pbxd.base + path);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get("content-type"), type);
      assert.equal(r.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    }
  });

  test("the portal's own paths get index.html; a missing asset 404; /api stays the API", async () => {
    for (const p of ["/tenants", "/call-manager/users", "/me/"]) {
      const r = await fetch(pbxd.base + p);
      assert.equal(r.status, 200, p);
      assert.match(r.headers.get("content-type"), /^text\/html/, p);
    }
    const miss = await fetch(pbxd.base + "/assets/gone-ABCDEFGH.js");
    assert.equal(miss.status, 404);
    assert.equal((await miss.json()).error.code, "not_found");
    const api = await fetch(pbxd.base + "/api/nope");
    assert.equal(api.status, 404);
    assert.match((await api.json()).error.message, /no route/);
    const post = await fetch(pbxd.base + "/", { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
  });

  test("nothing outside web/dist is served (.., encoded .., hidden files)", async () => {
    for (const p of ["/../../../../etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
      "/assets/../../src/api/static.c", "/assets/%2e%2e/index.html", "/.stamp", "//etc/passwd",
      "/assets/..\\..\\etc\\passwd", "/assets/./x.js"]) {
      const r = await rawGet(pbxd.httpPort, p);
      assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
      assert.doesNotMatch(r.body, /root:|#include/, p);
    }
  });
});

describe("sign-in", () => {
  test("the sign-in page passes axe-core and fits a 390-px-wide screen", async () => {
    const page = await newPage({ width: 390, height: 844 });
    await field(page, "SIP domain").waitFor();
    await noSeriousViolations(page, "sign-in (SIP domain)");
    const w = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(w[0] <= w[1], `horizontal scrolling at 390 px: ${w}`);
    await byRole(page, "radio", "System administrator").check();
    await field(page, "Password").waitFor();
    await noSeriousViolations(page, "sign-in (system administrator)");
    const w2 = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(w2[0] <= w2[1], `horizontal scrolling at 390 px: ${w2}`);
    await page.context().close();
  });

  test("a wrong password says so, and the page keeps no password", async () => {
    const page = await newPage();
    await signInSystem(page, "Wrong-pass-9");
    assert.match(await alertText(page), /wrong username or password/i);
    assert.equal(await field(page, "Password").inputValue(), "");
    assert.equal(await session(page), null);
    await page.context().close();
  });

  test("an unknown SIP domain says so", async () => {
    const page = await newPage();
    await field(page, "SIP domain").fill("nobody.example.net");
    await byRole(page, "button", "Next").click();
    assert.match(await alertText(page), /no tenant has the SIP domain nobody\.example\.net/i);
    await page.context().close();
  });
});

describe("system admin, tenant admin and user", () => {
  let page; // the system admin's
  let userPage;
  const domain = uniq("web") + ".example.com";
  const tenantName = "Web Test " + domain.split(".")[0];
  let userId;

  before(async () => {
    page = await newPage();
  });
  after(async () => {
    await page?.context().close();
    await userPage?.context().close();
  });

  test("the system admin signs in and sees Tenants (axe-core)", async () => {
    await signInSystem(page);
    await byRole(page, "heading", "Tenants").waitFor();
    await byRole(page, "link", "Tenants").waitFor();
    await row(page, "pbx.local").waitFor();
    const s = await session(page);
    assert.ok(s && s.current.token, "a session is kept");
    assert.ok(!JSON.stringify(s).includes(ADMIN_PASSWORD), "the password is not kept");
    assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
    await noSeriousViolations(page, "Tenants");
    assert.deepEqual(page.errors, []);
  });

  test("Add creates a tenant with its administrator", async () => {
    await byRole(page, "button", "Add").click();
    const dlg = page.getByRole("dialog");
    await field(dlg, "Name").fill(tenantName);
    await field(dlg, "SIP domain").fill(domain);
    await field(dlg, "Username").fill("boss");
    await field(dlg, "Password").fill("Boss-pass-1");
    await field(dlg, "Email").fill("boss@" + domain);
    await noSeriousViolations(page, "Add tenant");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    await row(page, domain).waitFor();
    const list = await admin.ok("GET", `/api/tenants?search=${encodeURIComponent(domain)}`);
    assert.equal(list.count, 1);
    assert.equal(list.items[0].name, tenantName);
    await (await pbxd.client("boss", "Boss-pass-1", domain)).ok("GET", "/api/me");
  });

  test("an error from the API shows next to its field, and the form keeps what was typed", async () => {
    await byRole(page, "button", "Add").click();
    const dlg = page.getByRole("dialog");
    await field(dlg, "Name").fill("Duplicate");
    await field(dlg, "SIP domain").fill(domain); // taken
    await field(dlg, "Username").fill("boss2");
    await field(dlg, "Password").fill("Boss-pass-1");
    await byRole(dlg, "button", "Save").click();
    const err = dlg.getByRole("alert");
    await err.waitFor();
    assert.match(await err.innerText(), /taken|exists|in use/i);
    assert.equal(await field(dlg, "SIP domain").getAttribute("aria-invalid"), "true");
    assert.equal(await field(dlg, "Name").inputValue(), "Duplicate");
    await byRole(dlg, "button", "Cancel").click();
    await dlg.waitFor({ state: "detached" });
  });

  test("Edit changes a tenant; search and paging find tenants", async () => {
    await row(page, domain).getByRole("button", { name: "Edit", exact: true }).click();
    const dlg = page.getByRole("dialog");
    await field(dlg, "Maximum users").fill("50");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    const t = (await admin.ok("GET", `/api/tenants?search=${encodeURIComponent(domain)}`)).items[0];
    assert.equal((await admin.ok("GET", `/api/tenants/${t.id}`)).limits.max_users, 50);

    const prefix = uniq("pg");
    for (let i = 0; i < 21; i++) {
      await admin.ok("POST", "/api/tenants", {
        name: `${prefix} ${String(i).padStart(2, "0")}`, domain: `${prefix}-${i}.example.org`,
        admin: { username: "a", password: "Admin-pass-2" },
      });
    }
    await page.getByRole("searchbox", { name: "Search" }).fill(prefix);
    await waitFor("20 rows of the search", async () => (await row(page, prefix).count()) === 20);
    await byRole(page, "button", "Next page").click();
    await waitFor("the second page", async () => (await row(page, prefix).count()) === 1);
    await row(page, `${prefix} 20`).waitFor();
    await page.getByRole("searchbox", { name: "Search" }).fill(domain);
    await waitFor("the search for the domain", async () => (await row(page, domain).count()) === 1 && (await row(page, prefix).count()) === 0);
  });

  test("Manage acts as the tenant's administrator: Call Manager, Users (axe-core)", async () => {
    await row(page, domain).getByRole("button", { name: "Manage", exact: true }).click();
    await byRole(page, "heading", "Users").waitFor();
    await byRole(page, "link", "Call Manager").waitFor();
    await byRole(page, "link", "Extensions").waitFor();
    assert.match(await page.getByRole("status").first().innerText(), new RegExp(tenantName));
    await row(page, "boss").waitFor();
    const s = await session(page);
    const me = await new (await import("./harness.mjs")).Api(pbxd.base, s.current.token).ok("GET", "/api/me");
    assert.equal(me.role, "system_admin");
    assert.equal(me.tenant.domain, domain);
    await noSeriousViolations(page, "Users");
  });

  test("Add creates a user with an extension; the list shows its Status", async () => {
    await byRole(page, "button", "Add").click();
    const dlg = page.getByRole("dialog");
    await byRole(dlg, "tab", "User").waitFor();
    await field(dlg, "Username").fill("james.bond");
    await field(dlg, "Password").fill("Bond-pass-7");
    await field(dlg, "Email").fill("james@" + domain);
    await field(dlg, "Display name").fill("James Bond");
    await field(dlg, "Role").selectOption({ label: "User" });
    await byRole(dlg, "tab", "Extension").click();
    await field(dlg, "Extension number").fill("101");
    await field(dlg, "Extension password").fill("sip-Secret-1");
    await noSeriousViolations(page, "Add user");
    await byRole(dlg, "button", "Save").click();
    await dlg.waitFor({ state: "detached" });
    const r = row(page, "james.bond");
    await r.waitFor();
    assert.match(await r.innerText(), /101/);
    assert.match(await r.innerText(), /Not registered/);
    const headers = await page.getByRole("columnheader").allInnerTexts();
    assert.ok(headers.includes("Status"), `columns: ${headers}`);
    const boss = await pbxd.client("boss", "Boss-pass-1", domain);
    const users = await boss.ok("GET", "/api/users?search=james.bond");
    assert.equal(users.count, 1);
    assert.equal(users.items[0].extension_number, "101");
    assert.equal(users.items[0].display_name, "James Bond");
    assert.equal(users.items[0].role, "user");
    userId = users.items[0].id;
  });

  test("a taken extension number is refused next to its field, on its tab", async () => {
    await byRole(page, "button", "Add").click();
    const dlg = page.getByRole("dialog");
    await field(dlg, "Username").fill("moneypenny");
    await field(dlg, "Password").fill("Penny-pass-1");
    await field(dlg, "Email").fill("mp@" + domain);
    await byRole(dlg, "tab", "Extension").click();
    await field(dlg, "Extension number").fill("101");
    await field(dlg, "Extension password").fill("sip-Secret-2");
    await byRole(dlg, "tab", "User").click();
    await byRole(dlg, "button", "Save").click();
    const err = dlg.getByRole("alert");
    await err.waitFor();
    assert.match(await err.innerText(), /taken|exists|in use/i);
    assert.equal(await field(dlg, "Extension number").getAttribute("aria-invalid"), "true");
    assert.equal(await byRole(dlg, "tab", "Extension").getAttribute("aria-selected"), "true");
    await byRole(dlg, "tab", "User").click();
    assert.equal(await field(dlg, "Username").inputValue(), "moneypenny", "what was typed is kept");
    await byRole(dlg, "button", "Cancel").click();
  });

  test("a registered phone shows in the Status column", async () => {
    assert.equal(await pbxd.register("101", "sip-Secret-1", domain), 200);
    await waitFor("1 device registered", async () => /1 device registered/.test(await row(page, "james.bond").innerText()), 20000);
  });

  test("the user signs in with the SIP domain and switches Do not disturb on", async () => {
    userPage = await newPage();
    await signInTenant(userPage, domain, "james.bond", "Bond-pass-7");
    await byRole(userPage, "heading", "My portal").waitFor();
    const dnd = byRole(userPage, "switch", "Do not disturb");
    await dnd.waitFor();
    assert.equal(await dnd.getAttribute("aria-checked"), "false");
    assert.equal(await byRole(userPage, "link", "Call Manager").count(), 0, "no admin menu for a user");
    assert.ok(!JSON.stringify(await session(userPage)).includes("Bond-pass-7"), "the password is not kept");
    await noSeriousViolations(userPage, "My portal");
    await dnd.click();
    await waitFor("the switch on", async () => (await dnd.getAttribute("aria-checked")) === "true");
    const boss = await pbxd.client("boss", "Boss-pass-1", domain);
    await waitFor("dnd through the API", async () => (await boss.ok("GET", `/api/users/${userId}/extension`)).dnd === true);
    // the admin's list shows it
    await waitFor("DND in Status", async () => /DND/.test(await row(page, "james.bond").innerText()), 20000);
  });

  test("a user's session cannot open admin pages: the API refuses and the page says so", async () => {
    for (const path of ["/call-manager/users", "/tenants"]) {
      await userPage.goto(pbxd.base + path);
      assert.match(await alertText(userPage), /not allowed/i, path);
    }
    const s = await session(userPage);
    const asUser = new (await import("./harness.mjs")).Api(pbxd.base, s.current.token);
    assert.equal((await asUser.request("GET", "/api/users")).status, 403);
    assert.equal((await asUser.request("GET", "/api/tenants")).status, 403);
  });

  test("the session refreshes itself before the token expires", async () => {
    await userPage.goto(pbxd.base + "/me");
    await byRole(userPage, "switch", "Do not disturb").waitFor();
    const first = (await session(userPage)).current.token;
    await waitFor("a refreshed token", async () => (await session(userPage)).current.token !== first, (TOKEN_LIFETIME + 5) * 1000);
    await new Promise((r) => setTimeout(r, (TOKEN_LIFETIME / 4 + 2) * 1000)); // past the first token's end
    await byRole(userPage, "switch", "Do not disturb").click(); // off again, with the new token
    const boss = await pbxd.client("boss", "Boss-pass-1", domain);
    await waitFor("dnd off through the API", async () => (await boss.ok("GET", `/api/users/${userId}/extension`)).dnd === false);
    assert.equal(await byRole(userPage, "button", "Sign out").count(), 1, "still signed in");
  });

  test("Sign out ends the session: the token no longer works", async () => {
    const token = (await session(userPage)).current.token;
    await byRole(userPage, "button", "Sign out").click();
    await byRole(userPage, "button", "Next").waitFor();
    assert.equal(await session(userPage), null);
    const r = await new (await import("./harness.mjs")).Api(pbxd.base, token).request("GET", "/api/me");
    assert.equal(r.status, 401);
  });

  test("Call Statistics > CDR opens", async () => {
    await byRole(page, "link", "CDR").click();
    await byRole(page, "heading", "CDR").waitFor();
    await page.getByText("No calls yet.").waitFor();
  });

  test("Delete removes a user after confirmation", async () => {
    await byRole(page, "link", "Users").click();
    await row(page, "james.bond").getByRole("button", { name: "Delete", exact: true }).click();
    const dlg = page.getByRole("dialog");
    assert.match(await dlg.innerText(), /james\.bond/);
    await byRole(dlg, "button", "Cancel").click();
    await dlg.waitFor({ state: "detached" });
    await row(page, "james.bond").getByRole("button", { name: "Delete", exact: true }).click();
    await byRole(page.getByRole("dialog"), "button", "Delete").click();
    await waitFor("the row gone", async () => (await row(page, "james.bond").count()) === 0);
    const boss = await pbxd.client("boss", "Boss-pass-1", domain);
    assert.equal((await boss.request("GET", `/api/users/${userId}`)).status, 404);
  });

  test("Back to Tenants leaves the tenant", async () => {
    await byRole(page, "button", "Back to Tenants").click();
    await byRole(page, "heading", "Tenants").waitFor();
    assert.equal((await session(page)).stack.length, 0);
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });

  test("the Content-Security-Policy blocks an inline script", async () => {
    const ran = await page.evaluate(async () => {
      const blocked = new Promise((r) => document.addEventListener("securitypolicyviolation", () => r("blocked"), { once: true }));
      const s = document.createElement("script");
      s.textContent = "window.__inline = true";
      document.body.appendChild(s);
      const v = await Promise.race([blocked, new Promise((r) => setTimeout(() => r("timeout"), 2000))]);
      return { ran: window.__inline === true, v };
    });
    assert.deepEqual(ran, { ran: false, v: "blocked" });
  });
});
