// Small building blocks every page shares: labelled fields that show the API's
// error next to the field it names, alerts, modal dialogs, a pager, a switch,
// tables of items with their actions, status dots and badges.
import type { ComponentChildren, TargetedSubmitEvent } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import { linkClick } from "./router";

// What a failed request says, for people. 401 from sign-in and 429 are worded
// by the pages that expect them.
export function message(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return "You are not allowed to do this: " + e.message + ".";
    if (e.status === 429) return `Too many failed attempts. Try again in ${e.retryAfter || "a few"} seconds.`;
    if (e.status === 503) return "The server is busy. Try again in a moment.";
    return e.message.charAt(0).toUpperCase() + e.message.slice(1) + (/[.!?]$/.test(e.message) ? "" : ".");
  }
  return "The server cannot be reached. Check the connection and try again.";
}

// A page whose data the API refused: 403 says this session may not open it.
export function refused(e: unknown): string {
  if (e instanceof ApiError && e.status === 403) return "You are not allowed to open this page: " + e.message + ".";
  return message(e);
}

// A failed save: the field it names (the API's dotted path) and what to say.
export interface FormError {
  field: string | null;
  text: string;
}

export function formError(e: unknown): FormError {
  return { field: e instanceof ApiError ? e.field : null, text: message(e) };
}

// The text shown beside the field an error names: without the field's path,
// which the field's label already says ("username: must not be empty").
function besideField(fe: FormError): string {
  const t = fe.field && fe.text.toLowerCase().startsWith(fe.field.toLowerCase() + ": ") ? fe.text.slice(fe.field.length + 2) : fe.text;
  return t.charAt(0).toUpperCase() + t.slice(1);
}

// The error a control shows (the form's error when it names the control's
// field), and the control's ref, focused when that error comes.
export function useFieldError<E extends HTMLElement>(error: FormError | null | undefined, name: string | undefined) {
  const err = error && name && error.field === name ? besideField(error) : null;
  const ref = useRef<E>(null);
  useEffect(() => {
    if (err) ref.current?.focus();
  }, [err]);
  return { err, ref };
}

export function Alert({ children, id }: { children: ComponentChildren; id?: string }) {
  return (
    <p class="alert" role="alert" id={id}>
      {children}
    </p>
  );
}

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  type?: "text" | "password" | "email" | "time" | "date" | "number";
  required?: boolean;
  autocomplete?: string;
  error?: FormError | null;
  name?: string; // the API field this input sets (errors naming it show here)
  hint?: string;
  inputMode?: "numeric" | "email" | "text";
  autofocus?: boolean;
  min?: number;
  max?: number;
  class?: string;
}

export function Field(p: FieldProps) {
  const { err, ref } = useFieldError<HTMLInputElement>(p.error, p.name);
  useEffect(() => {
    if (p.autofocus) ref.current?.focus();
  }, []);
  const described = [p.hint ? p.id + "-hint" : "", err ? p.id + "-error" : ""].filter(Boolean).join(" ");
  return (
    <div class={p.class ? "field " + p.class : "field"}>
      <label for={p.id}>{p.label}</label>
      <input
        ref={ref}
        min={p.min}
        max={p.max}
        id={p.id}
        name={p.name ?? p.id}
        {...({ type: p.type ?? "text" } as { type: "text" }) /* preact types narrow ARIA per input type */}
        value={p.value}
        required={p.required}
        autocomplete={p.autocomplete ?? "off"}
        inputMode={p.inputMode}
        aria-invalid={err ? "true" : undefined}
        aria-describedby={described || undefined}
        onInput={(e) => p.onInput((e.currentTarget as HTMLInputElement).value)}
      />
      {p.hint && (
        <small class="hint" id={p.id + "-hint"}>
          {p.hint}
        </small>
      )}
      {err && <Alert id={p.id + "-error"}>{err}</Alert>}
    </div>
  );
}

interface SelectProps {
  id: string;
  label: string;
  value: string;
  options: [string, string][]; // value, label
  onChange: (v: string) => void;
  error?: FormError | null;
  name?: string;
  class?: string;
}

