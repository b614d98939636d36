// The browser phone (/phone/, the seeds' "PortSIP ONE WebRTC"): sign in with the
// web login, then a SIP phone in the page: register over WSS (sip.ts), dial pad,
// call, answer with a ringing indication, hang up, mute, hold, DTMF (RFC 4733,
// in the media), recent calls from the user's call log, and a clear message for
// each failure. Media is WebRTC: pbxd anchors it (ICE-lite, DTLS-SRTP) and
// bridges it to any phone.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import JsSIP from "jssip";
import type { RTCSession } from "jssip/lib/RTCSession";
import { api, ApiError, List } from "../api";
import { Alert, Field, message, Submit } from "../ui";
import { Line, LineState } from "./sip";
import "../styles.css";
import "./phone.css";

type CallState = "idle" | "calling" | "ringing" | "incoming" | "talking";

interface Cdr {
  session_id: string;
  caller: string;
  callee: string;
  start_time: string;
  answered_time: string;
  ended_time: string;
  status_code: string;
}

const LINE_TEXT: Record<LineState, string> = {
  starting: "Starting…",
  connecting: "Connecting to the PBX…",
  registered: "Ready",
  unregistered: "Not registered",
  reconnecting: "Connection lost. Reconnecting…",
  failed: "Not registered",
};

