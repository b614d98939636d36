// Office Hours: whether an extension follows the tenant's (global) office hours
// or a week of its own (the `office_hours` of its settings), and its own
// holidays. While the office hours are closed or a holiday runs, a user whose
// status is Available is "Outside office hours" and calls follow that status's
// forwarding rules (docs/api.md, "Office hours, holidays and feature codes").
//
// Given the settings' and the holidays' paths: the user's own (/user/extension,
// /user/holidays) or a user's for a tenant admin (/users/{id}/...).
import { useEffect, useState } from "preact/hooks";
import { api, List } from "../api";
import { ConfirmDialog, FormEnd, useConfirm, useForm, useSettings } from "../forms";
import { useList } from "../list";
import { EditorProps, saveObject } from "../objects";
import { Alert, Checkbox, Column, DAYS, Dialog, Field, RadioGroup, refused, Table } from "../ui";

interface Shift {
  start: string;
  end: string;
}

type Week = Record<string, Shift[]>;

interface OfficeHours {
  mode: "global" | "specific";
  week?: Partial<Week>;
}

const MAX_SHIFTS = 8;

function defaultWeek(): Week {
  const w: Week = {};
  for (const [d] of DAYS) w[d] = d === "sat" || d === "sun" ? [] : [{ start: "09:00", end: "17:00" }];
  return w;
}

function fullWeek(w: Partial<Week> | undefined): Week {
  if (!w) return defaultWeek();
  const out: Week = {};
  for (const [d] of DAYS) out[d] = (w[d] ?? []).map((s) => ({ ...s }));
  return out;
}

interface HoursForm {
  mode: OfficeHours["mode"];
  week: Week;
}

export function OfficeHoursEditor({ settingsPath }: { settingsPath: string }) {
  const st = useSettings<OfficeHours, HoursForm>(
    settingsPath,
    "office_hours",
    (oh) => ({ mode: oh.mode, week: fullWeek(oh.week) }),
    (f): OfficeHours => (f.mode === "specific" ? { mode: f.mode, week: f.week } : { mode: f.mode }),
  );
  const { value, form } = st;
  if (st.pending || !value) return <>{st.pending}</>;
  const { mode, week } = value;
  const error = form.error;
  const putDay = (d: string, shifts: Shift[]) => st.set({ mode, week: { ...week, [d]: shifts } });

  return (
    <form ref={form.ref} onSubmit={form.submit} noValidate class="settings">
      <section class="card" aria-labelledby="h-hours">
        <h2 id="h-hours">Office hours</h2>
        <RadioGroup
          id="oh-mode"
          legend="Office hours to follow"
          value={mode}
          options={[["global", "Use global office hours"], ["specific", "Use specific office hours"]]}
          onChange={(v) => st.set({ mode: v as OfficeHours["mode"], week })}
        />
        {mode === "global" && (
          <>
            <p class="hint">The tenant's office hours and holidays apply, set by its administrator.</p>
            <TenantHours />
          </>
        )}
        {mode === "specific" && (
          <>
            <p class="hint">A day without a time shift is closed. 00:00–23:59 is open all day; a shift whose end is before its start runs past midnight.</p>
            <div class="week">
              {DAYS.map(([d, name]) => (
                <fieldset key={d} class="day">
                  <legend>{name}</legend>
                  {week[d].length === 0 && <p class="closed">Closed</p>}
                  {week[d].map((sh, i) => {
                    const path = `office_hours.week.${d}[${i}]`;
                    const put = (x: Shift) => putDay(d, week[d].map((y, j) => (j === i ? x : y)));
                    return (
                      <div class="shift" key={i}>
                        <Field id={`oh-${d}-${i}-start`} name={`${path}.start`} label="Start" type="time" value={sh.start} onInput={(v) => put({ ...sh, start: v })} error={error} />
                        <Field id={`oh-${d}-${i}-end`} name={`${path}.end`} label="End" type="time" value={sh.end} onInput={(v) => put({ ...sh, end: v })} error={error} />
                        <button type="button" onClick={() => putDay(d, week[d].filter((_, j) => j !== i))}>
                          Remove shift {i + 1}
                        </button>
                      </div>
                    );
                  })}
                  {week[d].length < MAX_SHIFTS && (
                    <button type="button" onClick={() => putDay(d, [...week[d], week[d].length ? { start: "13:00", end: "17:00" } : { start: "09:00", end: "17:00" }])}>
                      Add shift
                    </button>
                  )}
                </fieldset>
              ))}
            </div>
          </>
        )}
        <FormEnd form={form} />
      </section>
    </form>
  );
}

