import { signal } from '@preact/signals';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { Component } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { preview } from '../lib/bytes.ts';
import { model, runnerStatus, version } from '../state.ts';
import {
  clearConsole,
  clientTextChanged,
  consoleLog,
  consoleTrimmed,
  sendRev,
  MAX_PEERS,
  peerColor,
  peerCount,
  peerMapVersion,
  posIsStale,
  runSize,
  runClient,
  runner,
  selectFrame,
  setBeforeRun,
  setSyntaxLocator,
  stopClient,
  type ConsoleEntry,
  type PeerView,
  type SendRecord,
} from '../runner/run-client.ts';
import {
  activeFile,
  conflict,
  fetchFileList,
  resolveConflict,
  restartServer,
  saveAll,
  sessions,
  statusOf,
  switchWorkspace,
  workspaceFiles,
  workspaceGeneration,
  type FileName,
} from '../runner/workspace.ts';
import { activeWorkspace } from '../state.ts';
import { summarizeCrash } from '../runner/crash.ts';
import { CodeInsightsList } from '../code-insights/CodeInsightsList.tsx';
import '../editor.css';

type Setup = typeof import('../monaco-setup.ts');
type Handle = ReturnType<Setup['mountEditor']>;

/**
 * The editor view: Monaco with the learner's client.js and server.js (saved as they type),
 * Run / Re-run / Stop for the client (optionally as N peers), the console pane (the client's
 * console, errors and send calls linked to their frames; the server's output and status).
 * Monaco is loaded on first use (dynamic import): the inspector never waits for it.
 */

let setup: Setup | null = null;
let setupPromise: Promise<Setup> | null = null;

function loadSetup(): Promise<Setup> {
  if (!setupPromise) {
    setupPromise = import('../monaco-setup.ts').then((m) => {
      setup = m;
      const client = m.getModel('client.js');
      // A run's markers belong to the text it ran: any change (typed, pasted, a reset, a
      // lesson's code loaded, another workspace's file) hides them, and the pre-run syntax
      // check's markers go too. Monaco's own diagnostics follow the text by themselves.
      client.onDidChangeContent(() => {
        clientTextChanged(client.getValue());
        m.monaco.editor.setModelMarkers(client, 'wsplay-check', []);
      });
      setBeforeRun(async () => {
        const text = client.getValue();
        try {
          await saveAll();
        } catch (err) {
          return { ok: false, reason: `the files could not be saved (${(err as Error).message})` };
        }
        if (!sessions['client.js']?.bound) return { ok: false, reason: 'client.js is not loaded in the editor' };
        // No syntax check here: the browser's own parser checks client.js as peer 1 loads it
        // (run-client.ts), without waiting for Monaco's TypeScript worker.
        return { ok: true, text };
      });
      setSyntaxLocator(async () => {
        const p = (await m.checkClientSyntax())[0];
        return p ? { pos: { line: p.line, column: p.column }, message: p.message } : null;
      });
      return m;
    });
    setupPromise.catch(() => {
      setupPromise = null;
    });
  }
  return setupPromise;
}

const consoleFilter = signal<'all' | 'client' | 'server'>('all');
const resetAsk = signal<FileName | null>(null);
/** What the editor should show next (a console line's client.js:N link, a crash's server.js:N). */
const revealRequest = signal<{ line: number; column: number; n: number } | null>(null);
let revealN = 0;

export function reveal(line: number, column: number, file: FileName = 'client.js'): void {
  activeFile.value = file;
  revealRequest.value = { line, column, n: ++revealN };
}

async function saveNow(): Promise<void> {
  try {
    await saveAll();
  } catch {
    // The file's status shows the error.
  }
}

// ---- toolbar ---------------------------------------------------------------------------------

function SaveState({ name }: { name: FileName }) {
  const s = statusOf(name);
  const text =
    s.state === 'loading'
      ? 'loading…'
      : s.state === 'saving'
        ? 'saving…'
        : s.state === 'dirty'
          ? 'edited'
          : s.state === 'error'
            ? s.error ?? 'error'
            : 'saved';
  return (
    <span class={`save-state ${s.state}`} role="status" aria-live="polite" title={s.state === 'saved' && s.at ? `saved to workspace/${name} at ${new Date(s.at).toLocaleTimeString()}` : undefined}>
      {s.state === 'error' ? '⚠ ' : ''}
      {text}
    </span>
  );
}

