import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import createDebug from 'debug';
import type { WireEvent } from './capture/events.ts';
import { logEvents } from './capture/log.ts';
import { parseMaxPayload, Recorder } from './capture/recorder.ts';
import { PayloadSpill } from './capture/spill.ts';
import { CaptureStore } from './capture/store.ts';
import { startDashboard, type Dashboard } from './app/dashboard.ts';
import { openBrowser } from './app/open-browser.ts';
import type { TopologyInfo } from './app/stream-protocol.ts';
import { buildUiInChild, uiNeedsBuild } from './app/ui-build.ts';
import { LearnerBridge } from './app/learner-bridge.ts';
import { ActiveWorkspace } from './app/active-workspace.ts';
import { LessonProxy } from './app/lesson-proxy.ts';
import { LessonCluster } from './app/lesson-cluster.ts';
import { LearnerServer } from './runner/learner-server.ts';
import { Workspace } from './runner/workspace.ts';
import { announceSelf, findPortOwner, ownerText } from './tap/port-owner.ts';
import { commandWith, planPorts, PortError } from './tap/port-plan.ts';
import { parsePort, parseTarget, TargetError, type Target } from './tap/target.ts';
import { Wiretap } from './tap/wiretap.ts';
import { CaFileError, readCaFile, type TlsUpstream } from './tap/upstream.ts';
import { describeFault, FaultError, parseFaultArg, type FaultSpec } from './tap/faults.ts';
import { runExportCommand } from './export.ts';
import { writeFileSync } from 'node:fs';
import { runServerCases, serveClientCases, TargetUrlError } from './conformance/runner.ts';
import { caseLine, failed, summaryTable } from './conformance/report.ts';
import { selectCases, SelectionError } from './conformance/select.ts';
import type { CaseResult, Report } from './conformance/types.ts';
import { Interception } from './tap/interception.ts';
import { terminal, terminalContext, type LineKind } from './app/terminal-writer.ts';
import { defaultCaDir, CaError } from './tap/local-ca.ts';

const HELP = `wsplay: the WebSocket Playground

Usage:
  wsplay start [--port 9900] [--dashboard-port 9901] [--workspace DIR] [--record FILE] [--no-open]
      Run the learner's server (workspace/server.js, the course's echo server to start with)
      behind the wiretap on ws://127.0.0.1:PORT, and the dashboard.
  wsplay tap --target ws://HOST:PORT [--port 9900] [--dashboard-port 9901] [--record FILE] [--no-open]
      Put the wiretap in front of any WebSocket server and decode what passes.
  wsplay tap --target wss://HOST[:PORT][/PATH] [--ca FILE] [--insecure] ...
      The same for a TLS server: clients connect in plain ws://, the wiretap speaks TLS upstream.
  wsplay conformance --target ws://HOST:PORT [--cases LIST] [--json FILE] [--record FILE] [--dashboard-port N]
      Run Autobahn's conformance cases (groups 1-7, 9) against a server, through the wiretap;
      --cases 1-7, 5.*, 6.4.1 picks some. Exit code 1 when any case fails.
  wsplay conformance --client [--port 9001] [--cases LIST] [--json FILE]
      Serve the cases to a client: it connects to ws://127.0.0.1:PORT/runCase?case=ID (or any path
      for the next case in order), one connection per case.
  wsplay proxy [--port 9902] [--ca FILE] [--ca-dir DIR] [--record FILE] [--dashboard-port N] [--no-open]
      An HTTP proxy on 127.0.0.1 for browsers: every WebSocket (ws:// and wss://) and HTTP
      exchange through it is decoded in the dashboard. HTTPS is intercepted with a local CA made
      on first use (~/.wsplay/ca, or --ca-dir), installed nowhere.
  wsplay browser [URL] [same options as proxy]
      The proxy, and a Chromium (CHROMIUM_PATH, chromium or Chrome) with a fresh profile that
      uses it and alone trusts the local CA. The dashboard's "Open an intercepted browser" does the same.
  wsplay export RECORDING --format har|pcapng -o FILE
      Convert a recording to HAR (with Chrome's WebSocket messages) or pcapng (Wireshark, tshark).

Options:
  --port N            Port the wiretap listens on (default 9900, the tutorial's; 0 picks a free one).
  --dashboard-port N  Port of the dashboard (default 9901; 0 picks a free one).
  --no-open           Do not open the dashboard in a browser.
  --no-dashboard      Run the wiretap only.
  --workspace DIR     Where the learner's files live (default: workspace/ in the project). A lesson's
                      files are in DIR/NN-slug/, the lessons' progress in DIR/progress.json.
  --inspect-server N  Run server.js with the Node inspector on 127.0.0.1:N (VS Code: "Attach to
                      server.js"); it prints "Debugger listening on ws://...".
  --record FILE       Write every event as JSON Lines to FILE (README, "Record format").
  --max-payload SIZE  Bytes of one frame's or message's payload a recording keeps (--record, Save
                      recording, exports), 64KiB to 16MiB (default 16MiB); longer ones are cut
                      and marked "maxPayload". The dashboard shows the first 64 KiB of each.
  --fault SPEC        Break every connection on purpose (repeat for several; the dashboard's
                      "Break it" tab turns them off): delay-handshake=MS (hold the server's 101),
                      latency=MS, split=BYTES (tiny TCP writes), drop-pongs, hold-pongs=MS,
                      blackhole; add ,dir=client or ,dir=server to latency, split and the pongs
                      ones for one direction. E.g. --fault latency=200 --fault split=1,dir=server
  --ca FILE           wss:// target: also trust this CA certificate (PEM), e.g. a private CA's.
  --insecure          wss:// target: do not verify the server's certificate (said at every start).
  --ca-dir DIR        proxy, browser: where the local CA lives (default ~/.wsplay/ca).
  --loopback-only     proxy, browser (and the dashboard's browser): connect to this machine only;
                      any other host gets a 502 without being tried.
  --help              This text.

Set DEBUG=wsplay:* to print one line per handshake, frame, message, close and violation.
Set WSPLAY_TOKEN=T to use T as the dashboard's session token instead of a random one, so a fixed
URL opens it (VS Code's "Client: client.js in Chromium" does: docs/debugging.md).`;

