/**
 * Lesson 02's promise, "save accept.js, run the client again: Accept valid": a save of a file
 * server.js requires (directly or through another file of the workspace) restarts server.js,
 * as a save of server.js does, whether the dashboard saved it or another editor did.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LearnerBridge, requiredFiles } from '../../server/app/learner-bridge.ts';
import { LearnerServer, type RunnerState } from '../../server/runner/learner-server.ts';
import { Workspace } from '../../server/runner/workspace.ts';
import { Wiretap } from '../../server/tap/wiretap.ts';
import { Cleanup, connect, HOST, ROOT, until } from '../helpers/net.ts';

const LESSON = join(ROOT, 'lessons/02-upgrade-handshake');
const SOLVED_ACCEPT = readFileSync(join(LESSON, 'solution/accept.js'), 'utf8');

const base = mkdtempSync(join(tmpdir(), 'wsplay-requires-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let folders = 0;
/** Lesson 02's starter in a fresh folder, its server behind a wiretap, joined by the bridge. */
async function lesson02() {
  const workspace = new Workspace(join(base, `ws-${++folders}`), join(LESSON, 'starter'));
  cleanup.add(() => workspace.close());
  const learner = new LearnerServer({ cwd: workspace.root, publicPort: 9900 });
  cleanup.add(() => learner.stop(false));
  const states: RunnerState[] = [];
  learner.on('state', (s: RunnerState) => states.push(s));
  const tap = new Wiretap({ port: 0, target: { host: HOST, port: 9 } });
  cleanup.add(() => tap.close());
  const tapPort = await tap.listen();
  const bridge = new LearnerBridge(tap, workspace, learner, () => ({ tap: { host: tap.host, port: tap.port }, target: tap.target, targetLabel: 'server.js' }));
  cleanup.add(() => bridge.close());
  const first = await learner.start();
  expect(first.status).toBe('running');
  // The starter's accept() returns '': a client refuses the 101.
  await expect(connect(`ws://${HOST}:${tapPort}`)).rejects.toThrow(/Sec-WebSocket-Accept/);
  const nextRunning = (from: number) =>
    until(() => states.slice(from).find((s) => s.status === 'running'), 10_000, () => `server.js running again; states: ${JSON.stringify(states.slice(from))}`);
  return { workspace, learner, states, tapPort, first, nextRunning };
}

describe('saving a file server.js requires restarts server.js', () => {
  it('accept.js saved from the dashboard: the server restarts and the next client gets a valid Accept and the greeting', async () => {
    const run = await lesson02();
    const mark = run.states.length;
    run.workspace.write('accept.js', SOLVED_ACCEPT);
    const second = await run.nextRunning(mark);
    expect(second.pid).not.toBe(run.first.pid);
    const c = await connect(`ws://${HOST}:${run.tapPort}`);
    cleanup.add(() => c.ws.terminate());
    expect(await c.next()).toBe('Hello webSocket');
  });

  it('accept.js saved by another editor on disk: the same', async () => {
    const run = await lesson02();
    const mark = run.states.length;
    writeFileSync(join(run.workspace.root, 'accept.js'), SOLVED_ACCEPT);
    const second = await run.nextRunning(mark);
    expect(second.pid).not.toBe(run.first.pid);
    const c = await connect(`ws://${HOST}:${run.tapPort}`);
    cleanup.add(() => c.ws.terminate());
    expect(await c.next()).toBe('Hello webSocket');
  });
});

describe('requiredFiles: which workspace files server.js runs', () => {
  const files = ['client.js', 'server.js', 'accept.js', 'hash.js', 'lib/util.js', 'lib/index.js', 'notes.js'];
  const texts: Record<string, string> = {
    'server.js': "const { WebSocketServer } = require('ws');\nconst accept = require('./accept');\nconst u = require(\"./lib/util.js\");",
    'accept.js': "const h = require('./hash.js'); const again = require('./server.js');",
    'hash.js': "module.exports = require('crypto');",
    'lib/util.js': "module.exports = require('../lib');",
    'lib/index.js': '',
    'notes.js': "require('./client.js')",
    'client.js': '',
  };
  const read = (name: string) => texts[name] ?? null;

  it('follows relative requires through other files, with or without .js or /index.js, and stops at cycles', () => {
    expect([...requiredFiles('server.js', files, read)].sort()).toEqual(['accept.js', 'hash.js', 'lib/index.js', 'lib/util.js']);
  });

  it('leaves out packages, files nothing reaches, and files outside the workspace list', () => {
    const found = requiredFiles('server.js', files, read);
    expect(found.has('client.js')).toBe(false);
    expect(found.has('notes.js')).toBe(false);
    expect(requiredFiles('server.js', ['server.js'], read).size).toBe(0);
  });
});