function FileTabs() {
  const active = activeFile.value;
  return (
    <div class="ed-files" role="tablist" aria-label="Files">
      {workspaceFiles.value.map((name) => (
        <button
          role="tab"
          id={`ed-tab-${name}`}
          aria-selected={active === name}
          aria-controls="ed-monaco"
          class={active === name ? 'tab active' : 'tab'}
          onClick={() => (activeFile.value = name)}
          title={
            name === 'client.js'
              ? 'The browser client (runs in a Web Worker)'
              : name === 'server.js'
                ? 'The server (runs in a child process of the playground)'
                : "A module of the lesson's (the check calls it in Node)"
          }
        >
          {name}
          {(statusOf(name).state === 'dirty' || statusOf(name).state === 'saving') && (
            <span class="dirty-dot" aria-label="(unsaved edits)">
              ●
            </span>
          )}
        </button>
      ))}
    </div>
  );
}

function RunControls() {
  const r = runner.value;
  const running = r.running || r.starting;
  const mod = /Mac|iPhone|iPad/.test(navigator.platform) ? '⌘' : 'Ctrl';
  // Between the click and the run line the button says what is happening, not "Re-run":
  // nothing runs yet. Pressing it again starts the run over.
  const label = r.step === 'saving' ? 'Saving…' : r.step === 'checking' ? 'Checking…' : r.running ? 'Re-run' : 'Run';
  const title =
    r.step === 'saving'
      ? 'Saving the files before client.js runs'
      : r.step === 'checking'
        ? 'Loading client.js in a Web Worker: a syntax error stops it here'
        : `${r.running ? 'Re-run' : 'Run'} client.js (${mod}+Enter)`;
  return (
    <div class="ed-run" role="group" aria-label="Run the client">
      <button class={`primary${r.step ? ' busy' : ''}`} onClick={() => void runClient()} title={title} aria-keyshortcuts="Control+Enter Meta+Enter">
        <span aria-hidden="true">{r.step ? '⋯ ' : r.running ? '↻ ' : '▶ '}</span>
        {label}
      </button>
      <button onClick={stopClient} disabled={!running} title="Stop the client (ends its Web Worker, even inside an infinite loop)">
        <span aria-hidden="true">■ </span>
        Stop
      </button>
      <label class="peers" title="Run client.js as N peers: N Web Workers, each with its own connection">
        as
        <select aria-label="Number of peers" value={String(peerCount.value)} onChange={(e) => (peerCount.value = Number((e.target as HTMLSelectElement).value))}>
          {Array.from({ length: MAX_PEERS }, (_, i) => (
            <option value={String(i + 1)}>{i + 1}</option>
          ))}
        </select>
        {peerCount.value === 1 ? 'peer' : 'peers'}
      </label>
    </div>
  );
}

/** What a peer is doing, as its chip says it after "peer N": its connection, its code's state. */
function peerStatus(p: PeerView): string {
  const parts: string[] = [];
  const waiting = p.conn === 'waiting' && p.phase !== 'failed' && p.phase !== 'stopped';
  if (typeof p.conn === 'number') parts.push(`#${p.conn}`);
  // Until its first connection is seen (or the wait for it ends), the peer is connecting.
  else if (waiting) parts.push('connecting…');
  else if (p.sockets > 0) parts.push('no connection');
  if (p.phase === 'failed') parts.push('failed');
  else if (p.phase === 'stopped') parts.push('stopped');
  else if (p.sockets === 0) {
    if (!waiting) parts.push(p.phase === 'running' ? 'running (no WebSocket)' : 'loading…');
  }
  else if (p.socket !== 'none' && !(p.conn === 'waiting' && p.socket === 'connecting')) parts.push(p.socket);
  return parts.map((x) => ` · ${x}`).join('');
}

function peerTitle(p: PeerView): string | undefined {
  if (p.sockets === 0 && p.phase !== 'failed') return 'Its code has not created a WebSocket (yet): no WebSocket connection of it is expected on the wire.';
  if (p.conn === null && p.sockets > 0) return 'No connection of this peer was seen on the wiretap';
  return undefined;
}

