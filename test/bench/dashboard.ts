/**
 * The dashboard under load (issue 3, "Measured"), run by `npm run bench` (section 4) or alone:
 * `node server/bin/run-ts.js test/bench/dashboard.ts`.
 *
 * 1. Start-up: time from spawning `wsplay start` to the "Dashboard:" line, and to the first
 *    contentful paint of the dashboard in Chromium (browser already running).
 * 2. Load: ~10,000 frames per second through the wiretap for 10 s (clients send, the echo server
 *    answers: both directions count) while the dashboard is open. A Chromium performance trace
 *    is recorded during the load; we report the longest main-thread task and how many passed
 *    100 ms (target: none). Also: what was shed (page back-pressure) and dropped (store bound),
 *    and the playground process's RSS sampled every second (target: flat once the store is full).
 *
 * Measures only; exits 0. Without Chromium it says so and measures the server side alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SECONDS = Number(process.env.BENCH_DASHBOARD_SECONDS ?? 10);
const FRAMES_PER_SECOND = Number(process.env.BENCH_DASHBOARD_FPS ?? 10_000);
const CONNECTIONS = 10;
const root = fileURLToPath(new URL('../../', import.meta.url));

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface Started {
  child: ChildProcess;
  tapPort: number;
  dashboardUrl: string;
  msToDashboardLine: number;
}

function startPlayground(): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['server/bin/wsplay.js', 'start', '--port', '0', '--dashboard-port', '0', '--no-open'], {
    cwd: root,
    env: { ...process.env, DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let tapPort = 0;
    const timer = setTimeout(() => reject(new Error(`wsplay start printed no dashboard line in 60 s:\n${out}`)), 60_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const tap = /Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (tap) tapPort = Number(tap[1]);
      const dash = /Dashboard: (http:\/\/\S+)/.exec(out);
      if (dash && tapPort) {
        clearTimeout(timer);
        resolve({ child, tapPort, dashboardUrl: dash[1]!, msToDashboardLine: performance.now() - t0 });
      }
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => reject(new Error(`wsplay start exited (${code}):\n${out}`)));
  });
}

/** Clients that together make `fps` frames per second (half sent, half echoed). */
async function load(tapPort: number, fps: number, seconds: number): Promise<{ sent: number; received: number }> {
  const sockets = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${tapPort}`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })),
  );
  let received = 0;
  for (const ws of sockets) ws.on('message', () => received++);
  let sent = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() >= end) {
        clearInterval(timer);
        resolve();
        return;
      }
      // Catch up to the schedule: timers fire late, the rate must not drift.
      const due = Math.floor(((performance.now() - start) / 1000) * (fps / 2)) - sent;
      for (let i = 0; i < due; i++) sockets[i % CONNECTIONS]!.send(`tick ${sent++} ${'x'.repeat(16)}`);
    }, 10);
  });
  await new Promise((r) => setTimeout(r, 500));
  for (const ws of sockets) ws.close();
  return { sent, received };
}

export async function runDashboardBench(): Promise<void> {
  console.log(`\n== Dashboard under load: ~${FRAMES_PER_SECOND.toLocaleString('en-US')} frames/s for ${SECONDS} s ==`);
  const haveBrowser = existsSync(CHROMIUM);
  if (!haveBrowser) console.log(`(no Chromium at ${CHROMIUM}: measuring the server side only; apt-get install -y chromium)`);
  const pw = haveBrowser ? await import('playwright-core') : null;
  const browser = pw
    ? await pw.chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      })
    : null;
  const t0 = performance.now();
  const started = await startPlayground();
  const { child } = started;
  try {
    console.log(`start-up: "Dashboard:" line after ${started.msToDashboardLine.toFixed(0)} ms`);
    let page: import('playwright-core').Page | null = null;
    if (browser) {
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(started.dashboardUrl);
      const fcp = await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const e = performance.getEntriesByName('first-contentful-paint')[0];
            if (e) return resolve(performance.timeOrigin + e.startTime);
            new PerformanceObserver((list) => {
              const p = list.getEntriesByName('first-contentful-paint')[0];
              if (p) resolve(performance.timeOrigin + p.startTime);
            }).observe({ type: 'paint', buffered: true });
          }),
      );
      const spawnedAt = performance.timeOrigin + t0;
      console.log(`start-up: first contentful paint ${(fcp - spawnedAt).toFixed(0)} ms after spawning wsplay start`);
      await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
    }
    const pid = child.pid!;
    const rss: number[] = [rssMiB(pid)];
    const sampler = setInterval(() => rss.push(rssMiB(pid)), 1000);
    const { sent, received } = await load(started.tapPort, FRAMES_PER_SECOND, SECONDS);
    clearInterval(sampler);
    rss.push(rssMiB(pid));
    console.log(`load: ${sent.toLocaleString('en-US')} messages sent, ${received.toLocaleString('en-US')} echoes back: ${(((sent + received) / SECONDS)).toFixed(0)} frames/s through the wiretap`);
    if (browser && page) {
      const trace = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: Array<{ name: string; dur?: number; ph: string; pid: number; tid: number; args?: { data?: { frame?: string } } }> };
      // Main-thread tasks of the renderer: RunTask events on the thread named CrRendererMain.
      const threadNames = trace.traceEvents.filter((e) => e.name === 'thread_name');
      const mainThreads = new Set(
        threadNames.filter((e) => (e as unknown as { args: { name: string } }).args.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`),
      );
      const tasks = trace.traceEvents.filter((e) => e.name === 'RunTask' && e.ph === 'X' && mainThreads.has(`${e.pid}:${e.tid}`) && typeof e.dur === 'number');
      const longest = Math.max(0, ...tasks.map((t) => t.dur! / 1000));
      const over100 = tasks.filter((t) => t.dur! / 1000 > 100).length;
      const status = await page.evaluate(() => [...document.querySelectorAll('.status > span')].map((s) => s.textContent).filter(Boolean).join(' · '));
      console.log(`page: ${tasks.length.toLocaleString('en-US')} main-thread tasks, longest ${longest.toFixed(1)} ms, ${over100} over 100 ms (target 0) ${over100 === 0 ? 'OK' : 'ABOVE TARGET'}`);
      console.log(`page status line: ${status.trim() || '(empty)'}`);
    }
    const settled = rss.slice(Math.floor(rss.length / 2));
    console.log(
      `server memory (RSS, MiB, every second): ${rss.map((r) => r.toFixed(0)).join(' ')}; second half spread ${(Math.max(...settled) - Math.min(...settled)).toFixed(0)} MiB`,
    );
  } finally {
    child.kill('SIGTERM');
    await browser?.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runDashboardBench().catch((err) => {
    console.error(err);
    process.exitCode = 0;
  });
}
