// What the portal's browser tests stand on: a real pbxd (plain HTTP on
// 127.0.0.1, a fresh data dir), a JSON client of its REST API to check what the
// pages did, headless Chromium driven by playwright-core, axe-core, and the least
// SIP phone (REGISTER with MD5 digest over UDP) for the Status column.
//
// playwright-core and axe-core come from web/node_modules (web/package.json's
// devDependencies, installed by `make build`); the browser is Debian's
// /usr/bin/chromium (tools/install-deps.sh), never a downloaded one.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(join(ROOT, "web", "package.json"));
export const { chromium } = require("playwright-core");
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const ADMIN_PASSWORD = "Admin-pass-1";
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export function pbxdBin() {
  const b = process.env.PBXD_BIN || join(ROOT, "build", "pbxd");
  return resolve(ROOT, b);
}

function freePort(type = "tcp") {
  return new Promise((ok, fail) => {
    if (type === "udp") {
      const s = dgram.createSocket("udp4");
      s.on("error", fail);
      s.bind(0, "127.0.0.1", () => {
        const p = s.address().port;
        s.close(() => ok(p));
      });
      return;
    }
    const srv = net.createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const p = srv.address().port;
      srv.close(() => ok(p));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One pbxd process; its output goes to DIR/pbxd.log.
export class Pbxd {
  constructor(extra = []) {
    this.extra = extra;
    this.dir = mkdtempSync(join(tmpdir(), "pbxd-web-"));
  }

  async start() {
    this.httpPort = await freePort();
    this.sipPort = await freePort("udp");
    this.base = `http://127.0.0.1:${this.httpPort}`;
    const log = openSync(join(this.dir, "pbxd.log"), "a");
    this.argv = [
      `--data-dir=${join(this.dir, "data")}`, `--admin-password=${ADMIN_PASSWORD}`,
      "--http-address=127.0.0.1", `--http-port=${this.httpPort}`, "--http-tls=off",
      "--sip-address=127.0.0.1", `--sip-udp-port=${this.sipPort}`, `--sip-tcp-port=${this.sipPort}`,
      "--sip-source-rate=0", "--log-level=debug", ...this.extra,
    ];
    this.proc = spawn(pbxdBin(), this.argv, { stdio: ["ignore", log, log] });
    this.exited = new Promise((r) => this.proc.on("exit", (code, sig) => r({ code, sig })));
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`pbxd exited while starting:\n${this.log()}`);
      try {
        const r = await fetch(this.base + "/api/info");
        if (r.ok) return this;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`pbxd did not answer within 15 s:\n${this.log()}`);
  }

  log() {
    try {
      return readFileSync(join(this.dir, "pbxd.log"), "utf8").split("\n").slice(-40).join("\n");
    } catch {
      return "";
    }
  }

  fullLog() {
    try {
      return readFileSync(join(this.dir, "pbxd.log"), "utf8");
    } catch {
      return "";
    }
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill("SIGTERM");
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 10000);
      const r = await this.exited;
      clearTimeout(t);
      this.status = r;
    }
    const sanitizer = /ERROR: AddressSanitizer|runtime error:|LeakSanitizer/.test(this.fullLog());
    if (!process.env.KEEP_PBXD_DIR) rmSync(this.dir, { recursive: true, force: true });
    return { ...this.status, sanitizer };
  }

  // A REST client, signed in when username is given (domain: a tenant's user).
  async client(username, password = ADMIN_PASSWORD, domain) {
    const c = new Api(this.base);
    if (username) await c.signIn(username, password, domain);
    return c;
  }

  // Registers ext@domain once over UDP with MD5 digest; the final status.
  register(ext, password, domain) {
    return sipRegister(this.sipPort, ext, password, domain);
  }
}

export class Api {
  constructor(base, token = null) {
    this.base = base;
    this.token = token;
  }