/** A problem the user can fix: printed as one line, exit code 2. */
class UsageError extends Error {}

/** The command the user typed, with some flags' values changed: for "run: ..." suggestions. */
type Retry = (changes: Record<string, number>) => string;

interface Running {
  tap: Wiretap;
  store: CaptureStore;
  recorder: Recorder | null;
  bridge: LearnerBridge | null;
  /** Lessons (wsplay start): which folder the learner's files are in, and their progress. */
  lessons?: ActiveWorkspace;
  /** A lesson's reverse proxy (lesson 13), started when that lesson opens. */
  lessonProxy?: LessonProxy;
  /** Lesson 20's second server.js process and its redis-server, while that lesson is open. */
  lessonCluster?: LessonCluster;
  dashboard: Dashboard | null;
  /** The proxy and intercepted browsers: `wsplay proxy`/`browser`, or on demand from the dashboard. */
  interception?: Interception;
}

/** wsplay's terminal: never blocks the wiretap, however the terminal or pipe reads (terminal-writer.ts). */
function print(line: string, kind: LineKind = 'note'): void {
  terminal().out(line, kind);
}

/** A line to stderr, then the exit: what waits for the terminal is written first, for EXIT_FLUSH_MS at most. */
async function exitWith(code: number, line?: string): Promise<never> {
  if (line !== undefined) terminal().err(line);
  await terminal().flush();
  process.exit(code);
}

async function listenOrExplain(tap: Wiretap, port: number, retry: Retry): Promise<number> {
  try {
    return await tap.listen();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Taken between the check (planPorts) and now.
    if (e.code === 'EADDRINUSE') throw new UsageError(`Port ${port} is in use${ownerText(findPortOwner(port))}. Stop it or run: ${retry({ '--port': port + 10 })}`);
    if (e.code === 'EACCES') throw new UsageError(`Port ${port} needs privileges to listen on. Pick a port above 1023: ${retry({ '--port': 9900 })}`);
    throw err;
  }
}

function openRecorder(file: string | undefined): Recorder | null {
  if (!file) return null;
  try {
    return new Recorder(file);
  } catch (err) {
    throw new UsageError(`Cannot write the recording to ${file} (${(err as NodeJS.ErrnoException).code}). Pick a file in a folder you can write to.`);
  }
}

