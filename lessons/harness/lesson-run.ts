/**
 * One run of a lesson's check: the wiretap on a free port, the learner's server.js behind it
 * (its `port: 9900` moved to an internal port by the runner's preload; the wiretap follows),
 * optionally with the wiretap's faults on (a delayed handshake ...), and the learner's
 * client.js run with the browser's WebSocket API against the wiretap. Everything is read from
 * the wire and from what the client printed, threw and called.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { WireEvent } from '../../server/capture/events.ts';
import { LearnerServer } from '../../server/runner/learner-server.ts';
import { findRedisServer, REDIS_MISSING, RedisServer } from '../../server/runner/redis-server.ts';
import type { FaultSpec } from '../../server/tap/faults.ts';
import { Wiretap } from '../../server/tap/wiretap.ts';
import { ClientRun, type ClientOptions } from './client.ts';
import { lessonInfo, readHints, type LessonInfo } from './format.ts';
import { callExport, type CallLimits, type CallResult } from './module-call.ts';
import { quiet, until } from './wait.ts';
import { Wire, type EventOf } from './wire.ts';
import { lessonWorkspace } from './workspace.ts';

/** The port the course's code uses. The check never binds it: the runner moves it. */
export const PUBLIC_PORT = 9900;
/**
 * The dashboard's port as the check tells server.js (WSPLAY_DASHBOARD_PORT, as the playground
 * does): the check's clients that play the dashboard's page send Origin http://localhost:9901.
 * Nothing binds it.
 */
export const DASHBOARD_PORT = 9901;
const HOST = '127.0.0.1';

/** A failed expectation, worded for the learner: the reporter prints its message and nothing else. */
export class LessonFailure extends Error {
  override name = 'LessonFailure';
}

/** The lesson this test file runs (a vitest worker runs one check file at a time, isolated). */
let current: LessonRun | null = null;

/**
 * Fail the check with `message` unless `condition` holds. What else went wrong in the lesson's
 * run (the server crashed, the client threw) is appended, so the learner sees the likely cause.
 */
export function must(condition: unknown, message: string | (() => string)): asserts condition {
  if (condition) return;
  const text = typeof message === 'function' ? message() : message;
  const trouble = current?.trouble() ?? '';
  throw new LessonFailure(trouble && !text.includes(trouble) ? `${text}\nAlso: ${trouble}` : text);
}

export interface LessonOptions {
  /** Start the learner's server.js behind the wiretap (default true). */
  server?: boolean;
  /**
   * Run the learner's client.js once the server listens (default true), with these options.
   * false: the check starts its clients itself (`runClient`, `peers`).
   */
  client?: boolean | ClientOptions;
  /**
   * Hold the server's 101 this long, as a slow network would (the wiretap's `delay-handshake`
   * fault, server/tap/faults.ts, for every connection of the check). On localhost a handshake
   * takes a millisecond, so code that sends "a little later" (a setTimeout) seems to work;
   * with the 101 held it meets CONNECTING, as on a real network.
   */
  handshakeDelayMs?: number;
  /** Other faults of the wiretap, on for every connection from the start (latency, drop-pongs ...). */
  faults?: FaultSpec[];
  /** Files besides client.js and server.js the lesson needs in the workspace (accept.js). */
  files?: string[];
  /**
   * Client errors (by name) the lesson expects, that failure messages need not repeat (lesson 3
   * keeps the course's early send, whose InvalidStateError is lesson 4's subject).
   */
  expectedErrors?: string[];
  /** Run the files of this folder instead of the learner's workspace/NN-slug/ (the integrity test). */
  workspaceDir?: string;
  /**
   * Run server.js once per name (lesson 20: `['a', 'b']`), each process with WSPLAY_INSTANCE
   * set to its name; the wiretap hands new connections to them in turn (round robin).
   * `server` is then the first; `servers` holds all.
   */
  instances?: string[];
  /** Start a throwaway redis-server (server/runner/redis-server.ts) and give server.js its REDIS_URL. */
  redis?: boolean;
}

