import { effect, signal, type Signal } from '@preact/signals';
import type { MessageEvent as WireMessage } from '../../../server/capture/events.ts';
import type { ConsoleLine } from '../../../server/app/stream-protocol.ts';
import { activeWorkspace, detailTab, frameKey, model, selectedConn, selection, serverConsole, tokenFromUrl, version, wiretapClock, type FrameKey, topology } from '../state.ts';
import ClientRuntime from './client-runtime.ts?worker';
import { sentMatches, type SentData } from './match.ts';
import type { ConsoleLevel, RuntimeMessage, SourcePos, StartCommand } from './protocol.ts';
import { saveAll } from './workspace.ts';

/**
 * The page side of running the learner's client: one Web Worker per peer (client-runtime.ts
 * runs client.js from its real URL inside it), the console pane's log, and the links between
 * `send` calls and the frames they put on the wire.
 *
 * Peers start one at a time: after starting peer k, the runner waits for the next NEW
 * connection in the capture (an `open` event, up to 2 s); that connection is peer k's. So the
 * peer → connection map comes from the wire, not from a guess. A send is linked to a frame only
 * when a client message on that connection carries exactly the sent data (match.ts).
 */

export const MAX_PEERS = 8;
/** How long a starting peer's connection may take to appear on the wire. */
export const PEER_CONNECT_TIMEOUT_MS = 2000;
/** After this long without a matching frame, a send says so (it may still be linked later). */
const SEND_LATE_MS = 3000;
const MAX_LOG = 3000;
const MAX_PENDING = 2000;
/** Frame → send links kept (oldest forgotten first), like the model's own row bound. */
const MAX_LINKS = 100_000;

// ---- the console log ------------------------------------------------------------------------

export interface SendRecord extends SentData {
  peer: number;
  socket: number;
  /** readyState when send was called. */
  state: number;
  pos: SourcePos | null;
  t: number;
  threw?: { name: string; message: string };
  /** The peer's connection on the wire, once known. */
  conn: number | null;
  /**
   * - `waiting`: the peer's connection is not known yet;
   * - `pending`: looking for its frame on the wire;
   * - `linked`: `frame` is the (first) frame that carried it;
   * - `not-sent`: the browser threw, or dropped it (socket closing or closed): no frame;
   * - `unlinkable`: it was sent, but cannot be tied to a frame for sure (`why`).
   */
  status: 'waiting' | 'pending' | 'linked' | 'not-sent' | 'unlinkable';
  why?: string;
  frame: number | null;
  /** Pending for SEND_LATE_MS without a match. */
  late: boolean;
}

export type ConsoleEntry =
  | { id: number; t: number; source: 'client'; run: number; peer: number; kind: 'console'; level: ConsoleLevel; text: string; pos: SourcePos | null }
  | { id: number; t: number; source: 'client'; run: number; peer: number; kind: 'error'; what: 'error' | 'rejection'; name: string; message: string; stack: string; pos: SourcePos | null }
  | { id: number; t: number; source: 'client'; run: number; peer: number; kind: 'send'; send: SendRecord }
  | {
      id: number;
      t: number;
      source: 'client' | 'server';
      run: number;
      peer: number | null;
      kind: 'note';
      level: 'info' | 'warn' | 'error';
      text: string;
      detail?: string;
      pos?: SourcePos;
      /** Which text `pos` is in (see posIsStale), when not its run's. */
      posKey?: number;
      divider?: boolean;
    }
  | { id: number; t: number; source: 'server'; kind: 'server'; origin: 'server' | 'wsplay'; stream: 'stdout' | 'stderr' | 'info'; text: string };

/** Everything the console pane shows, oldest first (bounded). */
export const consoleLog = signal<ConsoleEntry[]>([]);
/** Entries dropped from the front of the log by its bound. */
export const consoleTrimmed = signal(0);
/** Bumped when a send gets linked (or gives up): views that show links re-render. */
export const linkVersion = signal(0);
const sendRevs = new WeakMap<SendRecord, Signal<number>>();
/** A send's own revision: its console line re-renders when its link status changes, alone. */
export function sendRev(s: SendRecord): Signal<number> {
  let r = sendRevs.get(s);
  if (!r) {
    r = signal(0);
    sendRevs.set(s, r);
  }
  return r;
}
function touched(s: SendRecord): void {
  const r = sendRevs.get(s);
  if (r) r.value++;
}
/** Bumped when a peer's connection becomes known (its colour changes from grey). */
export const peerMapVersion = signal(0);

let nextId = 1;
let inbox: ConsoleEntry[] = [];
let flushScheduled = false;

let lastFlush = 0;
/** The pane re-renders at most this often: a client logging in a loop must not starve the page. */
const FLUSH_INTERVAL_MS = 100;

/** Which scheduling a runner belongs to: the runner left over after the other ran does nothing. */
let flushTicket = 0;

function schedule(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  const ticket = ++flushTicket;
  const run = () => {
    if (!flushScheduled || ticket !== flushTicket) return;
    flushScheduled = false;
    flush();
  };
  const wait = Math.max(0, FLUSH_INTERVAL_MS - (performance.now() - lastFlush));
  if (wait > 0) setTimeout(() => requestAnimationFrame(run), wait);
  else requestAnimationFrame(run);
  setTimeout(run, wait + 100); // hidden tabs get no animation frames
}

