// System admin: Tenants. The list (search, paging), Add and Edit in a dialog,
// Delete after confirmation, and Manage: act as the tenant's administrator
// (the API's switch) until "Back to Tenants".
import { useEffect, useState } from "preact/hooks";
import { api, Tenant } from "../api";
import { useDebounced, useList } from "../list";
import { navigate } from "../router";
import { Alert, Checkbox, Confirm, Dialog, Field, FormError, formError, message, Pager, refused, SearchBox, Submit } from "../ui";

const TOP = 20;

interface TenantDetail extends Tenant {
  limits: { max_users: number; max_concurrent_calls: number };
}

export function Tenants() {
  const [search, setSearch] = useState("");
  const [skip, setSkip] = useState(0);
  const q = useDebounced(search);
  const list = useList<Tenant>("/tenants", { search: q, skip, top: TOP, orderby: "name asc" }, 30000);
  const [editing, setEditing] = useState<Tenant | "new" | null>(null);
  const [deleting, setDeleting] = useState<Tenant | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const manage = async (t: Tenant) => {
    setBusy(true);
    setError(null);
    try {
      await api.manage(t.id);
      navigate("/call-manager/users");
    } catch (e) {
      setError(message(e));
      setBusy(false);
    }
  };

  const destroy = async () => {
    if (!deleting) return;
    setBusy(true);
    try {
      await api.post(`/tenants/${deleting.id}/destroy`);
      setDeleting(null);
      list.reload();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>Tenants</h1>
      <div class="toolbar">
        <SearchBox
          id="tenant-search"
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
      {error && <Alert>{error}</Alert>}
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && (
        <>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">SIP domain</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((t) => (
                  <tr key={t.id}>
                    <td>{t.name}</td>
                    <td>{t.domain}</td>
                    <td>{t.enabled ? "Enabled" : "Disabled"}</td>
                    <td class="actions">
                      <button type="button" onClick={() => setEditing(t)}>
                        Edit
                      </button>
                      <button type="button" disabled={busy || !t.enabled} onClick={() => manage(t)}>
                        Manage
                      </button>
                      <button type="button" class="danger" onClick={() => setDeleting(t)}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data.count === 0 && <p>{q ? "No tenant matches the search." : "No tenants yet."}</p>}
          <Pager skip={skip} top={TOP} count={list.data.count} onPage={setSkip} />
        </>
      )}
      {editing && (
        <TenantDialog
          tenant={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            list.reload();
          }}
        />
      )}
      {deleting && (
        <Confirm
          title="Delete tenant"
          text={`Delete the tenant ${deleting.name} (${deleting.domain}) with all its users, extensions and call records? This cannot be undone.`}
          action="Delete"
          busy={busy}
          onConfirm={destroy}
          onCancel={() => setDeleting(null)}
        />
      )}
    </section>
  );
}

function TenantDialog({ tenant, onClose, onSaved }: { tenant: Tenant | null; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(tenant?.name ?? "");
  const [domain, setDomain] = useState(tenant?.domain ?? "");
  const [enabled, setEnabled] = useState(tenant?.enabled ?? true);
  const [maxUsers, setMaxUsers] = useState("0");
  const [maxCalls, setMaxCalls] = useState("0");
  const [adminUser, setAdminUser] = useState("");
  const [adminPassword, setAdminPassword] = useState("");
  const [adminEmail, setAdminEmail] = useState("");
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!tenant) return;
    api
      .get<TenantDetail>(`/tenants/${tenant.id}`)
      .then((d) => {
        setMaxUsers(String(d.limits?.max_users ?? 0));
        setMaxCalls(String(d.limits?.max_concurrent_calls ?? 0));
      })
      .catch((e) => setError(formError(e)));
  }, [tenant?.id]);

  const save = async (e: Submit) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const limits = { max_users: Number(maxUsers) || 0, max_concurrent_calls: Number(maxCalls) || 0 };
    try {
      if (tenant) {
        await api.post(`/tenants/${tenant.id}`, { name: name.trim(), domain: domain.trim(), enabled, limits });
      } else {
        const admin: Record<string, string> = { username: adminUser.trim(), password: adminPassword };
        if (adminEmail.trim()) admin.email = adminEmail.trim();
        await api.post("/tenants", { name: name.trim(), domain: domain.trim(), enabled, limits, admin });
      }
      onSaved();
    } catch (err) {
      setError(formError(err));
      setBusy(false);
    }
  };

  const known = ["name", "domain", "limits.max_users", "limits.max_concurrent_calls", "admin.username", "admin.password", "admin.email"];
  return (
    <Dialog title={tenant ? `Edit tenant ${tenant.name}` : "Add tenant"} onClose={onClose}>
      <form onSubmit={save} noValidate>
        <Field id="t-name" name="name" label="Name" value={name} onInput={setName} error={error} required autofocus />
        <Field id="t-domain" name="domain" label="SIP domain" value={domain} onInput={setDomain} error={error} required />
        <Field id="t-max-users" name="limits.max_users" label="Maximum users" hint="0: no limit" inputMode="numeric" value={maxUsers} onInput={setMaxUsers} error={error} />
        <Field id="t-max-calls" name="limits.max_concurrent_calls" label="Maximum concurrent calls" hint="0: no limit" inputMode="numeric" value={maxCalls} onInput={setMaxCalls} error={error} />
        <Checkbox id="t-enabled" label="Enabled" checked={enabled} onChange={setEnabled} />
        {!tenant && (
          <fieldset>
            <legend>Tenant administrator</legend>
            <Field id="t-admin-username" name="admin.username" label="Username" value={adminUser} onInput={setAdminUser} error={error} required />
            <Field id="t-admin-password" name="admin.password" label="Password" type="password" autocomplete="new-password" value={adminPassword} onInput={setAdminPassword} error={error} required />
            <Field id="t-admin-email" name="admin.email" label="Email" type="email" value={adminEmail} onInput={setAdminEmail} error={error} />
          </fieldset>
        )}
        {error && !known.includes(error.field ?? "") && <Alert>{error.text}</Alert>}
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
