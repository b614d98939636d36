// Voicemail: the `voicemail` object of an extension's settings (docs/api.md,
// "Extension settings"): whether unanswered calls go to voicemail, the mailbox
// PIN and whether it is asked, reading out each message's date and time, and
// mailing new messages. Given the settings' path: the user's own
// (/user/extension) or a user's for a tenant admin (/users/{id}/extension). A
// refusal shows beside the field the API names; the form keeps what was typed.
import { FormEnd, useSettings } from "../forms";
import { Checkbox, Field } from "../ui";

interface Voicemail {
  enabled: boolean;
  pin: string;
  pin_auth: boolean;
  read_datetime: boolean;
  email_notification: boolean;
  email: string;
}

export function VoicemailEditor({ settingsPath }: { settingsPath: string }) {
  const st = useSettings<Voicemail, Voicemail>(
    settingsPath,
    "voicemail",
    (v) => ({ ...v }),
    (v) => ({ ...v, pin: v.pin.trim(), email: v.email.trim() }),
  );
  const { value: v, form } = st;
  if (st.pending || !v) return <>{st.pending}</>;
  const set = (p: Partial<Voicemail>) => st.set({ ...v, ...p });
  const error = form.error;

  return (
    <form ref={form.ref} onSubmit={form.submit} noValidate class="settings">
      <section class="card" aria-labelledby="h-voicemail">
        <h2 id="h-voicemail">Voicemail</h2>
        <p class="hint">These settings are kept for the mailbox; pbxd does not take voice messages yet (*97 answers 480).</p>
        <Checkbox id="vm-enabled" label="Enable voicemail" checked={v.enabled} onChange={(x) => set({ enabled: x })} />
        <Field id="vm-pin" name="voicemail.pin" label="Voicemail PIN" inputMode="numeric" hint="4 to 12 digits" value={v.pin} onInput={(x) => set({ pin: x })} error={error} />
        <Checkbox id="vm-pin-auth" label="PIN authentication" checked={v.pin_auth} onChange={(x) => set({ pin_auth: x })} />
        <Checkbox id="vm-datetime" label="Read out the date and time of each message" checked={v.read_datetime} onChange={(x) => set({ read_datetime: x })} />
        <Checkbox id="vm-mail" label="Email notification" checked={v.email_notification} onChange={(x) => set({ email_notification: x })} />
        <Field id="vm-email" name="voicemail.email" label="Notification email" type="email" hint="Empty: the user's email" value={v.email} onInput={(x) => set({ email: x })} error={error} />
        <FormEnd form={form} />
      </section>
    </form>
  );
}
