// The system admin's System page (issue 16): what GET /api/system/info says
// (version, uptime, the network: public and private address, web domain, an
// empty one as "Not set" with the option that sets it; SIP transports and ports,
// HTTP, RTP, counts), and the
// Certificate section: the certificate in use, an upload refused beside the
// field the API names, Cancel at the confirmation changing nothing, and a new
// certificate and key installed and presented by the next TLS handshake.
// pbxd runs with HTTPS here (its generated self-signed certificate), with a
// public address and no web domain.
//
// Run through tests/web/run.mjs (inside a private network namespace).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { ADMIN_PASSWORD, assertAccessible, assertFits, byRole, field, launchBrowser, Pbxd, signInTenant, tenantWithUsers, waitFor } from "./harness.mjs";

// pbxd's certificate is self-signed: this process's fetch accepts it (each test
// file runs in a process of its own).
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

let pbxd;
let browser;
let admin;
let certDir;
const domain = `sys${Date.now().toString(36)}.example.com`;
const PUBLIC = "203.0.113.7"; // TEST-NET-3: never reached

// A certificate and key made with openssl: EC P-256, for name.
function makeCert(name) {
  const key = join(certDir, `${name}.key`);
  const crt = join(certDir, `${name}.crt`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
    "-days", "30", "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`], { stdio: "ignore" });
  return { key: readFileSync(key, "utf8"), crt: readFileSync(crt, "utf8"), keyPath: key, crtPath: crt };
}

// The certificate the next TLS handshake with pbxd's HTTPS port presents.
function presented(port) {
  return new Promise((ok, fail) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate();
      s.end();
      ok(c);
    });
    s.on("error", fail);
  });
}

before(async () => {
  certDir = mkdtempSync(join(tmpdir(), "pbxd-cert-"));
  pbxd = await new Pbxd(["--http-tls=on", `--public-address=${PUBLIC}`]).start();
  browser = await launchBrowser();
  admin = await pbxd.client("admin");
});

after(async () => {
  await browser?.close();
  const st = await pbxd?.stop();
  rmSync(certDir, { recursive: true, force: true });
  if (st) assert.equal(st.sanitizer, false, "pbxd's log has a sanitizer report");
});

async function adminPage(viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ viewport, ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  await page.goto(pbxd.base + "/");
  await byRole(page, "radio", "System administrator").check();
  await field(page, "Username").fill("admin");
  await field(page, "Password").fill(ADMIN_PASSWORD);
  await byRole(page, "button", "Sign in").click();
  await byRole(page, "heading", "Tenants").waitFor();
  return page;
}

// The value shown beside a label of the page's facts.
const fact = (scope, label) => scope.locator(".facts > div").filter({ has: scope.page().locator("dt", { hasText: new RegExp(`^${label}$`) }) }).locator("dd");

