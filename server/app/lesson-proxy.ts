/**
 * The reverse proxy a lesson runs in front of the learner's server (lesson 13: its lesson.json
 * says `"proxy": { "port": 9980, "idleMs": 2000 }`), in the playground: started when that lesson
 * opens, restarted when the learner saves proxy.js (its configuration), stopped when another
 * lesson opens. It forwards to the wiretap, so the inspector shows what reaches server.js.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LessonInfo } from '../../lessons/harness/format.ts';
import { ReverseProxy, type ProxyReport } from '../../lessons/harness/reverse-proxy.ts';
import type { Workspace } from '../runner/workspace.ts';
import { loadOrCreateCa, type LocalCa } from '../tap/local-ca.ts';
import type { FileInfo } from './stream-protocol.ts';

export interface LessonProxySettings {
  /** The site's public port, as the lesson's client.js writes it. */
  port: number;
  /** The same proxy over TLS (wss://), with a certificate from wsplay's local CA; absent: none. */
  tlsPort?: number;
  /** The proxy's idle timeout. */
  idleMs: number;
}

/** The lesson's proxy settings (lesson.json's `proxy`), or null when it runs none. */
export function proxySettingsOf(lesson: LessonInfo | null): LessonProxySettings | null {
  if (!lesson) return null;
  try {
    const raw = JSON.parse(readFileSync(join(lesson.dir, 'lesson.json'), 'utf8')) as { proxy?: Partial<LessonProxySettings> };
    const p = raw.proxy;
    if (!p || !Number.isInteger(p.port) || !Number.isInteger(p.idleMs)) return null;
    return { port: p.port!, idleMs: p.idleMs!, ...(Number.isInteger(p.tlsPort) ? { tlsPort: p.tlsPort! } : {}) };
  } catch {
    return null;
  }
}

export interface LessonProxyHooks {
  /** The wiretap's port (the proxy's target). */
  tapPort: () => number;
  /** A line for the dashboard's console and the terminal. */
  info: (text: string) => void;
  /** The proxy started, moved or stopped: pages map the public port anew. */
  changed: () => void;
}

