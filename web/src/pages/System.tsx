// System admin: System. What this pbxd is and where it listens (GET /api/system/info:
// version, uptime, the network as the seeds show it (public and private address, web
// domain: an empty one says which option sets it), the SIP transports and their
// ports, HTTP, RTP, and what it holds now: tenants, extensions, registered devices,
// calls), read again every 10 s; and
// the Certificate HTTPS (and SIP over TLS/WSS) presents (GET /api/system/certificate),
// which an upload of a PEM certificate and its key replaces after confirmation
// (POST /api/system/certificate): a refusal shows beside the field it names.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, duration } from "../api";
import { useResource } from "../list";
import { FormEnd, useAskedForm } from "../forms";
import { Alert, Confirm, FormError, message, refused, useFieldError } from "../ui";

interface SystemInfo {
  version: string;
  started_at: string;
  uptime_s: number;
  sip: { address: string; udp_port: number; tcp_port: number; tls_port: number; wss_port: number; ws_port: number };
  http: { address: string; port: number; tls: boolean };
  network?: { public_address: string; private_address: string; web_domain: string };
  rtp: { address: string; port_min: number; port_max: number; media_threads: number };
  counts: { tenants: number; extensions: number; registered_devices: number; active_calls: number };
}

interface Certificate {
  subject: string;
  issuer: string;
  not_before: string;
  not_after: string;
  fingerprint_sha256: string;
  dns_names: string[];
  self_signed: boolean;
  source: "files" | "data_dir";
}

const REFRESH_MS = 10000;

const addr = (a: string) => a || "All addresses";
const port = (p: number) => (p ? String(p) : "Off");

// A value pbxd is given by an option: "Not set" and the option when it is empty.
function option(v: string | undefined, flag: string): ComponentChildren {
  if (v) return v;
  return (
    <>
      Not set
      <small class="hint">Set with {flag}</small>
    </>
  );
}

// A card of facts under its heading (the heading names the region).
function Facts({ id, title, rows }: { id: string; title: string; rows: [string, ComponentChildren][] }) {
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      <Rows rows={rows} />
    </section>
  );
}

