// Office Hours: whether an extension follows the tenant's (global) office hours
// or a week of its own (the `office_hours` of its settings), and its own
// holidays. While the office hours are closed or a holiday runs, a user whose
// status is Available is "Outside office hours" and calls follow that status's
// forwarding rules (docs/api.md, "Office hours, holidays and feature codes").
//
// Given the settings' and the holidays' paths: the user's own (/user/extension,
// /user/holidays) or a user's for a tenant admin (/users/{id}/...).
import { useEffect, useRef, useState } from "preact/hooks";
import { api, List } from "../api";
import { Alert, Checkbox, Confirm, DAYS, Dialog, Field, FormError, formError, message, RadioGroup, refused, Submit, useUnplaced } from "../ui";

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

export function OfficeHoursEditor({ settingsPath }: { settingsPath: string }) {
  const [mode, setMode] = useState<OfficeHours["mode"] | null>(null);
  const [week, setWeek] = useState<Week>(defaultWeek);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [error, setError] = useState<FormError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const unplaced = useUnplaced(form, error);

  const show = (oh: OfficeHours) => {
    setMode(oh.mode);
    setWeek(fullWeek(oh.week));
  };

  useEffect(() => {
    api
      .get<{ office_hours: OfficeHours }>(settingsPath)
      .then((x) => show(x.office_hours))
      .catch((e) => setLoadError(refused(e)));
  }, [settingsPath]);

  if (loadError) return <Alert>{loadError}</Alert>;
  if (!mode) return <p>Loading…</p>;

  const putDay = (d: string, shifts: Shift[]) => {
    setSaved(false);
    setWeek({ ...week, [d]: shifts });
  };

  const save = async (e: Submit) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const office_hours: OfficeHours = mode === "specific" ? { mode, week } : { mode };
      const r = await api.post<{ office_hours: OfficeHours }>(settingsPath, { office_hours });
      if (r?.office_hours) show(r.office_hours);
      setSaved(true);
    } catch (err) {
      setError(formError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} onSubmit={save} noValidate class="settings">
      <section class="card" aria-labelledby="h-hours">
        <h2 id="h-hours">Office hours</h2>
        <RadioGroup
          id="oh-mode"
          legend="Office hours to follow"
          value={mode}
          options={[["global", "Use global office hours"], ["specific", "Use specific office hours"]]}
          onChange={(v) => {
            setSaved(false);
            setMode(v as OfficeHours["mode"]);
          }}
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
        {error && unplaced && <Alert>{error.text}</Alert>}
        {saved && <p role="status">Saved.</p>}
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Save
          </button>
        </div>
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

export function HolidaysEditor({ path }: { path: string }) {
  const [list, setList] = useState<Holiday[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [editing, setEditing] = useState<Holiday | "new" | null>(null);
  const [deleting, setDeleting] = useState<Holiday | null>(null);
  const [busy, setBusy] = useState(false);
  const [delError, setDelError] = useState<string | null>(null);

  useEffect(() => {
    api
      .get<List<Holiday>>(path)
      .then((l) => {
        setList(l.items);
        setError(null);
      })
      .catch((e) => setError(refused(e)));
  }, [path, tick]);

  const destroy = async () => {
    if (!deleting) return;
    setBusy(true);
    setDelError(null);
    try {
      await api.post(`${path}/${encodeURIComponent(deleting.id)}/destroy`);
      setDeleting(null);
      setTick((n) => n + 1);
    } catch (e) {
      setDelError(message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="h-holidays">
      <h2 id="h-holidays">Holidays</h2>
      <p class="hint">Your office hours are closed while one of your holidays runs (the tenant's holidays apply as well).</p>
      {error && <Alert>{error}</Alert>}
      {list && list.length === 0 && <p>No holidays.</p>}
      {list && list.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">When</th>
                <th scope="col">Every year</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((h) => (
                <tr key={h.id}>
                  <td>{h.name}</td>
                  <td>{when(h)}</td>
                  <td>{h.every_year ? "Yes" : "No"}</td>
                  <td class="actions">
                    <button type="button" onClick={() => setEditing(h)}>
                      Edit
                    </button>
                    <button type="button" class="danger" onClick={() => setDeleting(h)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="buttons">
        <button type="button" onClick={() => setEditing("new")}>
          Add holiday
        </button>
      </div>
      {editing && (
        <HolidayDialog
          path={path}
          holiday={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            setTick((n) => n + 1);
          }}
        />
      )}
      {deleting && (
        <Confirm
          title="Delete holiday"
          text={`Delete the holiday ${deleting.name} (${when(deleting)})?`}
          action="Delete"
          busy={busy}
          error={delError}
          onConfirm={destroy}
          onCancel={() => {
            setDeleting(null);
            setDelError(null);
          }}
        />
      )}
    </section>
  );
}

const HOLIDAY_FIELDS = ["name", "start_date", "end_date", "start_time", "end_time"];

function HolidayDialog({ path, holiday, onClose, onSaved }: { path: string; holiday: Holiday | null; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(holiday?.name ?? "");
  const [startDate, setStartDate] = useState(holiday?.start_date ?? "");
  const [endDate, setEndDate] = useState(holiday?.end_date ?? "");
  const [startTime, setStartTime] = useState(holiday?.start_time ?? "00:00");
  const [endTime, setEndTime] = useState(holiday?.end_time ?? "23:59");
  const [everyYear, setEveryYear] = useState(holiday?.every_year ?? false);
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (e: Submit) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = { name: name.trim(), start_date: startDate, end_date: endDate || startDate, start_time: startTime, end_time: endTime, every_year: everyYear };
    try {
      if (holiday) await api.post(`${path}/${encodeURIComponent(holiday.id)}`, body);
      else await api.post(path, body);
      onSaved();
    } catch (err) {
      setError(formError(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={holiday ? `Edit ${holiday.name}` : "Add holiday"} onClose={onClose}>
      <form onSubmit={save} noValidate>
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
        {error && !HOLIDAY_FIELDS.includes(error.field ?? "") && <Alert>{error.text}</Alert>}
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Save
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