function PeerChips() {
  version.value;
  const r = runner.value;
  if (r.peers.length === 0) return null;
  return (
    <div class="peer-bar">
      <ul class="peer-chips" aria-label="Peers">
        {r.peers.map((p) => {
          const conn = typeof p.conn === 'number' ? model.conns.get(p.conn) : undefined;
          return (
            <li class={`peer-chip ${p.phase}`} title={peerTitle(p)}>
              <span class="swatch" style={{ background: conn?.color ?? 'var(--muted)' }} />
              peer {p.peer}
              <span class="muted">{peerStatus(p)}</span>
              {/* The run's errors count for the text it ran: not once client.js is edited. */}
              {p.errors > 0 && !r.edited && (
                <span class="bad">
                  {' '}
                  · {p.errors} error{p.errors > 1 ? 's' : ''}
                </span>
              )}
            </li>
          );
        })}
      </ul>
      {r.edited && (
        <span class="peer-note muted" title="Its errors and their marks were for the code it ran: they are not shown on the new text. Run again to check the new text.">
          client.js edited since this run{r.running ? ' · the peers still run the old code' : ''}
        </span>
      )}
    </div>
  );
}

// ---- the console pane -------------------------------------------------------------------------

function time(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/**
 * A place in client.js as the run that logged it ran it. Once client.js differs from that text
 * the place may be another line now: the link is muted and does not jump (it says why).
 */
function PosLink({ line, column, k }: { line: number; column: number; k: number }) {
  if (posIsStale(k)) {
    return (
      <button
        class="pos-link stale"
        aria-disabled="true"
        title={STALE_POS}
        onClick={(ev) => ev.preventDefault()}
        aria-label={`client.js line ${line}, column ${column}: ${STALE_POS}`}
      >
        client.js:{line}:{column}
      </button>
    );
  }
  return (
    <button class="pos-link" onClick={() => reveal(line, column)} aria-label={`Show client.js line ${line}, column ${column} in the editor`}>
      client.js:{line}:{column}
    </button>
  );
}
const STALE_POS = 'client.js has changed since this line was logged';

const CLIP = 1500;

/** A long line shows its start, with a button for the rest (a 70 kB message must not fill the pane). */
function Clipped({ text }: { text: string }) {
  const [all, setAll] = useState(false);
  if (all || text.length <= CLIP) return <>{text}</>;
  return (
    <>
      {text.slice(0, CLIP)}
      <button class="link-button more" onClick={() => setAll(true)}>
        … show all {text.length.toLocaleString('en-US')} characters
      </button>
    </>
  );
}

function Who({ e }: { e: ConsoleEntry }) {
  peerMapVersion.value;
  if (e.source === 'server') return <span class="who server">{e.kind === 'server' && e.origin === 'wsplay' ? 'wsplay' : 'server'}</span>;
  const peer = 'peer' in e ? e.peer : null;
  const many = peer !== null && (peer > 1 || (e.kind !== 'note' && runSize(e.run) > 1));
  return (
    <span class="who client">
      {peer !== null && <span class="swatch" style={{ background: peerColor(e.run, peer) }} />}
      {peer !== null && many ? `peer ${peer}` : 'client'}
    </span>
  );
}

function payloadText(s: SendRecord): string {
  if (s.opcode === 1) {
    const t = s.text ?? '';
    const shown = t.length > 120 ? `${t.slice(0, 100)}…${t.slice(-12)}` : t;
    return JSON.stringify(shown);
  }
  return s.bytes ? `<${preview(s.bytes, false, 60)}>` : '<Blob>';
}

function SendLink({ s }: { s: SendRecord }) {
  sendRev(s).value;
  switch (s.status) {
    case 'linked':
      return (
        <button class="frame-link" onClick={() => selectFrame(s.conn!, s.frame!)} aria-label={`Show frame #${s.frame} of connection #${s.conn} in the inspector`}>
          → #{s.conn} <span class="muted">frame {s.frame}</span>
        </button>
      );
    case 'pending':
      return <span class="muted">{s.late ? `no matching frame seen on #${s.conn} yet` : 'waiting for its frame…'}</span>;
    case 'waiting':
      return <span class="muted">waiting for the peer's connection…</span>;
    case 'not-sent':
      return <span class="bad">not sent: {s.why}</span>;
    case 'unlinkable':
      return <span class="muted">not linked: {s.why}</span>;
  }
}

/** A console line renders once: entries never change (a send's link re-renders its own part). */
class Row extends Component<{ e: ConsoleEntry }> {
  override shouldComponentUpdate(next: { e: ConsoleEntry }): boolean {
    return next.e !== this.props.e;
  }
  override render() {
    return <RowView e={this.props.e} />;
  }
}

function RowView({ e }: { e: ConsoleEntry }) {
  switch (e.kind) {
    case 'console':
      return (
        <li class={`crow level-${e.level}`}>
          <span class="ctime">{time(e.t)}</span>
          <Who e={e} />
          <span class="ctext">
            <Clipped text={e.text} />
          </span>
          {e.pos && <PosLink line={e.pos.line} column={e.pos.column} k={e.run} />}
        </li>
      );
    case 'error':
      return (
        <li class="crow level-error">
          <span class="ctime">{time(e.t)}</span>
          <Who e={e} />
          <span class="ctext">
            {e.what === 'rejection' ? 'Unhandled rejection ' : 'Uncaught '}
            {e.name}: {e.message}
            {e.stack && (
              <details>
                <summary>stack</summary>
                <pre>{e.stack}</pre>
              </details>
            )}
          </span>
          {e.pos && <PosLink line={e.pos.line} column={e.pos.column} k={e.run} />}
        </li>
      );
    case 'send':
      return (
        <li class="crow send">
          <span class="ctime">{time(e.t)}</span>
          <Who e={e} />
          <span class="ctext">
            <span class="send-call">send</span>({payloadText(e.send)}) <span class="muted">{e.send.size.toLocaleString('en-US')} B {e.send.opcode === 1 ? 'text' : 'binary'}</span> <SendLink s={e.send} />
          </span>
          {e.send.pos && <PosLink line={e.send.pos.line} column={e.send.pos.column} k={e.run} />}
        </li>
      );
    case 'note':
      if (e.divider) {
        // The workspace changed: the lines above are another workspace's.
        return (
          <li class="crow divider" aria-label={`${e.text.replace(/—/g, '').trim()}: the lines above are from before`}>
            <span class="ctime">{time(e.t)}</span>
            <span class="ctext">{e.text}</span>
          </li>
        );
      }
      return (
        <li class={`crow note level-${e.level}`}>
          <span class="ctime">{time(e.t)}</span>
          <Who e={e} />
          <span class="ctext">
            {e.text}
            {e.detail && <pre class="stack">{e.detail}</pre>}
          </span>
          {e.pos && <PosLink line={e.pos.line} column={e.pos.column} k={e.posKey ?? e.run} />}
        </li>
      );
    case 'server':
      return (
        <li class={`crow ${e.stream === 'stderr' ? 'level-error' : e.stream === 'info' ? 'level-info note' : 'level-log'}`}>
          <span class="ctime">{time(e.t)}</span>
          <Who e={e} />
          <span class="ctext">
            <Clipped text={e.text} />
          </span>
        </li>
      );
  }
}

function ServerStatus() {
  const s = runnerStatus.value;
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const restart = async () => {
    setBusy(true);
    setErr('');
    try {
      await sessions['server.js']?.save().catch(() => undefined);
      await restartServer();
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  // A short state here; what happened and what to do, in full, in the notice under it.
  let text: string;
  let cls = 'muted';
  if (!s) text = 'server.js: no status yet';
  else if (s.status === 'running') {
    text = `server.js running on internal port ${s.port ?? '?'}${s.pid ? ` · pid ${s.pid}` : ''}`;
    cls = 'good';
  } else if (s.status === 'crashed') {
    text = `${s.file} crashed`;
    cls = 'bad';
  } else if (s.status === 'not-listening') {
    text = `${s.file} is not listening`;
    cls = 'warn';
  } else if (s.status === 'starting') text = 'server.js starting…';
  else if (s.status === 'stopped') text = 'server.js stopped';
  else text = `server.js: ${s.status}`;
  return (
    <div class="server-status">
      <span class={`dot ${cls}`} aria-hidden="true" />
      <span class={cls} role="status" aria-live="polite" title={s?.message ?? text}>
        {text}
      </span>
      <button onClick={() => void restart()} disabled={busy} aria-label="Restart server.js" title="Save server.js and restart the learner's server">
        Restart
      </button>
      {err && <span class="bad">{err}</span>}
    </div>
  );
}

/** Asks the console to scroll to an entry (the first line of a crash's stack). */
const scrollRequest = signal<{ id: number; n: number } | null>(null);
let scrollN = 0;

/** The newest server stderr line that starts the crash's stack, in the console. */
function stackStart(stack: string): ConsoleEntry | null {
  const first = stack.split('\n').find((l) => l.trim().length > 0);
  if (first === undefined) return null;
  const log = consoleLog.value;
  for (let i = log.length - 1; i >= 0; i--) {
    const e = log[i]!;
    if (e.kind === 'server' && e.stream === 'stderr' && e.text === first) return e;
  }
  return null;
}

/**
 * The learner's server crashed or does not listen: what happened, where, and what to do, in
 * whole lines that wrap. A crash shows its error line and the place in the learner's file (a
 * link into the editor); the whole stack is in the console once (its server lines), one click away.
 */
function ServerNotice() {
  const s = runnerStatus.value;
  if (!s || !s.message || (s.status !== 'crashed' && s.status !== 'not-listening')) return null;
  if (s.status === 'not-listening') {
    return (
      <div class="server-notice warn" role="group" aria-label={`${s.file} is not listening`}>
        <p>{s.message}</p>
      </div>
    );
  }
  const files = workspaceFiles.value;
  const sum = s.stack ? summarizeCrash(s.stack, files) : { error: null, at: null };
  const start = s.stack ? stackStart(s.stack) : null;
  const at = sum.at;
  return (
    <div class="server-notice bad" role="group" aria-label={`${s.file} crash`}>
      {(sum.error || at) && (
        <p class="crash-error">
          {sum.error && <code title={sum.error}>{sum.error.length > 300 ? `${sum.error.slice(0, 300)}…` : sum.error}</code>}
          {at && (
            <>
              {' at '}
              <button
                class="pos-link"
                onClick={() => reveal(at.line, at.column ?? 1, at.file as FileName)}
                aria-label={`Show ${at.file} line ${at.line}${at.column ? `, column ${at.column}` : ''} in the editor`}
              >
                {at.file}:{at.line}
                {at.column ? `:${at.column}` : ''}
              </button>
            </>
          )}
        </p>
      )}
      <p>
        {s.message}
        {start && (
          <>
            {' '}
            <button
              class="link-button"
              onClick={() => {
                if (consoleFilter.value === 'client') consoleFilter.value = 'all';
                scrollRequest.value = { id: start.id, n: ++scrollN };
              }}
            >
              Show the stack in the console
            </button>
          </>
        )}
      </p>
    </div>
  );
}

const MAX_ROWS_SHOWN = 500;

function ConsolePane() {
  const all = consoleLog.value;
  const filter = consoleFilter.value;
  const rows = filter === 'all' ? all : all.filter((e) => e.source === filter);
  const shown = rows.length > MAX_ROWS_SHOWN ? rows.slice(rows.length - MAX_ROWS_SHOWN) : rows;
  const hidden = rows.length - shown.length + (filter === 'all' ? consoleTrimmed.value : 0);
  const list = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  /** Where this pane last scrolled itself to: a scroll event below it is the learner's own. */
  const autoTop = useRef(0);
  const lastShown = shown[shown.length - 1];
  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current) {
      el.scrollTop = el.scrollHeight;
      autoTop.current = el.scrollTop;
    }
  }, [lastShown, filter]);
  // The lines' height changes without a new line (the window or the pane resized, lines wrap
  // differently, the Code tab shown again after lines came while it was hidden): a console
  // that follows stays at its last line.
  useEffect(() => {
    const el = list.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const follow = () => {
      if (!stick.current || el.clientHeight === 0) return;
      el.scrollTop = el.scrollHeight;
      autoTop.current = el.scrollTop;
    };
    const ro = new ResizeObserver(follow);
    ro.observe(el);
    const rows = el.querySelector('ol');
    if (rows) ro.observe(rows);
    return () => ro.disconnect();
  }, []);
  // "Show the stack in the console": its first line at the top of the pane.
  const want = scrollRequest.value;
  useLayoutEffect(() => {
    const el = list.current;
    if (!el || !want) return;
    const i = shown.findIndex((e) => e.id === want.id);
    const row = i >= 0 ? (el.querySelector('ol')?.children[i] as HTMLElement | undefined) : undefined;
    if (!row) return;
    stick.current = false;
    el.scrollTop += row.getBoundingClientRect().top - el.getBoundingClientRect().top;
    row.classList.add('flash');
    setTimeout(() => row.classList.remove('flash'), 1200);
  }, [want]);
  const counts = { client: 0, server: 0 };
  for (const e of all) counts[e.source]++;
  return (
    <section class="ed-console" aria-label="Console">
      <div class="ed-console-head">
        <div class="seg" role="group" aria-label="Show lines from">
          {(
            [
              ['all', 'All'],
              ['client', 'Client'],
              ['server', 'Server'],
            ] as const
          ).map(([v, label]) => (
            <button
              aria-pressed={filter === v}
              onClick={() => {
                stick.current = true;
                consoleFilter.value = v;
              }}
            >
              {label}
              {v !== 'all' && <span class="muted"> {counts[v]}</span>}
            </button>
          ))}
        </div>
        <ServerStatus />
        <button class="clear" onClick={() => clearConsole(filter === 'all' ? undefined : filter)} aria-label={filter === 'all' ? 'Clear the console' : `Clear the ${filter} lines`}>
          Clear
        </button>
      </div>
      <ServerNotice />
      <div
        class="ed-console-body"
        ref={list}
        onScroll={(ev) => {
          const el = ev.currentTarget as HTMLDivElement;
          // Scroll events come a frame late: lines added since make "not at the bottom" look
          // like the learner scrolled away. Only a move up (or a hidden pane coming back at the
          // bottom) changes whether the console follows new lines.
          if (el.clientHeight === 0) return;
          if (el.scrollHeight - el.scrollTop - el.clientHeight < 24) stick.current = true;
          else if (el.scrollTop < autoTop.current - 2) stick.current = false;
          autoTop.current = Math.max(autoTop.current, el.scrollTop);
          if (!stick.current) autoTop.current = el.scrollTop;
        }}
        role="log"
        aria-label="Console output"
        tabIndex={0}
      >
        {hidden > 0 && <p class="muted older">{hidden.toLocaleString('en-US')} earlier lines not shown</p>}
        {shown.length === 0 && (
          <p class="muted empty">
            {filter === 'server' ? "The server's output (stdout and stderr) appears here." : 'Run client.js (▶ Run or Ctrl+Enter): its console, errors and send calls appear here.'}
          </p>
        )}
        <ol>
          {shown.map((e) => (
            <Row key={e.id} e={e} />
          ))}
        </ol>
      </div>
    </section>
  );
}

