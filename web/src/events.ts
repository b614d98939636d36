// The tenant's event stream (GET /api/events, a WebSocket: call_start when a
// call rings its callee, call_cdr when it ends with its record, each the JSON
// the webhooks POST; call_answered when it is answered, extension_registered
// and extension_unregistered when a device comes or goes), one for the whole portal. Pages subscribe to event types
// with useEvents; the stream opens with the first subscriber, carrying the
// session's current token (?token=: browsers cannot set headers on a
// WebSocket), opens again after 1, 2, 4... 30 s when it closes (pbxd closes a
// stream whose session ended; a refresh has replaced the token by then), and
// closes when who is signed in changes (Sign out, Manage, Back to Tenants) or
// when no page has listened for IDLE_MS (pbxd serves a limited number of
// streams). Only a tenant's administrators may open it (streamable): after a
// change of who is signed in, it opens again only for a page that subscribes
// then (the pages of the one before go, and may not be allowed it).
//
// Nothing is sent while the stream is down: a subscriber of "open" hears each
// (re)connection and reads what it shows again.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, Me } from "./api";

export type EventType =
  | "call_start"
  | "call_answered"
  | "call_cdr"
  | "extension_registered"
  | "extension_unregistered";

export interface PbxEvent {
  event_type: EventType;
  session_id?: string;
  [field: string]: unknown;
}

export type Live = "connecting" | "live" | "down";

// What a subscriber hears: an event type, or "open" (connected again).
export type Topic = EventType | "open";
type Handler = (e: PbxEvent | null) => void;

const IDLE_MS = 10000;
const WAIT_MIN = 1000;
const WAIT_MAX = 30000;

// Whether this session may open the stream (the API's tenant administrators).
export function streamable(me: Me): boolean {
  return me.role === "admin" || (me.role === "system_admin" && !!me.tenant);
}

class EventStream {
  private ws: WebSocket | null = null;
  private subs = new Set<{ topics: Topic[]; h: Handler; epoch: number }>();
  private watchers = new Set<(l: Live) => void>();
  private wait = WAIT_MIN;
  private retry: number | undefined;
  private idle: number | undefined;
  private epoch = api.epoch;
  state: Live = "connecting";

  constructor() {
    api.onChange(() => {
      if (api.epoch === this.epoch) return; // a refresh: the stream goes on
      this.epoch = api.epoch;
      this.close();
    });
  }

  // Whether a page of who is signed in now listens.
  private wanted(): boolean {
    for (const s of this.subs) if (s.epoch === this.epoch) return true;
    return false;
  }

  subscribe(topics: Topic[], h: Handler): () => void {
    const sub = { topics, h, epoch: api.epoch };
    this.subs.add(sub);
    clearTimeout(this.idle);
    this.idle = undefined;
    if (!this.ws && this.retry === undefined) this.open();
    return () => {
      this.subs.delete(sub);
      if (!this.wanted() && this.idle === undefined) {
        this.idle = window.setTimeout(() => {
          this.idle = undefined;
          if (!this.wanted()) this.close();
        }, IDLE_MS);
      }
    };
  }

  watch(w: (l: Live) => void): () => void {
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  private set(l: Live): void {
    if (this.state === l) return;
    this.state = l;
    for (const w of this.watchers) w(l);
  }

  private emit(topic: Topic, e: PbxEvent | null): void {
    for (const s of [...this.subs]) if (s.topics.includes(topic)) s.h(e);
  }

  private open(): void {
    this.retry = undefined;
    const token = api.token();
    if (!token) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/events?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.wait = WAIT_MIN;
      this.set("live");
      this.emit("open", null); // events may have been missed while it was down
    };
    ws.onmessage = (m) => {
      let e: PbxEvent;
      try {
        e = JSON.parse(String(m.data)) as PbxEvent;
      } catch {
        return; // not an event
      }
      if (e && typeof e.event_type === "string") this.emit(e.event_type, e);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return; // closed on purpose
      this.ws = null;
      this.set("down");
      if (!this.wanted()) return;
      this.retry = window.setTimeout(() => this.open(), this.wait);
      this.wait = Math.min(this.wait * 2, WAIT_MAX);
    };
  }

  // Closes the stream on purpose (no reconnection).
  private close(): void {
    clearTimeout(this.retry);
    clearTimeout(this.idle);
    this.retry = this.idle = undefined;
    this.wait = WAIT_MIN;
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.set("connecting");
  }
}

const stream = new EventStream();

// Calls on[topic] for each event of the topics given (and "open" at each
// (re)connection) while the component is shown and enabled; the stream's state.
export function useEvents(on: Partial<Record<Topic, (e: PbxEvent | null) => void>>, enabled = true): Live {
  const handlers = useRef(on);
  handlers.current = on;
  const [live, setLive] = useState<Live>(stream.state);
  const topics = Object.keys(on).sort().join(",");
  useEffect(() => {
    if (!enabled) return;
    const list = topics.split(",").filter(Boolean) as Topic[];
    const unwatch = stream.watch(setLive);
    setLive(stream.state);
    const unsubscribe = stream.subscribe(list, (e) => {
      const t: Topic = e ? e.event_type : "open";
      handlers.current[t]?.(e);
    });
    return () => {
      unsubscribe();
      unwatch();
    };
  }, [topics, enabled]);
  return live;
}
