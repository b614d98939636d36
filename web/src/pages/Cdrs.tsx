// Call Statistics > CDR: the tenant's call detail records, newest first, paged;
// Details opens one record with every device rung and forward hop. A call's
// record shows as it ends, from the event stream's call_cdr (events.ts), and
// the list is read again on an interval as well (the stream may be down). The
// same table shows a user's own calls in their portal (CallTable).
import { useEffect, useRef, useState } from "preact/hooks";
import { duration, Me, unixTime } from "../api";
import { PbxEvent, streamable, useEvents } from "../events";
import { useList } from "../list";
import { Alert, Dialog, Pager, refused } from "../ui";

const TOP = 20;
const REFRESH_MS = 15000;
// pbxd publishes a call's record as it hands it to be written: a read just
// after the event may not have it yet. The list is read again RELOAD_MS after
// an event, and a record from the stream is shown until a read has it, or at
// most FRESH_MS.
const RELOAD_MS = 1000;
const FRESH_MS = 5000;

interface Target {
  id: string;
  call_type?: string;
  destination?: string;
  start_time?: string;
  answered_time?: string;
  ended_time?: string;
  end_reason?: string;
  status_code?: number;
}

export interface Cdr {
  cdr_id: string;
  session_id: string;
  direction: string;
  caller: string;
  caller_display_name: string;
  callee: string;
  start_time: string;
  answered_time: string;
  ended_time: string;
  ended_reason: string;
  status_code: string;
  call_targets: Target[];
}

function talk(c: { answered_time?: string; ended_time?: string }): string {
  const a = Number(c.answered_time ?? 0);
  const e = Number(c.ended_time ?? 0);
  return a && e >= a ? duration(e - a) : "";
}

const DIRECTIONS: Record<string, string> = { ext: "Internal", in: "Inbound", out: "Outbound", in2out: "Inbound to outbound" };

export function CallTable({ items, onOpen }: { items: Cdr[]; onOpen?: (c: Cdr) => void }) {
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Start</th>
            <th scope="col">Caller</th>
            <th scope="col">Callee</th>
            <th scope="col">Direction</th>
            <th scope="col">Talk time</th>
            <th scope="col">Ended</th>
            {onOpen && (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.cdr_id} onDblClick={onOpen ? () => onOpen(c) : undefined}>
              <td>{unixTime(c.start_time)}</td>
              <td>{c.caller_display_name ? `${c.caller_display_name} (${c.caller})` : c.caller}</td>
              <td>{c.callee}</td>
              <td>{DIRECTIONS[c.direction] ?? c.direction}</td>
              <td>{talk(c) || "Not answered"}</td>
              <td>{c.ended_reason}</td>
              {onOpen && (
                <td class="actions">
                  <button type="button" onClick={() => onOpen(c)}>
                    Details
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const newestFirst = (a: Cdr, b: Cdr) => Number(b.start_time) - Number(a.start_time) || Number(b.cdr_id) - Number(a.cdr_id);

export function Cdrs({ me }: { me: Me }) {
  const [skip, setSkip] = useState(0);
  const list = useList<Cdr>("/cdrs", { skip, top: TOP }, REFRESH_MS);
  const [open, setOpen] = useState<Cdr | null>(null);
  // Records from the stream that no read of the list had yet, with when they came.
  const [fresh, setFresh] = useState<{ cdr: Cdr; at: number }[]>([]);
  const later = useRef<number | undefined>(undefined);
  useEffect(() => () => clearTimeout(later.current), []);
  useEvents(
    {
      call_cdr: (e: PbxEvent | null) => {
        const cdr = e as unknown as Cdr;
        if (!cdr?.cdr_id) return;
        setFresh((f) => [{ cdr, at: Date.now() }, ...f.filter((x) => x.cdr.cdr_id !== cdr.cdr_id)]);
        clearTimeout(later.current);
        later.current = window.setTimeout(list.reload, RELOAD_MS);
      },
      open: () => list.reload(),
    },
    streamable(me),
  );
  useEffect(() => {
    if (!list.data) return;
    const known = new Set(list.data.items.map((c) => c.cdr_id));
    setFresh((f) => f.filter((x) => !known.has(x.cdr.cdr_id) && Date.now() - x.at < FRESH_MS));
  }, [list.data]);

  // The first page shows the records the list does not have yet, in their place.
  const known = new Set(list.data?.items.map((c) => c.cdr_id) ?? []);
  const extra = skip === 0 ? fresh.map((x) => x.cdr).filter((c) => !known.has(c.cdr_id)) : [];
  const items = [...extra, ...(list.data?.items ?? [])].sort(newestFirst).slice(0, TOP);
  const count = (list.data?.count ?? 0) + extra.length;
  return (
    <section>
      <h1>CDR</h1>
      <p class="sub">Call Statistics</p>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && count === 0 && <p>No calls yet.</p>}
      {list.data && count > 0 && (
        <>
          <CallTable items={items} onOpen={setOpen} />
          <Pager skip={skip} top={TOP} count={count} onPage={setSkip} />
        </>
      )}
      {open && <CdrDialog cdr={open} onClose={() => setOpen(null)} />}
    </section>
  );
}

function CdrDialog({ cdr, onClose }: { cdr: Cdr; onClose: () => void }) {
  return (
    <Dialog title="Call details" onClose={onClose} wide>
      <dl class="details">
        <dt>Caller</dt>
        <dd>{cdr.caller_display_name ? `${cdr.caller_display_name} (${cdr.caller})` : cdr.caller}</dd>
        <dt>Callee</dt>
        <dd>{cdr.callee}</dd>
        <dt>Started</dt>
        <dd>{unixTime(cdr.start_time)}</dd>
        <dt>Answered</dt>
        <dd>{unixTime(cdr.answered_time) || "Not answered"}</dd>
        <dt>Ended</dt>
        <dd>
          {unixTime(cdr.ended_time)} ({cdr.ended_reason}
          {cdr.status_code !== "0" ? `, SIP ${cdr.status_code}` : ""})
        </dd>
        <dt>Session id</dt>
        <dd>{cdr.session_id}</dd>
      </dl>
      <h3>Targets</h3>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Destination</th>
              <th scope="col">Type</th>
              <th scope="col">Talk time</th>
              <th scope="col">End</th>
            </tr>
          </thead>
          <tbody>
            {cdr.call_targets.map((t) => (
              <tr key={t.id}>
                <td>{t.destination}</td>
                <td>{t.call_type}</td>
                <td>{talk(t) || "Not answered"}</td>
                <td>
                  {t.end_reason}
                  {t.status_code ? ` (SIP ${t.status_code})` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="buttons">
        <button type="button" onClick={onClose} autofocus>
          Close
        </button>
      </div>
    </Dialog>
  );
}