function flush(): void {
  lastFlush = performance.now();
  if (inbox.length === 0) return;
  let next = consoleLog.value.concat(inbox);
  inbox = [];
  if (next.length > MAX_LOG) {
    consoleTrimmed.value += next.length - MAX_LOG;
    next = next.slice(next.length - MAX_LOG);
  }
  consoleLog.value = next;
}

type NewEntry = ConsoleEntry extends infer E ? (E extends ConsoleEntry ? Omit<E, 'id' | 't'> & { t?: number } : never) : never;

function log(e: NewEntry): void {
  inbox.push({ ...e, id: nextId++, t: e.t ?? Date.now() } as ConsoleEntry);
  schedule();
}

export function note(text: string, level: 'info' | 'warn' | 'error' = 'info', peer: number | null = null, detail?: string, source: 'client' | 'server' = 'client'): void {
  log({ source, peer, run: runs, kind: 'note', level, text, detail });
}

/** Clear the console pane: everything, or one source's lines. */
export function clearConsole(source?: 'client' | 'server'): void {
  flush();
  consoleLog.value = source ? consoleLog.value.filter((e) => e.source !== source) : [];
  consoleTrimmed.value = 0;
}

// ---- editor markers ---------------------------------------------------------------------------

export interface ClientMarker {
  line: number;
  column: number;
  message: string;
  peers: number[];
}
/**
 * Runtime errors at their place in client.js, for the editor's markers. They belong to the text
 * the run ran: they show only while the editor holds that text (an edit, a reset or a lesson's
 * code loaded hides them; undoing back to the run's text shows them again), and a new run
 * starts without any.
 */
export const clientMarkers = signal<ClientMarker[]>([]);
/** The last run's markers, shown or not. */
let runMarkers: ClientMarker[] = [];
/** The text of client.js the last run ran (from the pre-run step), or null when not known. */
let runText: string | null = null;
/** The editor holds the text the last run ran (true until the editor reports a change). */
let textIsRun = true;

function addMarker(pos: SourcePos, message: string, peer: number): void {
  const list = runMarkers;
  const same = list.find((m) => m.line === pos.line && m.column === pos.column && m.message === message);
  if (same) {
    if (same.peers.includes(peer)) return;
    runMarkers = list.map((m) => (m === same ? { ...m, peers: [...m.peers, peer] } : m));
  } else {
    runMarkers = [...list, { line: pos.line, column: pos.column, message, peers: [peer] }];
  }
  if (textIsRun) clientMarkers.value = runMarkers;
}

/**
 * The editor's client.js now holds `text` (any change: typing, a paste, a reset, a lesson's code
 * loaded, another workspace's file). The last run's markers and error counts show only while
 * it is the text that run ran.
 */
export function clientTextChanged(text: string): void {
  currentText = text;
  refreshFreshPositions();
  const same = runText !== null && text === runText;
  if (same === textIsRun) return;
  textIsRun = same;
  clientMarkers.value = same ? runMarkers : [];
  publish();
}

// ---- which console positions still point at the right text -----------------------------------
//
// A console line's client.js:L:C is a place in the text its run ran. Once the editor holds
// other text, that place may be another line: the link says so instead of jumping there.

/** client.js texts that console positions refer to, by key: a run's number; a failed check's negative number. */
const posTexts = new Map<number, string>();
const MAX_POS_TEXTS = 200;
/** The editor's client.js text, as last reported (null before the editor reported any). */
let currentText: string | null = null;
let failedChecks = 0;
/** Keys whose text is the editor's text now: their positions still point at the right place. */
export const freshPositions = signal<ReadonlySet<number>>(new Set());

function rememberPosText(key: number, text: string): void {
  posTexts.set(key, text);
  if (posTexts.size > MAX_POS_TEXTS) posTexts.delete(posTexts.keys().next().value!);
  refreshFreshPositions();
}

function refreshFreshPositions(): void {
  const next = new Set<number>();
  for (const [k, t] of posTexts) if (currentText === null || t === currentText) next.add(k);
  const prev = freshPositions.value;
  if (next.size === prev.size && [...next].every((k) => prev.has(k))) return;
  freshPositions.value = next;
}

/**
 * A position logged for `key` (a run, or a failed check) no longer points at the text it was
 * logged for: client.js has changed since. Unknown keys (text not known, or forgotten) count as
 * stale once the editor reported text, since nothing says the place is still right.
 */
export function posIsStale(key: number): boolean {
  const fresh = freshPositions.value;
  if (currentText === null) return false;
  return !fresh.has(key);
}

// ---- peers ----------------------------------------------------------------------------------

export type PeerPhase = 'starting' | 'loading' | 'running' | 'failed' | 'stopped';

