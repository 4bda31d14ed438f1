/**
 * The dashboard under load (issues 3 and 19), run by `npm run bench` (section 4) or alone:
 * `node server/bin/run-ts.js test/bench/dashboard.ts`.
 *
 * 1. Start-up: time from spawning `wsplay start` to the "Dashboard:" line, and to the first
 *    contentful paint of the dashboard in Chromium (browser already running).
 * 2. Load: ~10,000 frames per second through the wiretap for 10 s (clients send, the echo server
 *    answers: both directions count) while the dashboard is open, the Timeline, the sequence
 *    diagram and the Stats view each open for a third of it. A Chromium performance trace is
 *    recorded; we report the longest main-thread task in each view and how many passed 50 ms
 *    (target: none), the events the page did not show (target: 0: none shed by the stream, and
 *    the Timeline holding every frame captured), and the page's cost per event: parsing the
 *    batches, applying them to its model, and the rest of its main thread (rendering), in µs.
 *    Each task's CPU time is reported beside its wall time: at a load average of 8 on 2 cores a
 *    task that used 18 ms of CPU took 188 ms, the page waiting for a core the rest of it.
 *    Also the playground process's RSS sampled every second.
 * 3. The same at ~30,000 frames per second (5 s) on a fresh playground: no task over 100 ms
 *    (target), and what the page could not keep, counted and shown in its status line.
 * 4. The capture store filled with 200,000 events of that traffic (test/bench/store-memory.ts,
 *    a child process): events held (target: all), bytes per event, the heap they take.
 *
 * Measures only; exits 0. Without Chromium it says so and measures the server side alone.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { StoreMemory } from './store-memory.ts';
import { BareChromium, type BarePage } from './bare-chromium.ts';
import { cpuLine, cpuWatch, machineSettled } from './proc-cpu.ts';
import { forkTs } from './children.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SECONDS = Number(process.env.BENCH_DASHBOARD_SECONDS ?? 10);
const FRAMES_PER_SECOND = Number(process.env.BENCH_DASHBOARD_FPS ?? 10_000);
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
  // BENCH_WSPLAY_FLAGS="--cpu-prof --cpu-prof-dir=DIR": where the playground's time goes under the flood.
  const flags = process.env.BENCH_WSPLAY_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...flags, 'server/bin/wsplay.js', 'start', '--port', '0', '--dashboard-port', '0', '--no-open'], {
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
        // From now on its output (server.js prints a line per message: 250 KB/s under the flood)
        // is read and let go: kept and searched, it cost this process more the longer it ran.
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve({ child, tapPort, dashboardUrl: dash[1]!, msToDashboardLine: performance.now() - t0 });
      }
    });
    // Its errors, the last 16 KiB of them, for the message if it exits.
    child.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-16 * 1024)));
    child.once('exit', (code) => reject(new Error(`wsplay start exited (${code}):\n${out}`)));
  });
}

/** The load generator (dashboard-load.ts) in a child process, started before the flood so its start-up is not counted. */
function startGenerator(fps: number, seconds: number): Promise<ChildProcess> {
  const child = forkTs(fileURLToPath(new URL('./dashboard-load.ts', import.meta.url)), 'dashboard-load', { BENCH_LOAD_FPS: String(fps), BENCH_LOAD_SECONDS: String(seconds) });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`the load generator exited (${code}) before it was ready`)));
  });
}

/** The generator's frames per second through the wiretap for its seconds (half sent, half echoed). */
function load(generator: ChildProcess, tapPort: number): Promise<{ sent: number; received: number }> {
  return new Promise((resolve, reject) => {
    generator.on('message', (m: { type?: string; sent?: number; received?: number; message?: string }) => {
      if (m.type === 'done') resolve({ sent: m.sent!, received: m.received! });
      else if (m.type === 'failed') reject(new Error(`the load generator failed: ${m.message}`));
    });
    generator.once('exit', (code) => reject(new Error(`the load generator exited (${code}) during the flood`)));
    generator.send({ type: 'run', port: tapPort });
  });
}

