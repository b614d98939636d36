// What the portal's forms and confirmations share: a form's save (busy while it
// runs, the API's refusal kept for the field it names or, when the form has no
// such control, shown as a whole; "Saved." after), the foot of a form, a
// section of settings the API reads and saves at one path, and the
// confirmation before something is destroyed (its error shown in it).
import type { ComponentChildren, RefObject } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "./api";
import { Alert, Confirm, FormError, formError, message, refused, Submit, useUnplaced } from "./ui";

export interface FormHandle {
  ref: RefObject<HTMLFormElement | null>;
  error: FormError | null;
  busy: boolean;
  saved: boolean; // the last save went through, and nothing was changed since
  unplaced: boolean; // the error names no control of the form
  submit: (e: Submit) => void;
  save: () => Promise<void>; // what submit does
  edited: () => void; // something was changed: no longer "Saved."
  clear: () => void; // neither an error nor "Saved."
}

// A form whose submit runs run(); a refusal becomes fail(e) (the API's field and
// message, by default). What was typed stays either way.
export function useForm(run: () => Promise<void>, fail: (e: unknown) => FormError = formError): FormHandle {
  const ref = useRef<HTMLFormElement>(null);
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const unplaced = useUnplaced(ref, error);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false; // a dialog closed by its own save
    },
    [],
  );
  const save = async () => {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await run();
      if (mounted.current) setSaved(true);
    } catch (err) {
      if (mounted.current) setError(fail(err));
    } finally {
      if (mounted.current) setBusy(false);
    }
  };
  return {
    ref, error, busy, saved, unplaced, save,
    submit: (e) => {
      e.preventDefault();
      void save();
    },
    edited: () => setSaved(false),
    clear: () => {
      setError(null);
      setSaved(false);
    },
  };
}

export interface AskedForm extends FormHandle {
  asking: boolean; // the confirmation is open
  confirm: () => void;
  cancel: () => void;
}

// A form whose submit asks first (Replace the certificate? Reset the
// password?): run() once confirmed; the error, if any, shows in the form.
export function useAskedForm(run: () => Promise<void>, fail?: (e: unknown) => FormError): AskedForm {
  const [asking, setAsking] = useState(false);
  const form = useForm(async () => {
    try {
      await run();
    } finally {
      setAsking(false);
    }
  }, fail);
  return {
    ...form,
    submit: (e) => {
      e.preventDefault();
      form.clear();
      setAsking(true);
    },
    asking,
    confirm: () => void form.save(),
    cancel: () => setAsking(false),
  };
}

// The foot of a form: its error when no field shows it (besides those shown
// elsewhere), "Saved.", the submit button and, in a dialog, Cancel.
export function FormEnd({ form, label = "Save", savedText = "Saved.", onCancel, sticky, elsewhere = [] }: { form: FormHandle; label?: string; savedText?: string; onCancel?: () => void; sticky?: boolean; elsewhere?: string[] }) {
  const { error } = form;
  return (
    <>
      {error && form.unplaced && !elsewhere.includes(error.field ?? "") && <Alert>{error.text}</Alert>}
      {form.saved && <p role="status">{savedText}</p>}
      <div class={sticky ? "buttons sticky" : "buttons"}>
        <button type="submit" class="primary" disabled={form.busy}>
          {label}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </>
  );
}

export interface Settings<F> {
  value: F | null; // null until read
  set: (f: F) => void;
  form: FormHandle;
  pending: ComponentChildren | null; // what to show instead of the form: the refusal, or Loading…
}

// Settings the API reads (GET path) and saves (POST path) as one object: the
// member key of it (an extension's voicemail, office_hours...), or the whole
// (key null). toForm turns what the API says into what the form edits, and
// fromForm back; the form shows what the save answered.
export function useSettings<T, F>(path: string, key: string | null, toForm: (t: T) => F, fromForm: (f: F) => unknown, fail?: (e: unknown) => FormError): Settings<F> {
  const [value, setValue] = useState<F | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const pick = (r: unknown): T | undefined => (r == null ? undefined : key ? (r as Record<string, T | undefined>)[key] : (r as T));
  useEffect(() => {
    api
      .get<unknown>(path)
      .then((r) => {
        const v = pick(r);
        if (v !== undefined) setValue(toForm(v));
      })
      .catch((e) => setLoadError(refused(e)));
  }, [path]);
  const form = useForm(async () => {
    if (!value) return;
    const body = fromForm(value);
    const r = await api.post<unknown>(path, key ? { [key]: body } : body);
    const v = pick(r);
    if (v !== undefined) setValue(toForm(v));
  }, fail);
  const set = (f: F) => {
    form.edited();
    setValue(f);
  };
  const pending = loadError ? <Alert>{loadError}</Alert> : value ? null : <p>Loading…</p>;
  return { value, set, form, pending };
}

export interface Confirmation<T> {
  target: T | null; // what is asked about; null: nothing
  ask: (t: T) => void;
  busy: boolean;
  error: string | null;
  confirm: () => void;
  cancel: () => void;
}

// Asks before run(t) destroys something; done() after it went through. run may
// take a 404 (gone already) as done by not throwing.
export function useConfirm<T>(run: (t: T) => Promise<unknown>, done?: () => void): Confirmation<T> {
  const [target, setTarget] = useState<T | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirm = async () => {
    if (target === null) return;
    setBusy(true);
    setError(null);
    try {
      await run(target);
      setTarget(null);
      done?.();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  return {
    target,
    ask: (t) => {
      setError(null);
      setTarget(() => t);
    },
    busy,
    error,
    confirm: () => void confirm(),
    cancel: () => {
      setTarget(null);
      setError(null);
    },
  };
}

// A destroy request whose 404 means it was gone already: false then, true when
// it went now.
export async function unlessGone(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return false;
    throw e;
  }
}

// The confirmation of a useConfirm, while it asks.
export function ConfirmDialog<T>({ c, title, text, action }: { c: Confirmation<T>; title: string; text: (t: T) => string; action: string }) {
  if (c.target === null) return null;
  return <Confirm title={title} text={text(c.target)} action={action} busy={c.busy} error={c.error} onConfirm={c.confirm} onCancel={c.cancel} />;
}