export interface PeerView {
  peer: number;
  phase: PeerPhase;
  /** Its connection on the wire: a number, 'waiting' while starting, null when none was seen. */
  conn: number | 'waiting' | null;
  /** State of its first WebSocket as its own events say. */
  socket: 'none' | 'connecting' | 'open' | 'closed' | 'error';
  /** WebSockets its code created so far (0: it has not used one, e.g. a client that polls with fetch). */
  sockets: number;
  /** Uncaught errors and rejections so far. */
  errors: number;
}

export interface RunnerView {
  /** client.js was changed in the editor since the peers' run: they run the older text. */
  edited: boolean;
  running: boolean;
  /** Peers still being started one by one (or a run being prepared: `step`). */
  starting: boolean;
  /**
   * What a Run is doing before its code runs: saving the files, then checking client.js (the
   * Worker of peer 1 loading it: a syntax error stops it there). null once client.js runs.
   */
  step: 'saving' | 'checking' | null;
  peers: PeerView[];
  runs: number;
}

export const runner = signal<RunnerView>({ edited: false, running: false, starting: false, step: null, peers: [], runs: 0 });
/** How many peers the next run starts (1..MAX_PEERS). */
export const peerCount = signal(1);

/** Where client.js called close() on each connection (its first call), for the close autopsy; bounded. */
export interface CloseCall {
  pos: SourcePos | null;
  code?: number | undefined;
  reason?: string | undefined;
}
export const closeCalls = new Map<number, CloseCall>();
const MAX_CLOSE_CALLS = 1000;
function noteCloseCall(conn: number, call: CloseCall): void {
  if (closeCalls.has(conn)) return;
  if (closeCalls.size >= MAX_CLOSE_CALLS) closeCalls.delete(closeCalls.keys().next().value!);
  closeCalls.set(conn, call);
  version.value++;
}

interface Peer {
  /** The run it belongs to (console lines keep their run's colours). */
  run: number;
  n: number;
  worker: Worker | null;
  phase: PeerPhase;
  conn: number | 'waiting' | null;
  socketState: PeerView['socket'];
  socketsCreated: number;
  /** Uncaught errors and rejections reported. */
  errors: number;
  /** Sockets whose sends were not all reported (a loop): never linked. */
  untracked: boolean;
  waitingSends: SendRecord[];
  /** client.js called close() before its connection was linked: noted once it is. */
  waitingClose: CloseCall | null;
  /** Wakes the connection wait (a socket was created, the peer failed). */
  poke: () => void;
  /**
   * Says the run line ("Running client.js") once the peer's first sign that its code runs
   * arrives (peer 1 only): client.js has parsed by then. Null once said.
   */
  announce: (() => void) | null;
  /** client.js did not parse: the run stops here ("Not run: ..."). */
  syntaxError: boolean;
}

let peers: Peer[] = [];
let generation = 0;
let runs = 0;
let starting = false;

function publish(): void {
  runner.value = {
    edited: !textIsRun,
    running: peers.some((p) => p.worker !== null),
    starting: starting || step !== null,
    step,
    runs,
    peers: peers.map((p) => ({ peer: p.n, phase: p.phase, conn: p.conn, socket: p.socketState, sockets: p.socketsCreated, errors: p.errors })),
  };
}

/** Peers of recent runs, by `${run}:${peer}`, for the colours of their console lines. */
const pastPeers = new Map<string, Peer>();

/** The colour of a peer of a run: its connection's colour once known (the inspector's), grey before. */
export function peerColor(run: number, peer: number): string {
  const p = pastPeers.get(`${run}:${peer}`);
  const conn = typeof p?.conn === 'number' ? model.conns.get(p.conn) : undefined;
  return conn?.color ?? 'var(--muted)';
}

/** How many peers a (recent) run started so far. */
export function runSize(run: number): number {
  let n = 0;
  for (const p of pastPeers.values()) if (p.run === run) n++;
  return n;
}

/** Which peer (of the current or a recent run) a connection belongs to, as seen on the wire, or null. */
export function peerForConn(conn: number): number | null {
  let found: number | null = null;
  for (const p of pastPeers.values()) if (p.conn === conn) found = p.n;
  return found;
}

export function connForPeer(peer: number): number | null {
  const c = peers.find((p) => p.n === peer)?.conn;
  return typeof c === 'number' ? c : null;
}

type BeforeRun = () => Promise<Preflight>;
let beforeRun: BeforeRun | null = null;

/**
 * The editor registers its pre-run step (save the files, check client.js for syntax errors);
 * without an editor loaded, a run just saves what is bound.
 */
export function setBeforeRun(fn: BeforeRun | null): void {
  beforeRun = fn;
}

function clientUrl(): string {
  return `${location.origin}/workspace/client.js`;
}

/**
 * Ask the dashboard for a single-use grant to load client.js, just before a Worker does: it
 * comes back as a cookie for /workspace/client.js only, spent by that load. The session token is
 * never a cookie (the browser would send it to every port of 127.0.0.1). Returns why it was
 * refused, or null.
 */
async function clientGrant(): Promise<string | null> {
  try {
    const res = await fetch('/api/client-grant', { method: 'POST', headers: { 'X-Wsplay-Token': tokenFromUrl() }, cache: 'no-store' });
    if (res.ok) return null;
    return `the dashboard refused to let client.js load (${res.status}): open the address \`npm start\` printed, which carries the session token`;
  } catch (err) {
    return `the dashboard could not be asked to let client.js load (${(err as Error).message}): is wsplay still running?`;
  }
}

