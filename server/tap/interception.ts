/**
 * The proxy and its intercepted browsers, for `wsplay proxy`, `wsplay browser` and the
 * dashboard's "Open an intercepted browser" button. Under `wsplay start` and `wsplay tap` the
 * proxy is started on first use (on a free port), feeding the same wiretap, so a browser's
 * connections show next to the learner's.
 */
import { loadOrCreateCa, type LocalCa } from './local-ca.ts';
import { launchInterceptedChromium, NoChromiumError, type LaunchedBrowser } from './intercepted-browser.ts';
import { InterceptingProxy } from './proxy.ts';
import type { Wiretap } from './wiretap.ts';

export interface InterceptionOptions {
  tap: Wiretap;
  /** 0: a free port. */
  port?: number;
  /** Where the local CA lives (default ~/.wsplay/ca). */
  caDir?: string;
  /** --ca: a private CA trusted upstream. */
  upstreamCa?: string;
  loopbackOnly?: boolean;
  /** A line worth printing (a browser refusing the CA's certificate). */
  print?: (line: string) => void;
}

/** What the dashboard shows of the proxy (GET /api/intercept). */
export interface InterceptState {
  /** The proxy's URL once it runs, null before the first use. */
  proxy: string | null;
  /** The CA certificate's path, once made or loaded. */
  caPath: string | null;
  /** Intercepted browsers started and still running. */
  browsers: number;
}

export type BrowserOutcome =
  | { ok: true; pid: number; proxy: string; caPath: string; started: boolean }
  | { ok: false; proxy: string; caPath: string; message: string };

/** Intercepted browsers running at once, at most: a page that clicks in a loop starts no more. */
export const MAX_BROWSERS = 4;

export class Interception {
  private proxyServer: InterceptingProxy | null = null;
  private starting: Promise<InterceptingProxy> | null = null;
  private readonly browsers = new Set<LaunchedBrowser>();
  private lastTlsLine = 0;

  constructor(private readonly opts: InterceptionOptions) {}

  get proxy(): InterceptingProxy | null {
    return this.proxyServer;
  }

  state(): InterceptState {
    return { proxy: this.proxyServer?.url ?? null, caPath: this.proxyServer?.ca.certPath ?? null, browsers: this.browsers.size };
  }

  /** The proxy, started (and the CA made) on first call. Rejects with the listen error (EADDRINUSE ...). */
  start(): Promise<InterceptingProxy> {
    this.starting ??= (async () => {
      const ca: LocalCa = await loadOrCreateCa(this.opts.caDir);
      const proxy = new InterceptingProxy({
        port: this.opts.port ?? 0,
        tap: this.opts.tap,
        ca,
        upstreamCa: this.opts.upstreamCa,
        loopbackOnly: this.opts.loopbackOnly,
        onBrowserTlsError: (host, err) => {
          // One line at most every 5 s: a browser retrying must not flood the terminal.
          if (Date.now() - this.lastTlsLine < 5000) return;
          this.lastTlsLine = Date.now();
          this.opts.print?.(
            `A browser refused wsplay's certificate for ${host} (${err.message.split('\n')[0]}): it does not trust the local CA. Use the browser wsplay starts (wsplay browser, or the dashboard's button), or trust ${ca.certPath} in that browser.`,
          );
        },
      });
      try {
        await proxy.listen();
      } catch (err) {
        this.starting = null;
        throw err;
      }
      this.proxyServer = proxy;
      return proxy;
    })();
    return this.starting;
  }

  /** Start the proxy if needed, then a Chromium through it (at `url`, or a blank page). */
  async openBrowser(url?: string): Promise<BrowserOutcome> {
    const proxy = await this.start();
    const where = { proxy: proxy.url, caPath: proxy.ca.certPath };
    if (this.browsers.size >= MAX_BROWSERS) {
      return { ok: false, ...where, message: `${MAX_BROWSERS} intercepted browsers are open already: use one of them (or close one) before starting another.` };
    }
    try {
      const launched = launchInterceptedChromium({ proxyPort: proxy.port, spki: proxy.ca.spki, url, proxyUrl: proxy.url, caPath: proxy.ca.certPath });
      this.browsers.add(launched);
      void launched.exited.then(() => this.browsers.delete(launched));
      return { ok: true, pid: launched.pid, started: true, ...where };
    } catch (err) {
      if (err instanceof NoChromiumError) return { ok: false, ...where, message: err.message };
      throw err;
    }
  }

  /** Stop the proxy and the browsers this process started (their temporary profiles go too). */
  async close(): Promise<void> {
    const exits = [...this.browsers].map((b) => {
      b.child.kill('SIGTERM');
      return b.exited;
    });
    await Promise.all([this.proxyServer?.close(), ...exits]);
  }
}
