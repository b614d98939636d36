// The personal portal of a tenant's user (either role): profile, the extension
// settings a user may change (Do not disturb, Call waiting, Status: each saves
// at once), the login password, and their own calls; the Forwarding Rule and
// Office Hours pages edit the rest of what a user may change.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, Me } from "../api";
import { FormEnd, useForm, useSettings } from "../forms";
import { useList } from "../list";
import { Alert, Field, formError, message, refused, Select, Switch } from "../ui";
import { CallTable, Cdr } from "./Cdrs";
import { ForwardingEditor, STATUSES } from "./Forwarding";
import { HolidaysEditor, OfficeHoursEditor } from "./OfficeHours";
import { VoicemailEditor } from "./Voicemail";

interface Profile {
  display_name: string;
  email: string;
}

interface Settings {
  dnd: boolean;
  call_waiting: boolean;
  status: string;
  effective_status?: string;
}

const STATUS_NAME: Record<string, string> = Object.fromEntries(STATUSES);

function NoPortal({ title }: { title: string }) {
  return (
    <section>
      <h1>{title}</h1>
      <Alert>The personal portal is for a tenant's users; a system administrator has none.</Alert>
    </section>
  );
}

// A page of My portal: its title, the extension, and its editors.
function MyPage({ me, title, children }: { me: Me; title: string; children: ComponentChildren }) {
  if (me.role === "system_admin") return <NoPortal title={title} />;
  return (
    <section>
      <h1>{title}</h1>
      <p class="sub">
        My portal · extension {me.extension_number}
      </p>
      {children}
    </section>
  );
}

// My portal > Forwarding Rule
export function MyForwarding({ me }: { me: Me }) {
  return (
    <MyPage me={me} title="Forwarding Rule">
      <ForwardingEditor settingsPath="/user/extension" />
    </MyPage>
  );
}

// My portal > Voicemail
export function MyVoicemail({ me }: { me: Me }) {
  return (
    <MyPage me={me} title="Voicemail">
      <VoicemailEditor settingsPath="/user/extension" />
    </MyPage>
  );
}

// My portal > Office Hours
export function MyOfficeHours({ me }: { me: Me }) {
  return (
    <MyPage me={me} title="Office Hours">
      <OfficeHoursEditor settingsPath="/user/extension" />
      <HolidaysEditor path="/user/holidays" />
    </MyPage>
  );
}

export function Personal({ me }: { me: Me }) {
  if (me.role === "system_admin") return <NoPortal title="My portal" />;
  return (
    <section>
      <h1>My portal</h1>
      <p class="sub">
        {me.username} · extension {me.extension_number} · {me.tenant?.domain}
      </p>
      <p class="phone-link">
        <a href="/phone/">Open the phone</a>
        <span class="hint"> · call from this browser with extension {me.extension_number}</span>
      </p>
      <CallSettings />
      <ProfileForm />
      <PasswordForm />
      <MyCalls />
    </section>
  );
}

function CallSettings() {
  const [s, setS] = useState<Settings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api
      .get<Settings>("/user/extension")
      .then(setS)
      .catch((e) => setError(refused(e)));
    // the status in force moves with the office hours: read again each minute
    const t = window.setInterval(() => {
      if (document.visibilityState !== "visible") return;
      api
        .get<Settings>("/user/extension")
        .then((x) => setS((cur) => (cur ? { ...cur, effective_status: x.effective_status } : x)))
        .catch(() => undefined);
    }, 60000);
    return () => clearInterval(t);
  }, []);
  const change = async (patch: Partial<Settings>) => {
    if (!s) return;
    const before = s;
    setS({ ...s, ...patch }); // shown at once, put back if the save fails
    setBusy(true);
    setError(null);
    try {
      const saved = await api.post<Settings>("/user/extension", patch);
      if (saved && typeof saved.dnd === "boolean") setS(saved);
      if (!saved?.effective_status) {
        // the status in force may have moved with the change: read it back
        const x = await api.get<Settings>("/user/extension");
        setS((cur) => ({ ...(cur ?? x), effective_status: x.effective_status }));
      }
    } catch (e) {
      setS(before);
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="h-calls">
      <h2 id="h-calls">Calls</h2>
      {s && (
        <>
          <Switch id="dnd" label="Do not disturb" checked={s.dnd} disabled={busy} onChange={(v) => change({ dnd: v })} />
          <Switch id="call-waiting" label="Call waiting" checked={s.call_waiting} disabled={busy} onChange={(v) => change({ call_waiting: v })} />
          <Select id="my-status" label="Status" value={s.status} options={STATUSES.filter(([k]) => k !== "outside_office_hours")} onChange={(v) => change({ status: v })} />
          {s.effective_status && (
            <p class="now" id="effective-status">
              Now: {STATUS_NAME[s.effective_status] ?? s.effective_status}
            </p>
          )}
          <p class="hint">Your status picks your forwarding rules; while it is Available and your office hours are closed, it is Outside office hours.</p>
        </>
      )}
      {error && <Alert>{error}</Alert>}
    </section>
  );
}

function ProfileForm() {
  const st = useSettings<Profile, Profile>(
    "/user/profile",
    null,
    (x) => ({ display_name: x.display_name, email: x.email }),
    (p) => ({ display_name: p.display_name.trim(), email: p.email.trim() }),
  );
  const { value: p, form } = st;
  return (
    <section class="card" aria-labelledby="h-profile">
      <h2 id="h-profile">Profile</h2>
      {st.pending ??
        (p && (
          <form ref={form.ref} onSubmit={form.submit} noValidate>
            <Field id="p-display" name="display_name" label="Display name" value={p.display_name} onInput={(v) => st.set({ ...p, display_name: v })} error={form.error} />
            <Field id="p-email" name="email" label="Email" type="email" value={p.email} onInput={(v) => st.set({ ...p, email: v })} error={form.error} />
            <FormEnd form={form} />
          </form>
        ))}
    </section>
  );
}

function PasswordForm() {
  const [old, setOld] = useState("");
  const [next, setNext] = useState("");
  const form = useForm(
    async () => {
      await api.post("/user/password", { old_password: old, new_password: next });
      setOld("");
      setNext("");
    },
    (err) => {
      const fe = formError(err);
      if (err instanceof ApiError && err.status === 401) fe.text = "The current password is wrong.";
      return fe;
    },
  );
  return (
    <section class="card" aria-labelledby="h-password">
      <h2 id="h-password">Password</h2>
      <form ref={form.ref} onSubmit={form.submit} noValidate>
        <Field id="pw-old" name="old_password" label="Current password" type="password" autocomplete="current-password" value={old} onInput={setOld} error={form.error} />
        <Field id="pw-new" name="new_password" label="New password" type="password" autocomplete="new-password" value={next} onInput={setNext} error={form.error} />
        <FormEnd form={form} label="Change password" savedText="Password changed. Your other sessions have ended." />
      </form>
    </section>
  );
}

function MyCalls() {
  const list = useList<Cdr>("/cdrs", { top: 20 }, 30000);
  return (
    <section class="card" aria-labelledby="h-history">
      <h2 id="h-history">Call history</h2>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && list.data.count === 0 && <p>No calls yet.</p>}
      {list.data && list.data.count > 0 && <CallTable items={list.data.items} />}
    </section>
  );
}
