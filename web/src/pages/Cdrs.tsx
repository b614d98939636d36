// Call Statistics > CDR: the tenant's call detail records, newest first, paged;
// Details opens one record with every device rung and forward hop. The same
// table shows a user's own calls in their portal (CallTable).
import { useState } from "preact/hooks";
import { duration, unixTime } from "../api";
import { useList } from "../list";
import { Alert, Dialog, Pager, refused } from "../ui";

const TOP = 20;

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

export function Cdrs() {
  const [skip, setSkip] = useState(0);
  const list = useList<Cdr>("/cdrs", { skip, top: TOP }, 15000);
  const [open, setOpen] = useState<Cdr | null>(null);
  return (
    <section>
      <h1>CDR</h1>
      <p class="sub">Call Statistics</p>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && list.data.count === 0 && <p>No calls yet.</p>}
      {list.data && list.data.count > 0 && (
        <>
          <CallTable items={list.data.items} onOpen={setOpen} />
          <Pager skip={skip} top={TOP} count={list.data.count} onPage={setSkip} />
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
