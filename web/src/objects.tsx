// What the pages of configuration objects share (SIP trunks, inbound and
// outbound rules, the call restriction lists: /api/{kind}, docs/api.md): a
// paged list refreshed on an interval, its table with Add, Edit, Delete (after
// confirmation, the API's refusal such as 409 "in use" shown in the
// confirmation) and Export (the kind's CSV, downloaded with the session's
// token), and the helpers their dialogs use to save and to place errors.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, List } from "./api";
import { ListState, useList } from "./list";
import { Alert, Confirm, FormError, message, Pager, refused } from "./ui";

export const TOP = 20;

export interface Objects<T> {
  path: string; // "/inbound_rules"
  list: ListState<T>;
  skip: number;
  setSkip: (n: number) => void;
}

// The kind's list, a page at a time, read again every everyMs.
export function useObjects<T>(path: string, everyMs = 30000): Objects<T> {
  const [skip, setSkip] = useState(0);
  const list = useList<T>(path, { skip, top: TOP }, everyMs);
  return { path, list, skip, setSkip };
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

export interface Column<T> {
  head: string;
  cell: (r: T) => ComponentChildren;
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
  editor: (p: EditorProps<T>) => ComponentChildren; // the Add / Edit dialog
  // A row that may not be changed here: what its actions cell says instead.
  readOnly?: (r: T) => ComponentChildren | null;
  actions?: (r: T) => ComponentChildren; // more buttons before Delete
  empty: string;
  canAdd?: boolean;
}

export function ObjectList<T extends { id: string }>(p: ObjectListProps<T>) {
  const { list, path } = p.objects;
  const [editing, setEditing] = useState<T | "new" | null>(null);
  const [deleting, setDeleting] = useState<T | null>(null);
  const [busy, setBusy] = useState(false);
  const [delError, setDelError] = useState<string | null>(null);

  const destroy = async () => {
    if (!deleting) return;
    setBusy(true);
    setDelError(null);
    try {
      await api.post(`${path}/${encodeURIComponent(deleting.id)}/destroy`);
      setDeleting(null);
      list.reload();
    } catch (e) {
      setDelError(message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <div class="toolbar">
        {p.canAdd !== false && (
          <button type="button" class="primary" onClick={() => setEditing("new")}>
            Add
          </button>
        )}
        <ExportButton path={path} />
      </div>
      {list.error != null && <Alert>{refused(list.error)}</Alert>}
      {list.data && list.data.count === 0 && <p>{p.empty}</p>}
      {list.data && list.data.count > 0 && (
        <>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  {p.columns.map((c) => (
                    <th scope="col" key={c.head}>
                      {c.head}
                    </th>
                  ))}
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((r) => {
                  const ro = p.readOnly?.(r) ?? null;
                  return (
                    <tr key={r.id}>
                      {p.columns.map((c) => (
                        <td key={c.head}>{c.cell(r)}</td>
                      ))}
                      <td class="actions">
                        {ro ?? (
                          <>
                            <button type="button" onClick={() => setEditing(r)}>
                              Edit
                            </button>
                            {p.actions?.(r)}
                            <button type="button" class="danger" onClick={() => setDeleting(r)}>
                              Delete
                            </button>
                          </>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
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
      {deleting && (
        <Confirm
          title={`Delete ${p.noun}`}
          text={`Delete ${p.describe(deleting)}? This cannot be undone.`}
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
    </>
  );
}

// The buttons at the foot of an object's dialog.
export function SaveButtons({ busy, onClose }: { busy: boolean; onClose: () => void }) {
  return (
    <div class="buttons">
      <button type="submit" class="primary" disabled={busy}>
        Save
      </button>
      <button type="button" onClick={onClose}>
        Cancel
      </button>
    </div>
  );
}

