// The portal's own routing: paths of the History API (/tenants,
// /call-manager/users...). pbxd answers any such path with index.html, so a
// reload or a bookmark opens the same page.
import { useEffect, useState } from "preact/hooks";

type Listener = (path: string) => void;
const listeners = new Set<Listener>();

function current(): string {
  return location.pathname || "/";
}

export function navigate(to: string, replace = false): void {
  if (to === current()) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  for (const l of listeners) l(current());
}

window.addEventListener("popstate", () => {
  for (const l of listeners) l(current());
});

export function usePath(): string {
  const [path, setPath] = useState(current());
  useEffect(() => {
    const l: Listener = (p) => setPath(p);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return path;
}

// A click on a same-origin link moves within the portal instead of loading the page.
export function linkClick(e: MouseEvent, to: string): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(to);
}
