/**
 * Issue 12's attacks on the console and the event stream, measured (`npm run bench`, section
 * 5, or alone: `node server/bin/run-ts.js test/bench/attacks.ts`).
 *
 * 1. One long console line: splitting 64 MiB of output that has no newline, in 64 KiB pipe
 *    chunks, with server/runner/console-lines.ts; baseline in the same run: the old way (join the
 *    pending text to each chunk and split it again) on 4 MiB, which is quadratic (64 MiB took
 *    minutes): 64 MiB the new way should take less than 4 MiB the old way.
 * 2. Pages that never read: a `wsplay start` process with ~40 MB of history (1,000 echoes of
 *    8 KiB through its wiretap), then 40 clients that upgrade to /api/events and never read.
 *    Reports the process's resident memory before, its peak after (VmHWM), and an echo's round
 *    trip through the wiretap while they sit there.
 * 3. A page loading 100,000 events of history (acknowledging as the dashboard does) while another
 *    client echoes every 5 ms: the load's time and the longest echo during it.
 *
 * BENCH_ATTACKS_ROOT=DIR runs another checkout's wsplay (e.g. main) for a before/after;
 * BENCH_ATTACKS_PARTS=console,pages,history picks the parts.
 *
 * Measures only; exits 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { LineSplitter } from '../../server/runner/console-lines.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
const ROOT = process.env.BENCH_ATTACKS_ROOT ?? fileURLToPath(new URL('../../', import.meta.url));
const PAGES = Number(process.env.BENCH_ATTACKS_PAGES ?? 40);

function splitNew(total: number, chunk: string): number {
  let lines = 0;
  const s = new LineSplitter(() => lines++);
  for (let n = 0; n < total; n += chunk.length) s.push(chunk);
  s.push('\n');
  return lines;
}

/** What learner-server.ts did before issue 12. */
function splitOld(total: number, chunk: string): number {
  let lines = 0;
  let partial = '';
  for (let n = 0; n < total; n += chunk.length) {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines += parts.length;
  }
  return lines + (partial + '\n').split('\n').length - 1;
}

function consoleBench(): void {
  const chunk = 'abcdefgh'.repeat(8192);
  const time = (f: () => unknown) => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  const oldMs = time(() => splitOld(4 * 1024 * 1024, chunk));
  const newMs = time(() => splitNew(64 * 1024 * 1024, chunk));
  out('5a. One console line without a newline, in 64 KiB chunks');
  out(`    old (join + split per chunk),  4 MiB: ${oldMs.toFixed(0)} ms`);
  out(`    new (console-lines.ts),       64 MiB: ${newMs.toFixed(1)} ms  (${((64 * 1024 * 1024) / 1e6 / (newMs / 1000)).toFixed(0)} MB/s; ratio old 4 MiB / new 64 MiB: ${(oldMs / newMs).toFixed(1)})`);
  out();
}

