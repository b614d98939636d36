// Forwarding Rule: the `forwarding` object of an extension's settings (docs/api.md,
// "Extension settings") in the seeds' words: the unconditional forward (Don't
// forward calls / to a destination / by schedule), the conditional forward by
// status (Available is the top-level rules; Away, Lunch, Business trip and
// Outside office hours may have their own, a condition left out following
// Available's; one put back to "Same as Available" is sent as null, which removes
// it), exceptions (a caller, when, where to) and exception numbers.
//
// The editor is given the settings' path: the user's own (/user/extension) or,
// for a tenant admin, a user's (/users/{id}/extension). One Save sends the whole
// forwarding object; a refusal is shown beside the field the API names, and the
// form keeps what was typed.
import { useState } from "preact/hooks";
import { FormEnd, useSettings } from "../forms";
import { Alert, DaysPicker, Field, FormError, formError, int, RadioGroup, Select, Tabs } from "../ui";

type Action = "hangup" | "voicemail" | "number" | "ring";

interface Dest {
  action: Action;
  number?: string;
  mailbox?: string;
  ring_time?: number;
}

interface Shift {
  days: string[];
  start: string;
  end: string;
}

interface Exception {
  caller_id: string;
  days?: string[];
  start?: string;
  end?: string;
  destination: Dest;
}

type Cond = "busy" | "no_answer" | "not_reachable";
type StatusRules = Partial<Record<Cond, Dest>>;

export interface Forwarding {
  unconditional: { mode: "off" | "always" | "schedule"; destination?: Dest; schedules?: Shift[] };
  busy: Dest;
  no_answer: Dest;
  not_reachable: Dest;
  by_status?: Partial<Record<string, StatusRules>>;
  exceptions?: Exception[];
  exception_numbers?: string[];
}

// What the form edits: strings as typed; "same" is "as the Available status".
interface DestForm {
  action: Action | "same";
  number: string;
  mailbox: string;
  ring_time: string;
}

interface ExceptionForm {
  caller_id: string;
  when: "always" | "during";
  days: string[];
  start: string;
  end: string;
  dest: DestForm;
}

interface FormState {
  mode: "off" | "always" | "schedule";
  uncond: DestForm;
  schedules: Shift[];
  rules: Record<string, Record<Cond, DestForm>>; // status -> condition -> destination
  stored: Record<string, Record<Cond, boolean>>; // which by_status conditions the API has
  exceptions: ExceptionForm[];
  numbers: string[];
}

export const STATUSES: [string, string][] = [
  ["available", "Available"], ["away", "Away"], ["lunch", "Lunch"], ["business_trip", "Business trip"], ["outside_office_hours", "Outside office hours"],
];

const CONDS: [Cond, string][] = [
  ["not_reachable", "Forward calls when not reachable"],
  ["busy", "Forward calls when number is busy"],
  ["no_answer", "Forward calls when number doesn't answer"],
];

const ACTIONS: [string, string][] = [["voicemail", "Forward to voicemail"], ["number", "Forward to number"], ["hangup", "Hang up"], ["ring", "Ring anyway"]];

function destForm(d: Dest | undefined, fallback: DestForm["action"] = "voicemail"): DestForm {
  if (!d) return { action: fallback, number: "", mailbox: "", ring_time: "" };
  return { action: d.action, number: d.number ?? "", mailbox: d.mailbox ?? "", ring_time: d.ring_time !== undefined ? String(d.ring_time) : "" };
}

function toForm(f: Forwarding): FormState {
  const rules: FormState["rules"] = {};
  const stored: FormState["stored"] = {};
  for (const [st] of STATUSES) {
    const set: StatusRules = st === "available" ? f : f.by_status?.[st] ?? {};
    rules[st] = {} as Record<Cond, DestForm>;
    stored[st] = {} as Record<Cond, boolean>;
    for (const [c] of CONDS) {
      rules[st][c] = destForm(set[c], st === "available" ? "voicemail" : "same");
      stored[st][c] = st !== "available" && !!set[c];
    }
  }
  return {
    mode: f.unconditional.mode,
    uncond: destForm(f.unconditional.destination, "number"),
    schedules: (f.unconditional.schedules ?? []).map((s) => ({ ...s, days: [...s.days] })),
    rules,
    stored,
    exceptions: (f.exceptions ?? []).map((e) => ({
      caller_id: e.caller_id,
      when: e.start || e.days?.length ? "during" : "always",
      days: e.days ?? [],
      start: e.start ?? "",
      end: e.end ?? "",
      dest: destForm(e.destination),
    })),
    numbers: [...(f.exception_numbers ?? [])],
  };
}

