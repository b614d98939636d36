// Sign-in, both ways the seeds describe: a tenant's user gives their SIP domain,
// then Next, then username and password; the system admin gives username and
// password alone. A wrong password says so without telling whether the account
// exists (the API answers the same 401 for both).
import { useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { Alert, Field, message, Submit } from "../ui";

interface TenantInfo {
  tenant?: { name: string; domain: string; enabled: boolean };
}

function signInError(e: unknown): string {
  if (e instanceof ApiError && e.status === 401) return "Wrong username or password.";
  if (e instanceof ApiError && e.status === 429) return `Too many failed sign-ins. Try again in ${e.retryAfter || "a few"} seconds.`;
  return message(e);
}

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [mode, setMode] = useState<"tenant" | "system">("tenant");
  const [domain, setDomain] = useState("");
  const [tenant, setTenant] = useState<{ name: string; domain: string } | null>(null);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(api.expired ? "Your session has ended. Sign in again." : null);
  const [busy, setBusy] = useState(false);

  const next = async (e: Submit) => {
    e.preventDefault();
    const d = domain.trim().toLowerCase();
    if (!d) {
      setError("Enter your SIP domain.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const info = await api.get<TenantInfo>("/info", { domain: d });
      if (!info.tenant) throw new Error("no tenant");
      if (!info.tenant.enabled) setError(`The tenant of ${d} is disabled.`);
      else setTenant({ name: info.tenant.name, domain: info.tenant.domain });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? `No tenant has the SIP domain ${d}.` : message(err));
    } finally {
      setBusy(false);
    }
  };

  const signIn = async (e: Submit) => {
    e.preventDefault();
    if (!username || !password) {
      setError("Enter your username and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.signIn(username.trim(), password, mode === "tenant" ? tenant?.domain : undefined);
      setPassword("");
      onSignedIn();
    } catch (err) {
      setPassword("");
      setError(signInError(err));
      setBusy(false);
    }
  };

  const choose = (m: "tenant" | "system") => {
    setMode(m);
    setError(null);
    setPassword("");
  };

  return (
    <main class="signin" id="main">
      <h1>Sign in to pbxd</h1>
      <fieldset class="mode">
        <legend>Sign in as</legend>
        <label>
          <input type="radio" name="mode" checked={mode === "tenant"} onChange={() => choose("tenant")} />
          Tenant user
        </label>
        <label>
          <input type="radio" name="mode" checked={mode === "system"} onChange={() => choose("system")} />
          System administrator
        </label>
      </fieldset>

      {mode === "tenant" && !tenant && (
        <form onSubmit={next} noValidate>
          <Field id="domain" label="SIP domain" value={domain} onInput={setDomain} autocomplete="organization" autofocus />
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              Next
            </button>
          </div>
        </form>
      )}

      {(mode === "system" || tenant) && (
        <form onSubmit={signIn} noValidate>
          {tenant && (
            <p class="domain-chosen">
              <span>
                {tenant.name} · <strong>{tenant.domain}</strong>
              </span>
              <button
                type="button"
                class="link"
                onClick={() => {
                  setTenant(null);
                  setPassword("");
                  setError(null);
                }}
              >
                Change domain
              </button>
            </p>
          )}
          <Field id="username" label="Username" value={username} onInput={setUsername} autocomplete="username" autofocus />
          <Field id="password" label="Password" type="password" value={password} onInput={setPassword} autocomplete="current-password" />
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              Sign in
            </button>
          </div>
        </form>
      )}
      {error && <Alert>{error}</Alert>}
    </main>
  );
}
