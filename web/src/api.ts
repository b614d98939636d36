// The REST API client and the session (docs/api.md).
//
// A session is the access token, its refresh token and when it expires; it is
// kept in memory and in sessionStorage (this tab only, this origin only, gone
// when the tab closes), so a reload keeps the user signed in. The password is
// never kept: it goes into one sign-in request and is dropped.
//
// Before the access token expires the session refreshes itself (a refresh token
// is usable once: one refresh at a time). A system admin who manages a tenant
// gets a second session from /api/tenants/{id}/switch; the admin's own session
// waits underneath ("stack") and comes back when they leave the tenant.

export interface Tokens {
  token: string;
  refresh_token: string;
  expires_in: number;
}

export interface Session {
  token: string;
  refresh_token: string;
  expires_at: number; // ms since the epoch
  lifetime: number; // s
}

export interface Tenant {
  id: string;
  name: string;
  domain: string;
  enabled: boolean;
}

export interface Me {
  id: string;
  username: string;
  role: "system_admin" | "admin" | "user";
  display_name?: string;
  email?: string;
  extension_number?: string;
  tenant: Tenant | null;
}

export interface ApiErrorBody {
  status: number;
  code: string;
  message: string;
  field?: string | null;
}

export class ApiError extends Error {
  status: number;
  code: string;
  field: string | null;
  retryAfter: number;
  constructor(body: ApiErrorBody, retryAfter = 0) {
    super(body.message);
    this.status = body.status;
    this.code = body.code;
    this.field = body.field ?? null;
    this.retryAfter = retryAfter;
  }
}

export interface List<T> {
  count: number;
  items: T[];
}

const KEY = "pbxd.session";

interface Stored {
  current: Session;
  stack: Session[];
}

type Listener = () => void;

function now(): number {
  return Date.now();
}

function toSession(t: Tokens): Session {
  return { token: t.token, refresh_token: t.refresh_token, expires_at: now() + t.expires_in * 1000, lifetime: t.expires_in };
}

class Client {
  private state: Stored | null = null;
  private refreshing: Promise<boolean> | null = null;
  private timer: number | undefined;
  private listeners = new Set<Listener>();
  // Moves when who is signed in changes (sign-in, manage, leave, end), not on refreshes.
  epoch = 0;

  constructor() {
    try {
      const raw = sessionStorage.getItem(KEY);
      if (raw) this.state = JSON.parse(raw) as Stored;
    } catch {
      this.state = null;
    }
    this.schedule();
  }

  signedIn(): boolean {
    return this.state !== null;
  }

  // The current access token (the event stream's WebSocket carries it in its URL:
  // browsers cannot set headers on a WebSocket).
  token(): string | null {
    return this.state?.current.token ?? null;
  }

  switched(): boolean {
    return (this.state?.stack.length ?? 0) > 0;
  }

  onChange(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private save(): void {
    if (this.state) sessionStorage.setItem(KEY, JSON.stringify(this.state));
    else sessionStorage.removeItem(KEY);
    this.schedule();
    for (const l of this.listeners) l();
  }

  // Refreshes when three quarters of the token's life are gone (at least 5 s
  // before it ends), so an open page never meets an expired token.
  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.state?.current;
    if (!s) return;
    const margin = Math.max(5000, (s.lifetime * 1000) / 4);
    const wait = Math.max(1000, s.expires_at - margin - now());
    this.timer = window.setTimeout(() => void this.refresh(), wait);
  }