describe("System", () => {
  let page;
  before(async () => {
    page = await adminPage();
  });
  after(async () => {
    await page?.context().close();
  });

  test("the system info: version, network, transports and ports, counts as the API says (axe-core)", async () => {
    await byRole(page, "link", "System").click();
    await byRole(page, "heading", "System").waitFor();
    await byRole(page, "heading", "Transports").waitFor();
    const info = await admin.ok("GET", "/api/system/info");
    const transports = page.getByRole("region", { name: "Transports" });
    assert.equal(await fact(transports, "UDP port").innerText(), String(pbxd.sipPort));
    assert.equal(await fact(transports, "TCP port").innerText(), String(pbxd.sipPort));
    assert.equal(await fact(transports, "TLS port").innerText(), "Off");
    assert.equal(await fact(transports, "WSS port").innerText(), "Off");
    assert.equal(await fact(transports, "SIP address").innerText(), "127.0.0.1");
    // the network the seeds show: given, derived (the SIP address), and not set
    assert.deepEqual(info.network, { public_address: PUBLIC, private_address: "127.0.0.1", web_domain: "" });
    const network = page.getByRole("region", { name: "Network" });
    assert.equal(await fact(network, "Public address").innerText(), PUBLIC);
    assert.equal(await fact(network, "Private address").innerText(), "127.0.0.1");
    const wd = fact(network, "Web domain");
    assert.match(await wd.innerText(), /^Not set\b/);
    assert.match(await wd.locator(".hint").innerText(), /--web-domain/);
    const pbx = page.getByRole("region", { name: "PBX" });
    assert.equal(await fact(pbx, "Version").innerText(), info.version);
    assert.match(await fact(pbx, "Uptime").innerText(), /^\d+ (s|min)/);
    assert.equal(await fact(pbx, "Tenants").innerText(), String(info.counts.tenants));
    const web = page.getByRole("region", { name: "Web portal and REST API" });
    assert.equal(await fact(web, "Web port").innerText(), String(pbxd.httpPort));
    assert.equal(await fact(web, "HTTPS").innerText(), "On");
    await assertAccessible(page, "System");

    // the counts follow the PBX: a tenant with its admin and two users, one phone registered
    await tenantWithUsers(pbxd, domain);
    assert.equal(await pbxd.register("101", "sip-pw-101", domain), 200);
    await page.reload();
    await waitFor("the counts", async () => (await fact(page.getByRole("region", { name: "PBX" }), "Tenants").innerText()) === String(info.counts.tenants + 1));
    const now = await admin.ok("GET", "/api/system/info");
    assert.equal(now.counts.tenants, info.counts.tenants + 1);
    assert.equal(now.counts.registered_devices, info.counts.registered_devices + 1);
    assert.equal(now.counts.extensions, info.counts.extensions + 3);
    assert.equal(await fact(page.getByRole("region", { name: "PBX" }), "Extensions").innerText(), String(now.counts.extensions));
    assert.equal(await fact(page.getByRole("region", { name: "PBX" }), "Registered devices").innerText(), String(now.counts.registered_devices));
  });

  test("the certificate in use is the one pbxd presents", async () => {
    const cert = page.getByRole("region", { name: "Certificate" });
    await fact(cert, "Subject").waitFor();
    const api = await admin.ok("GET", "/api/system/certificate");
    assert.equal(await fact(cert, "Subject").innerText(), api.subject);
    assert.equal(await fact(cert, "SHA-256 fingerprint").innerText(), api.fingerprint_sha256);
    assert.equal(await fact(cert, "Self-signed").innerText(), api.self_signed ? "Yes" : "No");
    const peer = await presented(pbxd.httpPort);
    assert.equal(peer.fingerprint256, api.fingerprint_sha256);
  });

  test("upload: a key of another certificate is refused beside Private key; Cancel changes nothing; then installed", async () => {
    const before = await admin.ok("GET", "/api/system/certificate");
    const a = makeCert("pbx.example.com");
    const b = makeCert("other.example.com");
    const cert = page.getByRole("region", { name: "Certificate" });
    await field(cert, "Certificate (PEM)").fill(a.crt);
    await field(cert, "Private key (PEM)").fill(b.key);
    await byRole(cert, "button", "Upload").click();
    let dlg = page.getByRole("dialog", { name: "Replace the certificate" });
    await dlg.waitFor();
    await assertAccessible(page, "Replace the certificate");
    await byRole(dlg, "button", "Replace").click();
    await dlg.waitFor({ state: "detached" });
    const keyField = field(cert, "Private key (PEM)");
    const err = page.locator("#cert-key-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("role"), "alert");
    assert.match(await err.innerText(), /key|match/i);
    assert.equal(await keyField.getAttribute("aria-invalid"), "true");
    assert.equal(await field(cert, "Certificate (PEM)").inputValue(), a.crt, "what was given is kept");
    assert.equal((await admin.ok("GET", "/api/system/certificate")).fingerprint_sha256, before.fingerprint_sha256, "nothing installed");

    // garbage as the certificate: named beside Certificate
    await field(cert, "Certificate (PEM)").fill("not a certificate");
    await field(cert, "Private key (PEM)").fill(a.key);
    await byRole(cert, "button", "Upload").click();
    await byRole(page.getByRole("dialog", { name: "Replace the certificate" }), "button", "Replace").click();
    await page.locator("#cert-pem-error").waitFor();
    assert.equal(await field(cert, "Certificate (PEM)").getAttribute("aria-invalid"), "true");

    // the right pair, from the file inputs; Cancel first
    await field(cert, "Certificate file").setInputFiles(a.crtPath);
    await field(cert, "Private key file").setInputFiles(a.keyPath);
    await waitFor("the files read", async () => (await field(cert, "Certificate (PEM)").inputValue()) === a.crt);
    assert.equal(await field(cert, "Private key (PEM)").inputValue(), a.key);
    await byRole(cert, "button", "Upload").click();
    dlg = page.getByRole("dialog", { name: "Replace the certificate" });
    await byRole(dlg, "button", "Cancel").click();
    await dlg.waitFor({ state: "detached" });
    assert.equal((await admin.ok("GET", "/api/system/certificate")).fingerprint_sha256, before.fingerprint_sha256, "Cancel installs nothing");
    await byRole(cert, "button", "Upload").click();
    await byRole(page.getByRole("dialog", { name: "Replace the certificate" }), "button", "Replace").click();
    await cert.getByRole("status").filter({ hasText: "The new certificate is in use" }).waitFor();
    const now = await admin.ok("GET", "/api/system/certificate");
    assert.notEqual(now.fingerprint_sha256, before.fingerprint_sha256);
    assert.deepEqual(now.dns_names, ["pbx.example.com"]);
    assert.equal(await fact(cert, "DNS names").innerText(), "pbx.example.com");
    assert.equal(await fact(cert, "SHA-256 fingerprint").innerText(), now.fingerprint_sha256);
    const peer = await presented(pbxd.httpPort);
    assert.equal(peer.subject.CN, "pbx.example.com", "the next handshake presents the new certificate");
    assert.equal(await field(cert, "Certificate (PEM)").inputValue(), "");
    assert.deepEqual(page.errors, []);
  });

  test("System fits a 390-px-wide screen (axe-core)", async () => {
    const small = await adminPage({ width: 390, height: 844 });
    try {
      await small.goto(pbxd.base + "/system");
      await byRole(small, "heading", "Transports").waitFor();
      await fact(small.getByRole("region", { name: "Certificate" }), "Subject").waitFor();
      await assertFits(small, "System");
      await assertAccessible(small, "System at 390 px");
    } finally {
      await small.context().close();
    }
  });

  test("a tenant admin is refused the System page", async () => {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const p = await ctx.newPage();
    try {
      await p.goto(pbxd.base + "/");
      await signInTenant(p, domain, "boss", "Boss-pass-1");
      await byRole(p, "heading", "Users").waitFor();
      assert.equal(await byRole(p, "link", "System").count(), 0, "no System in a tenant admin's menu");
      await p.goto(pbxd.base + "/system");
      const a = p.getByRole("alert").first();
      await a.waitFor();
      assert.match(await a.innerText(), /not allowed to open this page/);
    } finally {
      await ctx.close();
    }
  });
});
