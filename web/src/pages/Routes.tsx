// Tenant admin: the call routes over SIP trunks (issue 15).
//   Inbound Rules   a DID of a trunk to an extension of the tenant (or hang up),
//                   optionally elsewhere while the office hours are closed
//   Outbound Rules  a dialled-number pattern to trunks tried in order, after
//                   stripping and prepending digits, rules tried by priority
// Each is a list with Add / Edit in a dialog, Delete and Export CSV (objects.tsx).
import { useState } from "preact/hooks";
import { FormEnd, useForm } from "../forms";
import { ObjectList, arrayError, EditorProps, saveObject, useAll, useObjects } from "../objects";
import { Alert, Column, Dialog, Field, FormError, formError, int, refused, Select } from "../ui";
import type { Provider } from "./Trunks";
import type { UserRow } from "./Users";

// The dialled-number and DID notation (pbx/dialplan), said where it is typed.
const NOTATION = "X any digit, Z 1–9, N 2–9, [1-5] one digit of the set, . one or more further digits, ! zero or more; anything else as written";

interface Destination {
  action: "number" | "hangup";
  number?: string;
}

export interface InboundRule {
  id: string;
  name: string;
  provider_id: string;
  did: string;
  destination: Destination;
  outside_hours_destination?: Destination | null;
}

export interface OutboundRule {
  id: string;
  name: string;
  pattern: string;
  strip_digits: number;
  prepend: string;
  provider_ids: string[];
  priority: number;
}

// The trunks the tenant may route over (its own and the system's assigned),
// and a name for an id.
function useProviders() {
  const all = useAll<Provider>("/providers");
  const name = (id: string) => all.items?.find((p) => p.id === id)?.name ?? `Trunk ${id}`;
  return { ...all, name };
}

function useExtensions() {
  return useAll<UserRow>("/users", { orderby: "extension_number asc" });
}

function extLabel(users: UserRow[] | null, n: string): string {
  const u = users?.find((x) => x.extension_number === n);
  return u?.display_name ? `${n} (${u.display_name})` : n;
}

function destText(users: UserRow[] | null, d: Destination | null | undefined): string {
  if (!d) return "";
  return d.action === "hangup" ? "Hang up" : `Extension ${extLabel(users, d.number ?? "")}`;
}

// ---- Inbound Rules ------------------------------------------------------------------------

export function InboundRules() {
  const objects = useObjects<InboundRule>("/inbound_rules");
  const providers = useProviders();
  const users = useExtensions();
  const columns: Column<InboundRule>[] = [
    { head: "Name", cell: (r) => r.name },
    { head: "DID", cell: (r) => r.did },
    { head: "SIP trunk", cell: (r) => providers.name(r.provider_id) },
    { head: "Destination", cell: (r) => destText(users.items, r.destination) },
    { head: "Outside office hours", cell: (r) => destText(users.items, r.outside_hours_destination) || "As in office hours" },
  ];
  return (
    <section>
      <h1>Inbound Rules</h1>
      <p class="sub">Calls from SIP trunks to the tenant's numbers (DIDs)</p>
      <ObjectList
        objects={objects}
        noun="inbound rule"
        columns={columns}
        describe={(r) => `the inbound rule ${r.name} (DID ${r.did})`}
        editor={(e) => <InboundDialog {...e} />}
        empty="No inbound rules yet."
      />
    </section>
  );
}

// A destination as a select's value: "number:101" or "hangup"; "" is none.
const destValue = (d: Destination | null | undefined) => (!d ? "" : d.action === "hangup" ? "hangup" : `number:${d.number ?? ""}`);
const toDest = (v: string): Destination | null => (!v ? null : v === "hangup" ? { action: "hangup" } : { action: "number", number: v.slice(7) });

// Where a call goes: an extension of the tenant, or hang up (first choice: none).
function DestinationSelect({ id, name, label, value, none, users, onChange, error }: { id: string; name: string; label: string; value: string; none?: string; users: UserRow[] | null; onChange: (v: string) => void; error: FormError | null }) {
  const opts: [string, string][] = (users ?? []).map((u) => [`number:${u.extension_number}`, `Extension ${extLabel(users, u.extension_number)}`]);
  if (value.startsWith("number:") && !opts.some(([v]) => v === value)) opts.unshift([value, `Extension ${value.slice(7)} (not found)`]);
  opts.push(["hangup", "Hang up"]);
  if (none) opts.unshift(["", none]);
  return <Select id={id} name={name} label={label} value={value} options={opts} onChange={onChange} error={error} />;
}