// The tenant's office hours and holidays, read-only (GET /api/tenant/office_hours
// and /api/holidays: any member of the tenant may read them).
function TenantHours() {
  const [week, setWeek] = useState<Week | null>(null);
  const [hols, setHols] = useState<Holiday[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .get<Week>("/tenant/office_hours")
      .then((w) => setWeek(fullWeek(w)))
      .catch((e) => setError(refused(e)));
    api
      .get<List<Holiday>>("/holidays")
      .then((l) => setHols(l.items))
      .catch((e) => setError(refused(e)));
  }, []);
  const shifts = (l: Shift[]) => {
    if (!l.length) return "Closed";
    if (l.length === 1 && l[0].start === "00:00" && l[0].end === "23:59") return "Open all day";
    return l.map((x) => (x.start === x.end ? "Closed" : `${x.start}–${x.end}`)).join(", ");
  };
  return (
    <div class="global-hours">
      {error && <Alert>{error}</Alert>}
      {week && (
        <div class="table-wrap">
          <table aria-labelledby="h-global-hours">
            <caption id="h-global-hours">Global office hours</caption>
            <tbody>
              {DAYS.map(([d, name]) => (
                <tr key={d}>
                  <th scope="row">{name}</th>
                  <td>{shifts(week[d])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {hols && (
        <>
          <h3 id="h-global-holidays">Global holidays</h3>
          {hols.length === 0 ? (
            <p>No global holidays.</p>
          ) : (
            <ul aria-labelledby="h-global-holidays">
              {hols.map((h) => (
                <li key={h.id}>
                  {h.name}: {when(h)}
                  {h.every_year ? " (every year)" : ""}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </div>
  );
}

export interface Holiday {
  id: string;
  name: string;
  start_date: string;
  end_date: string;
  start_time: string;
  end_time: string;
  every_year: boolean;
}

function when(h: Holiday): string {
  const times = h.start_time === "00:00" && h.end_time === "23:59" ? "" : ` ${h.start_time}`;
  const endTimes = h.start_time === "00:00" && h.end_time === "23:59" ? "" : ` ${h.end_time}`;
  if (h.start_date === h.end_date && !times) return h.start_date;
  return `${h.start_date}${times} – ${h.end_date}${endTimes}`;
}

const holidayColumns: Column<Holiday>[] = [
  { head: "Name", cell: (h) => h.name },
  { head: "When", cell: when },
  { head: "Every year", cell: (h) => (h.every_year ? "Yes" : "No") },
];

export function HolidaysEditor({ path }: { path: string }) {
  const list = useList<Holiday>(path, {});
  const [editing, setEditing] = useState<Holiday | "new" | null>(null);
  const deleting = useConfirm<Holiday>((h) => api.post(`${path}/${encodeURIComponent(h.id)}/destroy`), list.reload);
  const items = list.data?.items;

  return (
    <section class="card" aria-labelledby="h-holidays">
      <h2 id="h-holidays">Holidays</h2>
      <p class="hint">Your office hours are closed while one of your holidays runs (the tenant's holidays apply as well).</p>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {items && items.length === 0 && <p>No holidays.</p>}
      {items && items.length > 0 && (
        <Table
          columns={holidayColumns}
          rows={items}
          rowKey={(h) => h.id}
          actions={(h) => (
            <>
              <button type="button" onClick={() => setEditing(h)}>
                Edit
              </button>
              <button type="button" class="danger" onClick={() => deleting.ask(h)}>
                Delete
              </button>
            </>
          )}
        />
      )}
      <div class="buttons">
        <button type="button" onClick={() => setEditing("new")}>
          Add holiday
        </button>
      </div>
      {editing && (
        <HolidayDialog
          path={path}
          item={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            list.reload();
          }}
        />
      )}
      <ConfirmDialog c={deleting} title="Delete holiday" text={(h) => `Delete the holiday ${h.name} (${when(h)})?`} action="Delete" />
    </section>
  );
}

function HolidayDialog({ path, item: holiday, onClose, onSaved }: EditorProps<Holiday> & { path: string }) {
  const [name, setName] = useState(holiday?.name ?? "");
  const [startDate, setStartDate] = useState(holiday?.start_date ?? "");
  const [endDate, setEndDate] = useState(holiday?.end_date ?? "");
  const [startTime, setStartTime] = useState(holiday?.start_time ?? "00:00");
  const [endTime, setEndTime] = useState(holiday?.end_time ?? "23:59");
  const [everyYear, setEveryYear] = useState(holiday?.every_year ?? false);
  const form = useForm(async () => {
    const body: Record<string, unknown> = { name: name.trim(), start_date: startDate, end_date: endDate || startDate, start_time: startTime, end_time: endTime, every_year: everyYear };
    await saveObject(path, holiday, body);
    onSaved();
  });
  const error = form.error;

  return (
    <Dialog title={holiday ? `Edit ${holiday.name}` : "Add holiday"} onClose={onClose}>
      <form ref={form.ref} onSubmit={form.submit} noValidate>
        <Field id="h-name" name="name" label="Name" value={name} onInput={setName} error={error} required autofocus />
        <div class="shift">
          <Field id="h-start-date" name="start_date" label="Start date" type="date" value={startDate} onInput={setStartDate} error={error} required />
          <Field id="h-start-time" name="start_time" label="Start time" type="time" value={startTime} onInput={setStartTime} error={error} />
        </div>
        <div class="shift">
          <Field id="h-end-date" name="end_date" label="End date" type="date" hint="Empty: the start date" value={endDate} onInput={setEndDate} error={error} />
          <Field id="h-end-time" name="end_time" label="End time" type="time" value={endTime} onInput={setEndTime} error={error} />
        </div>
        <Checkbox id="h-every-year" label="Every year" checked={everyYear} onChange={setEveryYear} />
        <FormEnd form={form} onCancel={onClose} />
      </form>
    </Dialog>
  );
}