// ---- dialogs and banners ------------------------------------------------------------------------

function ResetDialog() {
  const name = resetAsk.value;
  return (
    <ConfirmDialog
      open={name !== null}
      id="ed-reset"
      title={`Reset ${name ?? ''} to the starter?`}
      cancelLabel="Cancel"
      confirmLabel={`Reset ${name ?? ''}`}
      onCancel={() => (resetAsk.value = null)}
      onConfirm={async () => {
        if (!name) return;
        await sessions[name]?.reset();
        resetAsk.value = null;
      }}
    >
      This replaces <code>{name ?? ''}</code> with the starter's version ({activeWorkspace.value?.lesson ? "the lesson's starter" : "the tutorial's code"}). Your changes
      to it are lost (Ctrl+Z in the editor can still bring them back until you reload the page).
    </ConfirmDialog>
  );
}

function ConflictBanner() {
  const c = conflict.value;
  if (!c) return null;
  return (
    <div class="banner ed-banner" role="alert">
      <span>
        <b>{c.name}</b> changed on disk (another editor?) while you had unsaved edits here.
      </span>
      <button onClick={() => void resolveConflict('disk')}>Load the version on disk</button>
      <button onClick={() => void resolveConflict('mine')}>Keep mine (overwrite the disk)</button>
    </div>
  );
}