/** The pre-run step's verdict; `text` is client.js as saved for the run, when known. */
export type Preflight = { ok: true; text?: string } | { ok: false; reason: string; pos?: SourcePos };

let requests = 0;
/** The current run stopped a running client when it started (a syntax error then says so). */
let runReplaced = false;
/** What a Run is doing before its code runs (RunnerView.step). */
let step: RunnerView['step'] = null;

type SyntaxLocator = () => Promise<{ pos: SourcePos; message: string } | null>;
let syntaxLocator: SyntaxLocator | null = null;
/**
 * The editor registers a way to find client.js's first syntax error itself (Monaco's
 * JavaScript service), used only when the browser reports a syntax error without its place.
 */
export function setSyntaxLocator(fn: SyntaxLocator | null): void {
  syntaxLocator = fn;
}

/**
 * Run client.js as `n` peers (each its own Worker and connection). The files are saved first
 * (a failed save means no run, and a running client goes on); then a running client is stopped
 * and the new one started. client.js is checked by the browser itself: peer 1's Worker parses it
 * as it loads it (importScripts), and a syntax error there is the check's verdict: "Not run",
 * with its line and column as the browser found them, and no further peer starts. No pre-check
 * waits for Monaco's TypeScript worker (seconds, the first time), so the run line comes as soon
 * as the code runs.
 *
 * The step shows the moment Run is pressed: "Checking client.js…" in the console, the button
 * says "Saving…" then "Checking…".
 */
export async function runClient(n = peerCount.value): Promise<boolean> {
  const count = Math.max(1, Math.min(MAX_PEERS, Math.floor(n) || 1));
  const req = ++requests;
  step = 'saving';
  publish();
  log({ source: 'client', peer: null, run: runs, kind: 'note', level: 'info', text: 'Checking client.js…' });
  // Shown now, not at the console's next paced re-render: it is the answer to the click.
  flush();
  let check: Preflight;
  try {
    check = beforeRun
      ? await beforeRun()
      : await saveAll().then(
          () => ({ ok: true as const }),
          (err: Error) => ({ ok: false as const, reason: `the files could not be saved (${err.message})` }),
        );
  } catch (err) {
    check = { ok: false, reason: (err as Error).message };
  }
  if (req !== requests) return false; // a newer Run took over
  if (!check.ok) {
    step = null;
    const posKey = -++failedChecks;
    if (currentText !== null) rememberPosText(posKey, currentText);
    log({ source: 'client', peer: null, run: runs, kind: 'note', level: 'error', text: `Not run: ${check.reason}`, pos: check.pos, posKey });
    publish();
    return false;
  }
  step = 'checking';
  publish();
  const gen = ++generation;
  const wasRunning = endWorkers() > 0;
  runReplaced = wasRunning;
  runText = check.text ?? null;
  textIsRun = true;
  runMarkers = [];
  clientMarkers.value = [];
  runs++;
  if (runText !== null) rememberPosText(runs, runText);
  peers = [];
  const runLine = `${wasRunning ? 'Re-running' : 'Running'} client.js${count > 1 ? ` as ${count} peers` : ''} (${clientUrl()})`;
  starting = true;
  publish();
  for (let k = 1; k <= count; k++) {
    if (gen !== generation) return false;
    const refused = await clientGrant();
    if (gen !== generation) return false;
    if (refused) note(`peer ${k}: ${refused}`, 'error', k);
    const before = maxConnId();
    const p = startPeer(k, gen);
    if (k === 1) {
      p.announce = () => {
        p.announce = null;
        if (step === 'checking') step = null;
        note(runLine);
        publish();
      };
    }
    const conn = await waitForConnection(p, gen, before);
    if (gen !== generation) return false;
    // Still loading after the connection wait (a top-level loop that says nothing): it runs.
    p.announce?.();
    if (p.syntaxError) {
      starting = false;
      publish();
      return false;
    }
    p.conn = conn;
    peerMapVersion.value++;
    if (conn !== null && p.waitingClose) noteCloseCall(conn, p.waitingClose);
    p.waitingClose = null;
    if (conn !== null) {
      if (count > 1) note(`peer ${k} → connection #${conn}`, 'info', k);
    } else if (p.phase !== 'failed' && p.socketsCreated > 0) {
      note(
        `peer ${k}: no new connection reached the wiretap within ${PEER_CONNECT_TIMEOUT_MS / 1000} s (does it connect to the wiretap's address?): its sends are not linked to frames`,
        'warn',
        k,
      );
    }
    const waiting = p.waitingSends;
    p.waitingSends = [];
    for (const s of waiting) assignSend(p, s);
    publish();
  }
  starting = false;
  publish();
  return true;
}

/**
 * Peer 1's Worker could not parse client.js: the run stops before any of its code ran. Where
 * the browser did not say where (no line), Monaco's JavaScript service is asked.
 */