export function Select(p: SelectProps) {
  const { err, ref } = useFieldError<HTMLSelectElement>(p.error, p.name);
  return (
    <div class={p.class ? "field " + p.class : "field"}>
      <label for={p.id}>{p.label}</label>
      <select
        ref={ref}
        id={p.id}
        name={p.name ?? p.id}
        value={p.value}
        aria-invalid={err ? "true" : undefined}
        aria-describedby={err ? p.id + "-error" : undefined}
        onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        {p.options.map(([v, l]) => (
          <option value={v} key={v}>
            {l}
          </option>
        ))}
      </select>
      {err && <Alert id={p.id + "-error"}>{err}</Alert>}
    </div>
  );
}

export function Checkbox({ id, label, checked, onChange }: { id: string; label: string; checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <div class="check">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} />
      <label for={id}>{label}</label>
    </div>
  );
}

// An on/off switch (role switch), saved by its owner on each change.
export function Switch({ id, label, checked, disabled, onChange }: { id: string; label: string; checked: boolean; disabled?: boolean; onChange: (v: boolean) => void }) {
  return (
    <div class="switch-row">
      <span id={id + "-label"} class="switch-label">
        {label}
      </span>
      <button
        id={id}
        type="button"
        role="switch"
        class="switch"
        aria-checked={checked ? "true" : "false"}
        aria-labelledby={id + "-label"}
        disabled={disabled}
        onClick={() => onChange(!checked)}
      >
        <span class="knob" aria-hidden="true" />
        <span class="switch-state" aria-hidden="true">
          {checked ? "On" : "Off"}
        </span>
      </button>
    </div>
  );
}