function SignInForm({ onDone }: { onDone: () => void }) {
  const [domain, setDomain] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Submit) => {
    e.preventDefault();
    if (!domain.trim() || !username.trim() || !password) {
      setError("Enter your SIP domain, username and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.signIn(username.trim(), password, domain.trim().toLowerCase());
      setPassword("");
      onDone();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "Wrong username, password or domain." : message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="phone-card">
      <h1>pbxd phone</h1>
      <form onSubmit={submit} noValidate>
        <Field id="domain" label="SIP domain" value={domain} onInput={setDomain} autocomplete="organization" required />
        <Field id="username" label="Username" value={username} onInput={setUsername} autocomplete="username" required />
        <Field id="password" label="Password" type="password" value={password} onInput={setPassword} autocomplete="current-password" required />
        {error && <Alert>{error}</Alert>}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

// A soft ring while a call comes in (WebAudio: no file to fetch).
class Ringer {
  private ctx: AudioContext | null = null;
  private timer = 0;
  start(): void {
    if (this.timer) return;
    const beep = () => {
      try {
        this.ctx ??= new AudioContext();
        const o = this.ctx.createOscillator();
        const g = this.ctx.createGain();
        o.frequency.value = 440;
        g.gain.value = 0.05;
        o.connect(g).connect(this.ctx.destination);
        o.start();
        o.stop(this.ctx.currentTime + 0.8);
      } catch {
        /* no audio output: the page says it rings */
      }
    };
    beep();
    this.timer = window.setInterval(beep, 3000);
  }
  stop(): void {
    window.clearInterval(this.timer);
    this.timer = 0;
  }
}

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

function failureText(cause: string | undefined, originator: string): string {
  switch (cause) {
    case "User Denied Media Access":
      return "The microphone was refused: allow this page to use it and call again.";
    case "Busy":
      return "Busy.";
    case "Rejected":
      return originator === "remote" ? "The call was declined." : "Call rejected.";
    case "Unavailable":
      return "Not reachable now.";
    case "Not Found":
      return "No such number.";
    case "Canceled":
      return "Call cancelled.";
    case "No Answer":
      return "No answer.";
    case "Connection Error":
    case "Request Timeout":
      return "The connection to the PBX failed.";
    default:
      return cause ? `Call ended: ${cause}.` : "Call ended.";
  }
}

function Phone({ onSignOut }: { onSignOut: () => void }) {
  const [line, setLine] = useState<LineState>("starting");
  const [lineWhy, setLineWhy] = useState<string | null>(null);
  const [me, setMe] = useState<string>("");
  const [dial, setDial] = useState("");
  const [state, setState] = useState<CallState>("idle");
  const [peer, setPeer] = useState("");
  const [muted, setMuted] = useState(false);
  const [held, setHeld] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [recent, setRecent] = useState<Cdr[] | null>(null);
  const session = useRef<RTCSession | null>(null);
  const lineRef = useRef<Line | null>(null);
  const audio = useRef<HTMLAudioElement>(null);
  const ringer = useRef(new Ringer());

  const loadRecent = () => {
    api
      .get<List<Cdr>>("/cdrs", { top: 10 })
      .then((l) => setRecent(l.items))
      .catch(() => setRecent([]));
  };

  const attach = (s: RTCSession) => {
    session.current = s;
    setMuted(false);
    setHeld(false);
    const media = () => {
      const pc = s.connection;
      if (!pc) return;
      pc.addEventListener("track", (e: RTCTrackEvent) => {
        if (audio.current) audio.current.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      });
    };
    if (s.connection) media();
    else s.on("peerconnection", media);
    s.on("progress", () => setState((st) => (st === "calling" ? "ringing" : st)));
    s.on("accepted", () => {
      ringer.current.stop();
      setState("talking");
    });
    s.on("confirmed", () => setState("talking"));
    s.on("ended", (e: { cause?: string; originator: string }) => {
      ringer.current.stop();
      session.current = null;
      setState("idle");
      setNotice(e.originator === "remote" ? "The other side hung up." : "Call ended.");
      window.setTimeout(loadRecent, 1500);
    });
    s.on("failed", (e: { cause?: string; originator: string }) => {
      ringer.current.stop();
      session.current = null;
      setState("idle");
      setNotice(failureText(e.cause, e.originator));
      window.setTimeout(loadRecent, 1500);
    });
    s.on("hold", () => setHeld(true));
    s.on("unhold", () => setHeld(false));
  };

  useEffect(() => {
    const l = new Line({
      line: (st, why) => {
        setLine(st);
        setLineWhy(why ?? null);
        if (l.cred) setMe(`${l.cred.display_name ? l.cred.display_name + " — " : ""}${l.cred.extension_number}@${l.cred.domain}`);
      },
      incoming: (s) => {
        if (session.current) {
          s.terminate({ status_code: 486, reason_phrase: "Busy Here" });
          return;
        }
        setPeer(s.remote_identity.display_name || s.remote_identity.uri.user || "unknown");
        setNotice(null);
        setState("incoming");
        ringer.current.start();
        attach(s);
      },
    });
    lineRef.current = l;
    l.start().catch((err) => {
      setLine("failed");
      setLineWhy(err instanceof ApiError && err.status === 409 ? "Your account has no extension: ask your administrator." : message(err));
    });
    loadRecent();
    return () => l.stop();
  }, []);

  const call = (e: Submit) => {
    e.preventDefault();
    const ua = lineRef.current?.ua;
    const to = dial.trim();
    if (!to) {
      setNotice("Enter a number to call.");
      return;
    }
    if (!ua || line !== "registered") {
      setNotice("The phone is not registered yet.");
      return;
    }
    setNotice(null);
    setPeer(to);
    setState("calling");
    const cred = lineRef.current!.cred!;
    const s = ua.call(`sip:${to}@${cred.domain}`, {
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: [] },
    });
    attach(s);
  };

  const answer = () => {
    ringer.current.stop();
    session.current?.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } });
  };
  const hangup = () => {
    ringer.current.stop();
    session.current?.terminate();
  };
  const toggleMute = () => {
    const s = session.current;
    if (!s) return;
    if (muted) s.unmute({ audio: true });
    else s.mute({ audio: true });
    setMuted(!muted);
  };
  const toggleHold = () => {
    const s = session.current;
    if (!s) return;
    if (held) s.unhold();
    else s.hold();
  };
  const key = (k: string) => {
    if (state === "talking" && session.current) session.current.sendDTMF(k, { transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833 });
    else setDial((d) => d + k);
  };
  const signOut = async () => {
    lineRef.current?.stop();
    await api.signOut().catch(() => undefined);
    onSignOut();
  };

  const inCall = state !== "idle";
  return (
    <main class="phone-card">
      <header class="phone-head">
        <h1>pbxd phone</h1>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <p class="me">{me}</p>
      <p role="status" class={`line line-${line}`} aria-live="polite">
        {LINE_TEXT[line]}
        {lineWhy && line !== "registered" ? ` ${lineWhy}` : ""}
      </p>
      <audio ref={audio} autoplay />
      {state === "incoming" && (
        <section class="incoming" aria-label="Incoming call">
          <p role="alert">Incoming call from {peer}</p>
          <div class="row">
            <button type="button" class="ok" onClick={answer}>
              Answer
            </button>
            <button type="button" class="danger" onClick={hangup}>
              Decline
            </button>
          </div>
        </section>
      )}
      {(state === "calling" || state === "ringing" || state === "talking") && (
        <section class="in-call" aria-label="Call">
          <p role="status">
            {state === "calling" ? `Calling ${peer}…` : state === "ringing" ? `Ringing ${peer}…` : `In call with ${peer}`}
            {held ? " (on hold)" : ""}
            {muted ? " (muted)" : ""}
          </p>
          <div class="row">
            <button type="button" onClick={toggleMute} aria-pressed={muted} disabled={state !== "talking"}>
              {muted ? "Unmute" : "Mute"}
            </button>
            <button type="button" onClick={toggleHold} aria-pressed={held} disabled={state !== "talking"}>
              {held ? "Resume" : "Hold"}
            </button>
            <button type="button" class="danger" onClick={hangup}>
              Hang up
            </button>
          </div>
        </section>
      )}
      <form class="dialer" onSubmit={call}>
        <label for="number">Number</label>
        <input id="number" type="tel" inputMode="tel" autocomplete="off" value={dial} onInput={(e) => setDial((e.target as HTMLInputElement).value)} disabled={inCall && state !== "talking"} />
        <div class="keys" role="group" aria-label={state === "talking" ? "Dial pad (sends DTMF)" : "Dial pad"}>
          {KEYS.map((k) => (
            <button type="button" key={k} onClick={() => key(k)} aria-label={k === "*" ? "star" : k === "#" ? "pound" : k}>
              {k}
            </button>
          ))}
        </div>
        <div class="row">
          <button type="submit" class="ok" disabled={inCall}>
            Call
          </button>
          <button type="button" onClick={() => setDial((d) => d.slice(0, -1))} disabled={!dial} aria-label="Delete the last digit">
            ⌫
          </button>
        </div>
      </form>
      {notice && <Alert>{notice}</Alert>}
      <section aria-labelledby="recent-h">
        <h2 id="recent-h">Recent calls</h2>
        {recent === null ? (
          <p>Loading…</p>
        ) : recent.length === 0 ? (
          <p>No calls yet.</p>
        ) : (
          <ul class="recent">
            {recent.map((c) => {
              const out = c.caller === lineRef.current?.cred?.extension_number;
              const other = out ? c.callee : c.caller;
              const answered = c.answered_time !== "0";
              return (
                <li key={c.session_id}>
                  <button type="button" class="link" onClick={() => setDial(other)}>
                    {out ? "To" : "From"} {other}
                    <span class="sr-only">: put the number in the dialer</span>
                  </button>{" "}
                  <span>{new Date(Number(c.start_time) * 1000).toLocaleString()}</span> <span>{answered ? "" : out ? "(not answered)" : "(missed)"}</span>
                </li>
              );
            })}
          </ul>
        )}
      </section>
    </main>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(api.signedIn());
  useEffect(() => api.onChange(() => setSignedIn(api.signedIn())), []);
  return signedIn ? <Phone onSignOut={() => setSignedIn(false)} /> : <SignInForm onDone={() => setSignedIn(true)} />;
}

render(<App />, document.getElementById("app")!);