async function syntaxErrorAtLoad(p: Peer, m: Extract<RuntimeMessage, { kind: 'error' }>): Promise<void> {
  p.syntaxError = true;
  p.announce = null;
  p.phase = 'failed';
  if (p.worker) {
    p.worker.terminate();
    p.worker = null;
  }
  peers = peers.filter((x) => x !== p);
  p.poke();
  const run = p.run;
  let pos = m.pos;
  // Chromium words it as importScripts' failure; the parser's own words are what matter.
  let message = m.message.replace(/^Failed to execute 'importScripts' on '\w+': /, '');
  if (!pos && syntaxLocator) {
    const found = await syntaxLocator().catch(() => null);
    if (found) ({ pos, message } = found);
  }
  if (step === 'checking') step = null;
  const where = pos ? ` at line ${pos.line}, column ${pos.column}` : '';
  // The Worker is where the browser parses client.js, so the client running before was already
  // stopped: said, so that its silence is not a surprise.
  const stopped = runReplaced ? ' (the client that was running is stopped)' : '';
  log({ source: 'client', peer: null, run, kind: 'note', level: 'error', text: `Not run: client.js has a syntax error${where}: ${message}${stopped}`, ...(pos ? { pos, posKey: run } : {}) });
  if (pos) addMarker(pos, `${m.name}: ${message} (client.js is not run while it has a syntax error)`, p.n);
  publish();
}

/** Stop every peer (worker.terminate(): ends even an infinite loop). */
export function stopClient(): void {
  generation++;
  requests++; // a run still being prepared (saving, checking) does not start either
  step = null;
  const ended = endWorkers();
  starting = false;
  publish();
  if (ended > 0) note(`Stopped (${ended === 1 ? 'the client' : `${ended} peers`} ended)`);
}

function endWorkers(): number {
  let ended = 0;
  for (const p of peers) {
    if (p.worker) {
      p.worker.terminate();
      p.worker = null;
      ended++;
      if (p.phase !== 'failed') p.phase = 'stopped';
      if (p.socketState === 'connecting' || p.socketState === 'open') p.socketState = 'closed';
      p.poke();
      for (const s of p.waitingSends) unlinkable(s, 'the run was stopped before its connection was seen');
      p.waitingSends = [];
    }
  }
  return ended;
}

function maxConnId(): number {
  let max = 0;
  for (const id of model.conns.keys()) if (id > max) max = id;
  return max;
}

function startPeer(n: number, gen: number): Peer {
  const p: Peer = {
    run: runs,
    n,
    worker: null,
    phase: 'starting',
    conn: 'waiting',
    socketState: 'none',
    socketsCreated: 0,
    errors: 0,
    untracked: false,
    waitingSends: [],
    waitingClose: null,
    poke: () => undefined,
    announce: null,
    syntaxError: false,
  };
  peers.push(p);
  pastPeers.set(`${p.run}:${n}`, p);
  if (pastPeers.size > 200) pastPeers.delete(pastPeers.keys().next().value!);
  const worker = new ClientRuntime({ name: `client.js · peer ${n}` });
  p.worker = worker;
  worker.onmessage = (e: MessageEvent<RuntimeMessage>) => {
    if (gen !== generation && p.worker === null) return;
    onRuntimeMessage(p, e.data);
  };
  worker.onerror = (e: ErrorEvent) => {
    // Errors inside client.js are reported by the runtime itself; this one is only for a
    // runtime that could not start at all (its script blocked or missing).
    if (p.phase === 'starting') {
      e.preventDefault();
      p.announce?.();
      p.phase = 'failed';
      note(`peer ${n}: the client runtime could not start${e.message ? `: ${e.message}` : ''}`, 'error', n);
      p.poke();
      publish();
    }
  };
  worker.onmessageerror = () => note(`peer ${n}: a message from the worker could not be read`, 'warn', n);
  const tap = topology.value?.tap.port;
  const proxy = topology.value?.lessonProxy;
  const start: StartCommand = {
    kind: 'start',
    url: clientUrl(),
    peer: n,
    ...(tap ? { portMap: { from: 9900, to: tap } } : {}),
    ...(proxy ? { morePorts: [{ from: proxy.publicPort, to: proxy.port }, ...(proxy.tls ? [{ from: proxy.tls.publicPort, to: proxy.tls.port }] : [])] } : {}),
  };
  worker.postMessage(start);
  publish();
  return p;
}

/** The first connection newer than `before` that the wire shows once the peer has created a WebSocket. */
function waitForConnection(p: Peer, gen: number, before: number): Promise<number | null> {
  const taken = new Set([...pastPeers.values()].map((x) => x.conn).filter((c): c is number => typeof c === 'number'));
  return new Promise((resolve) => {
    let done = false;
    let unsubscribe = () => undefined as void;
    const finish = (conn: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      p.poke = () => undefined;
      resolve(conn);
    };
    const check = () => {
      if (gen !== generation || p.worker === null || p.phase === 'failed') return finish(null);
      // Only once this peer has created a WebSocket: a connection from elsewhere before that is not its.
      if (p.socketsCreated === 0) return;
      for (const id of model.conns.keys()) if (id > before && !taken.has(id)) return finish(id);
    };
    const timer = setTimeout(() => finish(null), PEER_CONNECT_TIMEOUT_MS);
    p.poke = check;
    unsubscribe = version.subscribe(check);
  });
}