/** The bench's processes by what they are, for the CPU line (proc-cpu.ts). */
function processName(pid: number, argv: string[], generator: number | undefined): string {
  if (pid === process.pid) return 'bench (its DevTools client)';
  if (pid === generator) return 'load generator';
  const args = argv.join(' ');
  if (args.includes('server/bin/wsplay.js')) return 'wsplay';
  if (args.includes('listen-preload')) return "learner's server.js";
  if (/chrom/i.test(argv[0] ?? '')) {
    const type = /--type=([\w-]+)/.exec(args)?.[1];
    return type === undefined ? 'Chromium browser' : type === 'renderer' ? 'Chromium renderer' : type === 'gpu-process' ? 'Chromium GPU' : `Chromium ${type}`;
  }
  return (argv[1] ?? argv[0] ?? `pid ${pid}`).split('/').pop()!;
}

type Out = (line?: string) => void;
type Target = (label: string, value: number, limit: number) => void;

const FAST_FPS = Number(process.env.BENCH_DASHBOARD_FAST_FPS ?? 30_000);
const FAST_SECONDS = Number(process.env.BENCH_DASHBOARD_FAST_SECONDS ?? 5);
const VIEWS = [
  { key: '1', name: 'Timeline' },
  { key: '2', name: 'sequence diagram' },
  { key: '3', name: 'Stats' },
] as const;

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  /** The thread's CPU time in the event (µs): less than `dur` when the OS ran something else meanwhile. */
  tdur?: number;
  pid: number;
  tid: number;
  args?: { name?: string; data?: unknown };
}

const num = (n: number) => Math.round(n).toLocaleString('en-US');
/** The first number in `text` after which `label` follows ("98,044 frames captured"), or 0. */
function countBefore(text: string, label: string): number {
  const m = new RegExp(`([\\d,]+) ${label}`).exec(text);
  return m ? Number(m[1]!.replace(/,/g, '')) : 0;
}

interface RunResult {
  longest: number[];
  notShown: number;
}

/**
 * One playground, one page, `fps` frames a second for `seconds`, the views opened in turn; prints
 * what the page did and returns the longest task per view and the events it did not show.
 */