function mem(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

async function streamBench(): Promise<void> {
  out(`5b. ${PAGES} pages that upgrade to /api/events and never read (${ROOT})`);
  const dir = mkdtempSync(join(tmpdir(), 'wsplay-bench-attacks-'));
  const child = spawn(process.execPath, ['server/bin/wsplay.js', 'start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', dir], {
    cwd: ROOT,
    env: { ...process.env, DEBUG: '', WSPLAY_SKIP_UI_BUILD: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  let exit = '';
  child.on('exit', (code, signal) => (exit = signal ?? `code ${code}`));
  const line = (re: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const started = Date.now();
      const tick = () => {
        const m = text.match(re);
        if (m) return resolve(m);
        if (exit || Date.now() - started > 30_000) return reject(new Error(`wsplay start did not print ${re} (${exit || 'timeout'}): ${text}`));
        setTimeout(tick, 20);
      };
      tick();
    });
  try {
    const dashboard = new URL((await line(/^Dashboard: (\S+)$/m))[1]!);
    const tapPort = Number((await line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/m))[1]);
    const token = dashboard.searchParams.get('token')!;

    // History: 1,000 echoes of 8 KiB (frames and messages both ways: ~40 MB as JSON).
    const client = new WebSocket(`ws://127.0.0.1:${tapPort}`);
    const replies: string[] = [];
    client.on('message', (d) => replies.push(d.toString()));
    await new Promise((r) => client.once('open', r));
    const body = 'x'.repeat(8192);
    for (let i = 0; i < 1000; i++) client.send(`${i} ${body}`);
    await waitFor(() => replies.length >= 1001, 60_000, 'the echoes');
    await new Promise((r) => setTimeout(r, 500));
    const before = mem(child.pid!);

    const sockets: net.Socket[] = [];
    const t0 = performance.now();
    for (let i = 0; i < PAGES; i++) sockets.push(await stalledPage(dashboard.port ? Number(dashboard.port) : 80, token));
    const attachMs = performance.now() - t0;
    // An echo through the wiretap while they sit there.
    const t1 = performance.now();
    const n = replies.length;
    client.send('still relaying?');
    await waitFor(() => replies.length > n, 120_000, 'the echo');
    const echoMs = performance.now() - t1;
    // Give the process a few seconds to do whatever it will do for them.
    for (let i = 0; i < 10 && !exit; i++) await new Promise((r) => setTimeout(r, 500));
    const after = exit ? null : mem(child.pid!);
    out(`    resident before: ${mb(before.rss)}, peak after: ${after ? mb(after.hwm) : `the process died (${exit})`}; ${PAGES} upgrades took ${attachMs.toFixed(0)} ms; an echo meanwhile: ${echoMs.toFixed(0)} ms`);
    for (const s of sockets) s.destroy();
    client.terminate();
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  out();
}

/**
 * 5c. A page loading 100,000 events of history (25,000 small echoes) while another client
 * sends an echo every 5 ms: the longest round trip during the load, against the median before it.
 */
async function historyBench(): Promise<void> {
  out(`5c. A page loading 100,000 events of history while another client echoes (${ROOT})`);
  const dir = mkdtempSync(join(tmpdir(), 'wsplay-bench-attacks-'));
  const child = spawn(process.execPath, ['server/bin/wsplay.js', 'start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', dir], {
    cwd: ROOT,
    env: { ...process.env, DEBUG: '', WSPLAY_SKIP_UI_BUILD: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  try {
    await waitFor(() => /^Wiretap listening/m.test(text) && /^Dashboard: /m.test(text), 30_000, 'wsplay start');
    const dashboard = new URL(/^Dashboard: (\S+)$/m.exec(text)![1]!);
    const tapPort = Number(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/m.exec(text)![1]);
    const filler = new WebSocket(`ws://127.0.0.1:${tapPort}`);
    let got = 0;
    filler.on('message', () => got++);
    await new Promise((r) => filler.once('open', r));
    for (let i = 0; i < 25_000; i++) filler.send(`m${i}`);
    await waitFor(() => got >= 25_001, 120_000, 'the filler echoes');
    filler.close();

    // The echoes run in a process of their own: this one is busy parsing what the page receives.
    const pinger = spawn(process.execPath, ['--input-type=module', '-e', PINGER, String(tapPort)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    let pings = '';
    pinger.stdout!.on('data', (b: Buffer) => (pings += b.toString()));
    await waitFor(() => pings.includes('open'), 10_000, 'the pinger');
    await new Promise((r) => setTimeout(r, 1000));
    pinger.stdin!.write('mark\n');
    const token = dashboard.searchParams.get('token')!;
    const page = new WebSocket(`ws://127.0.0.1:${dashboard.port}/api/events?token=${token}&window=4000`, { origin: dashboard.origin });
    let received = 0;
    let nextSeq = -1;
    let firstSeq = -1;
    const started = performance.now();
    page.on('open', () => page.send(JSON.stringify({ kind: 'flow', window: 4000 })));
    page.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { kind: string; nextSeq?: number; size?: number; from?: number; events?: unknown[] };
      if (m.kind === 'hello') {
        nextSeq = m.nextSeq!;
        firstSeq = nextSeq - m.size!;
      }
      if (m.kind === 'events') {
        received += m.events!.length;
        page.send(JSON.stringify({ kind: 'ack', seq: m.from! + m.events!.length }));
      }
    });
    await waitFor(() => nextSeq >= 0 && received >= nextSeq - firstSeq, 120_000, 'the history');
    const loadMs = performance.now() - started;
    pinger.stdin!.write('report\n');
    await waitFor(() => pings.includes('}'), 10_000, "the pinger's report");
    const { before, during } = JSON.parse(pings.slice(pings.indexOf('{'))) as { before: number[]; during: number[] };
    pinger.kill();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    out(`    ${received.toLocaleString('en-US')} events loaded in ${loadMs.toFixed(0)} ms; echo round trip: median ${median(before).toFixed(1)} ms before, longest ${Math.max(...during).toFixed(0)} ms during (${during.length} echoes)`);
    page.terminate();
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  out();
}

/** Echoes through the wiretap every 5 ms; on "mark" starts a second list; on "report" prints both. */
const PINGER = `
import WebSocket from 'ws';
const ws = new WebSocket('ws://127.0.0.1:' + process.argv[1]);
const lists = { before: [], during: [] };
let list = lists.before;
let sentAt = 0;
ws.on('message', () => { if (sentAt) list.push(performance.now() - sentAt); sentAt = 0; });
ws.on('open', () => {
  process.stdout.write('open\\n');
  setInterval(() => { if (!sentAt) { sentAt = performance.now(); ws.send('ping'); } }, 5);
});
process.stdin.on('data', (d) => {
  if (String(d).includes('mark')) list = lists.during;
  if (String(d).includes('report')) process.stdout.write(JSON.stringify(lists));
});
`;

function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`Timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

function stalledPage(port: number, token: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('error', reject);
    s.once('connect', () =>
      s.write(
        `GET /api/events?token=${token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\n` +
          'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    let head = '';
    const onData = (b: Buffer) => {
      head += b.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      s.pause();
      resolve(s);
    };
    s.on('data', onData);
  });
}

export async function runAttacksBench(): Promise<void> {
  const parts = (process.env.BENCH_ATTACKS_PARTS ?? 'console,pages,history').split(',');
  if (parts.includes('console')) consoleBench();
  if (parts.includes('pages')) await streamBench();
  if (parts.includes('history')) await historyBench();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runAttacksBench();
  process.exit(0);
}