function Rows({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function System() {
  const res = useResource<SystemInfo>("/system/info", {}, REFRESH_MS);
  const info = res.data;
  const error = res.error != null ? refused(res.error) : null;

  return (
    <section>
      <h1>System</h1>
      {error && <Alert>{error}</Alert>}
      {info && (
        <>
          <Facts
            id="h-pbx"
            title="PBX"
            rows={[
              ["Version", info.version],
              ["Started", new Date(info.started_at).toLocaleString()],
              ["Uptime", duration(info.uptime_s)],
              ["Tenants", String(info.counts.tenants)],
              ["Extensions", String(info.counts.extensions)],
              ["Registered devices", String(info.counts.registered_devices)],
              ["Active calls", String(info.counts.active_calls)],
            ]}
          />
          <Facts
            id="h-network"
            title="Network"
            rows={[
              ["Public address", option(info.network?.public_address, "--public-address")],
              ["Private address", option(info.network?.private_address, "--sip-address")],
              ["Web domain", option(info.network?.web_domain, "--web-domain")],
            ]}
          />
          <Facts
            id="h-transports"
            title="Transports"
            rows={[
              ["SIP address", addr(info.sip.address)],
              ["UDP port", port(info.sip.udp_port)],
              ["TCP port", port(info.sip.tcp_port)],
              ["TLS port", port(info.sip.tls_port)],
              ["WSS port", port(info.sip.wss_port)],
              ["WS port", port(info.sip.ws_port)],
            ]}
          />
          <Facts
            id="h-web"
            title="Web portal and REST API"
            rows={[
              ["Web address", addr(info.http.address)],
              ["Web port", String(info.http.port)],
              ["HTTPS", info.http.tls ? "On" : "Off"],
            ]}
          />
          <Facts
            id="h-media"
            title="Media"
            rows={[
              ["RTP address", addr(info.rtp.address)],
              ["RTP ports", info.rtp.port_min ? `${info.rtp.port_min}–${info.rtp.port_max}` : "Any"],
              ["Media threads", String(info.rtp.media_threads)],
            ]}
          />
        </>
      )}
      <CertificateSection />
    </section>
  );
}

// A PEM text area with a file input that fills it.
function PemField({ id, name, label, fileLabel, value, onInput, error }: { id: string; name: string; label: string; fileLabel: string; value: string; onInput: (v: string) => void; error: FormError | null }) {
  const { err, ref } = useFieldError<HTMLTextAreaElement>(error, name);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea
        ref={ref}
        id={id}
        name={name}
        rows={6}
        spellcheck={false}
        class="pem"
        value={value}
        placeholder="-----BEGIN …-----"
        aria-invalid={err ? "true" : undefined}
        aria-describedby={err ? id + "-error" : undefined}
        onInput={(e) => onInput((e.currentTarget as HTMLTextAreaElement).value)}
      />
      <label for={id + "-file"} class="file-label">
        {fileLabel}
      </label>
      <input
        id={id + "-file"}
        type="file"
        accept=".pem,.crt,.cer,.key,text/plain"
        onChange={async (e) => {
          const f = (e.currentTarget as HTMLInputElement).files?.[0];
          if (f) onInput(await f.text());
        }}
      />
      {err && <Alert id={id + "-error"}>{err}</Alert>}
    </div>
  );
}

function CertificateSection() {
  const [cert, setCert] = useState<Certificate | null>(null);
  const [off, setOff] = useState<string | null>(null);
  const [pem, setPem] = useState("");
  const [key, setKey] = useState("");

  useEffect(() => {
    api
      .get<Certificate>("/system/certificate")
      .then(setCert)
      .catch((e) => setOff(e instanceof ApiError && e.status === 404 ? message(e) : refused(e)));
  }, []);

  const form = useAskedForm(async () => {
    setCert(await api.post<Certificate>("/system/certificate", { certificate: pem, private_key: key }));
    setPem("");
    setKey("");
  });

  return (
    <section class="card" aria-labelledby="h-cert">
      <h2 id="h-cert">Certificate</h2>
      <p class="hint">The certificate HTTPS presents, and SIP over TLS and WSS unless pbxd was given one of their own.</p>
      {off && <Alert>{off}</Alert>}
      {cert && (
        <Rows
          rows={[
            ["Subject", cert.subject],
            ["Issuer", cert.issuer],
            ["Valid from", new Date(cert.not_before).toLocaleString()],
            ["Valid until", new Date(cert.not_after).toLocaleString()],
            ["DNS names", cert.dns_names.length ? cert.dns_names.join(", ") : "None"],
            ["Self-signed", cert.self_signed ? "Yes" : "No"],
            ["Stored", cert.source === "files" ? "In the files pbxd was started with (--http-tls-cert)" : "In pbxd's data folder"],
            ["SHA-256 fingerprint", cert.fingerprint_sha256],
          ]}
        />
      )}
      {cert && (
        <form ref={form.ref} onSubmit={form.submit} noValidate>
          <h3>Upload a new certificate</h3>
          <PemField id="cert-pem" name="certificate" label="Certificate (PEM)" fileLabel="Certificate file" value={pem} onInput={setPem} error={form.error} />
          <PemField id="cert-key" name="private_key" label="Private key (PEM)" fileLabel="Private key file" value={key} onInput={setKey} error={form.error} />
          <FormEnd form={form} label="Upload" savedText="The new certificate is in use for new connections." />
        </form>
      )}
      {form.asking && (
        <Confirm
          title="Replace the certificate"
          text="Replace the certificate in use? New HTTPS, SIP TLS and WSS connections will use the uploaded one; open connections keep theirs."
          action="Replace"
          busy={form.busy}
          onConfirm={form.confirm}
          onCancel={form.cancel}
        />
      )}
    </section>
  );
}
