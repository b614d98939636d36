// A list page's data: one request per change of query, and again on an
// interval so that the list stays current while it is open.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, List } from "./api";

export interface ListState<T> {
  data: List<T> | null;
  error: unknown;
  reload: () => void;
}

export function useList<T>(path: string, query: Record<string, string | number | undefined>, everyMs = 0): ListState<T> {
  const [data, setData] = useState<List<T> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const key = path + "?" + JSON.stringify(query);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    api
      .get<List<T>>(path, query)
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