// A modal dialog (the platform's <dialog>: focus kept inside, Escape closes).
export function Dialog({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useRef("dlg-" + Math.random().toString(36).slice(2)).current;
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose();
    };
    d?.addEventListener("cancel", cancel);
    return () => d?.removeEventListener("cancel", cancel);
  }, [onClose]);
  return (
    <dialog ref={ref} class={wide ? "wide" : undefined} aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

// Asks before something is destroyed.
export function Confirm({ title, text, action, busy, error, onConfirm, onCancel }: { title: string; text: string; action: string; busy?: boolean; error?: string | null; onConfirm: () => void; onCancel: () => void }) {
  return (
    <Dialog title={title} onClose={onCancel}>
      <p>{text}</p>
      {error && <Alert>{error}</Alert>}
      <div class="buttons">
        <button type="button" class="danger" disabled={busy} onClick={onConfirm}>
          {action}
        </button>
        <button type="button" onClick={onCancel} autofocus>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

export function Pager({ skip, top, count, onPage }: { skip: number; top: number; count: number; onPage: (skip: number) => void }) {
  if (count <= top && skip === 0) return <p class="pager-info">{count === 1 ? "1 item" : `${count} items`}</p>;
  const last = Math.min(skip + top, count);
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={skip === 0} onClick={() => onPage(Math.max(0, skip - top))}>
        Previous page
      </button>
      <span>
        {count ? skip + 1 : 0}–{last} of {count}
      </span>
      <button type="button" disabled={last >= count} onClick={() => onPage(skip + top)}>
        Next page
      </button>
    </nav>
  );
}

export interface Column<T> {
  head: string;
  cell: (r: T) => ComponentChildren;
}

// A table of items: a column each, and the item's buttons last (their column
// named "Actions" for screen readers alone).
export function Table<T>({ columns, rows, rowKey, actions, caption, onOpen }: { columns: Column<T>[]; rows: T[]; rowKey: (r: T) => string; actions?: (r: T) => ComponentChildren; caption?: string; onOpen?: (r: T) => void }) {
  return (
    <div class="table-wrap">
      <table>
        {caption && <caption class="sr-only">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c.head}>
                {c.head}
              </th>
            ))}
            {actions && (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)} onDblClick={onOpen ? () => onOpen(r) : undefined}>
              {columns.map((c) => (
                <td key={c.head}>{c.cell(r)}</td>
              ))}
              {actions && <td class="actions">{actions(r)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// A green dot when on (registered, live), grey when not; for the eyes alone.
export function Dot({ on }: { on: boolean }) {
  return <span class={on ? "dot on" : "dot"} aria-hidden="true" />;
}

// A status cell: the dot, what it means in words, and any badges.
export function StatusLine({ on, children }: { on: boolean; children: ComponentChildren }) {
  return (
    <span class="status">
      <Dot on={on} />
      {children}
    </span>
  );
}

// A short flag beside a status: DND, a failure (red); "off" (grey), "call" (blue).
export function Badge({ kind, children }: { kind?: "off" | "call"; children: ComponentChildren }) {
  return <span class={kind ? "badge " + kind : "badge"}>{children}</span>;
}

export function Link({ to, children, current, class: cls }: { to: string; children: ComponentChildren; current?: boolean; class?: string }) {
  return (
    <a href={to} class={cls} aria-current={current ? "page" : undefined} onClick={(e) => linkClick(e as unknown as MouseEvent, to)}>
      {children}
    </a>
  );
}

// The search box of a list: filters as one types (after a short pause).
export function SearchBox({ id, value, onInput }: { id: string; value: string; onInput: (v: string) => void }) {
  return (
    <div class="field search">
      <label for={id}>Search</label>
      <input id={id} type="search" value={value} onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)} />
    </div>
  );
}

export type Submit = TargetedSubmitEvent<HTMLFormElement>;

// Radio buttons in a fieldset whose legend names the choice.
export function RadioGroup({ id, legend, value, options, onChange }: { id: string; legend: string; value: string; options: [string, string][]; onChange: (v: string) => void }) {
  return (
    <fieldset class="radios">
      <legend>{legend}</legend>
      {options.map(([v, l]) => (
        <div class="check" key={v}>
          <input type="radio" id={`${id}-${v}`} name={id} value={v} checked={value === v} onChange={() => onChange(v)} />
          <label for={`${id}-${v}`}>{l}</label>
        </div>
      ))}
    </fieldset>
  );
}

// Tabs (WAI-ARIA tabs pattern: arrows, Home and End move between them); the
// panels are the caller's, each with id `${id}-panel-${key}`.
export function Tabs({ id, label, tabs, current, onChange }: { id: string; label: string; tabs: [string, string][]; current: string; onChange: (key: string) => void }) {
  const move = (e: KeyboardEvent, i: number) => {
    let j = -1;
    if (e.key === "ArrowRight") j = (i + 1) % tabs.length;
    else if (e.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = tabs.length - 1;
    if (j < 0) return;
    e.preventDefault();
    onChange(tabs[j][0]);
    document.getElementById(`${id}-tab-${tabs[j][0]}`)?.focus();
  };
  return (
    <div role="tablist" aria-label={label} class="tabs">
      {tabs.map(([k, l], i) => (
        <button
          key={k}
          type="button"
          role="tab"
          id={`${id}-tab-${k}`}
          aria-controls={`${id}-panel-${k}`}
          aria-selected={current === k ? "true" : "false"}
          tabIndex={current === k ? 0 : -1}
          onClick={() => onChange(k)}
          onKeyDown={(e) => move(e as unknown as KeyboardEvent, i)}
        >
          {l}
        </button>
      ))}
    </div>
  );
}

// A number typed is sent as one; anything else as typed, for the API to name.
export function int(v: string): number | string {
  return /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
}

// Whether a form's error names no control the form shows (then the form shows
// it as a whole): the API's field is matched against the controls' names.
export function useUnplaced(form: { current: HTMLFormElement | null }, error: FormError | null): boolean {
  const [unplaced, setUnplaced] = useState(false);
  useEffect(() => {
    if (!error) return setUnplaced(false);
    const f = error.field;
    setUnplaced(!f || !form.current?.querySelector(`[name="${CSS.escape(f)}"]`));
  }, [error]);
  return unplaced;
}

export const DAYS: [string, string][] = [
  ["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"],
];

// Days of the week as check boxes in a fieldset.
export function DaysPicker({ id, legend, days, onChange, name, error }: { id: string; legend: string; days: string[]; onChange: (d: string[]) => void; name?: string; error?: FormError | null }) {
  const err = error && name && error.field === name ? besideField(error) : null;
  return (
    <fieldset class="days" name={name} aria-describedby={err ? id + "-error" : undefined}>
      <legend>{legend}</legend>
      {DAYS.map(([k, l]) => (
        <div class="check" key={k}>
          <input
            type="checkbox"
            id={`${id}-${k}`}
            checked={days.includes(k)}
            onChange={(e) => {
              const on = (e.currentTarget as HTMLInputElement).checked;
              onChange(DAYS.map(([d]) => d).filter((d) => (d === k ? on : days.includes(d))));
            }}
          />
          <label for={`${id}-${k}`}>{l.slice(0, 3)}</label>
        </div>
      ))}
      {err && <Alert id={id + "-error"}>{err}</Alert>}
    </fieldset>
  );
}