function onRuntimeMessage(p: Peer, m: RuntimeMessage): void {
  // While peer 1 loads client.js, a SyntaxError with no client.js frame in its stack is the
  // browser's parser refusing the file (a SyntaxError the code throws has its line in the stack).
  if (m.kind === 'error' && p.announce && p.phase === 'loading' && m.name === 'SyntaxError' && !m.stack.includes(clientUrl())) {
    void syntaxErrorAtLoad(p, m);
    return;
  }
  // Anything else from it after `loading` means client.js parsed: its code runs.
  if (m.kind !== 'loading') p.announce?.();
  switch (m.kind) {
    case 'loading':
      p.phase = 'loading';
      publish();
      break;
    case 'loaded':
      if (p.phase === 'loading') p.phase = 'running';
      publish();
      break;
    case 'console':
      log({ source: 'client', run: p.run, peer: p.n, kind: 'console', level: m.level, text: m.text, pos: m.pos, t: m.t });
      break;
    case 'error': {
      p.errors++;
      if (p.phase === 'loading' && !m.pos && /importScripts/.test(m.message)) {
        // client.js itself could not be fetched (403 without a grant, 404...).
        note(`peer ${p.n}: client.js could not be loaded: ${m.message}`, 'error', p.n);
        p.phase = 'failed';
        p.poke();
      } else {
        // The learner's code threw: its callbacks may still run (the worker lives on).
        log({ source: 'client', run: p.run, peer: p.n, kind: 'error', what: m.what, name: m.name, message: m.message, stack: m.stack, pos: m.pos, t: m.t });
        if (p.phase === 'loading') p.phase = 'running';
      }
      if (m.pos) addMarker(m.pos, `${m.what === 'rejection' ? 'Unhandled rejection' : 'Uncaught'} ${m.name}: ${m.message}`, p.n);
      publish();
      break;
    }
    case 'send': {
      const s: SendRecord = {
        peer: p.n,
        socket: m.socket,
        state: m.state,
        pos: m.pos,
        t: m.t,
        opcode: m.opcode,
        size: m.size,
        text: m.text,
        bytes: m.bytes,
        partial: m.partial,
        threw: m.threw,
        conn: typeof p.conn === 'number' ? p.conn : null,
        status: 'waiting',
        frame: null,
        late: false,
      };
      log({ source: 'client', run: p.run, peer: p.n, kind: 'send', send: s, t: m.t });
      if (p.conn === 'waiting') p.waitingSends.push(s);
      else assignSend(p, s);
      break;
    }
    case 'dropped':
      if (m.what === 'send') {
        if (!p.untracked) note(`peer ${p.n}: too many sends to report; from here on they are not linked to frames`, 'warn', p.n);
        p.untracked = true;
      } else if (m.count > 0) {
        note(`peer ${p.n}: ${m.count.toLocaleString('en-US')} console lines dropped (more than 1,000 a second; DevTools did not get them either)`, 'warn', p.n);
      }
      break;
    case 'closeCall':
      // The peer's first WebSocket is the one linked to a connection (p.conn).
      if (m.socket === 0) {
        const call = { pos: m.pos, code: m.code, reason: m.reason };
        if (typeof p.conn === 'number') noteCloseCall(p.conn, call);
        else if (p.conn === 'waiting') p.waitingClose ??= call;
      }
      break;
    case 'socket':
      if (m.event === 'created') {
        p.socketsCreated++;
        if (m.socket === 0) p.socketState = 'connecting';
        p.poke();
      } else if (m.socket === 0) {
        p.socketState = m.event === 'open' ? 'open' : m.event === 'close' ? 'closed' : 'error';
      }
      if (m.event === 'close' && m.socket === 0 && m.code !== undefined && m.code !== 1000 && m.code !== 1005) {
        note(`peer ${p.n}: WebSocket closed, code ${m.code}${m.reason ? ` "${m.reason}"` : ''}`, 'warn', p.n);
      }
      publish();
      break;
  }
}

// ---- send ↔ frame links ----------------------------------------------------------------------
//
// A peer's first WebSocket puts its messages on its connection in the order its code called
// send. So each connection has a queue of sends waiting for their frames, in call order, and
// each new client message on the connection (in wire order) is compared with that queue: the
// first send carrying exactly its data is linked to it. Sends before that one in the queue never
// reached the wire (their frame would have come first): they are not linked. Every message is
// looked at once, so a busy connection costs little.

/** Per connection: sends waiting for their frames, in call order. */
const queues = new Map<number, SendRecord[]>();
const linkByFrame = new Map<FrameKey, SendRecord>();
/** Per connection: the first frame of the last message linked (messages link in order). */
const lastLinked = new Map<number, number>();
/**
 * Client messages no waiting send matched yet (their send's report may come after them), by
 * their index in the event log: a message is made from its batch only when a send may match it
 * (at 10,000 frames a second, making each one parsed every batch a second time: issue 19).
 */