/** --max-payload; whole payloads are collected only while something records (the dashboard's spill file, --record). */
let recording = { maxPayload: 0, spill: true };

function wire(store: CaptureStore, recorder: Recorder | null): (events: WireEvent[]) => void {
  return (events) => {
    // The recorder first: the store takes whole payloads off the events (into its spill file).
    recorder?.write(events);
    store.add(events);
    logEvents(events);
  };
}

async function runTap(
  target: Target,
  port: number,
  record: string | undefined,
  retry: Retry,
  hint = 'start it, or point --target at where it listens.',
  tls?: TlsUpstream,
): Promise<Running> {
  const store = new CaptureStore();
  const recorder = openRecorder(record);
  if (recording.spill) store.spill = new PayloadSpill();
  let lastWarning = 0;
  const tap = new Wiretap({
    port,
    target,
    tls,
    // Events go to the store, which makes their strings only when they are read.
    lazyEvents: true,
    limits: { recordBytes: recorder || store.spill ? recording.maxPayload : 0 },
    onEvents: wire(store, recorder),
    onTargetError: (err, explained) => {
      // One line, at most every 5 s: a client retrying in a loop must not flood the terminal.
      if (Date.now() - lastWarning < 5000) return;
      lastWarning = Date.now();
      const now = tap.target;
      if (explained) print(explained);
      else print(unresolved(now, err.code) ?? `Cannot reach the server at ws://${now.host}:${now.port} (${err.code}): ${hint}`);
    },
  });
  await listenOrExplain(tap, port, retry);
  return { tap, store, recorder, bridge: null, dashboard: null };
}

function topologyOf(running: Running, targetLabel: string): TopologyInfo {
  const proxy = running.interception?.proxy;
  if (proxying && proxy) return { tap: { host: proxy.host, port: proxy.port }, target: { host: '*', port: 0 }, targetLabel, mode: 'tap', proxy: { host: proxy.host, port: proxy.port } };
  const lessonProxy = running.lessonProxy?.ports;
  const cluster = running.lessonCluster?.topology;
  return { tap: { host: running.tap.host, port: running.tap.port }, target: running.tap.target, targetLabel, ...(running.bridge ? {} : { mode: 'tap' as const }), ...(lessonProxy ? { lessonProxy } : {}), ...(cluster ? { cluster } : {}) };
}

interface DashboardFlags {
  'dashboard-port'?: string;
  'no-open'?: boolean;
  'no-dashboard'?: boolean;
}

/** A fixed session token from the environment (WSPLAY_TOKEN), checked; undefined for a random one. */
function fixedTokenOf(): string | undefined {
  const fixedToken = process.env.WSPLAY_TOKEN || undefined;
  if (fixedToken !== undefined && !/^[\w-]{8,128}$/.test(fixedToken)) {
    throw new UsageError('WSPLAY_TOKEN must be 8 to 128 letters, digits, "_" or "-" (it goes in a URL and a cookie). Fix it, or unset it for a random token.');
  }
  return fixedToken;
}

function dashboardPortInUse(port: number, retry: Retry): UsageError {
  return new UsageError(`Dashboard port ${port} is in use${ownerText(findPortOwner(port))}. Stop it or run: ${retry({ '--dashboard-port': port + 10 })}`);
}

/**
 * Before anything starts (server.js, the wiretap): what would stop it later, a bad WSPLAY_TOKEN
 * or a port taken, is said at once, and nothing is left half started. A default port that is
 * taken moves to a free one (said in a line); a taken port the user named is an error.
 */
async function choosePorts(flags: DashboardFlags & { port?: string }, retry: Retry): Promise<{ wiretap: number; dashboard: number }> {
  if (!flags['no-dashboard']) fixedTokenOf();
  const plan = await planPorts(
    [
      { flag: '--port', what: 'the wiretap', value: flags.port, fallback: 9900 },
      ...(flags['no-dashboard'] ? [] : [{ flag: '--dashboard-port' as const, what: 'the dashboard', value: flags['dashboard-port'], fallback: 9901 }]),
    ],
    retry,
  );
  for (const note of plan.notes) print(note);
  return { wiretap: plan.ports[0]!, dashboard: plan.ports[1] ?? 9901 };
}

