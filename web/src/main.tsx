// The portal: who is signed in decides the menu and the pages.
//   system admin              Tenants (and Manage: acts as a tenant's admin); SIP Trunks (the
//                             system's, assigned to tenants); System (info, certificate)
//   tenant admin / managing   Call Manager > Users, Extensions; Call Routing > SIP Trunks,
//                             Inbound Rules, Outbound Rules, Call Restrictions;
//                             Call Statistics > CDR, Active Calls
//   tenant user (either role) My portal: profile, Do not disturb, status, password, calls;
//                             Forwarding Rule; Voicemail; Office Hours (with holidays)
// The API decides what each token may do; a page the API refuses says so.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, Me } from "./api";
import { navigate, usePath } from "./router";
import { Alert, Link, message } from "./ui";
import { SignIn } from "./pages/SignIn";
import { Tenants } from "./pages/Tenants";
import { Users } from "./pages/Users";
import { Cdrs } from "./pages/Cdrs";
import { MyForwarding, MyOfficeHours, MyVoicemail, Personal } from "./pages/Personal";
import { ActiveCalls } from "./pages/ActiveCalls";
import { System } from "./pages/System";
import { Providers } from "./pages/Trunks";
import { InboundRules, OutboundRules } from "./pages/Routes";
import { CallRestrictions } from "./pages/CallRestrictions";
import "./styles.css";

function home(me: Me): string {
  if (me.role === "system_admin") return me.tenant ? "/call-manager/users" : "/tenants";
  return me.role === "admin" ? "/call-manager/users" : "/me";
}

function useSession(): number {
  const [epoch, setEpoch] = useState(api.epoch);
  useEffect(() => api.onChange(() => setEpoch(api.epoch)), []);
  return epoch;
}

// Who is signed in, as last read in this tab: a reload shows the page at once
// (one round trip: the page's own data) while /api/me is read again.
const ME_KEY = "pbxd.me";

function cachedMe(): Me | null {
  try {
    const m = sessionStorage.getItem(ME_KEY);
    return m && api.signedIn() ? (JSON.parse(m) as Me) : null;
  } catch {
    return null;
  }
}

function App() {
  const path = usePath();
  const epoch = useSession();
  const [me, setMe] = useState<Me | null>(cachedMe);
  const [error, setError] = useState<string | null>(null);
  const first = useRef(true);

  useEffect(() => {
    if (!first.current) {
      // someone else now: nothing of the previous one is shown
      setMe(null);
      sessionStorage.removeItem(ME_KEY);
    }
    first.current = false;
    setError(null);
    if (!api.signedIn()) return;
    let live = true;
    api
      .get<Me>("/me")
      .then((m) => {
        if (!live) return;
        setMe(m);
        sessionStorage.setItem(ME_KEY, JSON.stringify(m));
      })
      .catch((e) => live && setError(message(e)));
    return () => {
      live = false;
    };
  }, [epoch]);

  useEffect(() => {
    if (me && (path === "/" || path === "/sign-in")) navigate(home(me), true);
  }, [me, path]);

  useEffect(() => {
    document.title = "pbxd";
  }, [path]);

  if (!api.signedIn()) {
    return (
      <SignIn
        onSignedIn={() => {
          if (path === "/sign-in") navigate("/", true);
        }}
      />
    );
  }
  if (!me) {
    return <main class="loading">{error ? <Alert>{error}</Alert> : <p>Loading…</p>}</main>;
  }
  const signOut = async () => {
    await api.signOut();
    navigate("/sign-in", true);
  };
  return (
    <Layout me={me} path={path} onSignOut={signOut}>
      <Page me={me} path={path} />
    </Layout>
  );
}