let unmatched: number[] = [];
const MAX_UNMATCHED = 256;
/** Absolute index in model.messages up to which messages were looked at. */
let scanned = 0;
let messagesOf = -1;
let pendingCount = 0;
let lateTimer: ReturnType<typeof setInterval> | null = null;

function unlinkable(s: SendRecord, why: string): void {
  s.status = 'unlinkable';
  s.why = why;
  touched(s);
  linkVersion.value++;
}

function assignSend(p: Peer, s: SendRecord): void {
  if (s.threw) {
    s.status = 'not-sent';
    s.why = `the browser threw ${s.threw.name}`;
  } else if (s.state !== 1) {
    s.status = 'not-sent';
    s.why = s.state === 0 ? 'the socket was still connecting' : 'the socket was closing or closed: the browser discards the data';
  } else if (p.untracked) {
    s.status = 'unlinkable';
    s.why = 'too many sends to follow';
  } else if (s.socket !== 0) {
    s.status = 'unlinkable';
    s.why = "only the peer's first WebSocket is matched to a connection";
  } else if (typeof p.conn !== 'number') {
    s.status = 'unlinkable';
    s.why = 'no connection of this peer was seen on the wire';
  } else if (s.opcode === 2 && !s.bytes) {
    s.status = 'unlinkable';
    s.why = 'its Blob could not be read';
  } else {
    s.conn = p.conn;
    s.status = 'pending';
    addPending(s);
  }
  touched(s);
  linkVersion.value++;
}

function link(s: SendRecord, m: WireMessage): void {
  s.status = 'linked';
  s.frame = m.firstFrame;
  s.late = false;
  touched(s);
  lastLinked.set(m.conn, m.firstFrame);
  for (let seq = m.firstFrame; seq <= m.lastFrame; seq++) linkByFrame.set(frameKey(m.conn, 'client', seq), s);
  while (linkByFrame.size > MAX_LINKS) linkByFrame.delete(linkByFrame.keys().next().value!);
}

function addPending(s: SendRecord): void {
  const conn = s.conn!;
  // Its frame may be on the wire already (seen before the report, or before the peer's
  // connection was known): the earliest unmatched message of the connection with its data.
  const after = lastLinked.get(conn) ?? -1;
  const queue = queues.get(conn) ?? [];
  if (queue.length === 0) {
    const log = model.events;
    // By the log's columns (conn, and a message's first frame in `seq`): only the connection's own are made.
    const i = unmatched.findIndex((abs) => log.has(abs) && log.conn(abs) === conn && log.seq(abs) > after && sentMatches(s, log.get(abs) as WireMessage));
    if (i >= 0) {
      const m = log.get(unmatched[i]!) as WireMessage;
      // Messages before it on the connection came from sends that were not reported: leave them.
      unmatched = unmatched.filter((x, j) => j > i || !log.has(x) || log.conn(x) !== conn);
      link(s, m);
      return;
    }
  }
  queue.push(s);
  queues.set(conn, queue);
  pendingCount++;
  if (queue.length > MAX_PENDING) {
    for (const old of queue.splice(0, queue.length - MAX_PENDING)) {
      old.status = 'unlinkable';
      old.why = 'too many sends waiting for their frames';
      touched(old);
      pendingCount--;
    }
  }
  if (!lateTimer) {
    lateTimer = setInterval(() => {
      let changed = false;
      const now = Date.now();
      for (const q of queues.values()) {
        for (const x of q) {
          if (!x.late && now - x.t > SEND_LATE_MS) {
            x.late = true;
            touched(x);
            changed = true;
          }
        }
      }
      if (changed) linkVersion.value++;
      if (pendingCount === 0 && lateTimer) {
        clearInterval(lateTimer);
        lateTimer = null;
      }
    }, 1000);
  }
  scheduleMatch();
}

/** A new client message on the wire (its index in the event log): link it to the first waiting send with its data. */
function onClientMessage(abs: number): boolean {
  const queue = queues.get(model.events.conn(abs));
  if (queue) {
    const m = model.events.get(abs) as WireMessage;
    for (let k = 0; k < queue.length; k++) {
      const s = queue[k]!;
      if (!sentMatches(s, m)) continue;
      // The sends before it in the queue never reached the wire: their frames would be first.
      for (const skipped of queue.slice(0, k)) {
        skipped.status = 'unlinkable';
        skipped.why = 'no frame with its data came before the next send\'s frame';
        touched(skipped);
      }
      queue.splice(0, k + 1);
      pendingCount -= k + 1;
      if (queue.length === 0) queues.delete(m.conn);
      link(s, m);
      return true;
    }
  }
  unmatched.push(abs);
  // Cut in steps, not by one on every message: at 10,000 frames a second a splice per message
  // moved the whole list each time (issue 19). The newest MAX_UNMATCHED at least are kept.
  if (unmatched.length > 2 * MAX_UNMATCHED) unmatched.splice(0, unmatched.length - MAX_UNMATCHED);
  return false;
}

