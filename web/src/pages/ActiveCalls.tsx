// Call Statistics > Active Calls: the tenant's calls in progress (GET
// /api/call_sessions), each with Hang up (after confirmation). The list follows
// the portal's event stream (events.ts: call_start when a call rings its
// callee, call_answered when it is answered, call_cdr when it ends) and is read
// again on an interval as well, since the stream may be down.
import { useEffect, useState } from "preact/hooks";
import { api, duration, Me, unixTime } from "../api";
import { useEvents } from "../events";
import { ConfirmDialog, unlessGone, useConfirm } from "../forms";
import { useList } from "../list";
import { Alert, Column, Dot, refused, Table } from "../ui";
import { direction, party } from "./Cdrs";

const POLL_MS = 10000;

export interface CallSession {
  session_id: string;
  call_id: string;
  state: "ringing" | "talking" | "ending";
  direction: string;
  caller: string;
  caller_display_name: string;
  callee: string;
  callee_display_name: string;
  start_time: string;
  answered_time: string;
}

// The time now, moving every second (durations of calls in progress).
function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

const STATES: Record<string, string> = { ringing: "Ringing", talking: "Talking", ending: "Ending" };

// For a tenant's administrators (a user's own calls are in their portal): the
// API lets a user list the calls they are in, but not the stream nor hang up.
export function ActiveCalls({ me }: { me: Me }) {
  if (me.role === "user") {
    return (
      <section>
        <h1>Active calls</h1>
        <Alert>You are not allowed to open this page: it is for the tenant's administrators.</Alert>
      </section>
    );
  }
  return <CallList />;
}

function CallList() {
  const list = useList<CallSession>("/call_sessions", {}, POLL_MS);
  // Calls whose call_cdr came: hidden at once, even before the list is read again.
  const [ended, setEnded] = useState<Set<string>>(new Set());
  const live = useEvents({
    call_start: () => list.reload(),
    call_answered: () => list.reload(),
    call_cdr: (e) => {
      if (e?.session_id) setEnded((s) => new Set(s).add(e.session_id as string));
      list.reload();
    },
    open: () => list.reload(),
  });
  const now = useNow();
  const [note, setNote] = useState<string | null>(null);

  const items = (list.data?.items ?? []).filter((c) => !ended.has(c.session_id));

  const hanging = useConfirm<CallSession>(async (c) => {
    const what = `The call from ${c.caller} to ${c.callee}`;
    if (await unlessGone(api.post(`/call_sessions/${encodeURIComponent(c.session_id)}/destroy`))) {
      setEnded((s) => new Set(s).add(c.session_id));
      setNote(`${what} was hung up.`);
    } else setNote(`${what} had ended already.`);
  }, list.reload);

  const columns: Column<CallSession>[] = [
    { head: "Caller", cell: (c) => party(c.caller, c.caller_display_name) },
    { head: "Callee", cell: (c) => party(c.callee, c.callee_display_name) },
    { head: "Direction", cell: (c) => direction(c.direction) },
    { head: "State", cell: (c) => STATES[c.state] ?? c.state },
    { head: "Started", cell: (c) => unixTime(c.start_time) },
    {
      head: "Duration",
      cell: (c) => {
        const answered = Number(c.answered_time);
        const since = answered || Number(c.start_time);
        return since ? `${answered ? "" : "ringing "}${duration(Math.max(0, Math.floor(now / 1000) - since))}` : "";
      },
    },
  ];

  return (
    <section>
      <h1>Active calls</h1>
      <p class="sub">Call Statistics</p>
      <p class="live" role="status">
        <Dot on={live === "live"} />
        {live === "live" ? "Live: calls show as they start and end." : live === "connecting" ? "Connecting to live updates…" : `Live updates are unavailable; the list is read every ${POLL_MS / 1000} s.`}
      </p>
      {note && <p role="status">{note}</p>}
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && items.length === 0 && <p>No calls in progress.</p>}
      {list.data && items.length > 0 && (
        <Table
          caption="Calls in progress"
          columns={columns}
          rows={items}
          rowKey={(c) => c.session_id}
          actions={(c) => (
            <button
              type="button"
              class="danger"
              onClick={() => {
                setNote(null);
                hanging.ask(c);
              }}
            >
              Hang up
            </button>
          )}
        />
      )}
      <ConfirmDialog
        c={hanging}
        title="Hang up call"
        text={(c) => `Hang up the call from ${party(c.caller, c.caller_display_name)} to ${party(c.callee, c.callee_display_name)}? Both sides are disconnected.`}
        action="Hang up"
      />
    </section>
  );
}
