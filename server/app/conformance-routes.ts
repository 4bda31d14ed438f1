import express, { type Express, type Request, type Response } from 'express';
import type { CaptureStore } from '../capture/store.ts';
import type { WireEvent } from '../capture/events.ts';
import type { LearnerServer } from '../runner/learner-server.ts';
import type { RunnerState } from './stream-protocol.ts';
import { CASES } from '../conformance/cases.ts';
import { runServerCases } from '../conformance/runner.ts';
import { selectCases } from '../conformance/select.ts';
import type { CaseDef, CaseResult } from '../conformance/types.ts';
import type { ConformanceCase, ConformanceResult, ConformanceState } from './conformance-protocol.ts';

/** What the ladder runs when the page names nothing: the protocol's rungs, without limits (9) and deflate (12, 13). */
export const DEFAULT_CASES = '1-7';
/** A case list is a short spec ("1-7", "5.*", "6.4.1"): anything longer is not one. */
const MAX_SPEC = 200;
/** Client ports remembered per run: one per case, and a run has at most CASES.length of them. */
const portBound = () => 2 * CASES.length + 16;

/**
 * The state of the dashboard's conformance ladder: one run at a time, the cases of the suite
 * (server/conformance/) against the learner's server.js, through the wiretap (so every case's
 * frames are in the inspector). A case's connection is found by the port the runner connected
 * from: the wiretap's `open` event names it (`client: 127.0.0.1:PORT`).
 */
export class ConformanceLadder {
  private run = 0;
  private abort: AbortController | null = null;
  private spec = DEFAULT_CASES;
  private cases: CaseDef[] = [];
  private results: ConformanceResult[] = [];
  private status: ConformanceState['status'] = 'idle';
  private error: string | undefined;
  /** server.js ended during the run: in which case, and what the runner said. */
  private crash: { conn: number | null; index: number; message: string } | undefined;
  /** The last connection of the run that the server upgraded (the wiretap's handshake event). */
  private lastUpgraded: number | null = null;
  private trigger: ConformanceState['trigger'] = 'button';
  private startedAt = 0;
  private finishedAt = 0;
  /** The runner's local port → the wiretap's connection id, for the run's connections only. */
  private readonly conns = new Map<number, number>();
  private readonly unsubscribe: () => void;
  /** Re-run when server.js (or a file it requires) is saved and the server listens again. */
  rerunOnSave = true;
  private lastRunner: RunnerState['status'] | null = null;
  /** The folder server.js ran in when the ladder last started (a lesson's, or the free playground's). */
  private cwdAtRun: string | null = null;

  constructor(
    store: CaptureStore,
    private readonly tapPort: () => number,
    private readonly learner: LearnerServer | null,
  ) {
    this.unsubscribe = store.subscribe((events) => this.onEvents(events));
    learner?.on('state', this.onRunner);
    this.lastRunner = learner?.state.status ?? null;
  }

  private onEvents(events: WireEvent[]): void {
    if (this.status !== 'running') return;
    for (const e of events) {
      if (e.type === 'handshake' && e.outcome === 'upgraded') this.lastUpgraded = e.conn;
      if (e.type !== 'open') continue;
      const port = Number(/:(\d+)$/.exec(e.client)?.[1]);
      if (!Number.isInteger(port)) continue;
      // Other clients connect meanwhile (the learner's client.js): the map keeps the newest, bounded.
      if (this.conns.size >= portBound()) this.conns.delete(this.conns.keys().next().value!);
      this.conns.set(port, e.conn);
    }
  }

  /**
   * server.js started again after a save: the ladder runs again with the same cases, so the
   * learner sees at once what the change did. Only a start that follows a run (not the first
   * start of the playground), and never while a run is going (a crash mid-run ends in
   * 'crashed', and its own save starts the next run).
   */
  private readonly onRunner = (state: RunnerState): void => {
    const was = this.lastRunner;
    this.lastRunner = state.status;
    if (this.status === 'running' && (state.status === 'crashed' || state.status === 'stopped') && !this.crash) {
      // Which case took server.js down: the one whose connection was the last to be upgraded
      // (its result may come before or after the runner hears of the exit), else the one under way.
      this.crash = { conn: this.lastUpgraded, index: this.results.length, message: state.message ?? `${state.file} ${state.status}` };
    }
    if (state.status !== 'running' || was === 'running') return;
    if (!this.rerunOnSave || this.run === 0 || this.status === 'running') return;
    // Another lesson opened (server.js restarted in another folder): not a save of the server the
    // ladder ran against; the learner runs the ladder on the new one when they want to.
    if (this.learner && this.learner.cwd !== this.cwdAtRun) return;
    this.start(this.spec, 'save');
  };

  /** Start a run of `spec` (the one before is stopped). Throws a RangeError with a sentence for a bad spec. */
  start(spec: string, trigger: ConformanceState['trigger']): void {
    const cases = selectCases(spec);
    if (cases.length === 0) throw new RangeError(`No case matches "${spec}": name groups and cases as the suite numbers them, e.g. 1-7, 5.*, 6.4.1.`);
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const run = ++this.run;
    this.spec = spec;
    this.cases = cases;
    this.results = [];
    this.conns.clear();
    this.status = 'running';
    this.error = undefined;
    this.crash = undefined;
    this.lastUpgraded = null;
    this.trigger = trigger;
    this.startedAt = Date.now();
    this.finishedAt = 0;
    this.cwdAtRun = this.learner?.cwd ?? null;
    const url = `ws://127.0.0.1:${this.tapPort()}`;
    runServerCases({
      url,
      cases: spec,
      signal: abort.signal,
      onResult: (r: CaseResult) => {
        if (run === this.run) this.results.push({ ...r });
      },
    }).then(
      () => {
        if (run !== this.run) return;
        this.status = 'done';
        this.finishedAt = Date.now();
      },
      (err: Error) => {
        if (run !== this.run) return;
        this.status = abort.signal.aborted ? 'stopped' : 'error';
        this.finishedAt = Date.now();
        if (!abort.signal.aborted) this.error = `The conformance run stopped: ${err.message}`;
      },
    );
  }

