/**
 * A whole playground in the test process, as `wsplay start` runs it (server/cli.ts): the
 * tutorial's echo server in a child process, the wiretap in front of it feeding a CaptureStore,
 * and the dashboard serving ui/dist with the event stream. Every port is picked by the system.
 */
import { fileURLToPath } from 'node:url';
import type { WireEvent } from '../../server/capture/events.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { startDashboard, type Dashboard, type DashboardOptions } from '../../server/app/dashboard.ts';
import { buildUi, uiNeedsBuild } from '../../server/app/ui-build.ts';
import { ServerProcess } from '../../server/runner/server-process.ts';
import { Wiretap } from '../../server/tap/wiretap.ts';
import { Cleanup, HOST, until, type EventOf } from './net.ts';

const ECHO_SERVER = fileURLToPath(new URL('../../server/runner/echo-server.ts', import.meta.url));

let building: Promise<void> | null = null;

/**
 * Build the dashboard into ui/dist when it is missing or older than its sources (vite, a few
 * seconds): once per test file, in beforeAll with a generous timeout.
 */
export function ensureUiBuilt(): Promise<void> {
  building ??= uiNeedsBuild() ? buildUi(true) : Promise.resolve();
  return building;
}

export interface PlaygroundOptions {
  /** Build the UI first if needed (default true). Tests of the API alone skip it. */
  ui?: boolean;
  /** The event stream's bounds (small ones to see back-pressure quickly). */
  stream?: DashboardOptions['stream'];
}

export interface Playground {
  /** Where clients connect: ws://127.0.0.1:tapPort (or ws://localhost:tapPort). */
  tapPort: number;
  serverPort: number;
  dashboardPort: number;
  /** The start-up URL with the token, as `npm start` prints it. */
  dashboardUrl: string;
  token: string;
  store: CaptureStore;
  tap: Wiretap;
  dashboard: Dashboard;
  server: ServerProcess;
  /** What the echo server printed (for failure messages). */
  serverOutput: string[];
  /** Wait for the first captured event of `type` that matches; fails after `timeoutMs`. */
  waitFor<T extends WireEvent['type']>(type: T, match?: (e: EventOf<T>) => boolean, timeoutMs?: number): Promise<EventOf<T>>;
  close(): Promise<void>;
}

export async function startPlayground(opts: PlaygroundOptions = {}): Promise<Playground> {
  if (opts.ui !== false) await ensureUiBuilt();
  const cleanup = new Cleanup();
  try {
    const serverOutput: string[] = [];
    const server = new ServerProcess({ script: ECHO_SERVER, port: 0, onOutput: (line) => serverOutput.push(line) });
    cleanup.add(() => server.stop());
    const serverPort = await server.start();

    const store = new CaptureStore();
    const tap = new Wiretap({ port: 0, target: { host: HOST, port: serverPort }, onEvents: (events) => store.add(events) });
    cleanup.add(() => tap.close());
    const tapPort = await tap.listen();

    const dashboard = await startDashboard({
      port: 0,
      store,
      connections: () => tap.connections,
      topology: () => ({ tap: { host: tap.host, port: tap.port }, target: tap.target, targetLabel: "the tutorial's echo server" }),
      // The command channel (faults, frame crafter), as wsplay start has it.
      control: tap,
      now: () => tap.now(),
      stream: opts.stream,
    });
    cleanup.add(() => dashboard.close());

    const select = <T extends WireEvent['type']>(type: T, match?: (e: EventOf<T>) => boolean) =>
      store.all().find((e): e is EventOf<T> => e.type === type && (!match || match(e as EventOf<T>)));
    return {
      tapPort,
      serverPort,
      dashboardPort: dashboard.port,
      dashboardUrl: dashboard.url,
      token: dashboard.token,
      store,
      tap,
      dashboard,
      server,
      serverOutput,
      waitFor: (type, match, timeoutMs = 5000) =>
        until(
          () => select(type, match),
          timeoutMs,
          () => `a captured ${type} event; the store holds ${store.size}: ${store.all().slice(-12).map((e) => `${e.conn}:${e.type}`).join(' ')}`,
        ),
      close: () => cleanup.run(),
    };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}
