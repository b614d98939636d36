// Tenant admin: Call Manager > Users / Extensions. The list with search, paging
// and a Status column (devices registered now, in a call, Do not disturb): the
// calls and the registrations follow the event stream (events.ts: call_start,
// call_answered, call_cdr, extension_registered, extension_unregistered), and
// the list is read again every 10 s besides (what happened while it was down); Add / Edit in a dialog with the seeds' tabs (User, Extension; for
// an existing user also Forwarding Rule, Voicemail, Office Hours with the user's holidays,
// Devices with Unregister, Reset password); Delete after confirmation. A failed save keeps what was typed and shows the
// API's message next to the field it names, on the tab that holds it.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, duration, List, Me } from "../api";
import { streamable, useEvents } from "../events";
import { ConfirmDialog, FormEnd, unlessGone, useAskedForm, useConfirm, useForm } from "../forms";
import { useEach, useList } from "../list";
import { EditorProps, ObjectList, useObjects } from "../objects";
import { Alert, Badge, Checkbox, Column, Confirm, Dialog, Field, formError, refused, Select, StatusLine, Table, Tabs } from "../ui";
import type { CallSession } from "./ActiveCalls";
import { ForwardingEditor } from "./Forwarding";
import { HolidaysEditor, OfficeHoursEditor } from "./OfficeHours";
import { VoicemailEditor } from "./Voicemail";

const REFRESH_MS = 10000;

export interface UserRow {
  id: string;
  username: string;
  display_name: string;
  email: string;
  role: "admin" | "user";
  enabled: boolean;
  extension_number: string;
  registered_devices: number;
}

interface Settings {
  dnd: boolean;
  call_waiting: boolean;
}