function toDest(d: DestForm, withRing = false): Record<string, unknown> {
  const o: Record<string, unknown> = { action: d.action };
  if (d.action === "number") o.number = d.number.trim();
  if (d.action === "voicemail" && d.mailbox.trim()) o.mailbox = d.mailbox.trim();
  if (withRing && d.ring_time.trim()) o.ring_time = int(d.ring_time);
  return o;
}

function toForwarding(s: FormState): Record<string, unknown> {
  const unconditional: Record<string, unknown> = { mode: s.mode };
  if (s.mode !== "off") unconditional.destination = toDest(s.uncond);
  if (s.mode === "schedule") unconditional.schedules = s.schedules;
  const out: Record<string, unknown> = { unconditional };
  const by: Record<string, unknown> = {};
  for (const [st] of STATUSES) {
    const set: Record<string, unknown> = {};
    let own = 0;
    let stored = 0;
    for (const [c] of CONDS) {
      const d = s.rules[st][c];
      if (d.action !== "same") {
        set[c] = toDest(d, c === "no_answer");
        own++;
      } else if (s.stored[st]?.[c]) set[c] = null; // back to Available's: removed (RFC 7396)
      if (s.stored[st]?.[c]) stored++;
    }
    if (st === "available") Object.assign(out, set);
    else if (!own && stored) by[st] = null; // nothing of its own left: the whole set goes
    else if (Object.keys(set).length) by[st] = set;
  }
  if (Object.keys(by).length) out.by_status = by;
  out.exceptions = s.exceptions.map((e) => {
    const o: Record<string, unknown> = { caller_id: e.caller_id.trim() };
    if (e.when === "during") {
      o.days = e.days;
      o.start = e.start;
      o.end = e.end;
    }
    o.destination = toDest(e.dest);
    return o;
  });
  out.exception_numbers = s.numbers.map((n) => n.trim());
  return out;
}

// The tab an error's field is on: forwarding.by_status.away.busy.number -> away.
function statusOf(field: string | null): string | null {
  if (!field) return null;
  const m = /^forwarding\.by_status\.([a-z_]+)/.exec(field);
  if (m) return m[1];
  if (/^forwarding\.(busy|no_answer|not_reachable)\b/.test(field)) return "available";
  return null;
}

// One destination: what to do, and the number, mailbox or ring time it needs.
function DestFields({ id, path, legend, d, onChange, error, same, ring }: { id: string; path: string; legend: string; d: DestForm; onChange: (d: DestForm) => void; error: FormError | null; same?: boolean; ring?: boolean }) {
  const options: [string, string][] = same ? [["same", "Same as Available"], ...ACTIONS] : ACTIONS;
  return (
    <fieldset>
      <legend>{legend}</legend>
      <Select id={`${id}-action`} name={`${path}.action`} label="Forward to" value={d.action} options={options} onChange={(v) => onChange({ ...d, action: v as DestForm["action"] })} error={error} />
      {d.action === "number" && (
        <Field id={`${id}-number`} name={`${path}.number`} label="Destination number" inputMode="numeric" value={d.number} onInput={(v) => onChange({ ...d, number: v })} error={error} />
      )}
      {d.action === "voicemail" && (
        <Field id={`${id}-mailbox`} name={`${path}.mailbox`} label="Voicemail box" hint="Another extension's mailbox; empty: your own" inputMode="numeric" value={d.mailbox} onInput={(v) => onChange({ ...d, mailbox: v })} error={error} />
      )}
      {ring && d.action !== "same" && (
        <Field id={`${id}-ring`} name={`${path}.ring_time`} label="Extension ring time (seconds)" type="number" min={5} max={300} hint="5 to 300; default 20" value={d.ring_time} onInput={(v) => onChange({ ...d, ring_time: v })} error={error} />
      )}
    </fieldset>
  );
}

