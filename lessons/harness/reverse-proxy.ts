/**
 * Starts lesson 13's reverse proxy (reverse-proxy.mjs) in a child process: the learner's
 * proxy.js is code like their server.js, so it runs apart from the check and the playground.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { until } from './wait.ts';

const SCRIPT = fileURLToPath(new URL('./reverse-proxy.mjs', import.meta.url));

export interface ReverseProxyOptions {
  /** The learner's proxy.js (absolute path); none: a proxy that forwards no hop-by-hop header. */
  config?: string;
  /** Where requests go, on 127.0.0.1 (the wiretap, in front of server.js). */
  target: number;
  port?: number;
  host?: string;
  /** Cut a WebSocket tunnel after this long with no byte either way. */
  idleMs: number;
  /** Answer every upgrade request itself with this status (a proxy that does not speak WebSocket). */
  answer?: 400 | 426;
  /** Drop Upgrade and Connection whatever proxy.js says. */
  stripUpgrade?: boolean;
  /** Terminate TLS (wss://) with this certificate and key (PEM). */
  tls?: { cert: string; key: string; sni?: Record<string, { cert: string; key: string }> };
}

export type ProxyReport =
  | { type: 'listening'; port: number }
  | { type: 'upgrade'; client: string; upstream: number; status: number }
  | { type: 'cut'; client: string; upstream: number; idleMs: number }
  | { type: 'config-error'; message: string }
  | { type: 'tls'; client: string; fromClient: TlsSide; fromProxy: TlsSide }
  | { type: 'error'; message: string };

/** One direction of a wss:// connection as the TCP wire carried it. */
export interface TlsSide {
  bytes: number;
  /** TLS records by content type: handshake, changeCipherSpec, applicationData, alert. */
  records: Record<string, number>;
  /** The first record's header, in hex ("16 03 01 02 00": a handshake record). */
  first: string | null;
  /** Whether 'GET ', 'Upgrade' or 'websocket' appeared in the clear. */
  plaintext: boolean;
  /** Whether the bytes were TLS records throughout. */
  tls: boolean;
}

export class ReverseProxy {
  readonly reports: ProxyReport[] = [];
  port = 0;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private listeners: ((r: ProxyReport) => void)[] = [];

  constructor(readonly opts: ReverseProxyOptions) {
    this.child = fork(SCRIPT, [], {
      env: { ...process.env, WSPLAY_PROXY: JSON.stringify(opts), NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
    });
    // What proxy.js prints (console.log in it) is the learner's; nothing else reads it here.
    this.child.stdout?.resume();
    this.child.stderr?.resume();
    this.child.on('message', (msg: ProxyReport) => {
      // Bounded: a proxy.js that makes every request fail must not grow this without end.
      if (this.reports.length < 10_000) this.reports.push(msg);
      if (msg.type === 'listening') this.port = msg.port;
      for (const l of this.listeners) l(msg);
    });
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  on(listener: (r: ProxyReport) => void): void {
    this.listeners.push(listener);
  }

  /** Resolves with the port once it listens, or undefined if it did not within `timeoutMs`. */
  async listening(timeoutMs = 20_000): Promise<number | undefined> {
    return until(() => (this.port ? this.port : this.child.exitCode !== null ? 0 : undefined), timeoutMs).then((p) => p || undefined);
  }

  /** The problems proxy.js caused, in words (empty when none). */
  configErrors(): string[] {
    return [...new Set(this.reports.filter((r): r is Extract<ProxyReport, { type: 'config-error' }> => r.type === 'config-error').map((r) => r.message))];
  }

  cuts(): Extract<ProxyReport, { type: 'cut' }>[] {
    return this.reports.filter((r): r is Extract<ProxyReport, { type: 'cut' }> => r.type === 'cut');
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