function InboundDialog({ item, onClose, onSaved }: EditorProps<InboundRule>) {
  const providers = useProviders();
  const users = useExtensions();
  const [name, setName] = useState(item?.name ?? "");
  const [did, setDid] = useState(item?.did ?? "");
  const [provider, setProvider] = useState(item?.provider_id ?? "");
  const [dest, setDest] = useState(destValue(item?.destination));
  const [outside, setOutside] = useState(destValue(item?.outside_hours_destination));
  // Until one is chosen: the first trunk, the first extension.
  const providerValue = provider || providers.items?.[0]?.id || "";
  const destChoice = dest || (users.items?.[0] ? `number:${users.items[0].extension_number}` : "hangup");

  const form = useForm(
    async () => {
      await saveObject("/inbound_rules", item, {
        name: name.trim(), did: did.trim(), provider_id: providerValue, destination: toDest(destChoice), outside_hours_destination: toDest(outside),
      });
      onSaved();
    },
    (err) => {
      const fe = formError(err);
      // "destination.action" and the like: beside the destination's select
      const m = fe.field ? /^(destination|outside_hours_destination)\./.exec(fe.field) : null;
      const text = fe.text.replace(/^[a-z_.]+: /i, "");
      return m ? { field: m[1], text: text.charAt(0).toUpperCase() + text.slice(1) } : fe;
    },
  );
  const error = form.error;

  return (
    <Dialog title={item ? `Edit inbound rule ${item.name}` : "Add inbound rule"} onClose={onClose} wide>
      <form ref={form.ref} onSubmit={form.submit} noValidate>
        <Field id="ir-name" name="name" label="Name" value={name} onInput={setName} error={error} required autofocus />
        <Select
          id="ir-provider"
          name="provider_id"
          label="SIP trunk"
          value={providerValue}
          options={providers.items?.length ? providers.items.map((p) => [p.id, p.owner === "system" ? `${p.name} (system)` : p.name]) : [["", "No SIP trunk yet"]]}
          onChange={setProvider}
          error={error}
        />
        {providers.error != null && <Alert>{refused(providers.error)}</Alert>}
        <Field
          id="ir-did"
          name="did"
          label="DID"
          hint={`The number the trunk's calls are for: exact (18800606, +442071234567), a range FROM-TO, or a pattern: ${NOTATION}`}
          value={did}
          onInput={setDid}
          error={error}
          required
        />
        <DestinationSelect id="ir-dest" name="destination" label="Destination" value={destChoice} users={users.items} onChange={setDest} error={error} />
        <DestinationSelect
          id="ir-outside"
          name="outside_hours_destination"
          label="Outside office hours"
          none="As in office hours"
          value={outside}
          users={users.items}
          onChange={setOutside}
          error={error}
        />
        {users.error != null && <Alert>{refused(users.error)}</Alert>}
        <FormEnd form={form} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

// ---- Outbound Rules -----------------------------------------------------------------------

export function OutboundRules() {
  const objects = useObjects<OutboundRule>("/outbound_rules");
  const providers = useProviders();
  const columns: Column<OutboundRule>[] = [
    { head: "Name", cell: (r) => r.name },
    { head: "Pattern", cell: (r) => r.pattern },
    { head: "Strip", cell: (r) => String(r.strip_digits) },
    { head: "Prepend", cell: (r) => r.prepend },
    { head: "SIP trunks, in order", cell: (r) => r.provider_ids.map(providers.name).join(" → ") },
    { head: "Priority", cell: (r) => String(r.priority) },
  ];
  return (
    <section>
      <h1>Outbound Rules</h1>
      <p class="sub">Numbers the tenant's users dial that go out over SIP trunks: rules are tried lowest priority first</p>
      <ObjectList
        objects={objects}
        noun="outbound rule"
        columns={columns}
        describe={(r) => `the outbound rule ${r.name} (${r.pattern})`}
        editor={(e) => <OutboundDialog {...e} />}
        empty="No outbound rules yet: calls to numbers outside the tenant are refused."
      />
    </section>
  );
}

function OutboundDialog({ item, onClose, onSaved }: EditorProps<OutboundRule>) {
  const providers = useProviders();
  const [name, setName] = useState(item?.name ?? "");
  const [pattern, setPattern] = useState(item?.pattern ?? "");
  const [strip, setStrip] = useState(String(item?.strip_digits ?? 0));
  const [prepend, setPrepend] = useState(item?.prepend ?? "");
  const [priority, setPriority] = useState(String(item?.priority ?? 100));
  const [chosen, setChosen] = useState<string[]>(item?.provider_ids ?? []);
  const [pick, setPick] = useState("");
  const free = (providers.items ?? []).filter((p) => !chosen.includes(p.id));
  const pickValue = free.some((p) => p.id === pick) ? pick : free[0]?.id ?? "";

  const move = (i: number, by: number) => {
    const l = [...chosen];
    [l[i], l[i + by]] = [l[i + by], l[i]];
    setChosen(l);
  };

  const form = useForm(
    async () => {
      await saveObject("/outbound_rules", item, {
        name: name.trim(), pattern: pattern.trim(), strip_digits: strip.trim() ? int(strip) : 0, prepend: prepend.trim(),
        provider_ids: chosen, priority: priority.trim() ? int(priority) : 100,
      });
      onSaved();
    },
    (err) => arrayError(formError(err), { provider_ids: "Trunk" }),
  );
  const error = form.error;

  return (
    <Dialog title={item ? `Edit outbound rule ${item.name}` : "Add outbound rule"} onClose={onClose} wide>
      <form ref={form.ref} onSubmit={form.submit} noValidate>
        <Field id="or-name" name="name" label="Name" value={name} onInput={setName} error={error} required autofocus />
        <Field id="or-pattern" name="pattern" label="Pattern" hint={`What was dialled: ${NOTATION}. E.g. 9NXXXXXX, or 00. for every international number`} value={pattern} onInput={setPattern} error={error} required />
        <div class="row-inline">
          <Field id="or-strip" name="strip_digits" label="Strip digits" hint="Leading digits removed" inputMode="numeric" value={strip} onInput={setStrip} error={error} />
          <Field id="or-prepend" name="prepend" label="Prepend" hint="Added in front after stripping" value={prepend} onInput={setPrepend} error={error} />
          <Field id="or-priority" name="priority" label="Priority" hint="0 to 1000, lowest tried first" inputMode="numeric" value={priority} onInput={setPriority} error={error} />
        </div>
        <fieldset>
          <legend>SIP trunks, in the order tried</legend>
          <p class="hint">The next one is tried when a trunk answers 5xx or 408, or not at all.</p>
          {chosen.length === 0 ? (
            <p>None yet: add at least one.</p>
          ) : (
            <ol class="ordered">
              {chosen.map((id, i) => (
                <li key={id}>
                  <span>{providers.name(id)}</span>
                  <button type="button" aria-label={`Move ${providers.name(id)} up`} disabled={i === 0} onClick={() => move(i, -1)}>
                    Up
                  </button>
                  <button type="button" aria-label={`Move ${providers.name(id)} down`} disabled={i === chosen.length - 1} onClick={() => move(i, 1)}>
                    Down
                  </button>
                  <button type="button" aria-label={`Remove ${providers.name(id)}`} onClick={() => setChosen(chosen.filter((x) => x !== id))}>
                    Remove
                  </button>
                </li>
              ))}
            </ol>
          )}
          <div class="row-inline">
            <Select
              id="or-add-provider"
              name="provider_ids"
              label="SIP trunk to add"
              value={pickValue}
              options={free.length ? free.map((p) => [p.id, p.owner === "system" ? `${p.name} (system)` : p.name]) : [["", providers.items?.length ? "All are in the list" : "No SIP trunk yet"]]}
              onChange={setPick}
              error={error}
            />
            <button type="button" disabled={!pickValue} onClick={() => pickValue && setChosen([...chosen, pickValue])}>
              Add to the list
            </button>
          </div>
          {providers.error != null && <Alert>{refused(providers.error)}</Alert>}
        </fieldset>
        <FormEnd form={form} onCancel={onClose} />
      </form>
    </Dialog>
  );
}