  // Trades the refresh token for a new pair; false when the session has ended.
  refresh(): Promise<boolean> {
    if (this.refreshing) return this.refreshing;
    const s = this.state?.current;
    if (!s) return Promise.resolve(false);
    this.refreshing = (async () => {
      try {
        const r = await fetch("/api/auth/refresh", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: s.refresh_token }),
          credentials: "omit",
        });
        if (r.status === 401) {
          this.end();
          return false;
        }
        if (!r.ok) {
          // The server is busy or away: try again soon, the token still lives.
          this.timer = window.setTimeout(() => void this.refresh(), 5000);
          return true;
        }
        const t = (await r.json()) as Tokens;
        if (this.state && this.state.current === s) {
          this.state.current = toSession(t);
          this.save();
        }
        return true;
      } catch {
        this.timer = window.setTimeout(() => void this.refresh(), 5000);
        return true;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  // Whether the last session ended by itself (expired, revoked) rather than by Sign out.
  expired = false;

  // Forgets every session of this tab (they ended, or the user signed out).
  end(expired = true): void {
    this.expired = expired && this.state !== null;
    this.state = null;
    sessionStorage.removeItem("pbxd.me");
    this.epoch++;
    this.save();
  }

  // Sends a request with the session's token; a 401 is retried once after a
  // refresh (a refresh may have replaced the token meanwhile, or it just expired).
  private async send(method: string, path: string, body?: unknown, query?: Record<string, string | number | undefined>): Promise<{ r: Response; signed: boolean }> {
    let url = "/api" + path;
    if (query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") q.set(k, String(v));
      const qs = q.toString();
      if (qs) url += "?" + qs;
    }
    for (let attempt = 0; ; attempt++) {
      const s = this.state?.current;
      const headers: Record<string, string> = {};
      if (s) headers["Authorization"] = "Bearer " + s.token;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const r = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
      if (r.status === 401 && s && attempt === 0) {
        if (this.state?.current !== s || (await this.refresh())) continue;
      }
      return { r, signed: !!s };
    }
  }

  // The ApiError of a failed answer (its JSON error, else the status); a 401
  // to a signed request ends the session.
  private failure(r: Response, signed: boolean, data: unknown, path: string): ApiError {
    const e = (data as { error?: ApiErrorBody } | null)?.error ?? { status: r.status, code: "http", message: `HTTP ${r.status}` };
    if (r.status === 401 && signed && path !== "/auth/sign_in") this.end();
    return new ApiError(e, Number(r.headers.get("Retry-After") ?? 0));
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Record<string, string | number | undefined>): Promise<T> {
    const { r, signed } = await this.send(method, path, body, query);
    if (r.status === 204) return undefined as T;
    const text = await r.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!r.ok) throw this.failure(r, signed, data, path);
    return data as T;
  }

  // A file the API answers with (a CSV export): its content and the name its
  // Content-Disposition gives.
  async download(path: string, fallbackName = "export.csv"): Promise<{ blob: Blob; filename: string }> {
    const { r, signed } = await this.send("GET", path);
    if (!r.ok) {
      let data: unknown = null;
      try {
        data = await r.json();
      } catch {
        data = null;
      }
      throw this.failure(r, signed, data, path);
    }
    const m = /filename="?([^";]+)"?/i.exec(r.headers.get("Content-Disposition") ?? "");
    return { blob: await r.blob(), filename: m ? m[1] : fallbackName };
  }

  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.request<T>("GET", path, undefined, query);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  async signIn(username: string, password: string, domain?: string): Promise<void> {
    const body: Record<string, string> = { username, password };
    if (domain) body.domain = domain;
    const t = await this.request<Tokens>("POST", "/auth/sign_in", body);
    this.state = { current: toSession(t), stack: [] };
    this.expired = false;
    this.epoch++;
    this.save();
  }

  // Acts as the tenant's administrator (the API's switch); the admin's session waits.
  async manage(tenantId: string): Promise<void> {
    const t = await this.post<Tokens>(`/tenants/${encodeURIComponent(tenantId)}/switch`);
    if (!this.state) return;
    this.state = { current: toSession(t), stack: [...this.state.stack, this.state.current] };
    this.epoch++;
    this.save();
  }

  // Leaves the tenant: its session ends, the admin's own comes back.
  async leave(): Promise<void> {
    if (!this.state || this.state.stack.length === 0) return;
    try {
      await this.post("/auth/sign_out");
    } catch {
      // ended already
    }
    const stack = [...this.state.stack];
    const back = stack.pop() as Session;
    this.state = { current: back, stack };
    this.epoch++;
    this.save();
  }

  // Ends the session (and those switched from it) on the server and here.
  async signOut(): Promise<void> {
    if (this.state) {
      const root = this.state.stack[0] ?? this.state.current;
      try {
        await fetch("/api/auth/sign_out", { method: "POST", headers: { Authorization: "Bearer " + root.token }, credentials: "omit" });
      } catch {
        // the server is away: the tokens die with their lifetime
      }
    }
    this.end(false);
  }
}

export const api = new Client();

// Seconds as "1 min 5 s".
export function duration(s: number): string {
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// A CDR time (Unix seconds as digits) for people; "" when "0".
export function unixTime(v: string): string {
  const n = Number(v);
  if (!n) return "";
  return new Date(n * 1000).toLocaleString();
}