async function runDashboard(running: Running, flags: DashboardFlags, port: number, targetLabel: string, retry: Retry): Promise<void> {
  if (flags['no-dashboard']) return;
  const fixedToken = fixedTokenOf();
  // Tests that only need the API set WSPLAY_SKIP_UI_BUILD: two builds at once would clash in ui/dist.
  if (!process.env.WSPLAY_SKIP_UI_BUILD && uiNeedsBuild()) {
    print('Building the dashboard (the first start only: about 10 s; later starts use the build)…');
    await buildUiInChild(print);
  }
  try {
    running.dashboard = await startDashboard({
      port,
      store: running.store,
      connections: () => running.tap.connections,
      now: () => running.tap.now(),
      topology: () => topologyOf(running, targetLabel),
      control: running.tap,
      intercept: running.interception,
      // A fixed token, for a browser that must open a known URL (VS Code's Chrome configuration).
      token: fixedToken,
      ...(running.bridge
        ? { workspace: () => running.bridge!.workspace, lessons: running.lessons, learner: running.bridge.learner, extraHistory: () => running.bridge!.extraHistory() }
        : {}),
    });
    running.bridge?.attach(running.dashboard.stream);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw dashboardPortInUse(port, retry);
    throw err;
  }
  terminalContext.dashboard = true;
  print(`Dashboard: ${running.dashboard.url}`);
  if (!flags['no-open']) openBrowser(running.dashboard.url);
}

/** Leave a note for another wsplay that finds our ports taken (server/tap/port-owner.ts). */
function announce(command: string, running: Running): void {
  announceSelf({ command, wiretap: proxying ? (running.interception?.proxy?.port ?? 0) : running.tap.port, dashboard: running.dashboard ? `http://127.0.0.1:${running.dashboard.port}/` : null });
}

/** --fault: on for every connection from the start; printed so nobody wonders why things are slow. */
function applyFaults(tap: Wiretap, faults: FaultSpec[]): void {
  for (const spec of faults) {
    const f = tap.faults.add(spec, null);
    print(`Fault on for every connection: ${describeFault(f)} (turn it off in the dashboard's "Break it" tab)`);
  }
}

/** A failed DNS lookup is no server that is down: it says the name, not "start your server". */
function unresolved(target: Target, code: string | undefined): string | null {
  if (code !== 'ENOTFOUND' && code !== 'EAI_AGAIN' && code !== 'EAI_NONAME' && code !== 'EAI_FAIL') return null;
  const why = code === 'EAI_AGAIN' ? 'no DNS answer: is this machine offline?' : 'no such name';
  return `The name ${target.host} could not be resolved (${code}, ${why}): check the spelling and the network, or give --target an IP address such as ws://127.0.0.1:${target.port}.`;
}