export class LessonRun {
  readonly info: LessonInfo;
  /** The learner's folder for this lesson (workspace/NN-slug/). */
  readonly dir: string;
  /** True when this run created the folder from the starter (the learner has not started yet). */
  readonly seeded: boolean;
  /** Every event the wiretap emitted, in order. */
  readonly events: WireEvent[] = [];
  readonly wire: Wire;
  readonly clients: ClientRun[] = [];
  /** What server.js printed, one line each. */
  readonly serverOutput: string[] = [];
  server: LearnerServer | null = null;
  /** Every server.js process, by instance name (one, unnamed '', unless `instances` says more). */
  readonly servers = new Map<string, LearnerServer>();
  /** The internal port each instance listens on now. */
  private readonly ports = new Map<string, number>();
  /** The run's redis-server (`redis: true`). */
  redis: RedisServer | null = null;
  tap: Wiretap | null = null;
  /** Connections attributed to each client, by the order they appeared on the wire. */
  private readonly connsOf = new Map<ClientRun, number[]>();
  /** Where `runScript` puts the check's own client scripts (outside the learner's folder). */
  private scriptDir: string | null = null;

  constructor(
    lessonDir: string,
    readonly opts: LessonOptions = {},
  ) {
    this.info = lessonInfo(lessonDir);
    const ws = opts.workspaceDir ? { dir: opts.workspaceDir, seeded: false } : lessonWorkspace(this.info.dir, this.info.slug);
    this.dir = ws.dir;
    this.seeded = ws.seeded;
    this.wire = new Wire(this.events);
    current = this;
  }

  /** The server processes to run: the options', else lesson.json's `cluster` (lesson 20). */
  private get instances(): string[] | undefined {
    return this.opts.instances ?? this.info.meta.cluster?.instances;
  }

  /** Where the wiretap listens: clients use ws://127.0.0.1:tapPort (the course's 9900 maps here). */
  get tapPort(): number {
    return this.tap?.port ?? 0;
  }