// ---- the view -----------------------------------------------------------------------------------

export function Editor() {
  const host = useRef<HTMLDivElement>(null);
  const handle = useRef<Handle | null>(null);
  const [phase, setPhase] = useState<'loading' | 'ready' | 'failed'>(setup ? 'ready' : 'loading');
  const [error, setError] = useState('');
  const [attempt, setAttempt] = useState(0);
  const active = activeFile.value;
  // Another workspace's files (a lesson opened): load them all again.
  const generation = workspaceGeneration.value;

  useEffect(() => {
    let gone = false;
    setError('');
    loadSetup()
      .then(async (m) => {
        if (gone || !host.current) return;
        if (!handle.current) handle.current = m.mountEditor(host.current, activeFile.value);
        setPhase('ready');
        try {
          // The tabs are the workspace's files, as the playground lists them.
          const names = await fetchFileList();
          if (gone) return;
          switchWorkspace(activeWorkspace.peek()?.lesson ?? null, names);
          await m.loadFiles();
        } catch (err) {
          if (!gone) setError(`The workspace files could not be loaded: ${(err as Error).message}`);
        }
        if (!gone) {
          handle.current?.show(activeFile.peek());
          handle.current?.refresh();
        }
      })
      .catch((err: Error) => {
        if (gone) return;
        setPhase('failed');
        setError(`The editor could not be loaded: ${err.message}`);
      });
    return () => {
      gone = true;
    };
  }, [attempt, generation]);

  useEffect(
    () => () => {
      handle.current?.dispose();
      handle.current = null;
    },
    [],
  );

  useEffect(() => {
    handle.current?.show(active);
  }, [active, phase]);

  useEffect(
    () =>
      revealRequest.subscribe((r) => {
        if (r) handle.current?.reveal(r.line, r.column);
      }),
    [phase],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
      if (document.querySelector('dialog[open]')) return;
      if (e.key === 'Enter') {
        e.preventDefault();
        e.stopPropagation();
        void runClient();
      } else if (e.key === 's' || e.key === 'S') {
        // Save now, and never the browser's "Save page" dialog.
        e.preventDefault();
        e.stopPropagation();
        void saveNow();
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, []);

  return (
    <section
      class="editor-view"
      aria-label="Editor"
      onKeyDown={(e) => {
        // Keys typed into Monaco are text, not the dashboard's one-key shortcuts (1-4, m, p, /):
        // Monaco's input is not always a textarea (EditContext), so keep its keys from bubbling.
        if ((e.target as Element | null)?.closest?.('.monaco-editor')) e.stopPropagation();
      }}
    >
      <div class="ed-toolbar" role="toolbar" aria-label="Editor">
        <FileTabs />
        <SaveState name={active} />
        <button
          class="reset"
          onClick={() => (resetAsk.value = active)}
          aria-label={`Reset ${active} to starter…`}
          title={`Reset ${active} to the tutorial's version (asks first)`}
          disabled={statusOf(active).state === 'loading'}
        >
          Reset…
        </button>
        <span class="spacer" />
        <RunControls />
      </div>
      <PeerChips />
      <CodeInsightsList onReveal={reveal} />
      <ConflictBanner />
      {error && (
        <div class="banner error ed-banner" role="alert">
          <span>{error}</span>
          <button
            onClick={() => {
              setPhase(setup ? 'ready' : 'loading');
              setAttempt((a) => a + 1);
            }}
          >
            Retry
          </button>
        </div>
      )}
      <div class="ed-main">
        <div class="ed-monaco" id="ed-monaco" role="tabpanel" aria-labelledby={`ed-tab-${active}`}>
          <div class="ed-host" ref={host} />
          {phase === 'loading' && <p class="ed-loading muted">Loading the editor…</p>}
        </div>
        <ConsolePane />
      </div>
      <ResetDialog />
    </section>
  );
}