function Page({ me, path }: { me: Me; path: string }) {
  switch (path) {
    case "/tenants":
      return <Tenants />;
    case "/system":
      return <System />;
    case "/sip-trunks":
    case "/call-routing/sip-trunks":
      return <Providers me={me} key={path} />;
    case "/call-routing/inbound-rules":
      return <InboundRules />;
    case "/call-routing/outbound-rules":
      return <OutboundRules />;
    case "/call-routing/call-restrictions":
      return <CallRestrictions />;
    case "/call-manager/users":
      return <Users title="Users" me={me} key="users" />;
    case "/call-manager/extensions":
      return <Users title="Extensions" me={me} key="extensions" />;
    case "/call-statistics/cdr":
      return <Cdrs me={me} />;
    case "/call-statistics/active-calls":
      return <ActiveCalls me={me} />;
    case "/me":
      return <Personal me={me} />;
    case "/me/forwarding":
      return <MyForwarding me={me} />;
    case "/me/voicemail":
      return <MyVoicemail me={me} />;
    case "/me/office-hours":
      return <MyOfficeHours me={me} />;
    case "/":
    case "/sign-in":
      return <p>Loading…</p>;
    default:
      return (
        <section>
          <h1>Page not found</h1>
          <p>
            <Link to={home(me)}>Go to the start page</Link>
          </p>
        </section>
      );
  }
}

interface MenuItem {
  to: string;
  label: string;
  items?: [string, string][]; // a group's pages: path, label
}

// The menu of who is signed in (the seeds' words).
function menu(me: Me): MenuItem[] {
  const tenantAdmin = me.role === "admin" || (me.role === "system_admin" && !!me.tenant);
  const sysadmin = me.role === "system_admin" && !me.tenant;
  const user = me.role !== "system_admin";
  const m: MenuItem[] = [];
  if (sysadmin) m.push({ to: "/tenants", label: "Tenants" }, { to: "/sip-trunks", label: "SIP Trunks" }, { to: "/system", label: "System" });
  if (tenantAdmin) {
    m.push(
      { to: "/call-manager/users", label: "Call Manager", items: [["/call-manager/users", "Users"], ["/call-manager/extensions", "Extensions"]] },
      {
        to: "/call-routing/sip-trunks",
        label: "Call Routing",
        items: [
          ["/call-routing/sip-trunks", "SIP Trunks"],
          ["/call-routing/inbound-rules", "Inbound Rules"],
          ["/call-routing/outbound-rules", "Outbound Rules"],
          ["/call-routing/call-restrictions", "Call Restrictions"],
        ],
      },
      { to: "/call-statistics/cdr", label: "Call Statistics", items: [["/call-statistics/cdr", "CDR"], ["/call-statistics/active-calls", "Active Calls"]] },
    );
  }
  if (user) m.push({ to: "/me", label: "My portal", items: [["/me/forwarding", "Forwarding Rule"], ["/me/voicemail", "Voicemail"], ["/me/office-hours", "Office Hours"]] });
  return m;
}

function Layout({ me, path, onSignOut, children }: { me: Me; path: string; onSignOut: () => void; children: preact.ComponentChildren }) {
  const [leaving, setLeaving] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const leave = async () => {
    setLeaving(true);
    try {
      await api.leave();
      navigate("/tenants");
    } catch (e) {
      setErr(message(e));
    } finally {
      setLeaving(false);
    }
  };
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">pbxd</span>
        <span class="who">
          {me.username}
          {me.tenant ? ` · ${me.tenant.domain}` : ""}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {api.switched() && me.tenant && (
        <div class="banner" role="status">
          <span>
            Managing <strong>{me.tenant.name}</strong> ({me.tenant.domain}) as its administrator.
          </span>
          <button type="button" disabled={leaving} onClick={leave}>
            Back to Tenants
          </button>
          {err && <Alert>{err}</Alert>}
        </div>
      )}
      <div class="frame">
        <nav class="menu" aria-label="Main">
          <ul>
            {menu(me).map((m) => (
              <li key={m.label}>
                <Link to={m.to} current={path === m.to && !m.items?.some(([to]) => to === m.to)} class={m.items ? "group" : undefined}>
                  {m.label}
                </Link>
                {m.items && (
                  <ul>
                    {m.items.map(([to, label]) => (
                      <li key={to}>
                        <Link to={to} current={path === to}>
                          {label}
                        </Link>
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
