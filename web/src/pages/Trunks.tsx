// SIP Trunks (the API's providers, issue 15). A system admin manages the
// system's trunks and assigns them to tenants (Tenants: /api/providers/{id}/
// assignees); a tenant admin manages the tenant's own and sees the system's
// assigned to it, read-only. Each row shows the trunk's live status (GET
// /api/providers/{id}/status: registered, failed with the last error, calls in
// progress), read again with the list every 10 s and each time the page opens.
// Add / Edit in a dialog: register authentication asks for the account
// (username, password), ip authentication for the addresses calls come from.
import { useEffect, useState } from "preact/hooks";
import { api, List, Me, Tenant } from "../api";
import { ConfirmDialog, FormEnd, unlessGone, useConfirm, useForm } from "../forms";
import { useEach } from "../list";
import { arrayError, EditorProps, ObjectList, saveObject, useAll, useObjects } from "../objects";
import { Alert, Badge, Checkbox, Column, Dialog, Field, formError, int, RadioGroup, refused, Select, StatusLine, Table } from "../ui";

const REFRESH_MS = 10000;

export interface Provider {
  id: string;
  name: string;
  hostname: string;
  port: number;
  transport: "udp" | "tcp" | "tls";
  outbound_proxy?: string;
  authentication: "register" | "ip";
  username?: string;
  auth_username?: string;
  password_set?: boolean;
  ip_addresses?: string[];
  register_expires: number;
  country_code?: string;
  max_calls: number;
  enabled: boolean;
  owner: "system" | "tenant";
  assignees?: string[];
}

export interface ProviderStatus {
  registered: boolean;
  state: "registered" | "registering" | "failed" | "unregistered" | "ip" | "disabled";
  last_status_code?: number;
  last_error?: string;
  calls: number;
}

function TrunkStatus({ s }: { s: ProviderStatus | null | undefined }) {
  if (s === undefined) return <span class="status">Reading…</span>;
  if (s === null) return <span class="status">Unknown</span>;
  const why = [s.last_status_code ? `SIP ${s.last_status_code}` : "", s.last_error ?? ""].filter(Boolean).join(": ");
  let text: string;
  switch (s.state) {
    case "registered":
      text = "Registered";
      break;
    case "registering":
      text = "Registering";
      break;
    case "failed":
      text = "Registration failed";
      break;
    case "ip":
      text = "IP authentication";
      break;
    case "disabled":
      text = "Disabled";
      break;
    default:
      text = "Not registered";
  }
  const on = s.state === "registered" || (s.state === "ip" && !s.last_error);
  return (
    <div class="trunk-status">
      <StatusLine on={on}>{s.state === "failed" ? <Badge>{text}</Badge> : s.state === "disabled" ? <Badge kind="off">{text}</Badge> : text}</StatusLine>
      {why && s.state !== "registered" && <small class="why">{why}</small>}
    </div>
  );
}

const where = (p: Provider) => `${p.hostname}:${p.port} (${p.transport.toUpperCase()})`;

export function Providers({ me }: { me: Me }) {
  const system = me.role === "system_admin" && !me.tenant;
  const objects = useObjects<Provider>("/providers", REFRESH_MS);
  // the status of each listed trunk, read with the list
  const status = useEach(objects.list.data?.items, (r) => api.get<ProviderStatus>(`/providers/${r.id}/status`));
  // The system admin's tenant picker, and the names of the tenants assigned.
  const tenants = useAll<Tenant>(system ? "/tenants" : "", { orderby: "name asc" });
  const [assigning, setAssigning] = useState<Provider | null>(null);
  const tenantName = (id: string) => {
    const t = tenants.items?.find((x) => x.id === id);
    return t ? `${t.name} (${t.domain})` : id;
  };

  const columns: Column<Provider>[] = [
    { head: "Name", cell: (p) => p.name },
    { head: "Server", cell: where },
    { head: "Authentication", cell: (p) => (p.authentication === "register" ? "Register" : "IP address") },
    { head: "Status", cell: (p) => <TrunkStatus s={status[p.id]} /> },
    { head: "Calls", cell: (p) => (status[p.id] ? String(status[p.id]?.calls) : "") },
    system
      ? { head: "Tenants", cell: (p) => (p.assignees?.length ? p.assignees.map(tenantName).join(", ") : "None") }
      : { head: "Owner", cell: (p) => (p.owner === "system" ? "System" : "This tenant") },
  ];

  return (
    <section>
      <h1>SIP Trunks</h1>
      <p class="sub">{system ? "The system's trunks, assigned to tenants" : "The tenant's trunks and the system's assigned to it"}</p>
      <ObjectList
        objects={objects}
        noun="SIP trunk"
        columns={columns}
        describe={(p) => `the SIP trunk ${p.name} (${p.hostname})`}
        editor={(e) => <ProviderDialog {...e} />}
        readOnly={(p) => (!system && p.owner === "system" ? <span class="hint">Read-only</span> : null)}
        actions={system ? (p) => (
          <button type="button" onClick={() => setAssigning(p)}>
            Tenants
          </button>
        ) : undefined}
        empty={system ? "No SIP trunks yet." : "No SIP trunks yet: add the tenant's own, or ask the system administrator to assign one."}
      />
      {tenants.error != null && <Alert>{refused(tenants.error)}</Alert>}
      {assigning && (
        <AssigneesDialog
          provider={assigning}
          tenants={tenants.items ?? []}
          onClose={() => {
            setAssigning(null);
            objects.list.reload();
          }}
        />
      )}
    </section>
  );
}