async function loadRun(
  out: Out,
  browser: BareChromium | null,
  opts: { fps: number; seconds: number; views: ReadonlyArray<(typeof VIEWS)[number]>; taskLimit: number; startup: boolean },
): Promise<RunResult | null> {
  const t0 = performance.now();
  const started = await startPlayground();
  const { child } = started;
  let generator: ChildProcess | null = null;
  try {
    generator = await startGenerator(opts.fps, opts.seconds);
    if (opts.startup) out(`start-up: "Dashboard:" line after ${started.msToDashboardLine.toFixed(0)} ms`);
    let page: BarePage | null = null;
    if (browser) {
      page = await browser.newPage(1280, 800);
      await page.goto(started.dashboardUrl);
      if (opts.startup) {
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
        out(`start-up: first contentful paint ${(fcp - (performance.timeOrigin + t0)).toFixed(0)} ms after spawning wsplay start`);
      }
      await page.waitForSelector('.timeline');
      // What is measured needs only the main thread's tasks (RunTask, with their CPU time), the
      // views' marks and V8's collections (a few events each, only while one runs). DevTools' own
      // timeline events (every function call, style, layout and paint) cost the page, the browser
      // process and this one CPU that a learner's page does not pay: they are recorded only for a
      // trace kept for reading (BENCH_TRACE_OUT), with V8's compilations and the compositor's scheduling.
      const categories = ['disabled-by-default-devtools.timeline', 'blink.user_timing', 'disabled-by-default-v8.gc'];
      // BENCH_TRACE_CATEGORIES=a,b sets the extra categories instead (empty: the measure's own only).
      const extra = process.env.BENCH_TRACE_CATEGORIES ?? 'devtools.timeline,v8,disabled-by-default-v8.gc,blink.gc,toplevel,v8.compile,disabled-by-default-v8.compile,cc,disabled-by-default-cc.debug.scheduler';
      if (process.env.BENCH_TRACE_OUT) categories.push(...extra.split(',').filter(Boolean));
      await browser.startTracing(categories);
      // Starting a trace starts a process and every process's trace buffers: ~200 ms of both
      // cores that fell on the load's first frames, the page's longest tasks (issue 19).
      out(`trace: the machine settled ${(await machineSettled()).toFixed(0)} ms after tracing began`);
    }
    const pid = child.pid!;
    const rss: number[] = [rssMiB(pid)];
    const sampler = setInterval(() => rss.push(rssMiB(pid)), 1000);
    // Each view open for its share of the load; a mark in the trace says when it opened.
    const switches: Promise<void>[] = [];
    const switchTimers = opts.views.map((v, i) =>
      setTimeout(() => {
        if (!page) return;
        switches.push(
          // The mark first: the task that draws the view on the key press is the view's own.
          page
            .evaluate((name) => void performance.mark(`bench-view ${name}`), v.name)
            .then(() => page!.press(v.key))
            .catch(() => undefined),
        );
      }, (i * opts.seconds * 1000) / opts.views.length),
    );
    const gen = generator;
    const cpu = cpuWatch(process.pid, (p, argv) => processName(p, argv, gen.pid));
    const { sent, received } = await load(gen, started.tapPort);
    const cpuReport = cpu.stop();
    switchTimers.forEach(clearTimeout);
    await Promise.all(switches);
    clearInterval(sampler);
    rss.push(rssMiB(pid));
    out(`load: ${num(sent)} messages sent, ${num(received)} echoes back: ${((sent + received) / opts.seconds).toFixed(0)} frames/s through the wiretap (load average ${loadavg()[0]!.toFixed(1)})`);
    out(cpuLine(cpuReport));
    const wsplayCpu = cpuReport.shares.find((s) => s.name === 'wsplay');
    if (wsplayCpu && sent + received > 0) out(`wsplay: ${((wsplayCpu.seconds * 1e6) / (sent + received)).toFixed(1)} µs of CPU per frame relayed (each frame makes a frame and a message event, and server.js prints a line per message)`);
    let result: RunResult | null = null;
    if (browser && page) {
      // Let the page catch up with what the wiretap captured (a bound, not a measure: the counts are),
      // the Timeline open again: its tasks from this mark on are the Timeline's, not the last view's.
      await page.evaluate(() => void performance.mark('bench-view catch-up'));
      await page.press('1');
      const status = async () => page!.evaluate(() => [...document.querySelectorAll('.status > span')].map((s) => s.textContent).filter(Boolean).join(' · '));
      const held = async () => page!.evaluate(() => document.querySelector('.timeline .count')?.textContent ?? '');
      let line = '';
      let rows = 0;
      let captured = 0;
      // The status line's counts draw at most 4 times a second (ui/src/lib/counts-version.ts): a line
      // is read as final only when it has not changed over 500 ms, more than their 250 ms.
      for (let i = 0, same = 0; i < 60 && same < 4; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const before = line;
        line = await status();
        const total = /of ([\d,]+)/.exec(await held());
        const now = total ? Number(total[1]!.replace(/,/g, '')) : 0;
        captured = countBefore(line, 'frames captured');
        same = now === rows ? same + 1 : 0;
        rows = now;
        if (rows >= captured && captured > 0 && line === before) break;
      }
      const intake = await page.evaluate(() => (globalThis as unknown as { wsplayIntake: { events: number; decodeMs: number; applyMs: number; reparsed?: { batches: number; events: number } } }).wsplayIntake);
      const heapMiB = await page.evaluate(() => ((performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? NaN) / 1024 / 1024);
      const traceText = await browser.stopTracing();
      // BENCH_TRACE_OUT=dir keeps each run's trace (DevTools' Performance panel opens it): what a long task did.
      if (process.env.BENCH_TRACE_OUT) writeFileSync(join(process.env.BENCH_TRACE_OUT, `dashboard-${opts.fps}.json`), traceText);
      const trace = JSON.parse(traceText) as { traceEvents: TraceEvent[] };
      const mainThreads = new Set(trace.traceEvents.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
      const onMain = trace.traceEvents.filter((e) => mainThreads.has(`${e.pid}:${e.tid}`));
      const tasks = onMain.filter((e) => e.name === 'RunTask' && e.ph === 'X' && typeof e.dur === 'number');
      const marks = opts.views.map((v) => onMain.find((e) => e.name === `bench-view ${v.name}`)?.ts ?? Infinity);
      const catchUp = onMain.find((e) => e.name === 'bench-view catch-up')?.ts ?? Infinity;
      const busyMs = tasks.reduce((sum, t) => sum + t.dur! / 1000, 0);
      // A task's wall time on a loaded machine is mostly waiting for a core: its CPU time says
      // what the page itself spent, so a long task can be told from a descheduled one.
      const cpuMs = (t: TraceEvent) => (t.tdur ?? t.dur!) / 1000;
      const busyCpuMs = tasks.reduce((sum, t) => sum + cpuMs(t), 0);
      const spanMs = tasks.length ? (Math.max(...tasks.map((t) => t.ts + t.dur!)) - Math.min(...tasks.map((t) => t.ts))) / 1000 : 0;
      const longest: number[] = [];
      opts.views.forEach((v, i) => {
        // A view's tasks: from its mark to the next view's (the first view's from the start, the
        // last's to the catch-up after the load, which is the Timeline's again).
        const from = i === 0 ? -Infinity : marks[i]!;
        const to = i === opts.views.length - 1 ? catchUp : marks[i + 1]!;
        const mine = tasks.filter((t) => (t.ts >= from && t.ts < to) || (v.key === '1' && t.ts >= catchUp));
        const byWall = mine.reduce<TraceEvent | null>((a, t) => (a && a.dur! >= t.dur! ? a : t), null);
        const byCpu = mine.reduce<TraceEvent | null>((a, t) => (a && cpuMs(a) >= cpuMs(t) ? a : t), null);
        const max = byWall ? byWall.dur! / 1000 : 0;
        const over = mine.filter((t) => t.dur! / 1000 > opts.taskLimit).length;
        const overCpu = mine.filter((t) => cpuMs(t) > opts.taskLimit).length;
        longest.push(max);
        // Where the longest ones fell: the first frames of a flood, a view's opening, the catch-up.
        const top3 = [...mine].sort((a, b) => b.dur! - a.dur!).slice(0, 3);
        const at = (t: TraceEvent) => (t.ts >= catchUp ? 'in the catch-up' : t.ts < marks[i]! ? 'before the load' : `at +${((t.ts - marks[i]!) / 1000).toFixed(0)} ms`);
        const where = top3.map((t) => `${(t.dur! / 1000).toFixed(1)} ms (${cpuMs(t).toFixed(1)} CPU) ${at(t)}`).join(', ');
        out(
          `page, ${v.name} open: ${num(mine.length)} main-thread tasks, longest ${max.toFixed(1)} ms (${byWall ? cpuMs(byWall).toFixed(1) : '0'} ms of it on the CPU), ${over} over ${opts.taskLimit} ms; ` +
            `by CPU time the longest ${byCpu ? cpuMs(byCpu).toFixed(1) : '0'} ms, ${overCpu} over ${opts.taskLimit} ms; the longest three: ${where}`,
        );
        // The load's first second (every process on the machine compiling its hot code) told
        // apart from the rest: a reading aid, not the target, which counts every task.
        if (i === 0) {
          const settled = mine.filter((t) => t.ts >= marks[0]! + 1e6 && t.ts < catchUp);
          const rest = settled.reduce((m, t) => Math.max(m, t.dur! / 1000), 0);
          out(`page, ${v.name} open, from the load's second second on: longest ${rest.toFixed(1)} ms, ${settled.filter((t) => t.dur! / 1000 > opts.taskLimit).length} over ${opts.taskLimit} ms`);
        }
      });
      const per = (ms: number) => (intake.events > 0 ? (ms * 1000) / intake.events : 0);
      const renderMs = Math.max(0, busyMs - intake.decodeMs - intake.applyMs);
      out(
        `page: ${num(intake.events)} events received; cost per event ${per(busyMs).toFixed(1)} µs of main thread: parse ${per(intake.decodeMs).toFixed(1)}, ` +
          `apply to the model ${per(intake.applyMs).toFixed(1)}, render and the rest ${per(renderMs).toFixed(1)} (main thread busy ${(busyMs / 1000).toFixed(1)} s of ${(spanMs / 1000).toFixed(1)} s, ${(busyCpuMs / 1000).toFixed(1)} s of it on the CPU: ${per(busyCpuMs).toFixed(1)} µs per event); JS heap ${heapMiB.toFixed(0)} MiB; ` +
          `${num(intake.reparsed?.events ?? 0)} events parsed again for the views (${num(intake.reparsed?.batches ?? 0)} batches)`,
      );
      // The page's garbage collections over the load: a scavenge waits for V8's helper threads,
      // which on a saturated machine wait for a core (a task of 1 ms of CPU took 28 ms).
      for (const kind of ['V8.GC_SCAVENGER', 'V8.GC_MARK_COMPACTOR']) {
        const gcs = onMain.filter((e) => e.name === kind && e.ph === 'X' && e.ts >= marks[0]! && e.ts < catchUp);
        const wall = gcs.reduce((a, e) => a + e.dur!, 0) / 1000;
        const longestGc = gcs.reduce<TraceEvent | null>((a, e) => (a && a.dur! >= e.dur! ? a : e), null);
        out(
          `page: ${gcs.length} ${kind === 'V8.GC_SCAVENGER' ? 'scavenges' : 'mark-compacts'} over the load, ${wall.toFixed(0)} ms in all (${gcs.reduce((a, e) => a + cpuMs(e), 0).toFixed(0)} ms of CPU)` +
            (longestGc ? `, the longest ${(longestGc.dur! / 1000).toFixed(1)} ms (${cpuMs(longestGc).toFixed(1)} CPU)` : ''),
        );
      }
      const shed = countBefore(line, 'events not shown');
      const missing = Math.max(0, captured - rows);
      out(`page status line: ${line.trim() || '(empty)'}`);
      out(`page: the Timeline holds ${num(rows)} of ${num(captured)} frames captured; events not shown: ${num(shed)} shed by the stream (${num(missing)} of them frames missing from the Timeline)`);
      // A frame shed is also a frame missing from the Timeline: the larger count, not the sum.
      result = { longest, notShown: Math.max(shed, missing) };
    }
    const settled = rss.slice(Math.floor(rss.length / 2));
    out(`server memory (RSS, MiB, every second): ${rss.map((r) => r.toFixed(0)).join(' ')}; second half spread ${(Math.max(...settled) - Math.min(...settled)).toFixed(0)} MiB`);
    await page?.close();
    return result;
  } finally {
    generator?.kill('SIGTERM');
    child.kill('SIGTERM');
  }
}

/** test/bench/store-memory.ts in a child of its own, with --expose-gc. */
function storeMemory(): Promise<StoreMemory> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('../../server/bin/run-ts.js', import.meta.url)), [fileURLToPath(new URL('./store-memory.ts', import.meta.url))], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m: { type?: string; result?: StoreMemory }) => {
      if (m.type === 'store-memory' && m.result) resolve(m.result);
    });
    child.once('exit', (code) => reject(new Error(`store-memory exited (${code}) without a result`)));
  });
}