export class LessonProxy {
  private proxy: ReverseProxy | null = null;
  private tlsProxy: ReverseProxy | null = null;
  private ca: Promise<LocalCa> | null = null;
  private settings: LessonProxySettings | null = null;
  private ws: Workspace | null = null;
  /** Starts and stops happen one after the other (a save during a start waits for it). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly hooks: LessonProxyHooks,
    /** Where the proxy listens: the lesson's port, or (tests) 0 for any free one. */
    private readonly portOverride?: number,
    /** The local CA's folder (default ~/.wsplay/ca, shared with `wsplay proxy`). */
    private readonly caDir?: string,
  ) {}

  /** The running proxy's ports, for the topology: `publicPort` is what client.js writes. */
  get ports(): { port: number; publicPort: number; idleMs: number; tls?: { port: number; publicPort: number } } | null {
    const s = this.settings;
    if (!this.proxy?.port || !s) return null;
    const tls = this.tlsProxy?.port && s.tlsPort ? { tls: { port: this.tlsProxy.port, publicPort: s.tlsPort } } : {};
    return { port: this.proxy.port, publicPort: s.port, idleMs: s.idleMs, ...tls };
  }

  /** A lesson opened (or the free playground: null): run its proxy, or none. */
  switchTo(lesson: LessonInfo | null, ws: Workspace): Promise<void> {
    this.ws?.off('saved', this.onSaved);
    this.ws?.off('change', this.onSaved);
    this.settings = proxySettingsOf(lesson);
    this.ws = this.settings ? ws : null;
    this.ws?.on('saved', this.onSaved);
    this.ws?.on('change', this.onSaved);
    return this.restart();
  }

  private readonly onSaved = (info: FileInfo): void => {
    if (info.name === 'proxy.js') void this.restart('proxy.js saved: the proxy restarts with it.');
  };

  private restart(why?: string): Promise<void> {
    const next = this.queue.then(() => this.run(why));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async run(why?: string): Promise<void> {
    const had = this.proxy !== null;
    await Promise.all([this.proxy?.close(), this.tlsProxy?.close()]);
    this.proxy = null;
    this.tlsProxy = null;
    const s = this.settings;
    const ws = this.ws;
    if (!s || !ws) {
      if (had) this.hooks.changed();
      return;
    }
    const config = join(ws.root, 'proxy.js');
    const start = async (port: number, tls?: { cert: string; key: string; sni: Record<string, { cert: string; key: string }> }) => {
      const p = new ReverseProxy({ config: existsSync(config) ? config : undefined, target: this.hooks.tapPort(), idleMs: s.idleMs, port, ...(tls ? { tls } : {}) });
      const listening = await p.listening();
      if (listening) return p;
      await p.close();
      return null;
    };
    const wanted = this.portOverride ?? s.port;
    let proxy = await start(wanted);
    // A taken port moves, as the playground's other ports do: the dashboard's Run maps it.
    if (!proxy && wanted !== 0) {
      proxy = await start(0);
      if (proxy) this.hooks.info(`Port ${wanted} is taken: the lesson's reverse proxy listens on ${proxy.port} instead (the dashboard's Run maps ws://localhost:${s.port} there; other programs must use ${proxy.port}).`);
    }
    if (!proxy) {
      this.hooks.info(`The lesson's reverse proxy could not start: nothing listens on ws://localhost:${s.port}. Reopen the lesson to try again.`);
      return;
    }
    this.proxy = proxy;
    proxy.on((r) => this.report(r, s));
    if (why) this.hooks.info(why);
    this.hooks.info(`Reverse proxy (proxy.js) on ws://localhost:${proxy.port} → the wiretap → server.js; it cuts a WebSocket idle for ${s.idleMs / 1000} s.`);
    // Pages map the public port from now on; the TLS one follows when its certificate is made.
    this.hooks.changed();
    if (s.tlsPort !== undefined) {
      await this.startTls(s, start);
      this.hooks.changed();
    }
  }

  /** The same proxy behind TLS (wss://), with a certificate for localhost from the local CA. */
  private async startTls(s: LessonProxySettings, start: (port: number, tls: { cert: string; key: string; sni: Record<string, { cert: string; key: string }> }) => Promise<ReverseProxy | null>): Promise<void> {
    let ca: LocalCa;
    try {
      ca = await (this.ca ??= loadOrCreateCa(this.caDir));
    } catch (err) {
      this.ca = null;
      this.hooks.info(`The lesson's wss:// proxy is off: ${(err as Error).message}`);
      return;
    }
    // Clients that connect by name send it (SNI): localhost; by address, none: 127.0.0.1's.
    const tls = { ...ca.issue('127.0.0.1'), sni: { localhost: ca.issue('localhost') } };
    const wanted = this.portOverride ?? s.tlsPort!;
    const p = (await start(wanted, tls)) ?? (wanted !== 0 ? await start(0, tls) : null);
    if (!p) {
      this.hooks.info(`The lesson's wss:// proxy could not start: nothing listens on wss://localhost:${s.tlsPort}.`);
      return;
    }
    this.tlsProxy = p;
    p.on((r) => this.report(r, s));
    this.hooks.info(
      `The same proxy over TLS on wss://localhost:${p.port}, with a certificate from wsplay's local CA (${ca.certPath}), which browsers do not trust: open https://localhost:${p.port}/ once and accept the warning.`,
    );
  }

  /** What the proxy did that the learner cannot see on the wire behind it. */
  private report(r: ProxyReport, s: LessonProxySettings): void {
    if (r.type === 'cut') this.hooks.info(`The reverse proxy cut a WebSocket (from ${r.client}) after ${(r.idleMs / 1000).toFixed(1)} s with no byte either way (its idle timeout: ${s.idleMs / 1000} s). No close frame: the page's onclose gets 1006.`);
    else if (r.type === 'config-error') this.hooks.info(`The reverse proxy answered 502: ${r.message}`);
    else if (r.type === 'tls' && r.fromClient.tls) {
      const records = (side: typeof r.fromClient) =>
        Object.entries(side.records)
          .map(([type, n]) => `${n} ${type}`)
          .join(', ');
      this.hooks.info(
        `A wss:// connection (from ${r.client}) ended. On its TCP wire: ${r.fromClient.bytes.toLocaleString('en-US')} bytes from the browser in TLS records (${records(r.fromClient)}; the first header: ${r.fromClient.first}), ${r.fromProxy.bytes.toLocaleString('en-US')} bytes back (${records(r.fromProxy)}); ${r.fromClient.plaintext || r.fromProxy.plaintext ? 'some plaintext showed' : "no 'GET', no 'Upgrade', no frame in the clear"}. Inside them: the handshake and frames the wiretap shows, as over ws://.`,
      );
    }
  }

  async close(): Promise<void> {
    this.settings = null;
    await this.restart();
  }
}
