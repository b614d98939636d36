// Tenant admin: Call Manager > Users / Extensions. The list with search, paging
// and a Status column (devices registered now, Do not disturb), refreshed on
// an interval; Add / Edit in a dialog with the seeds' tabs (User, Extension);
// Delete after confirmation. A failed save keeps what was typed and shows the
// API's message next to the field it names, on the tab that holds it.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { useDebounced, useList } from "../list";
import { Alert, Checkbox, Confirm, Dialog, Field, FormError, formError, message, Pager, refused, SearchBox, Select, Submit } from "../ui";

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

function Status({ row, dnd }: { row: UserRow; dnd: boolean | undefined }) {
  const n = row.registered_devices;
  return (
    <span class="status">
      <span class={n ? "dot on" : "dot"} aria-hidden="true" />
      {n ? `${n} ${n === 1 ? "device" : "devices"} registered` : "Not registered"}
      {dnd && <span class="badge">DND</span>}
      {!row.enabled && <span class="badge off">Disabled</span>}
    </span>
  );
}

export function Users({ title }: { title: string }) {
  const [search, setSearch] = useState("");
  const [skip, setSkip] = useState(0);
  const q = useDebounced(search);
  const list = useList<UserRow>("/users", { search: q, skip, top: TOP, orderby: "extension_number asc" }, REFRESH_MS);
  const dnd = useDnd(list.data?.items);
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
                      <Status row={u} dnd={dnd[u.id]} />
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

const USER_FIELDS = ["username", "password", "email", "display_name", "role", "enabled"];
const EXT_FIELDS = ["extension_number", "extension_password", "dnd", "call_waiting"];

function UserDialog({ user, onClose, onSaved }: { user: UserRow | null; onClose: () => void; onSaved: () => void }) {
  const [tab, setTab] = useState<"user" | "extension">("user");
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
  return (
    <Dialog title={user ? `Edit ${user.username}` : "Add user"} onClose={onClose} wide>
      <form onSubmit={save} noValidate>
        <div role="tablist" aria-label="Settings" class="tabs">
          <button type="button" role="tab" id="tab-user" aria-controls="panel-user" aria-selected={tab === "user" ? "true" : "false"} tabIndex={tab === "user" ? 0 : -1} onClick={() => setTab("user")} onKeyDown={(e) => (e.key === "ArrowRight" || e.key === "ArrowLeft") && (setTab("extension"), document.getElementById("tab-extension")?.focus())}>
            User
          </button>
          <button type="button" role="tab" id="tab-extension" aria-controls="panel-extension" aria-selected={tab === "extension" ? "true" : "false"} tabIndex={tab === "extension" ? 0 : -1} onClick={() => setTab("extension")} onKeyDown={(e) => (e.key === "ArrowRight" || e.key === "ArrowLeft") && (setTab("user"), document.getElementById("tab-user")?.focus())}>
            Extension
          </button>
        </div>
        <div role="tabpanel" id="panel-user" aria-labelledby="tab-user" hidden={tab !== "user"}>
          <Field id="u-username" name="username" label="Username" value={username} onInput={setUsername} error={error} required autofocus />
          <Field id="u-password" name="password" label="Password" type="password" autocomplete="new-password" hint={editing ? "Leave empty to keep the current password" : "8 or more characters, letters with digits or symbols"} value={password} onInput={setPassword} error={error} required={!editing} />
          <Field id="u-email" name="email" label="Email" type="email" value={email} onInput={setEmail} error={error} required />
          <Field id="u-display" name="display_name" label="Display name" value={displayName} onInput={setDisplayName} error={error} />
          <Select id="u-role" name="role" label="Role" value={role} options={[["user", "User"], ["admin", "Admin"]]} onChange={setRole} error={error} />
          <Checkbox id="u-enabled" label="Allowed to sign in" checked={enabled} onChange={setEnabled} />
        </div>
        <div role="tabpanel" id="panel-extension" aria-labelledby="tab-extension" hidden={tab !== "extension"}>
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
    </Dialog>
  );
}
