/**
 * 7. The warm start: from `node server/bin/wsplay.js start` to its "Dashboard:" line, run from
 * the bundle (server/dist/cli.mjs, what `npm start` runs after `npm install`) and from the
 * TypeScript sources through tsx (WSPLAY_TSX=1, what runs after an edit under server/), against
 * `node -e 0` taken in the same rounds: the ratio holds on a busy machine where the
 * milliseconds do not. `npm start` adds npm's own start-up (about 0.3 to 1 s) to each.
 * Every start binds port 0 and has its own workspace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildServer } from '../../server/bin/build-server.js';
import { bundleIsFresh } from '../../server/bin/bundle-state.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 5);

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_OPTIONS' && k !== 'DEBUG' && k !== 'WSPLAY_TSX') env[k] = v;
  return { ...env, ...extra };
}

/** Resident memory of a running process (kB, from /proc: Linux), NaN if unreadable. */
function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** Resident memory of `wsplay start` once its Dashboard line is out (and 1 s after, settled). */
function rssAtDashboard(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: cleanEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let rss = NaN;
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      const before = out;
      out += b.toString();
      if (!/^Dashboard: /m.test(before) && /^Dashboard: /m.test(out)) {
        setTimeout(() => {
          rss = rssKb(child.pid!);
          child.kill('SIGTERM');
        }, 1000);
      }
    });
    child.once('exit', () => (Number.isNaN(rss) ? reject(new Error(`wsplay start ended before its Dashboard line: ${out}`)) : resolve(rss)));
  });
}

/** Milliseconds from spawn until `done` says so (or the process exits, for `node -e 0`); then it is stopped. */
function timed(args: string[], env: NodeJS.ProcessEnv, until: RegExp | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let took: number | undefined;
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (took === undefined && until && until.test(out)) {
        took = performance.now() - t0;
        child.kill('SIGTERM');
      }
    });
    child.once('exit', () => {
      if (until === null) resolve(performance.now() - t0);
      else if (took !== undefined) resolve(took);
      else reject(new Error(`wsplay start ended before its Dashboard line: ${out}${err}`));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runStartupBench(out: (line?: string) => void, targetAtMost: (label: string, value: number, max: number) => void): Promise<void> {
  out('7. Warm start: `node server/bin/wsplay.js start` to its Dashboard line, against `node -e 0`');
  if (!bundleIsFresh()) await buildServer();
  const dir = mkdtempSync(join(tmpdir(), 'wsplay-bench-start-'));
  const runs = { node: [] as number[], bundle: [] as number[], tsx: [] as number[] };
  try {
    const start = (n: number) => ['server/bin/wsplay.js', 'start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', join(dir, `ws-${n}`)];
    for (let round = 1; round <= ROUNDS; round++) {
      runs.node.push(await timed(['-e', '0'], {}, null));
      runs.bundle.push(await timed(start(round), {}, /^Dashboard: /m));
      runs.tsx.push(await timed(start(round), { WSPLAY_TSX: '1' }, /^Dashboard: /m));
      out(`  round ${round}: node -e 0 ${runs.node.at(-1)!.toFixed(0)} ms, bundle ${runs.bundle.at(-1)!.toFixed(0)} ms, sources through tsx ${runs.tsx.at(-1)!.toFixed(0)} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const node = median(runs.node);
  out(`  medians: node -e 0 ${node.toFixed(0)} ms; bundle ${median(runs.bundle).toFixed(0)} ms (${(median(runs.bundle) / node).toFixed(1)}x node -e 0); tsx ${median(runs.tsx).toFixed(0)} ms (${(median(runs.tsx) / node).toFixed(1)}x)`);
  out();
  targetAtMost('warm start from the bundle / node -e 0, median', median(runs.bundle) / node, 6);
  // A start that finds the dashboard's sources newer than its build builds it first (vite and
  // Monaco: ~1.3 GB). The playground then runs for hours: that memory must not stay with it.
  const dir2 = mkdtempSync(join(tmpdir(), 'wsplay-bench-start-'));
  try {
    const args = (n: string) => ['server/bin/wsplay.js', 'start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', join(dir2, n)];
    const warm = await rssAtDashboard(args('warm'));
    const now = new Date();
    utimesSync(join(ROOT, 'ui', 'index.html'), now, now); // the sources look edited: the next start builds
    const built = await rssAtDashboard(args('built'));
    out(`  resident memory at the Dashboard line: warm start ${(warm / 1024).toFixed(0)} MB, start that built the dashboard ${(built / 1024).toFixed(0)} MB`);
    targetAtMost('memory of a start that built the dashboard / a warm start', built / warm, 1.5);
  } finally {
    rmSync(dir2, { recursive: true, force: true });
  }
  targetAtMost('warm start from the bundle, median seconds (issue 13: 1.5 s, npm itself not counted)', median(runs.bundle) / 1000, 1.5);
}
