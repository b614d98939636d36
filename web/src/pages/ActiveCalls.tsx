// Call Statistics > Active Calls: the tenant's calls in progress (GET
// /api/call_sessions), each with Hang up (after confirmation). The list follows
// the portal's event stream (events.ts: call_start when a call rings its
// callee, call_cdr when it ends) and is read again on an interval as well,
// since a call's answer sends no event and the stream may be down.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, duration, Me, unixTime } from "../api";
import { useEvents } from "../events";
import { useList } from "../list";
import { Alert, Confirm, message, refused } from "../ui";

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
const DIRECTIONS: Record<string, string> = { ext: "Internal", in: "Inbound", out: "Outbound", in2out: "Inbound to outbound" };

function party(number: string, name: string): string {
  return name ? `${name} (${number})` : number;
}

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
    call_cdr: (e) => {
      if (e?.session_id) setEnded((s) => new Set(s).add(e.session_id as string));
      list.reload();
    },
    open: () => list.reload(),
  });
  const now = useNow();
  const [hanging, setHanging] = useState<CallSession | null>(null);
  const [busy, setBusy] = useState(false);
  const [hangError, setHangError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);

  const items = (list.data?.items ?? []).filter((c) => !ended.has(c.session_id));

  const hangUp = async () => {
    if (!hanging) return;
    setBusy(true);
    setHangError(null);
    try {
      await api.post(`/call_sessions/${encodeURIComponent(hanging.session_id)}/destroy`);
      setEnded((s) => new Set(s).add(hanging.session_id));
      setNote(`The call from ${hanging.caller} to ${hanging.callee} was hung up.`);
      setHanging(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        setNote(`The call from ${hanging.caller} to ${hanging.callee} had ended already.`);
        setHanging(null);
      } else setHangError(message(e));
    } finally {
      setBusy(false);
      list.reload();
    }
  };

  return (
    <section>
      <h1>Active calls</h1>
      <p class="sub">Call Statistics</p>
      <p class="live" role="status">
        <span class={live === "live" ? "dot on" : "dot"} aria-hidden="true" />
        {live === "live" ? "Live: calls show as they start and end." : live === "connecting" ? "Connecting to live updates…" : `Live updates are unavailable; the list is read every ${POLL_MS / 1000} s.`}
      </p>
      {note && <p role="status">{note}</p>}
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && items.length === 0 && <p>No calls in progress.</p>}
      {list.data && items.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Calls in progress</caption>
            <thead>
              <tr>
                <th scope="col">Caller</th>
                <th scope="col">Callee</th>
                <th scope="col">Direction</th>
                <th scope="col">State</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => {
                const answered = Number(c.answered_time);
                const since = answered || Number(c.start_time);
                return (
                  <tr key={c.session_id}>
                    <td>{party(c.caller, c.caller_display_name)}</td>
                    <td>{party(c.callee, c.callee_display_name)}</td>
                    <td>{DIRECTIONS[c.direction] ?? c.direction}</td>
                    <td>{STATES[c.state] ?? c.state}</td>
                    <td>{unixTime(c.start_time)}</td>
                    <td>{since ? `${answered ? "" : "ringing "}${duration(Math.max(0, Math.floor(now / 1000) - since))}` : ""}</td>
                    <td class="actions">
                      <button type="button" class="danger" onClick={() => { setNote(null); setHanging(c); }}>
                        Hang up
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {hanging && (
        <Confirm
          title="Hang up call"
          text={`Hang up the call from ${party(hanging.caller, hanging.caller_display_name)} to ${party(hanging.callee, hanging.callee_display_name)}? Both sides are disconnected.`}
          action="Hang up"
          busy={busy}
          error={hangError}
          onConfirm={hangUp}
          onCancel={() => {
            setHanging(null);
            setHangError(null);
          }}
        />
      )}
    </section>
  );
}
