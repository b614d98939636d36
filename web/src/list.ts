// A list page's data (or any page's: useResource): one request per change of
// query, and again on an interval so that the list stays current while it is
// open.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, List } from "./api";

export interface Resource<T> {
  data: T | null;
  error: unknown;
  reload: () => void;
}

export type ListState<T> = Resource<List<T>>;

export function useList<T>(path: string, query: Record<string, string | number | undefined>, everyMs = 0): ListState<T> {
  return useResource<List<T>>(path, query, everyMs);
}

// What GET path answers, read again every everyMs while the page is visible.
export function useResource<T>(path: string, query: Record<string, string | number | undefined> = {}, everyMs = 0): Resource<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const key = path + "?" + JSON.stringify(query);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    api
      .get<T>(path, query)
      .then((d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(null);
      })
      .catch((e) => mine === seq.current && setError(e));
  }, [key, tick]);
  useEffect(() => {
    if (!everyMs) return;
    const t = window.setInterval(() => {
      if (document.visibilityState === "visible") setTick((n) => n + 1);
    }, everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, reload };
}

// A value that follows v after it has stopped changing for ms (search boxes).
export function useDebounced<T>(v: T, ms = 250): T {
  const [d, setD] = useState(v);
  useEffect(() => {
    const t = window.setTimeout(() => setD(v), ms);
    return () => clearTimeout(t);
  }, [v, ms]);
  return d;
}

// One more read for each item of a list, after the list is shown (a trunk's
// status, a user's DND): by id, undefined until read, null when it failed. Read
// again each time the list is (a new array of rows).
export function useEach<R extends { id: string }, V>(rows: R[] | undefined, read: (r: R) => Promise<V>): Record<string, V | null> {
  const [values, setValues] = useState<Record<string, V | null>>({});
  useEffect(() => {
    if (!rows) return;
    let live = true;
    Promise.all(
      rows.map((r) =>
        read(r)
          .then((v) => [r.id, v] as const)
          .catch(() => [r.id, null] as const),
      ),
    ).then((all) => {
      if (live) setValues(Object.fromEntries(all));
    });
    return () => {
      live = false;
    };
  }, [rows]);
  return values;
}
