// The phone's SIP side: a JsSIP user agent over SIP over secure WebSocket to the
// pbxd the page came from, registered with a credential minted for this session
// (POST /api/user/phone_credentials: never the extension's SIP password, kept in
// memory only). A REGISTER refused (403: the credential expired, or the SIP
// password changed) mints a new one and starts again; a lost connection is
// retried by JsSIP itself, and said so.
import JsSIP from "jssip";
import type { RTCSession } from "jssip/lib/RTCSession";
import { api } from "../api";

export interface PhoneCredentials {
  username: string;
  password: string;
  extension_number: string;
  domain: string;
  display_name: string;
  expires_in: number;
  wss_port: number;
  ws_port: number;
}

export type LineState = "starting" | "connecting" | "registered" | "unregistered" | "reconnecting" | "failed";

export interface Events {
  line: (state: LineState, why?: string) => void;
  incoming: (s: RTCSession) => void;
}

export class Line {
  ua: JsSIP.UA | null = null;
  cred: PhoneCredentials | null = null;
  private stopped = false;
  private retries = 0;
  private renew = 0;

  constructor(private ev: Events) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.ev.line("starting");
    const cred = await api.post<PhoneCredentials>("/user/phone_credentials", {});
    if (this.stopped) return;
    this.cred = cred;
    const port = cred.wss_port || cred.ws_port;
    if (!port) {
      this.ev.line("failed", "This PBX has SIP over WebSocket turned off.");
      return;
    }
    const scheme = cred.wss_port ? "wss" : "ws";
    const socket = new JsSIP.WebSocketInterface(`${scheme}://${location.hostname}:${port}`);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${cred.extension_number}@${cred.domain}`,
      authorization_user: cred.username,
      password: cred.password,
      display_name: cred.display_name || undefined,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: "pbxd-phone",
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    });
    this.ua = ua;
    ua.on("connecting", () => this.ev.line(this.retries ? "reconnecting" : "connecting"));
    ua.on("disconnected", () => {
      if (!this.stopped) {
        this.retries++;
        this.ev.line("reconnecting", "The connection to the PBX was lost. Reconnecting…");
      }
    });
    ua.on("registered", () => {
      this.retries = 0;
      this.ev.line("registered");
    });
    ua.on("unregistered", () => this.ev.line("unregistered"));
    ua.on("registrationFailed", (e: { cause?: string }) => {
      if (this.stopped) return;
      if (e.cause === JsSIP.C.causes.REJECTED || e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR) {
        // The credential is no longer good: a new one, once in a while.
        this.restart(5000);
        return;
      }
      this.ev.line("failed", `Registration failed: ${e.cause ?? "no answer"}. Retrying…`);
    });
    ua.on("newRTCSession", (e: { originator: string; session: RTCSession }) => {
      if (e.originator === "remote") this.ev.incoming(e.session);
    });
    ua.start();
    // The credential ends after expires_in: a new one a minute before.
    this.renew = window.setTimeout(() => this.restart(0), Math.max(60, cred.expires_in - 60) * 1000);
  }

  private restart(delay: number): void {
    if (this.stopped) return;
    this.stop();
    window.setTimeout(() => {
      this.start().catch((err) => this.ev.line("failed", String(err?.message ?? err)));
    }, delay);
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.renew);
    this.ua?.stop();
    this.ua = null;
  }
}
