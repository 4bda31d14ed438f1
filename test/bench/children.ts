/**
 * The bench's child processes (servers, relays, the wiretap): forked through run-ts.js, ended
 * with the bench however it ends. Shared by run.ts and the benches it runs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const env = process.env;
const PROFILE_DIR = env.BENCH_PROFILE;
const RUN_TS = fileURLToPath(new URL('../../server/bin/run-ts.js', import.meta.url));

const children = new Set<ChildProcess>();

export function endChildren(): void {
  // SIGTERM: each child exits cleanly (and writes its CPU profile when asked to).
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('exit', endChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    endChildren();
    process.exit(130);
  });
}

export interface Child {
  process: ChildProcess;
  port: number;
}

/**
 * Fork a TypeScript program of the bench the way `npm start` and `npm run bench` run theirs:
 * through server/bin/run-ts.js (tsx's `register()`), not `--import tsx`. The latter also hooks
 * require(), and on Node 20 ws's own (untransformed) Receiver then runs ~40% slower: measured
 * 330 vs 560 MB/s on 16 KiB frames. That would slow every path's echo server and flatter our
 * decoders against ws.
 */
export function forkTs(script: string, name: string, extraEnv: Record<string, string> = {}, flags: string[] = []): ChildProcess {
  const execArgv = [...flags];
  // One folder per child: tsx's loader thread writes a profile of its own next to the main one.
  if (PROFILE_DIR) execArgv.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/${name}`);
  const child = fork(RUN_TS, [script], { execArgv, env: { ...env, ...extraEnv }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Fork a bench program; resolves once it reports `{ type: 'listening', port }`. */
export function start(script: string, extraEnv: Record<string, string>, name: string): Promise<Child> {
  const child = forkTs(script, name, extraEnv, ['--expose-gc', ...(env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])]);
  return new Promise((resolve, reject) => {
    child.on('message', function listening(msg: { type?: string; port?: number }) {
      if (msg?.type === 'listening' && typeof msg.port === 'number') {
        child.off('message', listening);
        resolve({ process: child, port: msg.port });
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before it listened`)));
  });
}

export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}
