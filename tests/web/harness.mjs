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
    const log = openSync(join(this.dir, "pbxd.log"), "a");
    this.argv = [
      `--data-dir=${join(this.dir, "data")}`, `--admin-password=${ADMIN_PASSWORD}`,
      "--http-address=127.0.0.1", `--http-port=${this.httpPort}`, "--http-tls=off",
      "--sip-address=127.0.0.1", `--sip-udp-port=${this.sipPort}`, `--sip-tcp-port=${this.sipPort}`, "--sip-tls-port=0", "--sip-wss-port=0",
      "--sip-source-rate=0", "--log-level=debug",
    ];
    // What a test gives replaces the default of the same option.
    const given = new Set(this.extra.map((a) => a.split("=")[0]));
    this.argv = [...this.argv.filter((a) => !given.has(a.split("=")[0])), ...this.extra];
    // HTTPS when a test asks for it (--http-tls=on: pbxd's self-signed certificate,
    // which the test's own fetch and browser context must then accept)
    this.tls = this.argv.includes("--http-tls=on");
    this.base = `${this.tls ? "https" : "http"}://127.0.0.1:${this.httpPort}`;
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

// --- the least SIP phone that calls ---------------------------------------------------
//
// One UDP socket per extension: REGISTER with digest, an outgoing INVITE that
// answers pbxd's 401/407, and what a phone does by itself: 100 Trying and 180
// Ringing to an incoming INVITE (200 with SDP when it answers), the ACK of every
// final answer to its INVITE, 200 to BYE, 200 and 487 to CANCEL. Enough for
// calls that ring, are answered and are hung up from the portal.

function sdp(port) {
  const id = Math.floor(Math.random() * 1e9);
  return ["v=0", `o=web ${id} ${id} IN IP4 127.0.0.1`, "s=web", "c=IN IP4 127.0.0.1", "t=0 0",
    `m=audio ${port} RTP/AVP 0 8`, "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=sendrecv", ""].join("\r\n");
}

// RFC 3261 7.3.3's compact header names (pbxd sends them)
const COMPACT = { v: "via", f: "from", t: "to", i: "call-id", m: "contact", l: "content-length", c: "content-type", k: "supported", s: "subject", e: "content-encoding", o: "event", r: "refer-to", u: "allow-events", x: "session-expires" };

function parseSip(text) {
  const [head, ...rest] = text.split("\r\n\r\n");
  const lines = head.split("\r\n");
  const start = lines[0];
  const headers = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i <= 0) continue;
    const name = l.slice(0, i).trim().toLowerCase();
    headers.push([COMPACT[name] ?? name, l.slice(i + 1).trim()]);
  }
  const get = (n) => headers.find(([k]) => k === n)?.[1];
  const all = (n) => headers.filter(([k]) => k === n).map(([, v]) => v);
  const isResp = start.startsWith("SIP/2.0 ");
  return {
    start, headers, get, all, body: rest.join("\r\n\r\n"),
    code: isResp ? Number(start.split(" ")[1]) : null,
    method: isResp ? null : start.split(" ")[0],
    cseq: get("cseq") || "",
  };
}

const rnd = (n = 8) => randomBytes(n).toString("hex");

export class Phone {
  constructor(sipPort, ext, password, domain) {
    Object.assign(this, { sipPort, ext, password, domain });
    this.sock = dgram.createSocket("udp4");
    this.local = 0;
    this.incoming = []; // INVITEs that reached this phone: {msg, toTag, state}
    this.calls = []; // calls this phone made
    this.autoAnswer = false;
    this.waiters = [];
    this.sock.on("message", (buf) => {
      if (process.env.SIP_TRACE) console.error(`<< ${this.ext}\n${buf}`);
      this.onMessage(parseSip(buf.toString()));
    });
  }

  async open() {
    await new Promise((ok) => this.sock.bind(0, "127.0.0.1", ok));
    this.local = this.sock.address().port;
    this.rtp = this.local + 1;
    return this;
  }

  close() {
    try {
      this.sock.close();
    } catch {
      // closed
    }
  }

  send(text) {
    if (process.env.SIP_TRACE) console.error(`>> ${this.ext}\n${text}`);
    this.sock.send(text, this.sipPort, "127.0.0.1");
  }

