// What the pages of lists of objects share (tenants, users, SIP trunks, inbound
// and outbound rules, the call restriction lists: /api/{kind}, docs/api.md): a
// paged list refreshed on an interval, with a search box where the kind has
// one, its table with Add, Edit, Delete (after confirmation, the API's refusal
// such as 409 "in use" shown in the confirmation) and Export (the kind's CSV,
// downloaded with the session's token), and the helpers their dialogs use to
// save and to place errors.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, List } from "./api";
import { ConfirmDialog, useConfirm } from "./forms";
import { ListState, useDebounced, useList } from "./list";
import { Alert, Column, FormError, message, Pager, refused, SearchBox, Table } from "./ui";

export const TOP = 20;

export interface Objects<T> {
  path: string; // "/inbound_rules"
  list: ListState<T>;
  skip: number;
  setSkip: (n: number) => void;
  search: string | null; // what the search box holds; null: the list has none
  setSearch: (v: string) => void; // back to the first page
  searching: boolean; // the list read is one of a search
}

// The kind's list, a page at a time (ordered by orderby, filtered by a search
// box when search is true), read again every everyMs.
export function useObjects<T>(path: string, everyMs = 30000, opts: { orderby?: string; search?: boolean } = {}): Objects<T> {
  const [skip, setSkip] = useState(0);
  const [search, setSearchText] = useState("");
  const q = useDebounced(search);
  const list = useList<T>(path, { search: opts.search ? q : undefined, orderby: opts.orderby, skip, top: TOP }, everyMs);
  const setSearch = (v: string) => {
    setSearchText(v);
    setSkip(0);
  };
  return { path, list, skip, setSkip, search: opts.search ? search : null, setSearch, searching: !!(opts.search && q) };
}

// Every item of a list the API pages by at most 100 (the choices of a picker:
// extensions, tenants, providers), read once; null until read. An empty path
// reads nothing.
export function useAll<T>(path: string, query: Record<string, string | number | undefined> = {}): { items: T[] | null; error: unknown } {
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const key = path + "?" + JSON.stringify(query);
  useEffect(() => {
    if (!path) return; // not wanted here
    let live = true;
    (async () => {
      const all: T[] = [];
      for (let skip = 0; ; skip += 100) {
        const l = await api.get<List<T>>(path, { ...query, skip, top: 100 });
        all.push(...l.items);
        if (!l.items.length || all.length >= l.count) break;
      }
      return all;
    })()
      .then((all) => live && setItems(all))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [key]);
  return { items, error };
}

// Creates the object (item null) or changes it (the fields in body).
export function saveObject<T>(path: string, item: { id: string } | null, body: Record<string, unknown>): Promise<T> {
  return item ? api.post<T>(`${path}/${encodeURIComponent(item.id)}`, body) : api.post<T>(path, body);
}

// An error naming one item of an array field ("ip_addresses[1]: ...") is
// shown beside the array's own control, naming the item for people
// ("Address 2: ...").
export function arrayError(fe: FormError, nouns: Record<string, string>): FormError {
  const m = fe.field ? /^([a-z_]+)\[(\d+)\]$/.exec(fe.field) : null;
  const base = m ? m[1] : fe.field;
  const at = /^[a-z_]+\[(\d+)\]: /i.exec(fe.text);
  if (!base || !(base in nouns) || !at) return m && base ? { ...fe, field: base } : fe;
  return { field: base, text: `${nouns[base]} ${Number(at[1]) + 1}: ${fe.text.slice(at[0].length)}` };
}

// Downloads the kind's CSV ({path}/export) as the file the API names.
export function ExportButton({ path }: { path: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const { blob, filename } = await api.download(`${path}/export`, path.slice(1) + ".csv");
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = filename;
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" disabled={busy} onClick={run}>
        Export CSV
      </button>
      {error && <Alert>{error}</Alert>}
    </>
  );
}

export interface EditorProps<T> {
  item: T | null; // null: Add
  onClose: () => void;
  onSaved: () => void;
}

interface ObjectListProps<T> {
  objects: Objects<T>;
  noun: string; // "inbound rule"
  columns: Column<T>[];
  describe: (r: T) => string; // "the inbound rule Main (DID 18800606)"
  consequence?: string; // said before "This cannot be undone."
  editor: (p: EditorProps<T>) => ComponentChildren; // the Add / Edit dialog
  // A row that may not be changed here: what its actions cell says instead.
  readOnly?: (r: T) => ComponentChildren | null;
  actions?: (r: T) => ComponentChildren; // more buttons before Delete
  empty: string;
  noMatch?: string; // empty, as the result of a search
  searchId?: string; // the search box's id, with objects' search
  canAdd?: boolean;
  canExport?: boolean; // the kind has {path}/export
}

// A kind's list: search (when it has one), Add, Export CSV; the table with Edit
// and Delete (after confirmation) in each row; the pager; the Add / Edit dialog.
export function ObjectList<T extends { id: string }>(p: ObjectListProps<T>) {
  const { list, path, search } = p.objects;
  const [editing, setEditing] = useState<T | "new" | null>(null);
  const deleting = useConfirm<T>((r) => api.post(`${path}/${encodeURIComponent(r.id)}/destroy`), list.reload);
  const actions = (r: T) =>
    p.readOnly?.(r) ?? (
      <>
        <button type="button" onClick={() => setEditing(r)}>
          Edit
        </button>
        {p.actions?.(r)}
        <button type="button" class="danger" onClick={() => deleting.ask(r)}>
          Delete
        </button>
      </>
    );

  return (
    <>
      <div class="toolbar">
        {search !== null && <SearchBox id={p.searchId ?? "search"} value={search} onInput={p.objects.setSearch} />}
        {p.canAdd !== false && (
          <button type="button" class="primary" onClick={() => setEditing("new")}>
            Add
          </button>
        )}
        {p.canExport !== false && <ExportButton path={path} />}
      </div>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && list.data.count === 0 && <p>{p.objects.searching && p.noMatch ? p.noMatch : p.empty}</p>}
      {list.data && list.data.count > 0 && (
        <>
          <Table columns={p.columns} rows={list.data.items} rowKey={(r) => r.id} actions={actions} />
          <Pager skip={p.objects.skip} top={TOP} count={list.data.count} onPage={p.objects.setSkip} />
        </>
      )}
      {editing &&
        p.editor({
          item: editing === "new" ? null : editing,
          onClose: () => setEditing(null),
          onSaved: () => {
            setEditing(null);
            list.reload();
          },
        })}
      <ConfirmDialog
        c={deleting}
        title={`Delete ${p.noun}`}
        text={(r) => `Delete ${p.describe(r)}?${p.consequence ? " " + p.consequence : ""} This cannot be undone.`}
        action="Delete"
      />
    </>
  );
}
