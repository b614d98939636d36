// System admin: Tenants. The list (search, paging), Add and Edit in a dialog,
// Delete after confirmation, and Manage: act as the tenant's administrator
// (the API's switch) until "Back to Tenants".
import { useEffect, useState } from "preact/hooks";
import { api, Tenant } from "../api";
import { FormEnd, useForm } from "../forms";
import { EditorProps, ObjectList, useObjects } from "../objects";
import { navigate } from "../router";
import { Alert, Checkbox, Column, Dialog, Field, formError, message } from "../ui";

interface TenantDetail extends Tenant {
  limits: { max_users: number; max_concurrent_calls: number };
}

const columns: Column<Tenant>[] = [
  { head: "Name", cell: (t) => t.name },
  { head: "SIP domain", cell: (t) => t.domain },
  { head: "State", cell: (t) => (t.enabled ? "Enabled" : "Disabled") },
];

export function Tenants() {
  const objects = useObjects<Tenant>("/tenants", 30000, { orderby: "name asc", search: true });
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

  return (
    <section>
      <h1>Tenants</h1>
      {error && <Alert>{error}</Alert>}
      <ObjectList
        objects={objects}
        searchId="tenant-search"
        noun="tenant"
        columns={columns}
        describe={(t) => `the tenant ${t.name} (${t.domain}) with all its users, extensions and call records`}
        editor={(e) => <TenantDialog {...e} />}
        actions={(t) => (
          <button type="button" disabled={busy || !t.enabled} onClick={() => manage(t)}>
            Manage
          </button>
        )}
        empty="No tenants yet."
        noMatch="No tenant matches the search."
        canExport={false}
      />
    </section>
  );
}

function TenantDialog({ item: tenant, onClose, onSaved }: EditorProps<Tenant>) {
  const [name, setName] = useState(tenant?.name ?? "");
  const [domain, setDomain] = useState(tenant?.domain ?? "");
  const [enabled, setEnabled] = useState(tenant?.enabled ?? true);
  const [maxUsers, setMaxUsers] = useState("0");
  const [maxCalls, setMaxCalls] = useState("0");
  const [adminUser, setAdminUser] = useState("");
  const [adminPassword, setAdminPassword] = useState("");
  const [adminEmail, setAdminEmail] = useState("");
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    if (!tenant) return;
    api
      .get<TenantDetail>(`/tenants/${tenant.id}`)
      .then((d) => {
        setMaxUsers(String(d.limits?.max_users ?? 0));
        setMaxCalls(String(d.limits?.max_concurrent_calls ?? 0));
      })
      .catch((e) => setLoadError(formError(e).text));
  }, [tenant?.id]);

  const form = useForm(async () => {
    const limits = { max_users: Number(maxUsers) || 0, max_concurrent_calls: Number(maxCalls) || 0 };
    if (tenant) {
      await api.post(`/tenants/${tenant.id}`, { name: name.trim(), domain: domain.trim(), enabled, limits });
    } else {
      const admin: Record<string, string> = { username: adminUser.trim(), password: adminPassword };
      if (adminEmail.trim()) admin.email = adminEmail.trim();
      await api.post("/tenants", { name: name.trim(), domain: domain.trim(), enabled, limits, admin });
    }
    onSaved();
  });
  const error = form.error;

  return (
    <Dialog title={tenant ? `Edit tenant ${tenant.name}` : "Add tenant"} onClose={onClose}>
      <form ref={form.ref} onSubmit={form.submit} noValidate>
        {loadError && <Alert>{loadError}</Alert>}
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
        <FormEnd form={form} onCancel={onClose} />
      </form>
    </Dialog>
  );
}
