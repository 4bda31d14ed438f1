/**
 * A restart ends everything server.js started (issue 12, item 8): children it spawned with
 * `detached: true` are in a process group (and session) of their own, and their own detached
 * children in yet another, so killing server.js's group missed them and they outlived every
 * restart, ports and all. Each start tags server.js's environment; stop ends every process
 * that inherited the tag (server/runner/process-tree.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunnerState } from '../../server/app/stream-protocol.ts';
import { LearnerServer } from '../../server/runner/learner-server.ts';
import { ServerProcess } from '../../server/runner/server-process.ts';
import { Workspace } from '../../server/runner/workspace.ts';
import { alive, Cleanup, until } from '../helpers/net.ts';

const base = mkdtempSync(join(tmpdir(), 'wsplay-tree-'));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
afterAll(() => rmSync(base, { recursive: true, force: true }));


/** Kill what a failing test left behind, by pid (never by name). */
function reap(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/**
 * A child in its own group that starts a grandchild in yet another, each printing its pid and
 * ignoring SIGTERM (as a careless server does), then `after` (listen, or crash).
 */
function spawner(after: string): string {
  const grandchild = `process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);`;
  const child = `
    process.on('SIGTERM', () => {});
    const { spawn } = require('node:child_process');
    const g = spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { detached: true, stdio: 'ignore' });
    g.unref();
    console.log('grandchild ' + g.pid);
    setInterval(() => {}, 1000);`;
  return `const { spawn } = require('node:child_process');
const child = spawn(process.execPath, ['-e', ${JSON.stringify(child)}], { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
child.unref();
console.log('child ' + child.pid);
${after}
`;
}

function setUp(script: string) {
  const workspace = new Workspace(join(base, `ws-${Math.random().toString(36).slice(2)}`));
  cleanup.add(() => workspace.close());
  writeFileSync(join(workspace.root, 'server.js'), script);
  const learner = new LearnerServer({ cwd: workspace.root, publicPort: 9900 });
  cleanup.add(() => learner.stop(false));
  const output: string[] = [];
  const states: RunnerState[] = [];
  learner.on('output', (o: { text: string }) => output.push(o.text));
  learner.on('state', (s: RunnerState) => states.push(s));
  const pid = async (who: string) => {
    const m = await until(() => output.map((l) => new RegExp(`^${who} (\\d+)$`).exec(l)).find((x) => x !== null) ?? undefined, 15_000, () => `"${who} PID" in the output: ${output.join('\n')}`);
    const n = Number(m[1]);
    cleanup.add(() => reap([n]));
    return n;
  };
  return { learner, output, states, pid };
}

const gone = (pids: number[], what: string) => until(() => (pids.every((p) => !alive(p)) ? true : undefined), 15_000, () => `${what}: still alive: ${pids.filter(alive).join(', ')}`);

describe("a restart of the learner's server", () => {
  it('ends the children server.js started detached, and their detached children', async () => {
    const run = setUp(spawner("new (require('ws').WebSocketServer)({ port: 9900 });"));
    await run.learner.start();
    const pids = [await run.pid('child'), await run.pid('grandchild')];
    expect(pids.every(alive)).toBe(true);
    await run.learner.restart();
    await gone(pids, 'the first start’s processes after the restart');
  });

  it('ends them too when server.js itself had already crashed', async () => {
    const run = setUp(spawner("new (require('ws').WebSocketServer)({ port: 9900 }); setTimeout(() => { throw new Error('boom'); }, 50);"));
    await run.learner.start();
    const pids = [await run.pid('child'), await run.pid('grandchild')];
    await until(() => run.states.find((s) => s.status === 'crashed'), 15_000, () => `a crash: ${JSON.stringify(run.states)}`);
    expect(pids.every(alive)).toBe(true);
    await run.learner.stop(false);
    await gone(pids, 'the crashed server’s processes after stop');
  });
});

describe('a ServerProcess (the echo server the tests and the bench run)', () => {
  it('ends the children its script started detached when stopped', async () => {
    const script = join(base, 'echo-spawner.cjs');
    writeFileSync(script, spawner("setTimeout(() => process.send({ type: 'listening', port: 1 }), 10); setInterval(() => {}, 1000);"));
    const lines: string[] = [];
    const server = new ServerProcess({ script, onOutput: (line) => lines.push(line) });
    cleanup.add(() => server.stop());
    await server.start();
    const find = (who: string) =>
      until(() => lines.map((l) => new RegExp(`^${who} (\\d+)$`).exec(l)).find((x) => x !== null) ?? undefined, 15_000, () => `"${who} PID": ${lines.join('\n')}`).then((m) => Number(m[1]));
    const pids = [await find('child'), await find('grandchild')];
    cleanup.add(() => reap(pids));
    await server.stop();
    await gone(pids, 'the script’s processes after stop');
  });
});