  changed() {
    for (const w of this.waiters.splice(0)) w();
  }

  // Resolves when fn() is true (checked after each message), or fails after ms.
  until(what, fn, ms = 8000) {
    return new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`${this.ext}: timed out waiting for ${what}`)), ms);
      const check = () => {
        const v = fn();
        if (v) {
          clearTimeout(t);
          ok(v);
        } else this.waiters.push(check);
      };
      check();
    });
  }

  contact() {
    return `<sip:${this.ext}@127.0.0.1:${this.local}>`;
  }

  digest(ch, method, uri) {
    const cnonce = rnd();
    const ha1 = md5(`${this.ext}:${ch.realm}:${this.password}`);
    const resp = md5(`${ha1}:${ch.nonce}:00000001:${cnonce}:auth:${md5(`${method}:${uri}`)}`);
    const opaque = ch.opaque ? `, opaque="${ch.opaque}"` : "";
    return `Digest username="${this.ext}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${uri}", response="${resp}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"${opaque}`;
  }

  register() {
    return sipRegister(this.sipPort, this.ext, this.password, this.domain);
  }

  // Registers from this phone's own socket, so that calls reach it here.
  async registerHere(expires = 3600) {
    const callId = rnd() + "@127.0.0.1";
    const tag = rnd(4);
    let cseq = 0;
    let final = null;
    const uri = `sip:${this.domain}`;
    const send = (auth) => {
      cseq++;
      this.regCseq = `${cseq} REGISTER`;
      this.send(`REGISTER ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.local};rport;branch=z9hG4bK${rnd()}\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:${this.ext}@${this.domain}>;tag=${tag}\r\nTo: <sip:${this.ext}@${this.domain}>\r\n` +
        `Call-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\nContact: ${this.contact()}\r\nExpires: ${expires}\r\n` +
        (auth ? `Authorization: ${auth}\r\n` : "") + "Content-Length: 0\r\n\r\n");
    };
    this.onRegister = (m) => {
      if (m.code < 200 || m.cseq !== this.regCseq) return;
      if (m.code === 401 && cseq === 1) {
        const ch = challenge(m.headers.map(([k, v]) => `${k === "www-authenticate" ? "WWW-Authenticate" : k}: ${v}`).join("\r\n"));
        if (ch) return send(this.digest(ch, "REGISTER", uri));
      }
      final = m.code;
      this.changed();
    };
    send(null);
    return this.until("REGISTER's answer", () => final);
  }

  // Calls another extension of the domain; the call's state follows pbxd's answers.
  call(to) {
    const c = { callId: rnd() + "@127.0.0.1", tag: rnd(4), cseq: 1, uri: `sip:${to}@${this.domain}`, state: "calling", code: 0, branch: "" };
    this.calls.push(c);
    this.sendInvite(c, null);
    return c;
  }

  sendInvite(c, auth) {
    c.branch = "z9hG4bK" + rnd();
    const body = sdp(this.rtp);
    this.send(`INVITE ${c.uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.local};rport;branch=${c.branch}\r\n` +
      `Max-Forwards: 70\r\nFrom: "Ext ${this.ext}" <sip:${this.ext}@${this.domain}>;tag=${c.tag}\r\nTo: <${c.uri}>\r\n` +
      `Call-ID: ${c.callId}\r\nCSeq: ${c.cseq} INVITE\r\nContact: ${this.contact()}\r\n` +
      (auth ? `${auth}\r\n` : "") +
      `Content-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  onMessage(m) {
    if (m.code !== null) {
      if (m.cseq.endsWith("REGISTER")) return this.onRegister?.(m);
      const c = this.calls.find((x) => x.callId === m.get("call-id"));
      if (c && m.cseq.endsWith("INVITE") && c.state !== "ended") this.onInviteAnswer(c, m);
      if (c && m.cseq.endsWith("BYE") && m.code >= 200) {
        c.state = "ended";
        this.changed();
      }
      return;
    }
    if (m.method === "INVITE") return this.onInvite(m);
    if (m.method === "ACK") return;
    if (m.method === "BYE") {
      this.reply(m, 200, "OK");
      for (const x of [...this.calls, ...this.incoming]) if ((x.callId ?? x.msg.get("call-id")) === m.get("call-id")) x.state = "ended";
      return this.changed();
    }
    if (m.method === "CANCEL") {
      this.reply(m, 200, "OK");
      const inc = this.incoming.find((x) => x.msg.get("call-id") === m.get("call-id"));
      if (inc && inc.state === "ringing") {
        inc.state = "ended";
        this.reply(inc.msg, 487, "Request Terminated", inc.toTag);
      }
      return this.changed();
    }
    this.reply(m, 200, "OK");
  }

  onInviteAnswer(c, m) {
    const n = Number(m.cseq.split(" ")[0]);
    if (n !== c.cseq) return;
    if (m.code < 200) {
      if (m.code === 180 || m.code === 183) c.state = "ringing";
      return this.changed();
    }
    const toTag = /;\s*tag=([^;\s]+)/.exec(m.get("to") || "")?.[1] || "";
    if (m.code >= 300) {
      // the ACK of a non-2xx final: the INVITE's branch (RFC 3261 17.1.1.3)
      this.send(`ACK ${c.uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.local};rport;branch=${c.branch}\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:${this.ext}@${this.domain}>;tag=${c.tag}\r\nTo: ${m.get("to")}\r\n` +
        `Call-ID: ${c.callId}\r\nCSeq: ${c.cseq} ACK\r\nContent-Length: 0\r\n\r\n`);
      if ((m.code === 401 || m.code === 407) && !c.authed) {
        c.authed = true;
        const hdr = m.code === 407 ? "proxy-authenticate" : "www-authenticate";
        const line = m.all(hdr).map((v) => `WWW-Authenticate: ${v}`).join("\r\n");
        const ch = challenge(line);
        c.cseq++;
        const auth = (m.code === 407 ? "Proxy-Authorization: " : "Authorization: ") + this.digest(ch, "INVITE", c.uri);
        return this.sendInvite(c, auth);
      }
      c.state = "failed";
      c.code = m.code;
      return this.changed();
    }
    // 2xx: the ACK goes to the remote target, a new transaction
    const target = /<([^>]+)>/.exec(m.get("contact") || "")?.[1] || c.uri;
    const routes = m.all("record-route").flatMap((v) => v.split(/,(?=\s*<)/)).map((v) => v.trim()).reverse();
    c.toHeader = m.get("to");
    c.target = target;
    c.routes = routes;
    this.send(`ACK ${target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.local};rport;branch=z9hG4bK${rnd()}\r\n` +
      routes.map((r) => `Route: ${r}\r\n`).join("") +
      `Max-Forwards: 70\r\nFrom: <sip:${this.ext}@${this.domain}>;tag=${c.tag}\r\nTo: ${m.get("to")}\r\n` +
      `Call-ID: ${c.callId}\r\nCSeq: ${c.cseq} ACK\r\nContent-Length: 0\r\n\r\n`);
    if (c.state !== "ended") c.state = "talking";
    c.code = m.code;
    c.toTag = toTag;
    this.changed();
  }

  // Hangs up an answered call this phone made (BYE to the remote target).
  bye(c) {
    c.cseq++;
    this.send(`BYE ${c.target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.local};rport;branch=z9hG4bK${rnd()}\r\n` +
      c.routes.map((r) => `Route: ${r}\r\n`).join("") +
      `Max-Forwards: 70\r\nFrom: <sip:${this.ext}@${this.domain}>;tag=${c.tag}\r\nTo: ${c.toHeader}\r\n` +
      `Call-ID: ${c.callId}\r\nCSeq: ${c.cseq} BYE\r\nContent-Length: 0\r\n\r\n`);
  }

  reply(m, code, reason, toTag, body = "", extra = "") {
    let to = m.get("to") || "";
    if (toTag && !/;\s*tag=/.test(to)) to += `;tag=${toTag}`;
    const vias = m.all("via").map((v) => `Via: ${v}\r\n`).join("");
    const rr = code >= 180 && code < 300 ? m.all("record-route").map((v) => `Record-Route: ${v}\r\n`).join("") : "";
    this.send(`SIP/2.0 ${code} ${reason}\r\n${vias}${rr}From: ${m.get("from")}\r\nTo: ${to}\r\nCall-ID: ${m.get("call-id")}\r\n` +
      `CSeq: ${m.cseq}\r\n${extra}` + (body ? "Content-Type: application/sdp\r\n" : "") +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  onInvite(m) {
    let inc = this.incoming.find((x) => x.msg.get("call-id") === m.get("call-id") && x.msg.cseq === m.cseq);
    if (inc) {
      // a retransmission: the last answer again
      if (inc.state === "talking") this.reply(m, 200, "OK", inc.toTag, sdp(this.rtp), `Contact: ${this.contact()}\r\n`);
      return;
    }
    inc = { msg: m, toTag: rnd(4), state: "ringing" };
    this.incoming.push(inc);
    this.reply(m, 100, "Trying");
    this.reply(m, 180, "Ringing", inc.toTag, "", `Contact: ${this.contact()}\r\n`);
    if (this.autoAnswer) this.answer(inc);
    this.changed();
  }

  // Answers a ringing call (200 with SDP).
  answer(inc = this.incoming.find((x) => x.state === "ringing")) {
    if (!inc) throw new Error(`${this.ext}: no call ringing`);
    inc.state = "talking";
    this.reply(inc.msg, 200, "OK", inc.toTag, sdp(this.rtp), `Contact: ${this.contact()}\r\n`);
    this.changed();
  }
}

export async function phone(pbxd, ext, password, domain) {
  const p = await new Phone(pbxd.sipPort, ext, password, domain).open();
  const code = await p.registerHere();
  if (code !== 200) throw new Error(`REGISTER of ${ext}: ${code}`);
  return p;
}

// --- what the page tests share ---------------------------------------------------------

export async function waitFor(what, fn, timeout = 10000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

export const byRole = (scope, role, name) => scope.getByRole(role, { name, exact: true });
export const field = (scope, label) => scope.getByLabel(label, { exact: true });
export const row = (scope, text) => scope.getByRole("row").filter({ hasText: text });

// A new browser context and page at base, collecting the page's errors.
export async function openPage(browser, base, viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && page.errors.push(m.text()));
  await page.goto(base + "/");
  return page;
}

export async function signInTenant(page, domain, username, password) {
  await field(page, "SIP domain").fill(domain);
  await byRole(page, "button", "Next").click();
  await field(page, "Username").fill(username);
  await field(page, "Password").fill(password);
  await byRole(page, "button", "Sign in").click();
}

// The document's scrolling width and the viewport's: equal when nothing sticks out.
export const widths = (page) => page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);

// Fails when the page scrolls sideways, naming what sticks out.
export async function assertFits(page, what) {
  const w = await widths(page);
  if (w[0] <= w[1]) return;
  const wide = await page.evaluate(() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`));
  throw new Error(`${what}: horizontal scrolling at ${w[1]} px: ${w}; wider: ${wide.join(", ")}`);
}

// Fails when axe-core finds a serious or critical violation on the page as it is.
export async function assertAccessible(page, what) {
  const v = await seriousViolations(page);
  if (v.length) throw new Error(`${what}: axe-core found serious or critical violations:\n${JSON.stringify(v, null, 1)}`);
}

// A tenant with its admin boss and users on extensions 101 and 102; the admin's
// REST client and the users' ids by extension.
export async function tenantWithUsers(pbxd, domain) {
  const admin = await pbxd.client("admin");
  await admin.ok("POST", "/api/tenants", { name: "Calls", domain, admin: { username: "boss", password: "Boss-pass-1" } });
  const boss = await pbxd.client("boss", "Boss-pass-1", domain);
  const users = {};
  for (const [ext, name, display] of [["101", "james.bond", "James Bond"], ["102", "moneypenny", "Eve Moneypenny"]]) {
    const u = await boss.ok("POST", "/api/users", {
      username: name, password: "User-pass-1", email: `${name}@${domain}`, display_name: display,
      extension_number: ext, extension_password: `sip-pw-${ext}`,
    });
    users[ext] = u.id;
  }
  return { boss, users };
}