// Addresses as typed: separated by commas, spaces or lines.
const addresses = (v: string) => v.split(/[\s,;]+/).filter(Boolean);

function ProviderDialog({ item, onClose, onSaved }: EditorProps<Provider>) {
  const [name, setName] = useState(item?.name ?? "");
  const [hostname, setHostname] = useState(item?.hostname ?? "");
  const [port, setPort] = useState(String(item?.port ?? 5060));
  const [transport, setTransport] = useState<string>(item?.transport ?? "udp");
  const [proxy, setProxy] = useState(item?.outbound_proxy ?? "");
  const [auth, setAuth] = useState<string>(item?.authentication ?? "register");
  const [username, setUsername] = useState(item?.username ?? "");
  const [authUsername, setAuthUsername] = useState(item?.auth_username ?? "");
  const [password, setPassword] = useState("");
  const [expires, setExpires] = useState(String(item?.register_expires ?? 3600));
  const [ips, setIps] = useState((item?.ip_addresses ?? []).join(", "));
  const [cc, setCc] = useState(item?.country_code ?? "");
  const [maxCalls, setMaxCalls] = useState(String(item?.max_calls ?? 0));
  const [enabled, setEnabled] = useState(item?.enabled ?? true);

  const form = useForm(async () => {
    const body: Record<string, unknown> = {
      name: name.trim(), hostname: hostname.trim(), port: int(port), transport, outbound_proxy: proxy.trim(),
      authentication: auth, country_code: cc.trim(), max_calls: int(maxCalls), enabled,
    };
    if (auth === "register") {
      body.username = username.trim();
      body.auth_username = authUsername.trim();
      body.register_expires = int(expires);
      if (password || !item) body.password = password;
    } else {
      body.ip_addresses = addresses(ips);
    }
    await saveObject(`/providers`, item, body);
    onSaved();
  }, (err) => arrayError(formError(err), { ip_addresses: "Address" }));
  const error = form.error;

  return (
    <Dialog title={item ? `Edit SIP trunk ${item.name}` : "Add SIP trunk"} onClose={onClose} wide>
      <form ref={form.ref} onSubmit={form.submit} noValidate>
        <Field id="pr-name" name="name" label="Name" value={name} onInput={setName} error={error} required autofocus />
        <div class="row-inline start">
          <Field id="pr-hostname" name="hostname" label="Hostname" hint="The provider's SIP server: a host name or an IP address" value={hostname} onInput={setHostname} error={error} required />
          <Field id="pr-port" name="port" label="Port" inputMode="numeric" value={port} onInput={setPort} error={error} />
          <Select id="pr-transport" name="transport" label="Transport" value={transport} options={[["udp", "UDP"], ["tcp", "TCP"], ["tls", "TLS"]]} onChange={setTransport} error={error} />
        </div>
        <Field id="pr-proxy" name="outbound_proxy" label="Outbound proxy" hint="host or host:port where requests go first; empty: the hostname" value={proxy} onInput={setProxy} error={error} />
        <RadioGroup
          id="pr-auth"
          legend="Authentication"
          value={auth}
          options={[["register", "Register with username and password"], ["ip", "IP address (no registration)"]]}
          onChange={setAuth}
        />
        {auth === "register" ? (
          <fieldset>
            <legend>Registration</legend>
            <Field id="pr-username" name="username" label="Username" hint="The account at the provider" value={username} onInput={setUsername} error={error} required />
            <Field id="pr-auth-username" name="auth_username" label="Authentication username" hint="Only when it differs from the username" value={authUsername} onInput={setAuthUsername} error={error} />
            <Field
              id="pr-password"
              name="password"
              label="Password"
              type="password"
              autocomplete="new-password"
              hint={item?.password_set ? "Leave empty to keep the stored password" : undefined}
              value={password}
              onInput={setPassword}
              error={error}
              required={!item?.password_set}
            />
            <Field id="pr-expires" name="register_expires" label="Registration expiry (seconds)" hint="60 to 86400; refreshed before it ends" inputMode="numeric" value={expires} onInput={setExpires} error={error} />
          </fieldset>
        ) : (
          <Field
            id="pr-ips"
            name="ip_addresses"
            label="IP addresses"
            hint="Addresses or CIDR blocks the provider's calls come from, separated by commas; empty: the hostname's addresses"
            value={ips}
            onInput={setIps}
            error={error}
          />
        )}
        <div class="row-inline start">
          <Field id="pr-cc" name="country_code" label="Country code" hint="e.g. 44: its national numbers match DIDs in E.164" inputMode="numeric" value={cc} onInput={setCc} error={error} />
          <Field id="pr-max-calls" name="max_calls" label="Maximum concurrent calls" hint="0: no limit" inputMode="numeric" value={maxCalls} onInput={setMaxCalls} error={error} />
        </div>
        <Checkbox id="pr-enabled" label="Enabled" checked={enabled} onChange={setEnabled} />
        <FormEnd form={form} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

interface Assignee {
  tenant_id: string;
  name: string;
  domain: string;
}

// System admin: the tenants a system trunk is assigned to; Assign another,
// Remove one (after confirmation: its calls stop using the trunk).
function AssigneesDialog({ provider, tenants, onClose }: { provider: Provider; tenants: Tenant[]; onClose: () => void }) {
  const [items, setItems] = useState<Assignee[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [pick, setPick] = useState("");
  const path = `/providers/${provider.id}/assignees`;

  const read = () =>
    api
      .get<List<Assignee>>(path)
      .then((l) => {
        setItems(l.items);
        setLoadError(null);
      })
      .catch((e) => setLoadError(refused(e)));
  useEffect(() => {
    void read();
  }, [provider.id]);

  const free = tenants.filter((t) => !items?.some((a) => a.tenant_id === t.id));
  const choice = free.some((t) => t.id === pick) ? pick : free[0]?.id ?? "";

  const form = useForm(async () => {
    if (!choice) return;
    const l = await api.post<List<Assignee>>(path, { tenant_id: choice });
    setItems(l.items);
  });
  // taken away meanwhile (404): as good as removed
  const removing = useConfirm<Assignee>((a) => unlessGone(api.post(`${path}/${a.tenant_id}/destroy`)), () => void read());
  const columns: Column<Assignee>[] = [
    { head: "Tenant", cell: (a) => a.name },
    { head: "SIP domain", cell: (a) => a.domain },
  ];

  return (
    <Dialog title={`Tenants of ${provider.name}`} onClose={onClose} wide>
      <p class="hint">The tenants assigned this trunk may route their inbound and outbound rules over it; they see its server, not its account.</p>
      {loadError && <Alert>{loadError}</Alert>}
      {items && items.length === 0 && <p>Not assigned to any tenant.</p>}
      {items && items.length > 0 && (
        <Table
          columns={columns}
          rows={items}
          rowKey={(a) => a.tenant_id}
          actions={(a) => (
            <button type="button" class="danger" onClick={() => removing.ask(a)}>
              Remove
            </button>
          )}
        />
      )}
      <form ref={form.ref} onSubmit={form.submit} noValidate class="row-inline">
        <Select
          id="as-tenant"
          name="tenant_id"
          label="Tenant"
          value={choice}
          options={free.length ? free.map((t) => [t.id, `${t.name} (${t.domain})`]) : [["", "Every tenant has it"]]}
          onChange={setPick}
          error={form.error}
        />
        <button type="submit" class="primary" disabled={form.busy || !choice}>
          Assign
        </button>
      </form>
      {form.error && form.unplaced && <Alert>{form.error.text}</Alert>}
      <div class="buttons">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <ConfirmDialog
        c={removing}
        title="Remove tenant"
        text={(a) => `Take ${provider.name} from ${a.name} (${a.domain})? Its rules can no longer route calls over it.`}
        action="Remove"
      />
    </Dialog>
  );
}
