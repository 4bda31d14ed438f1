/**
 * Chromium driven over the DevTools Protocol with only the domains the dashboard bench needs
 * (Target, Emulation, Runtime, Input, Tracing, IO): no Network domain.
 *
 * Why not Playwright here: Playwright enables the Network domain on every page to report its
 * WebSockets, so Chromium sends it every WebSocket frame the page receives, payload and all. The
 * dashboard's stream is ~2.5 MB a second of JSON at 10,000 frames a second: serializing that for
 * the DevTools client cost Chromium's browser process ~30 % of a core and the bench process
 * ~13 % more, on the 2 cores the page shares. A learner's browser pays none of it (unless its
 * DevTools are open on the dashboard), so the bench must not either.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cdp } from '../helpers/cdp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BareChromium {
  private constructor(
    readonly process: ChildProcess,
    private readonly cdp: Cdp,
    private readonly profile: string,
    /** In a session (and process group) of its own, not the bench's (BENCH_CHROMIUM_SESSION). */
    readonly ownSession: boolean,
  ) {}

  static async launch(executable: string, args: string[]): Promise<BareChromium> {
    const profile = mkdtempSync(join(tmpdir(), 'wsplay-bench-chromium-'));
    // BENCH_CHROMIUM_FLAGS="--js-flags=--trace-opt" adds flags; BENCH_CHROMIUM_LOG=FILE keeps what Chromium prints.
    const extra = process.env.BENCH_CHROMIUM_FLAGS?.split(' ').filter(Boolean) ?? [];
    const log = process.env.BENCH_CHROMIUM_LOG ? openSync(process.env.BENCH_CHROMIUM_LOG, 'w') : 'ignore';
    // In a session of its own, as a learner's browser runs: started from the desktop, or by
    // wsplay's own open-browser (detached). The learner's server.js has its own too
    // (learner-server.ts), wsplay the terminal's. Where the kernel groups processes by session
    // for the CPU (Linux's autogroup), the browser then gets its group's share, as on a
    // learner's machine, not a share among the bench's and wsplay's processes.
    // BENCH_CHROMIUM_SESSION=shared: in the bench's session (issue 19's numbers before session 9).
    const ownSession = process.env.BENCH_CHROMIUM_SESSION !== 'shared';
    const child = spawn(executable, [...args, ...extra, '--headless=new', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'], {
      stdio: ['ignore', log, 'pipe'],
      detached: ownSession,
    });
    let tail = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Chromium printed no DevTools address in 30 s: ${tail}`)), 30_000);
      // Read stderr to its end (a pipe left unread would stall Chromium), keeping only a tail.
      child.stderr!.on('data', (b: Buffer) => {
        tail = (tail + b.toString()).slice(-2000);
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(tail);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Chromium exited (${code}) before its DevTools address: ${tail}`));
      });
    });
    return new BareChromium(child, await Cdp.connect(url), profile, ownSession);
  }

  async newPage(width: number, height: number): Promise<BarePage> {
    const { targetId } = await this.cdp.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    await this.cdp.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId);
    // A headless page is not focused: without this, key presses reach no handler.
    await this.cdp.send('Emulation.setFocusEmulationEnabled', { enabled: true }, sessionId);
    return new BarePage(this.cdp, sessionId, targetId);
  }

  /** The whole browser's trace (every process), as Playwright's `startTracing` records it. */
  async startTracing(categories: string[]): Promise<void> {
    await this.cdp.send('Tracing.start', { categories: categories.join(','), transferMode: 'ReturnAsStream' });
  }

  async stopTracing(): Promise<string> {
    const complete = this.cdp.take('Tracing.tracingComplete', { timeoutMs: 120_000 });
    await this.cdp.send('Tracing.end');
    const handle = (await complete).params.stream as string;
    const parts: string[] = [];
    for (;;) {
      const r = await this.cdp.send<{ data: string; eof: boolean; base64Encoded?: boolean }>('IO.read', { handle, size: 1 << 20 });
      parts.push(r.base64Encoded ? Buffer.from(r.data, 'base64').toString() : r.data);
      if (r.eof) break;
    }
    await this.cdp.send('IO.close', { handle });
    return parts.join('');
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.process.once('exit', r));
    await this.cdp.send('Browser.close').catch(() => undefined);
    await Promise.race([exited, sleep(5000)]);
    if (this.process.exitCode === null) this.process.kill('SIGKILL');
    // Its own process group when detached: whatever of it is left goes too.
    if (this.ownSession && this.process.pid !== undefined) {
      try {
        process.kill(-this.process.pid, 'SIGKILL');
      } catch {
        // None left (or not a group of its own).
      }
    }
    await this.cdp.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

export class BarePage {
  constructor(
    private readonly cdp: Cdp,
    private readonly session: string,
    private readonly target: string,
  ) {}

  /** Navigate and wait for the load event's end (document.readyState 'complete'). */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    const r = await this.cdp.send<{ errorText?: string }>('Page.navigate', { url }, this.session);
    if (r.errorText) throw new Error(`${url}: ${r.errorText}`);
    await this.waitFor('document.readyState === "complete"', `${url} to load`, timeoutMs);
  }

  /** `fn` called in the page with `arg` (JSON), its (awaited) value returned as JSON. */
  async evaluate<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T> {
    return this.expression<T>(`(${fn.toString()})(${arg === undefined ? '' : JSON.stringify(arg)})`);
  }

  async expression<T>(expression: string): Promise<T> {
    const r = await this.cdp.send<{ result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } }>(
      'Runtime.evaluate',
      { expression, awaitPromise: true, returnByValue: true },
      this.session,
    );
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  async waitFor(condition: string, what: string, timeoutMs = 30_000): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (!(await this.expression<boolean>(`Boolean(${condition})`))) {
      if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(100);
    }
  }

  waitForSelector(selector: string, timeoutMs = 30_000): Promise<void> {
    return this.waitFor(`document.querySelector(${JSON.stringify(selector)})`, selector, timeoutMs);
  }

  /** A press of a digit or letter key, as a person's (keydown with its text, keyup). */
  async press(key: string): Promise<void> {
    if (!/^[0-9a-z]$/i.test(key)) throw new Error(`press: only a digit or letter key, not ${JSON.stringify(key)}`);
    const code = /[0-9]/.test(key) ? `Digit${key}` : `Key${key.toUpperCase()}`;
    const windowsVirtualKeyCode = key.toUpperCase().charCodeAt(0);
    await this.cdp.send('Input.dispatchKeyEvent', { type: 'keyDown', key, code, text: key, unmodifiedText: key, windowsVirtualKeyCode }, this.session);
    await this.cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', key, code, windowsVirtualKeyCode }, this.session);
  }

  async close(): Promise<void> {
    await this.cdp.send('Target.closeTarget', { targetId: this.target }).catch(() => undefined);
  }
}