function ShiftFields({ id, path, s, onChange, error }: { id: string; path: string; s: { start: string; end: string }; onChange: (start: string, end: string) => void; error: FormError | null }) {
  return (
    <div class="shift">
      <Field id={`${id}-start`} name={`${path}.start`} label="Start" type="time" value={s.start} onInput={(v) => onChange(v, s.end)} error={error} />
      <Field id={`${id}-end`} name={`${path}.end`} label="End" type="time" value={s.end} onInput={(v) => onChange(s.start, v)} error={error} />
    </div>
  );
}

export function ForwardingEditor({ settingsPath }: { settingsPath: string }) {
  const [tab, setTab] = useState("available");
  // a refusal shows on the status tab of the rule it names
  const fail = (err: unknown) => {
    const fe = formError(err);
    const st = statusOf(fe.field);
    if (st) setTab(st);
    return fe;
  };
  const fw = useSettings<Forwarding, FormState>(settingsPath, "forwarding", toForm, toForwarding, fail);
  const { value: s, form } = fw;
  if (fw.pending || !s) return <>{fw.pending}</>;
  const error = form.error;

  const set = (patch: Partial<FormState>) => fw.set({ ...s, ...patch });
  const setRule = (st: string, c: Cond, d: DestForm) => set({ rules: { ...s.rules, [st]: { ...s.rules[st], [c]: d } } });

  return (
    <form ref={form.ref} onSubmit={form.submit} noValidate class="settings">
      <section class="card" aria-labelledby="h-uncond">
        <h2 id="h-uncond">Unconditional forward</h2>
        <RadioGroup
          id="uncond-mode"
          legend="Call forwarding"
          value={s.mode}
          options={[["off", "Don't forward calls"], ["always", "Forward calls to a destination number"], ["schedule", "Forward calls according to schedule rules"]]}
          onChange={(v) => set({ mode: v as FormState["mode"] })}
        />
        {s.mode !== "off" && <DestFields id="uncond" path="forwarding.unconditional.destination" legend="Destination" d={s.uncond} onChange={(d) => set({ uncond: d })} error={error} />}
        {s.mode === "schedule" && (
          <div class="list" role="group" aria-labelledby="h-schedules" data-name="forwarding.unconditional.schedules">
            <h3 id="h-schedules">Schedules</h3>
            {error?.field === "forwarding.unconditional.schedules" && <Alert>{error.text}</Alert>}
            {s.schedules.length === 0 && <p>No schedule yet: add one.</p>}
            {s.schedules.map((sc, i) => {
              const path = `forwarding.unconditional.schedules[${i}]`;
              const put = (x: Shift) => set({ schedules: s.schedules.map((y, j) => (j === i ? x : y)) });
              return (
                <fieldset key={i} class="item">
                  <legend>Schedule {i + 1}</legend>
                  <DaysPicker id={`sch-${i}-days`} name={`${path}.days`} legend="Days" days={sc.days} onChange={(days) => put({ ...sc, days })} error={error} />
                  <ShiftFields id={`sch-${i}`} path={path} s={sc} onChange={(start, end) => put({ ...sc, start, end })} error={error} />
                  <button type="button" onClick={() => set({ schedules: s.schedules.filter((_, j) => j !== i) })}>
                    Remove schedule {i + 1}
                  </button>
                </fieldset>
              );
            })}
            <button type="button" onClick={() => set({ schedules: [...s.schedules, { days: ["mon", "tue", "wed", "thu", "fri"], start: "09:00", end: "17:00" }] })}>
              Add schedule
            </button>
          </div>
        )}
        <p class="hint">While the unconditional forward applies, it overrides the conditional forward.</p>
      </section>

      <section class="card" aria-labelledby="h-cond">
        <h2 id="h-cond">Conditional forward</h2>
        <p class="hint">Each status has its own rules. A status's rule left as "Same as Available" follows the Available status's.</p>
        <Tabs id="fw" label="Status" tabs={STATUSES} current={tab} onChange={setTab} />
        {STATUSES.map(([st, label]) => (
          <div key={st} role="tabpanel" id={`fw-panel-${st}`} aria-labelledby={`fw-tab-${st}`} hidden={tab !== st}>
            {CONDS.map(([c, legend]) => (
              <DestFields
                key={c}
                id={`fw-${st}-${c}`}
                path={st === "available" ? `forwarding.${c}` : `forwarding.by_status.${st}.${c}`}
                legend={`${legend} (${label})`}
                d={s.rules[st][c]}
                onChange={(d) => setRule(st, c, d)}
                error={error}
                same={st !== "available"}
                ring={c === "no_answer"}
              />
            ))}
          </div>
        ))}
      </section>

      <section class="card" aria-labelledby="h-exceptions">
        <h2 id="h-exceptions">Exceptions</h2>
        <p class="hint">A call from one of these callers (during its time shift, if one is set) bypasses the rules above.</p>
        {s.exceptions.length === 0 && <p>No exceptions.</p>}
        {s.exceptions.map((ex, i) => {
          const path = `forwarding.exceptions[${i}]`;
          const put = (x: ExceptionForm) => set({ exceptions: s.exceptions.map((y, j) => (j === i ? x : y)) });
          return (
            <fieldset key={i} class="item">
              <legend>Exception {i + 1}</legend>
              <Field id={`ex-${i}-caller`} name={`${path}.caller_id`} label="Caller ID" inputMode="numeric" value={ex.caller_id} onInput={(v) => put({ ...ex, caller_id: v })} error={error} />
              <RadioGroup id={`ex-${i}-when`} legend="Received during" value={ex.when} options={[["always", "Any time"], ["during", "A time shift"]]} onChange={(v) => put({ ...ex, when: v as ExceptionForm["when"], start: ex.start || "09:00", end: ex.end || "17:00", days: ex.days.length ? ex.days : ["mon", "tue", "wed", "thu", "fri"] })} />
              {ex.when === "during" && (
                <>
                  <DaysPicker id={`ex-${i}-days`} name={`${path}.days`} legend="Days" days={ex.days} onChange={(days) => put({ ...ex, days })} error={error} />
                  <ShiftFields id={`ex-${i}`} path={path} s={ex} onChange={(start, end) => put({ ...ex, start, end })} error={error} />
                </>
              )}
              <DestFields id={`ex-${i}-dest`} path={`${path}.destination`} legend="Destination" d={ex.dest} onChange={(dest) => put({ ...ex, dest })} error={error} />
              <button type="button" onClick={() => set({ exceptions: s.exceptions.filter((_, j) => j !== i) })}>
                Remove exception {i + 1}
              </button>
            </fieldset>
          );
        })}
        <button type="button" onClick={() => set({ exceptions: [...s.exceptions, { caller_id: "", when: "always", days: [], start: "", end: "", dest: destForm(undefined, "number") }] })}>
          Add exception
        </button>
      </section>

      <section class="card" aria-labelledby="h-numbers">
        <h2 id="h-numbers">Exception numbers</h2>
        <p class="hint">Calls from these numbers are never forwarded.</p>
        {s.numbers.length === 0 && <p>No exception numbers.</p>}
        {s.numbers.map((n, i) => (
          <div class="row-inline" key={i}>
            <Field id={`exn-${i}`} name={`forwarding.exception_numbers[${i}]`} label={`Exception number ${i + 1}`} inputMode="numeric" value={n} onInput={(v) => set({ numbers: s.numbers.map((y, j) => (j === i ? v : y)) })} error={error} />
            <button type="button" onClick={() => set({ numbers: s.numbers.filter((_, j) => j !== i) })}>
              Remove number {i + 1}
            </button>
          </div>
        ))}
        <button type="button" onClick={() => set({ numbers: [...s.numbers, ""] })}>
          Add number
        </button>
      </section>

      <FormEnd form={form} sticky elsewhere={["forwarding.unconditional.schedules"]} />
    </form>
  );
}