/** Where Chromium runs for the CPU (bare-chromium.ts), and whether Linux shares the CPU by session. */
function sessions(browser: BareChromium): string {
  let autogroup = 'not a Linux kernel with autogroup';
  try {
    autogroup = readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1' ? 'on' : 'off';
  } catch {
    // Not Linux, or no autogroup.
  }
  return (
    `browser: Chromium in ${browser.ownSession ? 'a session of its own, as a learner\'s browser is (started from the desktop, or by wsplay\'s open-browser)' : "the bench's session (BENCH_CHROMIUM_SESSION=shared)"}; ` +
    `server.js in its own (learner-server.ts), wsplay in the bench's; the kernel's CPU shares by session (autogroup): ${autogroup}`
  );
}

export async function runDashboardBench(out: Out = (line = '') => console.log(line), atMost?: Target, atLeast?: Target): Promise<void> {
  const most: Target = atMost ?? ((label, value, max) => out(`${label}: ${value.toFixed(2)} (target <= ${max.toFixed(1)}) ${value <= max ? 'OK' : 'ABOVE TARGET'}`));
  const least: Target = atLeast ?? ((label, value, min) => out(`${label}: ${value.toFixed(2)} (target >= ${min.toFixed(1)}) ${value >= min ? 'OK' : 'BELOW TARGET'}`));
  const haveBrowser = existsSync(CHROMIUM);
  // Not Playwright: it would have Chromium report every WebSocket frame the page gets (bare-chromium.ts).
  const browser = haveBrowser
    ? await BareChromium.launch(CHROMIUM, ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'])
    : null;
  try {
    out(`\n== Dashboard under load: ~${num(FRAMES_PER_SECOND)} frames/s for ${SECONDS} s, the Timeline, sequence diagram and Stats open in turn ==`);
    if (!haveBrowser) out(`(no Chromium at ${CHROMIUM}: measuring the server side only; apt-get install -y chromium)`);
    else if (browser) out(sessions(browser));
    const slow = await loadRun(out, browser, { fps: FRAMES_PER_SECOND, seconds: SECONDS, views: VIEWS, taskLimit: 50, startup: true });
    if (slow) {
      most(`dashboard at ${num(FRAMES_PER_SECOND)} frames/s: events not shown`, slow.notShown, 0);
      VIEWS.forEach((v, i) => most(`dashboard at ${num(FRAMES_PER_SECOND)} frames/s, ${v.name} open: longest main-thread task, ms`, slow.longest[i]!, 50));
    }
    out(`\n== Dashboard under load: ~${num(FAST_FPS)} frames/s for ${FAST_SECONDS} s, the Timeline open ==`);
    const fast = await loadRun(out, browser, { fps: FAST_FPS, seconds: FAST_SECONDS, views: [VIEWS[0]], taskLimit: 100, startup: false });
    if (fast) most(`dashboard at ${num(FAST_FPS)} frames/s: longest main-thread task, ms`, fast.longest[0]!, 100);
  } finally {
    await browser?.close();
  }
  out('\n== The capture store after 200,000 events of that traffic ==');
  const m = await storeMemory();
  const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
  out(
    `store: ${num(m.held)} of ${num(m.events)} events held (bounds ${num(m.maxEvents)} events, ${mib(m.maxBytes)} MiB); its measure ${mib(m.weight)} MiB, ` +
      `${(m.weight / m.held).toFixed(0)} bytes per event; the heap after a full collection ${mib(m.heap)} MiB and ${mib(m.arrayBuffers)} MiB of typed arrays, ` +
      `${((m.heap + m.arrayBuffers) / m.held).toFixed(0)} bytes per event`,
  );
  least('store: events held of 200,000 taken (ratio)', m.held / m.events, 1);
  out();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runDashboardBench().catch((err) => {
    console.error(err);
    process.exitCode = 0;
  });
}