async function probe(target: Target): Promise<string | null> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.connect(target.port, target.host);
    s.setTimeout(2000);
    s.once('connect', () => {
      s.destroy();
      resolve(null);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('ETIMEDOUT');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

function shutdownOnSignals(running: Running): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Flush, not close: closing the tap ends the open connections, and their `end` events
    // belong in the recording too.
    running.recorder?.flush();
    await Promise.all([running.tap.close(), running.bridge?.close(), running.dashboard?.close(), running.interception?.close(), running.lessonProxy?.close(), running.lessonCluster?.close()]);
    running.recorder?.close();
    if (running.recorder) print(`Recording complete: ${running.recorder.lines} events in ${running.recorder.path}${running.recorder.summary() ? ` (${running.recorder.summary()})` : ''}`);
    await exitWith(signal === 'SIGINT' ? 0 : 0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

interface ConformanceFlags extends DashboardFlags {
  port?: string;
  target?: string;
  record?: string;
  cases?: string;
  json?: string;
  client?: boolean;
}

/**
 * wsplay conformance: the ladder (server/conformance/) behind a wiretap, so every case is in the
 * recording and, with --dashboard-port, in the inspector. Testing a server, the runner connects
 * through the wiretap; testing a client (--client), the client connects to the wiretap, which
 * relays to the case server.
 */
async function conformance(values: ConformanceFlags, rest: string[]): Promise<void> {
  const retry: Retry = (changes) => commandWith('npx wsplay conformance', rest, changes);
  try {
    selectCases(values.cases);
  } catch (err) {
    if (err instanceof SelectionError) throw new UsageError(`--cases: ${err.message}`);
    throw err;
  }
  const withDashboard = values['dashboard-port'] !== undefined;
  // The wiretap takes a free port unless told (a playground may hold 9900); 9001 is where
  // Autobahn's own client drivers look for the case server.
  const flags = { ...values, 'no-dashboard': !withDashboard, port: values.port ?? (values.client ? '9001' : '0') };
  const live = (r: CaseResult): void => {
    if (r.verdict !== 'PASS') print(caseLine(r, process.stdout.columns || 160));
  };
  let caseServer: Awaited<ReturnType<typeof serveClientCases>> | null = null;
  let allServed: (() => void) | null = null;
  let target: Target;
  if (values.client) {
    if (values.target) throw new UsageError('--client serves the cases to a client and --target tests a server: give one of them.');
    caseServer = await serveClientCases({ port: 0, cases: values.cases, onResult: (r) => (live(r), allServed?.()) });
    target = { host: '127.0.0.1', port: caseServer.port };
  } else {
    if (!values.target) throw new UsageError('wsplay conformance needs --target ws://HOST:PORT (the server to test), or --client to test a client.');
    target = parseTarget(values.target);
    if (target.tls) throw new UsageError('wsplay conformance tests a ws:// server. For a wss:// one, run wsplay tap --target wss://... and point --target at the wiretap.');
  }
  const ports = await choosePorts(flags, retry);
  const running = await runTap(target, ports.wiretap, values.record, retry);
  if (withDashboard) await runDashboard(running, flags, ports.dashboard, values.client ? 'the conformance case server' : 'the server under test', retry);
  const url = `ws://127.0.0.1:${running.tap.port}`;
  const abort = new AbortController();
  let finishClient: (() => void) | null = null;
  const onSignal = (): void => {
    abort.abort();
    finishClient?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report: Report;
  if (caseServer) {
    const server = caseServer;
    print(`Serving ${server.ids.length} cases on ${url}: point your client at ${url}/runCase?case=ID (1-${server.ids.length} or ${server.ids[0]} … ${server.ids[server.ids.length - 1]}), or at any path for the next case in order; ${url}/getCaseCount answers the number. Ctrl-C ends the run.`);
    report = await new Promise<Report>((done) => {
      finishClient = () => done(server.report());
      allServed = () => {
        if (server.report().cases.length >= server.ids.length) done(server.report());
      };
    });
  } else {
    print(`Running ${selectCases(values.cases).length} cases against ${values.target} through the wiretap on ${url}…`);
    report = await runServerCases({ url, cases: values.cases, onResult: live, signal: abort.signal });
  }
  print(summaryTable(report));
  if (values.json) {
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
    print(`Report written to ${values.json}`);
  }
  const fails = failed(report);
  print(fails.length ? `${fails.length} case${fails.length > 1 ? 's' : ''} failed: ${fails.slice(0, 12).map((c) => c.id).join(', ')}${fails.length > 12 ? ', …' : ''}` : 'No case failed.');
  process.exitCode = fails.length ? 1 : 0;
  const stop = async (): Promise<void> => {
    running.recorder?.flush();
    await Promise.all([running.tap.close(), running.dashboard?.close(), caseServer?.close()]);
    running.recorder?.close();
    if (running.recorder) print(`Recording complete: ${running.recorder.lines} events in ${running.recorder.path}`);
  };
  if (withDashboard && !abort.signal.aborted) {
    print('The dashboard stays up so you can inspect each case: Ctrl-C to stop.');
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    const code = process.exitCode;
    const end = (): void => void stop().then(() => exitWith(code ?? 0));
    process.once('SIGINT', end);
    process.once('SIGTERM', end);
    return;
  }
  await stop();
  await exitWith(typeof process.exitCode === 'number' ? process.exitCode : 0);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    print(HELP);
    return;
  }
  if (command === 'export') {
    process.exitCode = runExportCommand(rest);
    return;
  }
  // From here on every line (the DEBUG log's too) goes through the writer that never blocks.
  terminal();
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      target: { type: 'string' },
      record: { type: 'string' },
      'max-payload': { type: 'string' },
      'dashboard-port': { type: 'string' },
      'no-open': { type: 'boolean' },
      'no-dashboard': { type: 'boolean' },
      workspace: { type: 'string' },
      'inspect-server': { type: 'string' },
      fault: { type: 'string', multiple: true },
      ca: { type: 'string' },
      insecure: { type: 'boolean' },
      cases: { type: 'string' },
      json: { type: 'string' },
      client: { type: 'boolean' },
      'ca-dir': { type: 'string' },
      'loopback-only': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    print(HELP);
    return;
  }
  if (positionals.length > (command === 'browser' ? 1 : 0)) {
    // As parseArgs says it for a command without positional arguments (wsplay browser takes a URL).
    throw new UsageError(`Unexpected argument '${positionals[command === 'browser' ? 1 : 0]}'. This command does not take ${command === 'browser' ? 'more than one URL' : 'positional arguments'}. Run: npx wsplay --help`);
  }
  parsePort(values.port, 9900);
  try {
    recording = { maxPayload: parseMaxPayload(values['max-payload']), spill: !values['no-dashboard'] };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const faults = (values.fault ?? []).map(parseFaultArg);
  const proxyCommand = command === 'proxy' || command === 'browser';
  if (proxyCommand && values.insecure) {
    throw new UsageError('--insecure is for wsplay tap --target wss://HOST: the proxy always verifies the servers it reaches (give a private CA with --ca FILE).');
  }
  // --ca and --insecure are the TLS upstream's (wsplay tap --target wss://, the proxy).
  if (command !== 'tap' && !proxyCommand && (values.ca !== undefined || values.insecure)) {
    throw new UsageError(`${values.insecure ? '--insecure' : '--ca'} is for wsplay tap --target wss://HOST: the playground's own server speaks plain ws://.`);
  }

  if (command === 'conformance') {
    await conformance(values, rest);
    return;
  }
  if (proxyCommand) {
    await runProxyCommand(command, values, positionals[0], rest);
    return;
  }
  // The dashboard's "Open an intercepted browser" starts a proxy on a free port when first used.
  const onDemand = (running: Running) => {
    // tap's --ca (a private CA upstream) holds for the browser's connections too.
    const upstreamCa = values.ca === undefined ? undefined : readCaFile(values.ca);
    running.interception = new Interception({ tap: running.tap, port: 0, caDir: values['ca-dir'], upstreamCa, loopbackOnly: values['loopback-only'] === true, print });
  };

  if (command === 'tap') {
    if (!values.target) throw new UsageError('wsplay tap needs --target: the server to put the wiretap in front of, e.g. --target ws://127.0.0.1:8080');
    const target = parseTarget(values.target);
    if (!target.tls && (values.ca !== undefined || values.insecure)) {
      throw new UsageError(`${values.insecure ? '--insecure' : '--ca'} applies to a TLS server only: give --target as wss://HOST[:PORT], or drop it.`);
    }
    const tls: TlsUpstream | undefined = target.tls
      ? { servername: target.host, ca: values.ca === undefined ? undefined : readCaFile(values.ca), insecure: values.insecure === true, path: target.path }
      : undefined;
    const retry: Retry = (changes) => commandWith('npx wsplay tap', rest, changes);
    const ports = await choosePorts(values, retry);
    const running = await runTap(target, ports.wiretap, values.record, retry, undefined, tls);
    onDemand(running);
    applyFaults(running.tap, faults);
    shutdownOnSignals(running);
    const scheme = target.tls ? 'wss' : 'ws';
    print(`Wiretap listening on ws://127.0.0.1:${running.tap.port} → ${scheme}://${target.host}:${target.port}${target.path ?? ''}`);
    if (tls?.insecure) print(`--insecure: the certificate of ${target.host} is NOT verified; anyone on the path could be the server you see.`);
    const problem = await probe(target);
    if (problem && unresolved(target, problem)) print(unresolved(target, problem)!);
    else if (problem) {
      print(`Nothing answers at ${scheme}://${target.host}:${target.port} yet (${problem}): start your server there, or fix --target. The wiretap relays as soon as it is up.`);
    }
    if (values.record) print(`Recording every event to ${values.record}`);
    await runDashboard(running, values, ports.dashboard, tls?.insecure ? 'your server over wss://, certificate NOT verified' : target.tls ? 'your server over wss://' : 'your server', retry);
    announce('tap', running);
    return;
  }

  if (command === 'start') {
    const retry: Retry = (changes) => commandWith('npm start --', rest, changes);
    const ports = await choosePorts(values, retry);
    const workspace = new Workspace(values.workspace ? resolve(values.workspace) : undefined);
    // The course's code listens on 9900 and connects to 9900: that port is the wiretap's, and
    // the learner's server is moved behind it (server/runner/listen-preload.cjs).
    const inspectPort = values['inspect-server'] === undefined ? undefined : parsePort(values['inspect-server'], 9230, '--inspect-server');
    // The dashboard's port, for a server.js that allows its pages' Origin (lesson 12); with
    // --dashboard-port 0 it is known once the dashboard listens, and server.js gets it from its
    // next start on (a save, a lesson opened): not restarted at once, which would drop the
    // connections of a client that connected right after start-up.
    const dashboardPort = ports.dashboard;
    const learner = new LearnerServer({ cwd: workspace.root, publicPort: 9900, inspectPort, env: { WSPLAY_DASHBOARD_PORT: String(dashboardPort) } });
    let running: Running;
    try {
      // The target is set when the server listens (and again after each restart).
      running = await runTap({ host: '127.0.0.1', port: 9 }, ports.wiretap, values.record, retry, 'server.js is not running (see its output above); fix it and save to restart it.');
      onDemand(running);
      applyFaults(running.tap, faults);
    } catch (err) {
      workspace.close();
      throw err;
    }
    const label = 'your server (server.js)';
    // With DEBUG=wsplay:runner the runner's own debug line already says each change of server.js's
    // state, time-stamped: the same sentence is not printed a second time.
    let stateMessage: string | undefined;
    if (createDebug.enabled('wsplay:runner')) learner.on('state', (s: { message?: string }) => (stateMessage = s.message));
    const printOnce = (line: string, kind: LineKind) => {
      if (line !== stateMessage) print(line, kind);
    };
    running.bridge = new LearnerBridge(running.tap, workspace, learner, () => topologyOf(running, label), printOnce);
    shutdownOnSignals(running);
    running.lessons = new ActiveWorkspace(running.bridge);
    const bridge = running.bridge;
    // WSPLAY_LESSON_PROXY_PORT=0: any free port (tests); the dashboard's Run maps the lesson's port to it.
    const proxyPort = process.env.WSPLAY_LESSON_PROXY_PORT;
    running.lessonProxy = new LessonProxy({ tapPort: () => running.tap.port, info: (text) => bridge.info(text), changed: () => bridge.topologyChanged() }, proxyPort === undefined || proxyPort === '' ? undefined : Number(proxyPort));
    running.lessonCluster = new LessonCluster(running.tap, learner, { info: (text) => bridge.info(text), output: (instance, stream, text) => bridge.serverLine(instance, stream, text), changed: () => bridge.topologyChanged() }, { WSPLAY_DASHBOARD_PORT: String(dashboardPort) });
    running.lessons.beforeSwitch = (lesson, ws) => running.lessonCluster!.prepare(lesson, ws);
    running.lessons.onSwitch = async (lesson, ws) => {
      await Promise.all([running.lessonProxy!.switchTo(lesson, ws), running.lessonCluster!.switchTo(lesson, ws)]);
    };
    print(`Workspace: ${workspace.root} (client.js, server.js: edit them here or in any editor; server.js restarts on save)`);
    // The lesson open when the playground last stopped is open again (progress.json): it says so.
    await running.lessons.restore();
    const first = await learner.start();
    if (first.status === 'running') print(`Server: server.js (pid ${first.pid}) on internal port ${first.port}`);
    print(`Wiretap listening on ws://127.0.0.1:${running.tap.port} → ws://127.0.0.1:${first.port ?? '?'}`);
    if (values.record) print(`Recording every event to ${values.record}`);
    try {
      await runDashboard(running, values, dashboardPort, label, retry);
      if (running.dashboard && running.dashboard.port !== dashboardPort) {
        learner.setEnv('WSPLAY_DASHBOARD_PORT', String(running.dashboard.port));
      }
    } catch (err) {
      await Promise.all([running.tap.close(), running.bridge.close()]);
      throw err;
    }
    announce('start', running);
    if (!process.env.DEBUG) print('Set DEBUG=wsplay:* to print every handshake, frame and message.');
    return;
  }

  throw new UsageError(`Unknown command "${command}". Run: npx wsplay --help`);
}

/** `wsplay proxy` runs the proxy alone (topology shows it); the others show the wiretap. */
let proxying = false;

/**
 * `wsplay proxy` and `wsplay browser [URL]`: the proxy on --port (default 9902) feeding a wiretap
 * that listens nowhere of its own, with the same store, dashboard and recording as `tap`.
 */
async function runProxyCommand(command: 'proxy' | 'browser', values: Record<string, string | boolean | string[] | undefined>, url: string | undefined, rest: string[]): Promise<void> {
  proxying = true;
  const flags = values as DashboardFlags & { port?: string; record?: string; ca?: string; 'ca-dir'?: string; 'loopback-only'?: boolean };
  if (url !== undefined && !/^https?:\/\//i.test(url)) throw new UsageError(`wsplay browser "${url}": give the page's address as http://... or https://..., e.g. wsplay browser https://localhost:8443/`);
  const retry: Retry = (changes) => commandWith(`npx wsplay ${command}`, rest, changes);
  const plan = await planPorts(
    [
      { flag: '--port', what: 'the proxy', value: flags.port, fallback: 9902 },
      ...(flags['no-dashboard'] ? [] : [{ flag: '--dashboard-port' as const, what: 'the dashboard', value: flags['dashboard-port'], fallback: 9901 }]),
    ],
    retry,
  );
  for (const note of plan.notes) print(note);
  const upstreamCa = flags.ca === undefined ? undefined : readCaFile(flags.ca);
  const store = new CaptureStore();
  const recorder = openRecorder(flags.record);
  if (recording.spill) store.spill = new PayloadSpill();
  let lastWarning = 0;
  const tap = new Wiretap({
    port: 0,
    target: { host: '127.0.0.1', port: 9 },
    lazyEvents: true,
    limits: { recordBytes: recorder || store.spill ? recording.maxPayload : 0 },
    onEvents: wire(store, recorder),
    onTargetError: (_err, explained) => {
      // Only TLS failures upstream are said (one line every 5 s at most); an unreachable host got its 502.
      if (!explained || Date.now() - lastWarning < 5000) return;
      lastWarning = Date.now();
      print(explained);
    },
  });
  const running: Running = { tap, store, recorder, bridge: null, dashboard: null };
  running.interception = new Interception({ tap, port: plan.ports[0]!, caDir: flags['ca-dir'], upstreamCa, loopbackOnly: flags['loopback-only'] === true, print });
  let proxy;
  try {
    proxy = await running.interception.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const port = plan.ports[0]!;
    if (e.code === 'EADDRINUSE') throw new UsageError(`Port ${port} is in use${ownerText(findPortOwner(port))}. Stop it or run: ${retry({ '--port': port + 10 })}`);
    throw err;
  }
  shutdownOnSignals(running);
  print(`Proxy listening on ${proxy.url}`);
  print(`CA certificate: ${proxy.ca.certPath} (made by wsplay on this machine, installed nowhere${flags['ca-dir'] ? '' : `; its folder is ${defaultCaDir()}`})`);
  print(`SPKI: ${proxy.ca.spki}`);
  if (flags['loopback-only']) print('--loopback-only: hosts other than this machine get a 502 without being tried.');
  if (flags.record) print(`Recording every event to ${flags.record}`);
  await runDashboard(running, flags, plan.ports[1] ?? 9901, 'the hosts the browser asks for', retry);
  announce(command, running);
  if (command === 'browser') {
    const outcome = await running.interception.openBrowser(url);
    if (outcome.ok) print(`Intercepted browser started (pid ${outcome.pid}): only it trusts the local CA; its profile is temporary.`);
    else print(outcome.message);
  } else {
    print(`Point a browser at the proxy: npx wsplay browser [URL] (or the dashboard's "Open an intercepted browser").`);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  if (err instanceof UsageError || err instanceof CaError || err instanceof TargetError || err instanceof TargetUrlError || err instanceof FaultError || err instanceof PortError || err instanceof CaFileError) {
    return exitWith(2, err.message);
  }
  // parseArgs: an unknown option, an option without its value, a stray argument.
  if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS_')) {
    return exitWith(2, `${err.message.replace(/\.?$/, '.')} Run: npx wsplay --help`);
  }
  return exitWith(1, `wsplay: ${err.stack ?? err.message}`);
});