  async request(method, path, body) {
    const headers = {};
    if (this.token) headers.Authorization = "Bearer " + this.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: r.status, body: json, headers: r.headers };
  }

  async ok(method, path, body) {
    const r = await this.request(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async signIn(username, password, domain) {
    const body = { username, password };
    if (domain) body.domain = domain;
    const t = await this.ok("POST", "/api/auth/sign_in", body);
    this.token = t.token;
    return t;
  }
}

// --- the browser -------------------------------------------------------------------

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a network namespace: no sandbox, and none of Chromium's own
    // connections to the outside (refused here anyway).
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--disable-features=Translate,MediaRouter"],
  });
}

// axe-core on the page as it is now: the violations of impact serious or critical.
export async function seriousViolations(page) {
  // evaluate() runs through the DevTools protocol: the page's CSP, which
  // forbids inline scripts, does not apply to it.
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

// --- the least SIP phone -------------------------------------------------------------

const md5 = (s) => createHash("md5").update(s).digest("hex");

function challenge(text) {
  const line = text.split("\r\n").find((l) => /^WWW-Authenticate:\s*Digest/i.test(l) && !/algorithm=(?!MD5\b)/i.test(l));
  if (!line) return null;
  const out = {};
  for (const m of line.replace(/^WWW-Authenticate:\s*Digest\s+/i, "").matchAll(/([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)/g)) {
    out[m[1].toLowerCase()] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
  }
  return out;
}

export function sipRegister(sipPort, ext, password, domain, expires = 3600) {
  return new Promise((ok, fail) => {
    const sock = dgram.createSocket("udp4");
    const callId = randomBytes(8).toString("hex") + "@127.0.0.1";
    const tag = randomBytes(4).toString("hex");
    let cseq = 0;
    let local = 0;
    const timer = setTimeout(() => {
      sock.close();
      fail(new Error("REGISTER: no answer"));
    }, 5000);
    const send = (auth) => {
      cseq++;
      const msg =
        `REGISTER sip:${domain} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP 127.0.0.1:${local};rport;branch=z9hG4bK${randomBytes(8).toString("hex")}\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:${ext}@${domain}>;tag=${tag}\r\nTo: <sip:${ext}@${domain}>\r\n` +
        `Call-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\nContact: <sip:${ext}@127.0.0.1:${local}>\r\n` +
        `Expires: ${expires}\r\nUser-Agent: pbxd-web-tests/1\r\n` +
        (auth ? `Authorization: ${auth}\r\n` : "") +
        "Content-Length: 0\r\n\r\n";
      sock.send(msg, sipPort, "127.0.0.1");
    };
    sock.on("message", (buf) => {
      const text = buf.toString();
      const code = Number(text.split(" ", 3)[1]);
      const m = /^CSeq:\s*(\d+)/im.exec(text);
      if (code < 200 || !m || Number(m[1]) !== cseq) return;
      if (code === 401 && cseq === 1) {
        const ch = challenge(text);
        if (!ch) return finish(code);
        const uri = `sip:${domain}`;
        const cnonce = randomBytes(8).toString("hex");
        const ha1 = md5(`${ext}:${ch.realm}:${password}`);
        const resp = md5(`${ha1}:${ch.nonce}:00000001:${cnonce}:auth:${md5(`REGISTER:${uri}`)}`);
        const opaque = ch.opaque ? `, opaque="${ch.opaque}"` : "";
        return send(`Digest username="${ext}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${uri}", response="${resp}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"${opaque}`);
      }
      finish(code);
    });
    const finish = (code) => {
      clearTimeout(timer);
      sock.close();
      ok(code);
    };
    sock.bind(0, "127.0.0.1", () => {
      local = sock.address().port;
      send(null);
    });
  });
}

// A raw HTTP/1.1 request whose path is sent exactly as given (fetch would
// normalise "..": a browser never sends it, an attacker does).
export function rawGet(port, path) {
  return new Promise((ok, fail) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let out = "";
    s.setEncoding("latin1");
    s.on("data", (d) => (out += d));
    s.on("end", () => {
      const [head, ...rest] = out.split("\r\n\r\n");
      ok({ status: Number(head.split(" ")[1]), head, body: rest.join("\r\n\r\n") });
    });
    s.on("error", fail);
    s.setTimeout(5000, () => {
      s.destroy();
      fail(new Error("raw GET timed out"));
    });
  });
}
