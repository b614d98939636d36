// Tenant admin: Call Manager > Users / Extensions. The list with search, paging
// and a Status column (devices registered now, in a call, Do not disturb): the
// calls follow the event stream (events.ts: call_start, call_cdr), the
// registrations, which send no event, are read again every 10 s; Add / Edit in a dialog with the seeds' tabs (User, Extension; for
// an existing user also Forwarding Rule, Voicemail, Office Hours with the user's holidays,
// Devices with Unregister, Reset password); Delete after confirmation. A failed save keeps what was typed and shows the
// API's message next to the field it names, on the tab that holds it.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, duration, List, Me } from "../api";
import { streamable, useEvents } from "../events";
import { useDebounced, useList } from "../list";
import type { CallSession } from "./ActiveCalls";
import { Alert, Checkbox, Confirm, Dialog, Field, FormError, formError, message, Pager, refused, SearchBox, Select, Submit, Tabs } from "../ui";
import { ForwardingEditor } from "./Forwarding";
import { HolidaysEditor, OfficeHoursEditor } from "./OfficeHours";
import { VoicemailEditor } from "./Voicemail";

const TOP = 20;
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

// DND of the listed users: one settings read each, after the list is shown.
function useDnd(rows: UserRow[] | undefined): Record<string, boolean> {
  const [dnd, setDnd] = useState<Record<string, boolean>>({});
  useEffect(() => {
    if (!rows) return;
    let live = true;
    Promise.all(
      rows.map((r) =>
        api
          .get<Settings>(`/users/${r.id}/extension`)
          .then((s) => [r.id, s.dnd] as const)
          .catch(() => null),
      ),
    ).then((all) => {
      if (!live) return;
      const m: Record<string, boolean> = {};
      for (const x of all) if (x) m[x[0]] = x[1];
      setDnd(m);
    });
    return () => {
      live = false;
    };
  }, [rows]); // a new array on each reload of the list
  return dnd;
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

function Status({ row, dnd, call }: { row: UserRow; dnd: boolean | undefined; call: string | undefined }) {
  const n = row.registered_devices;
  return (
    <span class="status">
      <span class={n ? "dot on" : "dot"} aria-hidden="true" />
      {n ? `${n} ${n === 1 ? "device" : "devices"} registered` : "Not registered"}
      {call && <span class="badge call">{call}</span>}
      {dnd && <span class="badge">DND</span>}
      {!row.enabled && <span class="badge off">Disabled</span>}
    </span>
  );
}

export function Users({ title, me }: { title: string; me: Me }) {
  const [search, setSearch] = useState("");
  const [skip, setSkip] = useState(0);
  const q = useDebounced(search);
  const list = useList<UserRow>("/users", { search: q, skip, top: TOP, orderby: "extension_number asc" }, REFRESH_MS);
  const dnd = useDnd(list.data?.items);
  const calls = useCalls(list.data?.items, streamable(me));
  const [editing, setEditing] = useState<UserRow | "new" | null>(null);
  const [deleting, setDeleting] = useState<UserRow | null>(null);
  const [busy, setBusy] = useState(false);
  const [delError, setDelError] = useState<string | null>(null);

  const destroy = async () => {
    if (!deleting) return;
    setBusy(true);
    setDelError(null);
    try {
      await api.post(`/users/${deleting.id}/destroy`);
      setDeleting(null);
      list.reload();
    } catch (e) {
      setDelError(message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>{title}</h1>
      <div class="toolbar">
        <SearchBox
          id="user-search"
          value={search}
          onInput={(v) => {
            setSearch(v);
            setSkip(0);
          }}
        />
        <button type="button" class="primary" onClick={() => setEditing("new")}>
          Add
        </button>
      </div>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && (
        <>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Extension</th>
                  <th scope="col">Username</th>
                  <th scope="col">Display name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((u) => (
                  <tr key={u.id}>
                    <td>{u.extension_number}</td>
                    <td>{u.username}</td>
                    <td>{u.display_name}</td>
                    <td>{u.email}</td>
                    <td>{u.role === "admin" ? "Admin" : "User"}</td>
                    <td>
                      <Status row={u} dnd={dnd[u.id]} call={calls[u.extension_number]} />
                    </td>
                    <td class="actions">
                      <button type="button" onClick={() => setEditing(u)}>
                        Edit
                      </button>
                      <button type="button" class="danger" onClick={() => setDeleting(u)}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data.count === 0 && <p>{q ? "No user matches the search." : "No users yet."}</p>}
          <Pager skip={skip} top={TOP} count={list.data.count} onPage={setSkip} />
        </>
      )}
      {editing && (
        <UserDialog
          user={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            list.reload();
          }}
        />
      )}
      {deleting && (
        <Confirm
          title="Delete user"
          text={`Delete ${deleting.username} and extension ${deleting.extension_number}? Their devices stop working. This cannot be undone.`}
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

type Tab = "user" | "extension" | "forwarding" | "voicemail" | "office_hours" | "devices" | "password";

const USER_FIELDS = ["username", "password", "email", "display_name", "role", "enabled"];
const EXT_FIELDS = ["extension_number", "extension_password", "dnd", "call_waiting"];

function UserDialog({ user, onClose, onSaved }: { user: UserRow | null; onClose: () => void; onSaved: () => void }) {
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
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);
  const [createdId, setCreatedId] = useState<string | null>(null);

  useEffect(() => {
    if (!user) return;
    api
      .get<Settings>(`/users/${user.id}/extension`)
      .then((s) => {
        setSettings({ dnd: s.dnd, call_waiting: s.call_waiting });
        setStored({ dnd: s.dnd, call_waiting: s.call_waiting });
      })
      .catch((e) => setError(formError(e)));
  }, [user?.id]);

  const fail = (e: unknown) => {
    const fe = formError(e);
    if (fe.field && EXT_FIELDS.includes(fe.field)) setTab("extension");
    else if (fe.field && USER_FIELDS.includes(fe.field)) setTab("user");
    setError(fe);
    setBusy(false);
  };

  const save = async (e: Submit) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    let id = user?.id ?? createdId;
    try {
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
    } catch (err) {
      fail(err);
    }
  };

  const editing = user !== null || createdId !== null;
  const shown = error && !USER_FIELDS.includes(error.field ?? "") && !EXT_FIELDS.includes(error.field ?? "");
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
      <form onSubmit={save} noValidate hidden={tab !== "user" && tab !== "extension"}>
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
        {shown && <Alert>{error.text}</Alert>}
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Save
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
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
  const [leaving, setLeaving] = useState<Device | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const unregister = async () => {
    if (!leaving) return;
    setBusy(true);
    setErr(null);
    try {
      await api.post(`/users/${user.id}/devices/${encodeURIComponent(leaving.id)}/destroy`);
      setDone(`${leaving.user_agent || leaving.contact} was unregistered.`);
      setLeaving(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setLeaving(null); // it had gone already
      else setErr(message(e));
    } finally {
      setBusy(false);
      list.reload();
    }
  };
  return (
    <section aria-labelledby="h-devices">
      <h3 id="h-devices">Registered devices of extension {user.extension_number}</h3>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {done && <p role="status">{done}</p>}
      {list.data && list.data.count === 0 && <p>No device is registered.</p>}
      {list.data && list.data.count > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Address</th>
                <th scope="col">Transport</th>
                <th scope="col">Registered</th>
                <th scope="col">Expires in</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((d) => (
                <tr key={d.id}>
                  <td>
                    {d.user_agent || "Unknown"}
                    <br />
                    <small class="contact">{d.contact}</small>
                  </td>
                  <td>
                    {d.address}:{d.port}
                  </td>
                  <td>{d.transport.toUpperCase()}</td>
                  <td>{new Date(d.registered_at).toLocaleString()}</td>
                  <td>{duration(d.expires)}</td>
                  <td class="actions">
                    <button type="button" class="danger" onClick={() => setLeaving(d)}>
                      Unregister
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="hint">A device that is still running registers again at its next refresh; change the Extension password to keep it out.</p>
      {leaving && (
        <Confirm
          title="Unregister device"
          text={`Unregister ${leaving.user_agent || leaving.contact} (${leaving.address}:${leaving.port}) from extension ${user.extension_number}? Calls stop reaching it until it registers again.`}
          action="Unregister"
          busy={busy}
          error={err}
          onConfirm={unregister}
          onCancel={() => {
            setLeaving(null);
            setErr(null);
          }}
        />
      )}
    </section>
  );
}

// Edit > Reset password: a new login password for the user, after confirmation.
function ResetPassword({ user }: { user: UserRow }) {
  const [pw, setPw] = useState("");
  const [error, setError] = useState<FormError | null>(null);
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const ask = (e: Submit) => {
    e.preventDefault();
    setError(null);
    setDone(false);
    setAsking(true);
  };
  const reset = async () => {
    setBusy(true);
    try {
      await api.post(`/users/${user.id}/password`, { password: pw });
      setPw("");
      setDone(true);
    } catch (e) {
      setError(formError(e));
    } finally {
      setAsking(false);
      setBusy(false);
    }
  };
  return (
    <form onSubmit={ask} noValidate aria-labelledby="h-reset">
      <h3 id="h-reset">Reset password</h3>
      <p class="hint">Sets a new password for {user.username} to sign in to the portal and apps. Their sessions end; the Extension password of their phones stays.</p>
      <Field id="rp-password" name="password" label="New password" type="password" autocomplete="new-password" hint="8 or more characters, letters with digits or symbols" value={pw} onInput={setPw} error={error} />
      {error && error.field !== "password" && <Alert>{error.text}</Alert>}
      {done && <p role="status">The password of {user.username} was reset.</p>}
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy}>
          Reset password
        </button>
      </div>
      {asking && (
        <Confirm
          title="Reset password"
          text={`Reset the password of ${user.username}? The old one stops working at once.`}
          action="Reset"
          busy={busy}
          onConfirm={reset}
          onCancel={() => setAsking(false)}
        />
      )}
    </form>
  );
}
