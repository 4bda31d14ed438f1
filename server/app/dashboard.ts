import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import createDebug from 'debug';
import type { CaptureStore } from '../capture/store.ts';
import { EventStream, type EventStreamOptions } from './event-stream.ts';
import type { LearnerServer } from '../runner/learner-server.ts';
import type { Workspace } from '../runner/workspace.ts';
import { checkRequest, ClientGrants, fromOwnPage, newToken } from './security.ts';
import { mountWorkspaceRoutes } from './workspace-routes.ts';
import { mountLessonRoutes, type LessonRoutesOptions } from './lesson-routes.ts';
import type { ActiveWorkspace } from './active-workspace.ts';
import { mountControlRoutes, type ControlTarget } from './control-routes.ts';
import { mountExportRoutes } from './export-routes.ts';
import { mountInterceptRoutes, type InterceptControl } from './intercept-routes.ts';
import { mountRecordingRoutes } from './recording-routes.ts';
import { ConformanceLadder, mountConformanceRoutes } from './conformance-routes.ts';
import type { TopologyInfo } from './stream-protocol.ts';

const log = createDebug('wsplay:dashboard');

/** The APIs of `wsplay start` (the learner's files, server and lessons) that `wsplay tap` lacks. */
const PLAYGROUND_ONLY = /^\/(files|server|types|lessons|progress)(\/|$)/;

export const UI_DIST = fileURLToPath(new URL('../../ui/dist/', import.meta.url));

export interface DashboardOptions {
  /** 0 picks a free port. */
  port: number;
  store: CaptureStore;
  topology: () => TopologyInfo;
  connections: () => number;
  /** A fixed token (tests); a random one per start otherwise. */
  token?: string;
  /** Folder of the built UI; defaults to ui/dist. */
  uiDir?: string;
  /**
   * The learner's files and server process (wsplay start); absent for wsplay tap. A getter when
   * the files in use change (a lesson opened: `lessons`).
   */
  workspace?: Workspace | (() => Workspace);
  /** The lessons (/api/lessons, /api/progress): which workspace is in use, progress, checks. */
  lessons?: ActiveWorkspace;
  lessonRoutes?: LessonRoutesOptions;
  learner?: LearnerServer | null;
  /** The wiretap's clock (Wiretap.now). */
  now?: () => number;
  /** Messages each page gets right after the history. */
  extraHistory?: () => import('./stream-protocol.ts').StreamMessage[];
  /** The event stream's batching and back-pressure bounds (tests use small ones). */
  stream?: Pick<EventStreamOptions, 'flushMs' | 'highWaterBytes' | 'maxQueue' | 'cacheBytes'>;
  /** Faults and frame injection (/api/faults, /api/inject): the wiretap. */
  control?: ControlTarget;
  /** The proxy and its intercepted browsers (/api/intercept): server/tap/interception.ts. */
  intercept?: InterceptControl;
}

export interface Dashboard {
  port: number;
  token: string;
  /** The start-up URL with the token: the only way in. */
  url: string;
  stream: EventStream;
  close(): Promise<void>;
}

/** GET /api/events: events per page by default and at most, and the JSON a page stops near. */
export const EVENTS_PAGE_DEFAULT = 1000;
export const EVENTS_PAGE_MAX = 10_000;
export const EVENTS_PAGE_BYTES = 4 * 1024 * 1024;

/** A query parameter as a whole number in [0, max]; `fallback` when absent, null when not one. */
function pageNumber(value: unknown, fallback: number, max: number): number | null {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return null;
  const n = Number(value);
  return n <= max ? n : null;
}