function matchNew(): void {
  const msgs = model.messages;
  const base = model.messagesTrimmed;
  if (model.generation !== messagesOf) {
    // A new model (the stream reconnected and sent its history again): look at it all; links
    // already made are kept (lastLinked skips their messages).
    messagesOf = model.generation;
    scanned = 0;
    unmatched = [];
  }
  let linked = false;
  const log = model.events;
  for (let i = Math.max(0, scanned - base); i < msgs.length; i++) {
    const abs = msgs.abs(i);
    if (log.type(abs) !== 'message' || log.dir(abs) !== 'client') continue;
    if (log.seq(abs) <= (lastLinked.get(log.conn(abs)) ?? -1)) continue;
    if (onClientMessage(abs)) linked = true;
  }
  scanned = base + msgs.length;
  if (linked) linkVersion.value++;
}

let matchScheduled = false;
function scheduleMatch(): void {
  if (matchScheduled) return;
  matchScheduled = true;
  setTimeout(() => {
    matchScheduled = false;
    matchNew();
  }, 0);
}

version.subscribe(() => scheduleMatch());

/** The send call that produced a client frame (seen on the wire and matched), or null. */
export function sendForFrame(conn: number, seq: number): SendRecord | null {
  return linkByFrame.get(frameKey(conn, 'client', seq)) ?? null;
}

/** The line of client.js whose `send` produced this client frame, or null when none is known. */
export function sendLineForFrame(conn: number, seq: number): number | null {
  return sendForFrame(conn, seq)?.pos?.line ?? null;
}

/** Show a frame in the inspector (Frame anatomy). */
export function selectFrame(conn: number, seq: number): void {
  selection.value = { kind: 'frame', key: frameKey(conn, 'client', seq) };
  selectedConn.value = conn;
  detailTab.value = 'frame';
}

// ---- the learner's server: its console and status -------------------------------------------

/**
 * The wall-clock time (epoch ms) of the wiretap's t = 0, from its clock reports (the stream's
 * hello, then one a second). Each estimate is late by the time its report waited to be handled
 * (a page still loading handles the hello late), so the smallest recent one is the best.
 * Another wiretap (the playground restarted: its clock starts again) starts over.
 */
let zero: { best: number; lastNow: number; recent: number[] } | null = null;
wiretapClock.subscribe((c) => {
  if (!c) return;
  const estimate = Date.now() - (c.now + (performance.now() - c.at));
  if (!zero || c.now < zero.lastNow || Math.abs(estimate - zero.best) > 2000) zero = { best: estimate, lastNow: c.now, recent: [] };
  zero.recent.push(estimate);
  if (zero.recent.length > 60) zero.recent.shift();
  zero.best = Math.min(...zero.recent);
  zero.lastNow = c.now;
});

/**
 * A server line's wall-clock time. Lines carry the wiretap's time (ms since it started, like
 * events), and a page that (re)loads gets the recent ones again: each keeps the time it was
 * printed, not the time the page heard it.
 */
function wallTime(t: number): number {
  return zero ? Math.round(zero.best + t) : Date.now();
}

const seenServerLines = new Set<string>();
let seenQueue: string[] = [];

/** The newest line looked at: the next change is looked at from the line after it. */
let lastSeenLine: ConsoleLine | undefined;

effect(() => {
  const lines = serverConsole.value;
  // New lines come at the end (the list is the old one and them, cut at the front): only they
  // are looked at, not the 1,000 lines kept on every change (issue 19: a server printing under a
  // flood). Without the last line seen (a reconnect started the list again) all are, once each.
  let from = lines.length;
  while (from > 0 && lines[from - 1] !== lastSeenLine) from--;
  lastSeenLine = lines[lines.length - 1] ?? lastSeenLine;
  for (let i = from; i < lines.length; i++) {
    const l = lines[i]!;
    // The same line again after the stream reconnects (history is re-sent): keep it once.
    const key = `${l.t}\u0000${l.source}\u0000${l.stream}\u0000${l.text}`;
    if (seenServerLines.has(key)) continue;
    seenServerLines.add(key);
    seenQueue.push(key);
    if (seenQueue.length > 10_000) {
      for (const k of seenQueue.splice(0, 5_000)) seenServerLines.delete(k);
    }
    log({ source: 'server', kind: 'server', origin: l.source, stream: l.stream, text: l.text, t: wallTime(l.t) });
  }
});

// ---- the workspace ------------------------------------------------------------------------

/**
 * A divider when the workspace changes (a lesson opened, back to the free playground): the
 * lines above it are another workspace's runs, not taken for the new one's output.
 */
let shownWorkspace: string | null | undefined;
effect(() => {
  const w = activeWorkspace.value;
  if (!w) return;
  const before = shownWorkspace;
  shownWorkspace = w.lesson;
  if (before === undefined || before === w.lesson) return;
  const number = w.lesson ? /^(\d+)/.exec(w.lesson)?.[1] : undefined;
  const name = w.lesson ? (number ? `lesson ${number}` : `lesson ${w.lesson}`) : 'free playground';
  log({ source: 'client', peer: null, run: runs, kind: 'note', level: 'info', text: `— ${name} —`, divider: true });
});