  private crashInfo(c: { conn: number | null; index: number; message: string }): NonNullable<ConformanceState['crash']> {
    const byConn = c.conn === null ? undefined : this.results.find((r) => r.localPort !== undefined && this.conns.get(r.localPort) === c.conn);
    return { caseId: byConn?.id ?? this.cases[c.index]?.id ?? null, message: c.message };
  }

  stop(): void {
    if (this.status !== 'running') return;
    this.abort?.abort();
    this.status = 'stopped';
    this.finishedAt = Date.now();
  }

  /** What the page shows; `since`: results a page already has (null: it has nothing, send it all). */
  state(since: number | null = null): ConformanceState {
    // A result whose connection the wiretap had not reported yet is sent again once it has.
    const unmapped = this.results.findIndex((r) => r.localPort !== undefined && !this.conns.has(r.localPort));
    const from = since === null ? 0 : Math.min(Math.max(0, since), this.results.length, unmapped < 0 ? Infinity : unmapped);
    return {
      run: this.run,
      spec: this.spec,
      status: this.status,
      trigger: this.trigger,
      rerunOnSave: this.rerunOnSave,
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
      ...(this.error ? { error: this.error } : {}),
      ...(this.crash ? { crash: this.crashInfo(this.crash) } : {}),
      cases: since === null ? this.cases.map(caseOf) : [],
      from,
      total: this.results.length,
      results: this.results.slice(from).map((r) => ({ ...r, conn: r.localPort !== undefined ? this.conns.get(r.localPort) : undefined })),
    };
  }

  close(): void {
    this.abort?.abort();
    this.unsubscribe();
    this.learner?.off('state', this.onRunner);
  }
}

function caseOf(c: CaseDef): ConformanceCase {
  return { id: c.id, group: c.group, title: c.title, description: c.description, expectation: c.expectation, rfc: c.rfc, hint: c.hint };
}

/**
 * The ladder's routes, behind the dashboard's token, Host and Origin guard like every /api route:
 * - GET /api/conformance?run=N&since=K: the run's state and the results from K on (the page polls
 *   while a run goes; a case is a few hundred bytes, a run a few hundred cases);
 * - POST /api/conformance {cases?, rerunOnSave?}: start a run (cases default 1-7);
 * - POST /api/conformance/stop; PUT /api/conformance {rerunOnSave}.
 */
export function mountConformanceRoutes(app: Express, ladder: ConformanceLadder): void {
  const parse = express.json({ limit: '4kb', type: 'application/json' });
  const json = (req: Request, res: Response, next: () => void) =>
    parse(req, res, (err?: unknown) => {
      if (err) res.status(400).json({ error: `400: the body is not valid JSON (${(err as Error).message})` });
      else next();
    });
  const body = (req: Request): Record<string, unknown> | null => {
    const b: unknown = req.body;
    return req.is('application/json') && typeof b === 'object' && b !== null && !Array.isArray(b) ? (b as Record<string, unknown>) : null;
  };

  app.get('/api/conformance', (req, res) => {
    const run = Number(req.query.run);
    const since = Number(req.query.since);
    const state = ladder.state();
    // The page's results belong to the run it names: only then does it get the new ones alone.
    res.setHeader('Cache-Control', 'no-store');
    res.json(Number.isSafeInteger(run) && run === state.run && Number.isSafeInteger(since) && since >= 0 ? ladder.state(since) : state);
  });

  app.post('/api/conformance', json, (req, res) => {
    const b = body(req);
    if (!b) {
      res.status(400).json({ error: '400: send the run as JSON (Content-Type: application/json), e.g. {"cases": "1-7"}.' });
      return;
    }
    const spec = b.cases === undefined || b.cases === null || b.cases === '' ? DEFAULT_CASES : b.cases;
    if (typeof spec !== 'string' || spec.length > MAX_SPEC) {
      res.status(400).json({ error: `400: "cases" is a list of groups and cases such as "1-7", "5.*" or "6.4.1", at most ${MAX_SPEC} characters.` });
      return;
    }
    if (typeof b.rerunOnSave === 'boolean') ladder.rerunOnSave = b.rerunOnSave;
    try {
      ladder.start(spec.trim(), 'button');
    } catch (err) {
      res.status(400).json({ error: `400: ${(err as Error).message}` });
      return;
    }
    res.status(202).json(ladder.state());
  });

  app.put('/api/conformance', json, (req, res) => {
    const b = body(req);
    if (!b || typeof b.rerunOnSave !== 'boolean') {
      res.status(400).json({ error: '400: send {"rerunOnSave": true} or {"rerunOnSave": false} as JSON.' });
      return;
    }
    ladder.rerunOnSave = b.rerunOnSave;
    res.json(ladder.state());
  });

  app.post('/api/conformance/stop', (_req, res) => {
    ladder.stop();
    res.json(ladder.state());
  });
}