/**
 * The dashboard's HTTP server on 127.0.0.1: the built UI, the API under /api and the event
 * stream at /api/events. Every request passes the Host check; the API and the stream also need
 * the token and a same-origin Origin (server/app/security.ts).
 */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const token = opts.token ?? newToken();
  const uiDir = opts.uiDir ?? UI_DIST;
  const stream = new EventStream({ ...opts.stream, store: opts.store, topology: opts.topology, connections: opts.connections, extraHistory: opts.extraHistory, now: opts.now });
  const app = express();
  app.disable('x-powered-by');
  let port = 0;

  app.use((req, res, next) => {
    // The token travels in the URL of the first load: never let it leak through Referer.
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader(
      'Content-Security-Policy',
      [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        // No ws://[::1]:PORT here: Chromium rejects IPv6 literals in CSP source lists (and the
        // dashboard listens on 127.0.0.1 only); 'self' covers the page's own ws:// origin anyway.
        // The client runtime Worker runs the learner's client.js under the CSP of its own script's
        // response: it may open WebSockets, and make HTTP requests (fetch: lesson 1's polling), to
        // any port on this machine (the wiretap, or elsewhere); nowhere else. The page itself
        // keeps 'self' only, and the dashboard's API still needs its token, Host and Origin.
        `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}${/^\/assets\/client-runtime-[\w-]+\.js$/.test(req.path) ? ' ws://localhost:* ws://127.0.0.1:* wss://localhost:* wss://127.0.0.1:* http://localhost:* http://127.0.0.1:*' : ''}`,
        "frame-ancestors 'none'",
      ].join('; '),
    );
    const host = (req.headers.host ?? '').toLowerCase();
    if (!['localhost', '127.0.0.1', '[::1]'].some((h) => host === `${h}:${port}`)) {
      res.status(403).type('text/plain').send(`403: Host "${host}" is not this dashboard.`);
      return;
    }
    next();
  });

  app.use('/api', (req, res, next) => {
    const verdict = checkRequest(req, port, token, false);
    if (!verdict.ok) {
      log('refused %s %s: %s', req.method, req.path, verdict.reason);
      res.status(403).json({ error: `403: ${verdict.reason}` });
      return;
    }
    next();
  });

  if (opts.workspace) {
    // The Worker that runs the learner's client fetches /workspace/client.js without headers:
    // it carries a single-use grant the page asked for just before (a cookie for that one path),
    // never the session token, which a cookie would hand to every port of 127.0.0.1.
    const grants = new ClientGrants();
    app.post('/api/client-grant', (req, res) => {
      const own = fromOwnPage(req, port);
      if (!own.ok) {
        res.status(403).json({ error: `403: ${own.reason}` });
        return;
      }
      res.setHeader('Set-Cookie', grants.cookie(grants.issue()));
      res.setHeader('Cache-Control', 'no-store');
      res.json({ expiresInSeconds: grants.ttlMs / 1000 });
    });
    mountWorkspaceRoutes(app, opts.workspace, opts.learner ?? null, (req, res, name) => {
      // Whatever it carries, a request from a page on another port or site is refused: a
      // <script src> there would run the learner's code, and a cookie would go along.
      const own = fromOwnPage(req, port);
      if (!own.ok) return own;
      if (checkRequest(req, port, token, false).ok) return { ok: true };
      if (name === 'client.js' && grants.take(req)) {
        res.setHeader('Set-Cookie', ClientGrants.spent());
        return { ok: true };
      }
      return { ok: false, reason: 'no session token and no unspent client grant (the dashboard asks for one on Run)' };
    });
  }

  app.get(['/', '/index.html'], (req, res, next) => {
    // Earlier versions set the session token as a cookie (wsplay_token, Path=/workspace), which
    // the browser would keep sending to every port of 127.0.0.1 until it closes: delete it.
    if (/(?:^|;\s*)wsplay_token=/.test(req.headers.cookie ?? '')) res.setHeader('Set-Cookie', 'wsplay_token=; HttpOnly; SameSite=Strict; Path=/workspace; Max-Age=0');
    next();
  });

  if (opts.control) mountControlRoutes(app, opts.control);
  if (opts.intercept) mountInterceptRoutes(app, opts.intercept, () => port);
  if (opts.lessons) mountLessonRoutes(app, opts.lessons, opts.lessonRoutes);

  app.get('/api/info', (_req, res) => {
    const s = opts.store;
    res.json({ topology: opts.topology(), size: s.size, dropped: s.dropped, counts: s.counts, connections: opts.connections() });
  });

  app.get('/api/events', (req, res) => {
    // The same events as the stream, for scripts and exports, one JSON object a line, a page at a
    // time: ?since=SEQ&limit=N. The store holds up to 128 MiB: one answer with all of it made a
    // string that size in one go, on every request. A page stops at `limit` events or at about
    // EVENTS_PAGE_BYTES of JSON (one event always goes, whatever its size); X-Wsplay-Next-Since
    // is where the next page starts, and X-Wsplay-More says whether there is one yet.
    const since = pageNumber(req.query.since, 0, Number.MAX_SAFE_INTEGER);
    const limit = pageNumber(req.query.limit, EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX);
    if (since === null || limit === null || limit < 1) {
      res.status(400).json({ error: `GET /api/events: since must be a whole number >= 0 and limit one from 1 to ${EVENTS_PAGE_MAX} (default ${EVENTS_PAGE_DEFAULT}); e.g. /api/events?since=0&limit=${EVENTS_PAGE_DEFAULT}` });
      return;
    }
    const store = opts.store;
    const end = store.nextSeq;
    let seq = Math.min(Math.max(since, store.firstSeq), end);
    const lines: string[] = [];
    let bytes = 0;
    // Slices of the ring, so the events not sent are never made into objects.
    page: while (seq < end && lines.length < limit) {
      const slice = store.range(seq, Math.min(end, seq + Math.min(256, limit - lines.length)));
      if (slice.length === 0) break;
      for (const e of slice) {
        const line = JSON.stringify(e);
        const size = Buffer.byteLength(line) + 1;
        if (lines.length > 0 && bytes + size > EVENTS_PAGE_BYTES) break page;
        lines.push(line);
        bytes += size;
        seq++;
      }
    }
    res.setHeader('X-Wsplay-Next-Since', String(seq));
    res.setHeader('X-Wsplay-More', seq < store.nextSeq ? 'yes' : 'no');
    res.setHeader('Link', `</api/events?since=${seq}&limit=${limit}>; rel="next"`);
    res.type('application/x-ndjson').send(lines.length > 0 ? lines.join('\n') + '\n' : '');
  });

  mountExportRoutes(app, opts.store, opts.now, () => opts.topology().tap.port);
  mountRecordingRoutes(app, opts.store, opts.topology);
  // The conformance ladder runs its cases through the wiretap (the Conformance view).
  const ladder = new ConformanceLadder(opts.store, () => opts.topology().tap.port, opts.learner ?? null);
  mountConformanceRoutes(app, ladder);

  // Every answer under /api is JSON, a missing one too: the page shows `error` as a sentence, and
  // an HTML "Cannot GET" page in its place told a learner nothing. wsplay tap has no workspace,
  // server.js or lessons: their routes say that they need the playground (`npm start`).
  app.use('/api', (req, res) => {
    const what = `${req.method} /api${req.path}`;
    if (!opts.workspace && PLAYGROUND_ONLY.test(req.path)) {
      res.status(404).json({ error: `${what}: wsplay tap runs the wiretap only; the workspace (client.js, server.js) and the lessons need the playground: npm start`, needs: 'npm start' });
      return;
    }
    res.status(404).json({ error: `${what}: no such API in this dashboard` });
  });
  if (!opts.workspace) {
    app.use('/workspace', (req, res) => {
      res.status(404).json({ error: `/workspace${req.path}: wsplay tap has no workspace; client.js runs in the playground: npm start`, needs: 'npm start' });
    });
  }
  // A request the API could not take (a body that is not JSON, one too large) is JSON too.
  app.use('/api', (err: Error & { status?: number; statusCode?: number }, req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(err);
    const status = err.status ?? err.statusCode ?? 500;
    if (status >= 500) log('error in %s %s: %s', req.method, req.path, err.stack ?? err.message);
    res.status(status).json({ error: status >= 500 ? `${req.method} /api${req.path} failed: ${err.message}` : `${req.method} /api${req.path}: ${err.message}` });
  });

  if (existsSync(uiDir)) {
    app.use(express.static(uiDir, { index: 'index.html', maxAge: 0 }));
  } else {
    app.get('/', (_req, res) => {
      res.status(503).type('text/plain').send('The dashboard is not built yet: run `npm run build:ui` (npm start does it for you).');
    });
  }

  const server = http.createServer(app);
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const verdict = path === '/api/events' ? checkRequest(req, port, token, true) : { ok: false, reason: `no WebSocket at ${path}` };
    if (!verdict.ok) {
      log('refused WebSocket upgrade %s: %s', path, verdict.reason);
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n403: ${verdict.reason}\r\n`);
      return;
    }
    stream.handleUpgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}`,
    stream,
    close: () =>
      new Promise<void>((resolve) => {
        stream.close();
        ladder.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