  /** The first client.js run (the one `useLesson` starts). */
  get client(): ClientRun {
    const c = this.clients[0];
    if (!c) throw new Error('No client has run in this check (client: false?): call runClient() first.');
    return c;
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  read(name: string): string {
    return readFileSync(this.file(name), 'utf8');
  }

  async start(): Promise<void> {
    for (const name of ['client.js', 'server.js', ...(this.opts.files ?? [])]) {
      must(existsSync(this.file(name)), `There is no ${name} in ${this.dir}. Load it from the lesson (or copy it from lessons/${this.info.slug}/starter/).`);
    }
    this.tap = new Wiretap({
      port: 0,
      host: HOST,
      // Until the server listens, connections have nowhere to go (a refused target is shown as such).
      target: { host: HOST, port: 1 },
      onEvents: (events) => this.onEvents(events),
    });
    await this.tap.listen();
    if (this.opts.handshakeDelayMs) this.tap.faults.add({ kind: 'delay-handshake', value: this.opts.handshakeDelayMs });
    for (const fault of this.opts.faults ?? []) this.tap.faults.add(fault);
    if (this.opts.redis ?? this.info.meta.cluster?.redis) await this.startRedis();
    if (this.opts.server !== false) {
      const instances = this.instances;
      if (instances) await Promise.all(instances.map((name) => this.startServer(name)));
      else await this.startServer();
    }
    if (this.opts.client !== false) await this.runClient(typeof this.opts.client === 'object' ? this.opts.client : {});
  }

  /** The lesson's redis-server; a missing one stops the check with the line that says how to install it. */
  private async startRedis(): Promise<void> {
    const binary = findRedisServer();
    if (!binary) throw new LessonFailure(REDIS_MISSING);
    this.redis = new RedisServer(binary);
    await this.redis.start();
  }

  private async startServer(instance = ''): Promise<void> {
    const env: Record<string, string> = { WSPLAY_DASHBOARD_PORT: String(DASHBOARD_PORT) };
    if (instance) env.WSPLAY_INSTANCE = instance;
    if (this.redis) env.REDIS_URL = this.redis.url;
    const server = new LearnerServer({ cwd: this.dir, file: 'server.js', publicPort: PUBLIC_PORT, listenTimeoutMs: 15_000, env });
    this.server ??= server;
    this.servers.set(instance, server);
    const tag = instance ? `[${instance}] ` : '';
    server.on('output', ({ text }: { text: string }) => this.serverOutput.push(tag + text));
    server.on('port', (port: number) => {
      if (!instance) return this.tap!.setTarget({ host: HOST, port });
      this.ports.set(instance, port);
      // In the instances' order, so connections alternate a, b, a, b whichever listened first.
      const targets = (this.instances ?? []).filter((n) => this.ports.has(n)).map((n) => ({ host: HOST, port: this.ports.get(n)!, instance: n }));
      this.tap!.setTargets(targets);
    });
    server.on('stopping', () => this.tap?.serverStopping());
    const state = await server.start();
    if (state.status !== 'running') {
      const tail = learnerLines(state.stack ?? this.serverOutput.slice(-8).join('\n'));
      const which = instance ? `server.js (process ${instance}): ` : '';
      throw new LessonFailure(`${which}${state.message ?? `server.js is ${state.status}.`}${tail ? `\n${tail}` : ''}`);
    }
  }

  /** Restart server.js (as a save does), or one of its instances; resolves when it listens again. */
  async restartServer(instance?: string): Promise<void> {
    const server = instance === undefined ? this.server : this.servers.get(instance);
    must(server, 'This check runs no server.');
    const state = await server.restart();
    must(state.status === 'running', () => state.message ?? `server.js is ${state.status}.`);
  }

  private onEvents(events: WireEvent[]): void {
    // WSPLAY_INSIGHTS_OUT: every insight of the run, one JSON line each with the lesson it ran in (`slug`), for a
    // test that holds correct programs (solutions, right corpus entries) to none.
    const insightsOut = process.env.WSPLAY_INSIGHTS_OUT;
    for (const e of events) {
      this.events.push(e);
      if (insightsOut && e.type === 'insight') appendFileSync(insightsOut, `${JSON.stringify({ slug: this.info.slug, insight: e })}\n`);
      if (e.type === 'open') {
        // A new connection belongs to the client started most recently (peers() starts them one
        // at a time, each after its first connection appeared, so the attribution is exact).
        const last = this.clients[this.clients.length - 1];
        if (last) this.connsOf.get(last)!.push(e.conn);
      }
    }
  }

  /** Run a client file of the workspace (client.js) with the browser WebSocket API; resolves once its top level ran. */
  async runClient(opts: ClientOptions = {}): Promise<ClientRun> {
    must(this.tap, 'The wiretap is not running: call start() first.');
    const file = opts.file ?? 'client.js';
    const client = new ClientRun(isAbsolute(file) ? file : this.file(file), opts.via?.port ?? this.tapPort, opts.via?.publicPort ?? PUBLIC_PORT, opts);
    this.clients.push(client);
    this.connsOf.set(client, []);
    // Starting a Node process takes milliseconds on a quiet machine and seconds on a loaded one:
    // waits that end as soon as the thing happens can afford to be generous.
    await client.waitUntilRan(20_000);
    return client;
  }

  /**
   * Run the check's own client (browser code, as client.js is) from `source`: a probe that sends
   * what the check needs whatever the learner's client does (lesson 6's 'héllo 👋' and 300 KB).
   * The script lives in a temporary folder, not in the learner's; `name` is how messages call it.
   */
  async runScript(name: string, source: string, opts: Omit<ClientOptions, 'file' | 'name'> = {}): Promise<ClientRun> {
    this.scriptDir ??= mkdtempSync(join(tmpdir(), 'wsplay-check-'));
    const file = join(this.scriptDir, `${name.replace(/[^a-z0-9]+/gi, '-')}-${this.clients.length + 1}.js`);
    writeFileSync(file, source);
    return this.runClient({ ...opts, file, name });
  }

  /**
   * Start `n` copies of client.js one after the other, named A, B, C ..., each once its first
   * connection reached the wiretap, so each connection is known to be whose.
   */
  async peers(n: number, opts: ClientOptions = {}): Promise<ClientRun[]> {
    const started: ClientRun[] = [];
    for (let i = 0; i < n; i++) {
      const client = await this.runClient({ ...opts, name: opts.name ? `${opts.name} ${i + 1}` : `client ${String.fromCharCode(65 + i)}` });
      await until(() => (this.connsOf.get(client)!.length > 0 ? true : undefined), 10_000);
      started.push(client);
    }
    return started;
  }

  /** The wiretap's connection ids that belong to `client`. */
  connectionsOf(client: ClientRun): number[] {
    return [...(this.connsOf.get(client) ?? [])];
  }

  /** The client a connection belongs to. */
  clientOf(conn: number): ClientRun | undefined {
    return this.clients.find((c) => this.connsOf.get(c)?.includes(conn));
  }

  /** The first event matching, waiting up to `timeoutMs`; undefined if none came. */
  waitFor<T extends WireEvent = WireEvent>(match: (e: WireEvent) => e is T, timeoutMs?: number): Promise<T | undefined>;
  waitFor(match: (e: WireEvent) => boolean, timeoutMs?: number): Promise<WireEvent | undefined>;
  waitFor(match: (e: WireEvent) => boolean, timeoutMs = 3000): Promise<WireEvent | undefined> {
    return until(() => this.events.find(match), timeoutMs);
  }

  /** The first event of `type` matching, waiting up to `timeoutMs`. */
  waitForType<T extends WireEvent['type']>(type: T, match?: (e: EventOf<T>) => boolean, timeoutMs = 3000): Promise<EventOf<T> | undefined> {
    return until(() => this.events.find((e): e is EventOf<T> => e.type === type && (!match || match(e as EventOf<T>))), timeoutMs);
  }

  /** Wait until the wire has been quiet for `quietMs` (at most `maxMs`). */
  settle(quietMs = 250, maxMs = 3000): Promise<boolean> {
    return quiet(() => this.events.length, quietMs, maxMs);
  }

  /** Stop every client, and wait for the wiretap to see their connections end. */
  async stopClients(timeoutMs = 2000): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop()));
    const opened = () => this.wire.ofType('open').map((e) => e.conn);
    await until(() => (opened().every((conn) => this.events.some((e) => e.type === 'end' && e.conn === conn)) ? true : undefined), timeoutMs);
  }

  /** A plain HTTP GET through the wiretap, as a browser tab at http://localhost:9900/path sends. */
  httpGet(path = '/', headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: HOST, port: this.tapPort, path, headers: { host: `localhost:${PUBLIC_PORT}`, ...headers }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (body += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.setTimeout(3000, () => req.destroy(new Error(`No answer to GET ${path} within 3 s.`)));
      req.on('error', reject);
    });
  }

  /** Call the function a workspace file exports (accept.js's accept) once per argument list, in a child process. */
  callExport(file: string, name: string, inputs: unknown[][], timeoutMs = 5000, limits: CallLimits = {}): Promise<CallResult[]> {
    return callExport(this.dir, file, name, inputs, timeoutMs, limits);
  }

  /** Hints of this lesson, for messages that point at one. */
  hints(): string[] {
    return readHints(this.info.dir);
  }

  /**
   * What went wrong besides the check itself, for failure messages: the server crashed or
   * stopped, a client threw. Empty when nothing did.
   */
  trouble(): string {
    const lines: string[] = [];
    for (const [instance, server] of this.servers) {
      const state = server.state;
      const which = instance ? `(process ${instance}) ` : '';
      if (state.status !== 'running') lines.push(`${which}${state.message ?? `server.js is ${state.status}`}${state.stack ? `\n${indent(learnerLines(state.stack))}` : ''}`);
    }
    const expected = new Set(this.opts.expectedErrors ?? []);
    for (const c of this.clients) {
      for (const e of c.errors) if (!expected.has(e.name)) lines.push(c.describeError(e));
      if (!c.ran && c.running) lines.push(`${c.name} has not finished running its first lines (an endless loop?): nothing after them can happen.`);
    }
    return lines.join('\n');
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop()));
    await Promise.all([...this.servers.values()].map((s) => s.stop(false)));
    await this.redis?.stop();
    await this.tap?.close();
    if (this.scriptDir) rmSync(this.scriptDir, { recursive: true, force: true });
  }
}

/** Node's output about a crash, without its internals (node:internal frames, the version line). */
export function learnerLines(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\s+at .*\(?node:internal\//.test(l) && !/^Node\.js v\d/.test(l))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}
