// Call Statistics > CDR: the tenant's call detail records, newest first, paged;
// Details opens one record with every device rung and forward hop. A call's
// record shows as it ends, from the event stream's call_cdr (events.ts), and
// the list is read again on an interval as well (the stream may be down). The
// same table shows a user's own calls in their portal (CallTable).
import { useEffect, useRef, useState } from "preact/hooks";
import { duration, Me, unixTime } from "../api";
import { PbxEvent, streamable, useEvents } from "../events";
import { useList } from "../list";
import { TOP } from "../objects";
import { Alert, Column, Dialog, Pager, refused, Table } from "../ui";

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

// A call's direction for people.
export const direction = (d: string) => DIRECTIONS[d] ?? d;

// A party of a call: "Name (number)", or the number.
export function party(number: string, name: string): string {
  return name ? `${name} (${number})` : number;
}

const columns: Column<Cdr>[] = [
  { head: "Start", cell: (c) => unixTime(c.start_time) },
  { head: "Caller", cell: (c) => party(c.caller, c.caller_display_name) },
  { head: "Callee", cell: (c) => c.callee },
  { head: "Direction", cell: (c) => direction(c.direction) },
  { head: "Talk time", cell: (c) => talk(c) || "Not answered" },
  { head: "Ended", cell: (c) => c.ended_reason },
];

export function CallTable({ items, onOpen }: { items: Cdr[]; onOpen?: (c: Cdr) => void }) {
  return (
    <Table
      columns={columns}
      rows={items}
      rowKey={(c) => c.cdr_id}
      onOpen={onOpen}
      actions={
        onOpen &&
        ((c) => (
          <button type="button" onClick={() => onOpen(c)}>
            Details
          </button>
        ))
      }
    />
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

const targetColumns: Column<Target>[] = [
  { head: "Destination", cell: (t) => t.destination },
  { head: "Type", cell: (t) => t.call_type },
  { head: "Talk time", cell: (t) => talk(t) || "Not answered" },
  { head: "End", cell: (t) => `${t.end_reason ?? ""}${t.status_code ? ` (SIP ${t.status_code})` : ""}` },
];

function CdrDialog({ cdr, onClose }: { cdr: Cdr; onClose: () => void }) {
  return (
    <Dialog title="Call details" onClose={onClose} wide>
      <dl class="details">
        <dt>Caller</dt>
        <dd>{party(cdr.caller, cdr.caller_display_name)}</dd>
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
      <Table columns={targetColumns} rows={cdr.call_targets} rowKey={(t) => t.id} />
      <div class="buttons">
        <button type="button" onClick={onClose} autofocus>
          Close
        </button>
      </div>
    </Dialog>
  );
}