// The extensions in a call now, "Ringing" or "In a call" by extension number
// (GET /api/call_sessions): read with the list and again at each call event.
function useCalls(rows: UserRow[] | undefined, enabled: boolean): Record<string, string> {
  const [calls, setCalls] = useState<Record<string, string>>({});
  const [tick, setTick] = useState(0);
  // Calls whose call_cdr came: pbxd may list them a moment longer.
  const ended = useRef(new Set<string>());
  const again = () => setTick((n) => n + 1);
  useEvents(
    {
      call_start: again,
      call_answered: again,
      call_cdr: (e) => {
        if (e?.session_id) ended.current.add(e.session_id);
        again();
      },
      open: again,
    },
    enabled,
  );
  useEffect(() => {
    if (!rows || !enabled) return;
    let live = true;
    api
      .get<List<CallSession>>("/call_sessions")
      .then((l) => {
        if (!live) return;
        const m: Record<string, string> = {};
        for (const c of l.items) {
          if (ended.current.has(c.session_id) || c.state === "ending") continue;
          if (c.state === "ringing" && !m[c.callee]) m[c.callee] = "Ringing";
          if (c.state === "talking") m[c.callee] = "In a call";
          m[c.caller] = "In a call";
        }
        setCalls(m);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [rows, tick, enabled]);
  return calls;
}

function Status({ row, dnd, call }: { row: UserRow; dnd: boolean | null | undefined; call: string | undefined }) {
  const n = row.registered_devices;
  return (
    <StatusLine on={n > 0}>
      {n ? `${n} ${n === 1 ? "device" : "devices"} registered` : "Not registered"}
      {call && <Badge kind="call">{call}</Badge>}
      {dnd && <Badge>DND</Badge>}
      {!row.enabled && <Badge kind="off">Disabled</Badge>}
    </StatusLine>
  );
}

export function Users({ title, me }: { title: string; me: Me }) {
  const objects = useObjects<UserRow>("/users", REFRESH_MS, { orderby: "extension_number asc", search: true });
  const rows = objects.list.data?.items;
  // DND of the listed users: one settings read each, after the list is shown
  const dnd = useEach(rows, (r) => api.get<Settings>(`/users/${r.id}/extension`).then((x) => x.dnd));
  const calls = useCalls(rows, streamable(me));
  // a device registered or went: the counts are read again
  const reload = objects.list.reload;
  useEvents({ extension_registered: reload, extension_unregistered: reload, open: reload }, streamable(me));
  const columns: Column<UserRow>[] = [
    { head: "Extension", cell: (u) => u.extension_number },
    { head: "Username", cell: (u) => u.username },
    { head: "Display name", cell: (u) => u.display_name },
    { head: "Email", cell: (u) => u.email },
    { head: "Role", cell: (u) => (u.role === "admin" ? "Admin" : "User") },
    { head: "Status", cell: (u) => <Status row={u} dnd={dnd[u.id]} call={calls[u.extension_number]} /> },
  ];

  return (
    <section>
      <h1>{title}</h1>
      <ObjectList
        objects={objects}
        searchId="user-search"
        noun="user"
        columns={columns}
        describe={(u) => `${u.username} and extension ${u.extension_number}`}
        consequence="Their devices stop working."
        editor={(e) => <UserDialog {...e} />}
        empty="No users yet."
        noMatch="No user matches the search."
        canExport={false}
      />
    </section>
  );
}

type Tab = "user" | "extension" | "forwarding" | "voicemail" | "office_hours" | "devices" | "password";

const USER_FIELDS = ["username", "password", "email", "display_name", "role", "enabled"];
const EXT_FIELDS = ["extension_number", "extension_password", "dnd", "call_waiting"];

function UserDialog({ item: user, onClose, onSaved }: EditorProps<UserRow>) {
  const [tab, setTab] = useState<Tab>("user");
  const [username, setUsername] = useState(user?.username ?? "");
  const [password, setPassword] = useState("");
  const [email, setEmail] = useState(user?.email ?? "");
  const [displayName, setDisplayName] = useState(user?.display_name ?? "");
  const [role, setRole] = useState<string>(user?.role ?? "user");
  const [enabled, setEnabled] = useState(user?.enabled ?? true);
  const [ext, setExt] = useState(user?.extension_number ?? "");
  const [extPassword, setExtPassword] = useState("");
  const [settings, setSettings] = useState<Settings>({ dnd: false, call_waiting: true });
  const [stored, setStored] = useState<Settings | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [createdId, setCreatedId] = useState<string | null>(null);

  useEffect(() => {
    if (!user) return;
    api
      .get<Settings>(`/users/${user.id}/extension`)
      .then((s) => {
        setSettings({ dnd: s.dnd, call_waiting: s.call_waiting });
        setStored({ dnd: s.dnd, call_waiting: s.call_waiting });
      })
      .catch((e) => setLoadError(refused(e)));
  }, [user?.id]);

  // A refusal shows on the tab of the field it names.
  const fail = (e: unknown) => {
    const fe = formError(e);
    if (fe.field && EXT_FIELDS.includes(fe.field)) setTab("extension");
    else if (fe.field && USER_FIELDS.includes(fe.field)) setTab("user");
    return fe;
  };

  const form = useForm(async () => {
    let id = user?.id ?? createdId;
    if (!id) {
      const body: Record<string, unknown> = {
        username: username.trim(), password, email: email.trim(), display_name: displayName.trim(), role, enabled,
        extension_number: ext.trim(), extension_password: extPassword,
      };
      const created = await api.post<UserRow>("/users", body);
      id = created.id;
      setCreatedId(id); // a failing settings save below must not create the user twice
    } else if (user) {
      const body: Record<string, unknown> = {};
      if (username.trim() !== user.username) body.username = username.trim();
      if (email.trim() !== user.email) body.email = email.trim();
      if (displayName.trim() !== user.display_name) body.display_name = displayName.trim();
      if (role !== user.role) body.role = role;
      if (enabled !== user.enabled) body.enabled = enabled;
      if (ext.trim() !== user.extension_number) body.extension_number = ext.trim();
      if (password) body.password = password;
      if (extPassword) body.extension_password = extPassword;
      if (Object.keys(body).length) await api.post(`/users/${id}`, body);
    }
    const base = stored ?? { dnd: false, call_waiting: true };
    const patch: Partial<Settings> = {};
    if (settings.dnd !== base.dnd) patch.dnd = settings.dnd;
    if (settings.call_waiting !== base.call_waiting) patch.call_waiting = settings.call_waiting;
    if (Object.keys(patch).length) await api.post(`/users/${id}/extension`, patch);
    onSaved();
  }, fail);
  const error = form.error;

  const editing = user !== null || createdId !== null;
  // An existing user's other settings: each tab saves on its own (its own Save).
  const tabs: [string, string][] = user
    ? [["user", "User"], ["extension", "Extension"], ["forwarding", "Forwarding Rule"], ["voicemail", "Voicemail"], ["office_hours", "Office Hours"], ["devices", "Devices"], ["password", "Reset password"]]
    : [["user", "User"], ["extension", "Extension"]];
  // A tab's editor, once opened, stays (hidden) so that switching tabs keeps what was typed.
  const [opened, setOpened] = useState<string[]>(["user", "extension"]);
  const pick = (k: string) => {
    setTab(k as Tab);
    if (!opened.includes(k)) setOpened([...opened, k]);
  };
  const other = (k: string) => user && opened.includes(k) && (
    <div role="tabpanel" id={`ud-panel-${k}`} aria-labelledby={`ud-tab-${k}`} hidden={tab !== k} key={k}>
      {k === "forwarding" && <ForwardingEditor settingsPath={`/users/${user.id}/extension`} />}
      {k === "voicemail" && <VoicemailEditor settingsPath={`/users/${user.id}/extension`} />}
      {k === "office_hours" && (
        <>
          <OfficeHoursEditor settingsPath={`/users/${user.id}/extension`} />
          <HolidaysEditor path={`/users/${user.id}/holidays`} />
        </>
      )}
      {k === "devices" && <Devices user={user} active={tab === "devices"} />}
      {k === "password" && <ResetPassword user={user} />}
      <div class="buttons">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
  return (
    <Dialog title={user ? `Edit ${user.username}` : "Add user"} onClose={onClose} wide>
      <Tabs id="ud" label="Settings" tabs={tabs} current={tab} onChange={pick} />
      <form ref={form.ref} onSubmit={form.submit} noValidate hidden={tab !== "user" && tab !== "extension"}>
        {loadError && <Alert>{loadError}</Alert>}
        <div role="tabpanel" id="ud-panel-user" aria-labelledby="ud-tab-user" hidden={tab !== "user"}>
          <Field id="u-username" name="username" label="Username" value={username} onInput={setUsername} error={error} required autofocus />
          <Field id="u-password" name="password" label="Password" type="password" autocomplete="new-password" hint={editing ? "Leave empty to keep the current password" : "8 or more characters, letters with digits or symbols"} value={password} onInput={setPassword} error={error} required={!editing} />
          <Field id="u-email" name="email" label="Email" type="email" value={email} onInput={setEmail} error={error} required />
          <Field id="u-display" name="display_name" label="Display name" value={displayName} onInput={setDisplayName} error={error} />
          <Select id="u-role" name="role" label="Role" value={role} options={[["user", "User"], ["admin", "Admin"]]} onChange={setRole} error={error} />
          <Checkbox id="u-enabled" label="Allowed to sign in" checked={enabled} onChange={setEnabled} />
        </div>
        <div role="tabpanel" id="ud-panel-extension" aria-labelledby="ud-tab-extension" hidden={tab !== "extension"}>
          <Field id="u-ext" name="extension_number" label="Extension number" inputMode="numeric" value={ext} onInput={setExt} error={error} required />
          <Field id="u-ext-password" name="extension_password" label="Extension password" type="password" autocomplete="new-password" hint={editing ? "Leave empty to keep the current SIP password" : "The SIP password phones register with"} value={extPassword} onInput={setExtPassword} error={error} required={!editing} />
          <Checkbox id="u-dnd" label="Do not disturb" checked={settings.dnd} onChange={(v) => setSettings({ ...settings, dnd: v })} />
          <Checkbox id="u-cw" label="Call waiting" checked={settings.call_waiting} onChange={(v) => setSettings({ ...settings, call_waiting: v })} />
          {(error?.field === "dnd" || error?.field === "call_waiting") && <Alert>{error.text}</Alert>}
        </div>
        <FormEnd form={form} onCancel={onClose} elsewhere={["dnd", "call_waiting"]} />
      </form>
      {tabs.slice(2).map(([k]) => other(k))}
    </Dialog>
  );
}

interface Device {
  id: string;
  contact: string;
  address: string;
  port: number;
  transport: string;
  user_agent: string;
  expires: number;
  registered_at: string;
}

// Edit > Devices: the devices registered for the user's extension; Unregister
// one after confirmation (a device still running registers again at its next
// refresh: a new Extension password keeps it out).
function Devices({ user, active }: { user: UserRow; active: boolean }) {
  const list = useList<Device>(`/users/${user.id}/devices`, {}, REFRESH_MS);
  const { reload } = list;
  useEffect(() => {
    if (active) reload(); // read again each time the tab is shown
  }, [active]);
  const [done, setDone] = useState<string | null>(null);
  const name = (d: Device) => d.user_agent || d.contact;
  const leaving = useConfirm<Device>(async (d) => {
    // gone already (404): nothing to say
    if (await unlessGone(api.post(`/users/${user.id}/devices/${encodeURIComponent(d.id)}/destroy`))) setDone(`${name(d)} was unregistered.`);
  }, reload);
  const columns: Column<Device>[] = [
    {
      head: "Device",
      cell: (d) => (
        <>
          {d.user_agent || "Unknown"}
          <br />
          <small class="contact">{d.contact}</small>
        </>
      ),
    },
    { head: "Address", cell: (d) => `${d.address}:${d.port}` },
    { head: "Transport", cell: (d) => d.transport.toUpperCase() },
    { head: "Registered", cell: (d) => new Date(d.registered_at).toLocaleString() },
    { head: "Expires in", cell: (d) => duration(d.expires) },
  ];
  return (
    <section aria-labelledby="h-devices">
      <h3 id="h-devices">Registered devices of extension {user.extension_number}</h3>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {done && <p role="status">{done}</p>}
      {list.data && list.data.count === 0 && <p>No device is registered.</p>}
      {list.data && list.data.count > 0 && (
        <Table
          columns={columns}
          rows={list.data.items}
          rowKey={(d) => d.id}
          actions={(d) => (
            <button type="button" class="danger" onClick={() => leaving.ask(d)}>
              Unregister
            </button>
          )}
        />
      )}
      <p class="hint">A device that is still running registers again at its next refresh; change the Extension password to keep it out.</p>
      <ConfirmDialog
        c={leaving}
        title="Unregister device"
        text={(d) => `Unregister ${name(d)} (${d.address}:${d.port}) from extension ${user.extension_number}? Calls stop reaching it until it registers again.`}
        action="Unregister"
      />
    </section>
  );
}

// Edit > Reset password: a new login password for the user, after confirmation.
function ResetPassword({ user }: { user: UserRow }) {
  const [pw, setPw] = useState("");
  const form = useAskedForm(async () => {
    await api.post(`/users/${user.id}/password`, { password: pw });
    setPw("");
  });
  return (
    <form ref={form.ref} onSubmit={form.submit} noValidate aria-labelledby="h-reset">
      <h3 id="h-reset">Reset password</h3>
      <p class="hint">Sets a new password for {user.username} to sign in to the portal and apps. Their sessions end; the Extension password of their phones stays.</p>
      <Field id="rp-password" name="password" label="New password" type="password" autocomplete="new-password" hint="8 or more characters, letters with digits or symbols" value={pw} onInput={setPw} error={form.error} />
      <FormEnd form={form} label="Reset password" savedText={`The password of ${user.username} was reset.`} />
      {form.asking && (
        <Confirm
          title="Reset password"
          text={`Reset the password of ${user.username}? The old one stops working at once.`}
          action="Reset"
          busy={form.busy}
          onConfirm={form.confirm}
          onCancel={form.cancel}
        />
      )}
    </form>
  );
}
