// Tenant admin: Call Restrictions, the toll-fraud caps on calls over SIP trunks
// (issue 15): the outbound call limits (GET/POST /api/tenant/outbound_limits),
// and three lists of the same shape (a number or prefix and a note), each with
// Add / Edit / Delete and Export CSV: allowed country codes, disallowed codes,
// blacklisted numbers.
import { useState } from "preact/hooks";
import { FormEnd, useForm, useSettings } from "../forms";
import { EditorProps, ObjectList, saveObject, useObjects } from "../objects";
import { Column, Dialog, Field, int } from "../ui";

export function CallRestrictions() {
  return (
    <section>
      <h1>Call Restrictions</h1>
      <p class="sub">Toll fraud protection for calls over SIP trunks</p>
      <OutboundLimits />
      <NumberList
        id="cc"
        path="/allowed_country_codes"
        title="Allowed country codes"
        noun="allowed country code"
        keyField="code"
        keyLabel="Country code"
        keyHint="1 to 3 digits, e.g. 44"
        about="International calls (dialled with + or 00) go only to the SIP trunk's own country and to the countries listed here."
      />
      <NumberList
        id="dc"
        path="/disallowed_codes"
        title="Disallowed codes"
        noun="disallowed code"
        keyField="code"
        keyLabel="Code"
        keyHint="A prefix, e.g. 1900 or +882"
        about="No outbound call may start with these prefixes, as dialled or as sent to the trunk."
      />
      <NumberList
        id="bl"
        path="/blacklisted_numbers"
        title="Blacklisted numbers"
        noun="blacklisted number"
        keyField="number"
        keyLabel="Number"
        keyHint="E.164 (+4420...) or as the trunk sends it"
        about="Calls from these numbers over SIP trunks are refused."
      />
    </section>
  );
}

interface Limits {
  max_concurrent_calls: number;
  max_calls_per_hour: number;
  extension_max_concurrent_calls: number;
  extension_max_calls_per_hour: number;
}

const LIMITS: [keyof Limits, string, string][] = [
  ["max_concurrent_calls", "Concurrent outbound calls of the tenant", "0: no limit"],
  ["max_calls_per_hour", "Outbound calls of the tenant per hour", "0: no limit"],
  ["extension_max_concurrent_calls", "Concurrent outbound calls of one extension", "0: no limit"],
  ["extension_max_calls_per_hour", "Outbound calls of one extension per hour", "0: no limit"],
];

function OutboundLimits() {
  const st = useSettings<Limits, Record<string, string>>(
    "/tenant/outbound_limits",
    null,
    (l) => Object.fromEntries(LIMITS.map(([k]) => [k, String(l[k])])),
    (v) => Object.fromEntries(LIMITS.map(([k]) => [k, int(v[k])])),
  );
  const { value: values, form } = st;
  return (
    <section class="card" aria-labelledby="h-limits">
      <h2 id="h-limits">Outbound call limits</h2>
      <p class="hint">A call over a limit is refused.</p>
      {st.pending ?? (
        <form ref={form.ref} onSubmit={form.submit} noValidate>
          <div class="row-inline">
            {values &&
              LIMITS.map(([k, label, hint]) => (
                <Field key={k} id={`lim-${k}`} name={k} label={label} hint={hint} inputMode="numeric" value={values[k]} onInput={(v) => st.set({ ...values, [k]: v })} error={form.error} />
              ))}
          </div>
          <FormEnd form={form} />
        </form>
      )}
    </section>
  );
}

interface NumberItem {
  id: string;
  code?: string;
  number?: string;
  name: string;
}

interface NumberListProps {
  id: string;
  path: string;
  title: string;
  noun: string;
  keyField: "code" | "number";
  keyLabel: string;
  keyHint: string;
  about: string;
}

// One list of numbers or prefixes, each with a note.
function NumberList(p: NumberListProps) {
  const objects = useObjects<NumberItem>(p.path);
  const columns: Column<NumberItem>[] = [
    { head: p.keyLabel, cell: (r) => r[p.keyField] ?? "" },
    { head: "Note", cell: (r) => r.name },
  ];
  return (
    <section class="card" aria-labelledby={`h-${p.id}`}>
      <h2 id={`h-${p.id}`}>{p.title}</h2>
      <p class="hint">{p.about}</p>
      <ObjectList
        objects={objects}
        noun={p.noun}
        columns={columns}
        describe={(r) => `the ${p.noun} ${r[p.keyField]}`}
        editor={(e) => <NumberDialog {...e} list={p} />}
        empty="None yet."
      />
    </section>
  );
}

function NumberDialog({ item, onClose, onSaved, list }: EditorProps<NumberItem> & { list: NumberListProps }) {
  const [key, setKey] = useState(item?.[list.keyField] ?? "");
  const [name, setName] = useState(item?.name ?? "");
  const form = useForm(async () => {
    await saveObject(list.path, item, { [list.keyField]: key.trim(), name: name.trim() });
    onSaved();
  });

  return (
    <Dialog title={item ? `Edit ${list.noun} ${item[list.keyField]}` : `Add ${list.noun}`} onClose={onClose}>
      <form ref={form.ref} onSubmit={form.submit} noValidate>
        <Field id={`${list.id}-key`} name={list.keyField} label={list.keyLabel} hint={list.keyHint} value={key} onInput={setKey} error={form.error} required autofocus />
        <Field id={`${list.id}-name`} name="name" label="Note" value={name} onInput={setName} error={form.error} />
        <FormEnd form={form} onCancel={onClose} />
      </form>
    </Dialog>
  );
}
