/**
 * The learner's server.js as the playground runs it (server/runner/learner-server.ts with
 * listen-preload.cjs, and server/app/learner-bridge.ts): the course's code runs verbatim, its
 * `port: 9900` moved to an internal port; a save restarts it and the change reaches new
 * clients; a restart ends its whole process tree and frees its ports; a crash is reported with
 * its stack; a server that never listens, or listens elsewhere, gets a message that says so.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LearnerBridge } from '../../server/app/learner-bridge.ts';
import { LearnerServer, type RunnerState } from '../../server/runner/learner-server.ts';
import { STARTERS_DIR, Workspace } from '../../server/runner/workspace.ts';
import { Wiretap } from '../../server/tap/wiretap.ts';
import { alive, Cleanup, connect, eventually, HOST, refused, unusedPort, until } from '../helpers/net.ts';

/** The port the course's code asks for. Nothing binds it: the preload moves the listen. */
const PUBLIC_PORT = 9900;
const COURSE_SERVER = readFileSync(join(STARTERS_DIR, 'server.js'), 'utf8');

const base = mkdtempSync(join(tmpdir(), 'wsplay-learner-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface Run {
  workspace: Workspace;
  learner: LearnerServer;
  states: RunnerState[];
  output: Array<{ stream: 'stdout' | 'stderr'; text: string }>;
  /** Output as text, for failure messages. */
  printed(): string;
  /** The first output line matching `re` (its match), once it comes. */
  line(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The first state after `from` (an index into states) with this status. */
  state(status: RunnerState['status'], from?: number, timeoutMs?: number): Promise<RunnerState>;
}

let folders = 0;
/** A workspace in a temp folder holding `script` as server.js, and a LearnerServer for it (not started). */
function setUp(script: string | null, opts: { listenTimeoutMs?: number } = {}): Run {
  const workspace = new Workspace(join(base, `ws-${++folders}`));
  cleanup.add(() => workspace.close());
  if (script !== null) writeFileSync(join(workspace.root, 'server.js'), script);
  const learner = new LearnerServer({ cwd: workspace.root, publicPort: PUBLIC_PORT, listenTimeoutMs: opts.listenTimeoutMs });
  cleanup.add(() => learner.stop(false));
  const states: RunnerState[] = [];
  const output: Run['output'] = [];
  learner.on('state', (s: RunnerState) => states.push(s));
  learner.on('output', (o: Run['output'][number]) => output.push(o));
  const printed = () => output.map((o) => `${o.stream}: ${o.text}`).join('\n');
  return {
    workspace,
    learner,
    states,
    output,
    printed,
    line: (re, timeoutMs = 10_000) =>
      until(() => output.map((o) => o.text.match(re)).find((m) => m !== null) ?? undefined, timeoutMs, () => `output matching ${re}; got:\n${printed()}`),
    state: (status, from = 0, timeoutMs = 10_000) =>
      until(
        () => states.slice(from).find((s) => s.status === status),
        timeoutMs,
        () => `state ${status}; states: ${JSON.stringify(states.slice(from))}; output:\n${printed()}`,
      ),
  };
}

/** A connection to the learner's server, closed after the test. */
async function client(port: number) {
  const c = await connect(`ws://${HOST}:${port}`);
  cleanup.add(() => c.ws.terminate());
  return c;
}


/** The course's server with its greeting (and optionally its reply) changed, as a learner would edit it. */
function editedServer(greeting: string): string {
  const edited = COURSE_SERVER.replace("ws.send('Hello webSocket');", `ws.send('${greeting}');`);
  expect(edited).not.toBe(COURSE_SERVER);
  return edited;
}

/** The course's server changed to broadcast every message to every client. */
const BROADCAST_SERVER = COURSE_SERVER.replace(
  'ws.send(`I heard you say "${msg}"`);',
  'for (const c of wss.clients) c.send(`broadcast: ${msg}`);',
).replace("ws.send('Hello webSocket');", "ws.send('Hello broadcast');");

describe("the course's server.js, verbatim", () => {
  it('runs moved from port 9900 to an internal port, and greets and echoes a client there', async () => {
    const run = setUp(null);
    expect(readFileSync(join(run.workspace.root, 'server.js'), 'utf8')).toBe(COURSE_SERVER);
    const state = await run.learner.start();
    expect(state, run.printed()).toMatchObject({ status: 'running', file: 'server.js' });
    expect(state.port).toBeGreaterThan(0);
    expect(state.port).not.toBe(PUBLIC_PORT);
    expect(state.pid).toBeGreaterThan(0);
    expect(state.message).toContain(`port ${PUBLIC_PORT}`);
    expect(state.message).toContain(`internal port ${state.port}`);

    const c = await client(state.port!);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('hi there');
    expect(await c.next()).toBe('I heard you say "hi there"');
    // Its console.log reaches the playground's console, line by line.
    await run.line(/^received: hi there$/);
    expect(run.output.find((o) => o.text === 'received: hi there')?.stream).toBe('stdout');
  });
});

describe('a long console line', () => {
  it("comes out whole in time linear in its length: a 64 MiB message the course's server logs is one line, cut in the middle, with its true length", async () => {
    // The course's server, reading the message as lesson 06 ends up doing (spreading 64 MiB
    // into String.fromCharCode overflows the stack).
    const script = COURSE_SERVER.replace('String.fromCharCode(...data)', 'data.toString()');
    expect(script).not.toBe(COURSE_SERVER);
    const run = setUp(script);
    const state = await run.learner.start();
    expect(state, run.printed()).toMatchObject({ status: 'running' });
    const big = await client(state.port!);
    expect(await big.next()).toBe('Hello webSocket');
    // 64 MiB logged as one line arrives in ~1,000 pipe chunks with no newline until the last:
    // splitting that by joining the pending text on every chunk took minutes, and froze the
    // playground meanwhile. The bound below is only the test's patience, 30 times what it takes.
    const size = 64 * 1024 * 1024;
    big.ws.send(`start${'m'.repeat(size - 8)}end`);
    cleanup.add(() => big.ws.terminate());
    const [text] = await run.line(/^received: start.* characters cut: .*end$/, 60_000);
    const line = run.output.find((o) => o.text === text) as { text: string; length?: number };
    expect(line.length).toBe('received: '.length + size);
    expect(line.text.length).toBeLessThan(10_000);
    expect(line.text).toContain(`the line had ${('received: '.length + size).toLocaleString('en-US')}]`);
    // The server and the playground are still there for another client.
    const other = await client(state.port!);
    expect(await other.next()).toBe('Hello webSocket');
    other.ws.send('still there?');
    expect(await other.next()).toBe('I heard you say "still there?"');
    await run.line(/^received: still there\?$/);
  }, 90_000);
});

describe("the dashboard's port", () => {
  it('reaches server.js as WSPLAY_DASHBOARD_PORT, and a new value after setEnv and a restart', async () => {
    const run = setUp(`${COURSE_SERVER}\nconsole.log('dashboard port:', process.env.WSPLAY_DASHBOARD_PORT);\n`);
    run.learner.setEnv('WSPLAY_DASHBOARD_PORT', '9901');
    expect((await run.learner.start()).status, run.printed()).toBe('running');
    await run.line(/^dashboard port: 9901$/);
    run.learner.setEnv('WSPLAY_DASHBOARD_PORT', '19921');
    expect((await run.learner.restart()).status, run.printed()).toBe('running');
    await run.line(/^dashboard port: 19921$/);
  });
});

describe('restart on save', () => {
  it('restarts when server.js is saved through the bridge, and a new client behind the wiretap sees the change', async () => {
    const run = setUp(null);
    const tap = new Wiretap({ port: 0, target: { host: HOST, port: 9 } });
    cleanup.add(() => tap.close());
    const tapPort = await tap.listen();
    const bridge = new LearnerBridge(tap, run.workspace, run.learner, () => ({ tap: { host: tap.host, port: tap.port }, target: tap.target, targetLabel: 'server.js' }));
    cleanup.add(() => bridge.close());

    const first = await run.learner.start();
    expect(first.status, run.printed()).toBe('running');
    // The bridge points the wiretap at the internal port.
    expect(tap.target).toEqual({ host: '127.0.0.1', port: first.port });
    const before = await client(tapPort);
    expect(await before.next()).toBe('Hello webSocket');

    const mark = run.states.length;
    run.workspace.write('server.js', BROADCAST_SERVER);
    const second = await run.state('running', mark);
    expect(second.pid).not.toBe(first.pid);
    expect(tap.target).toEqual({ host: '127.0.0.1', port: second.port });

    // The old process is gone, and with it the connection it held (1006: no close frame).
    expect((await before.closed).code).toBe(1006);
    await eventually(async () => !alive(first.pid!), 5000, `the old server (pid ${first.pid}) to be gone`);
    // Its port is free again (unless the new server happened to be given the very same one).
    if (second.port !== first.port) expect(await refused(first.port!)).toBe(true);

    const a = await client(tapPort);
    const b = await client(tapPort);
    expect(await a.next()).toBe('Hello broadcast');
    expect(await b.next()).toBe('Hello broadcast');
    a.ws.send('to everyone');
    expect(await a.next()).toBe('broadcast: to everyone');
    expect(await b.next()).toBe('broadcast: to everyone');
  });

  it('restarts when another editor saves server.js on disk', async () => {
    const run = setUp(null);
    const tap = new Wiretap({ port: 0, target: { host: HOST, port: 9 } });
    cleanup.add(() => tap.close());
    const tapPort = await tap.listen();
    const bridge = new LearnerBridge(tap, run.workspace, run.learner, () => ({ tap: { host: tap.host, port: tap.port }, target: tap.target, targetLabel: 'server.js' }));
    cleanup.add(() => bridge.close());
    const first = await run.learner.start();
    expect(first.status, run.printed()).toBe('running');

    const mark = run.states.length;
    writeFileSync(join(run.workspace.root, 'server.js'), editedServer('Hello from VS Code'));
    const second = await run.state('running', mark);
    expect(second.pid).not.toBe(first.pid);
    const c = await client(tapPort);
    expect(await c.next()).toBe('Hello from VS Code');
  });

  it('restarts once for a burst of saves (scheduleRestart), with the last text', async () => {
    const run = setUp(null);
    const first = await run.learner.start();
    expect(first.status, run.printed()).toBe('running');
    const mark = run.states.length;
    for (const greeting of ['Hello 1', 'Hello 2', 'Hello 3']) {
      writeFileSync(join(run.workspace.root, 'server.js'), editedServer(greeting));
      run.learner.scheduleRestart(200);
    }
    const second = await run.state('running', mark);
    expect(run.states.slice(mark).filter((s) => s.status === 'starting')).toHaveLength(1);
    const c = await client(second.port!);
    expect(await c.next()).toBe('Hello 3');
  });

  it('ends the whole process tree on restart: a child process the server spawned is gone and its port freed', async () => {
    // server.js starts a helper process that listens on a port of its own and prints where.
    const script = `${COURSE_SERVER}
const { spawn } = require('child_process');
const helper = spawn(process.execPath, ['-e', \`
  const net = require('net');
  const s = net.createServer().listen(0, '127.0.0.1', () => console.log('helper pid ' + process.pid + ' port ' + s.address().port));
\`], { stdio: 'inherit' });
`;
    const run = setUp(script);
    const first = await run.learner.start();
    expect(first.status, run.printed()).toBe('running');
    const [, pidText, portText] = await run.line(/^helper pid (\d+) port (\d+)$/);
    const helperPid = Number(pidText);
    const helperPort = Number(portText);
    expect(alive(helperPid)).toBe(true);
    expect(await refused(helperPort)).toBe(false);

    const second = await run.learner.restart();
    expect(second.status, run.printed()).toBe('running');
    expect(alive(first.pid!)).toBe(false);
    await eventually(async () => !alive(helperPid), 5000, `the helper process (pid ${helperPid}) to be gone`);
    await eventually(() => refused(helperPort), 5000, `the helper's port ${helperPort} to be freed`);
    if (second.port !== first.port) expect(await refused(first.port!)).toBe(true);
    const c = await client(second.port!);
    expect(await c.next()).toBe('Hello webSocket');
  });

  it('stops: the process is ended and the state says so', async () => {
    const run = setUp(null);
    const first = await run.learner.start();
    expect(first.status, run.printed()).toBe('running');
    await run.learner.stop();
    expect(run.learner.state.status).toBe('stopped');
    expect(alive(first.pid!)).toBe(false);
    if (first.port) expect(await refused(first.port)).toBe(true);
  });
});

describe('a crash', () => {
  it('at the top level gives state crashed with the stack, the error in the output, and a save brings it back', async () => {
    const run = setUp("const { WebSocketServer } = require('ws');\n\nthrow new Error('boom at the top level');\n");
    const state = await run.learner.start();
    expect(state.status, run.printed()).toBe('crashed');
    expect(state.message).toContain('server.js crashed');
    expect(state.stack).toContain('Error: boom at the top level');
    expect(state.stack).toMatch(/server\.js:3\b/);
    expect(run.output.filter((o) => o.stream === 'stderr').map((o) => o.text)).toContainEqual(expect.stringContaining('Error: boom at the top level'));

    // The playground (this process) is unharmed: fix the file and the server runs again.
    writeFileSync(join(run.workspace.root, 'server.js'), COURSE_SERVER);
    const fixed = await run.learner.restart();
    expect(fixed.status, run.printed()).toBe('running');
    const c = await client(fixed.port!);
    expect(await c.next()).toBe('Hello webSocket');
  });

  it('inside the message handler gives state crashed with the stack once a message arrives, and its client sees 1006', async () => {
    const script = COURSE_SERVER.replace(
      "console.log('received: %s', msg);",
      "console.log('received: %s', msg);\n    if (msg === 'boom') throw new TypeError(`cannot handle \"${msg}\"`);",
    );
    expect(script).not.toBe(COURSE_SERVER);
    const run = setUp(script);
    const state = await run.learner.start();
    expect(state.status, run.printed()).toBe('running');

    const c = await client(state.port!);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('fine');
    expect(await c.next()).toBe('I heard you say "fine"');
    const mark = run.states.length;
    c.ws.send('boom');
    const crashed = await run.state('crashed', mark);
    expect(crashed.stack).toContain('TypeError: cannot handle "boom"');
    expect(crashed.stack).toMatch(/server\.js:9\b/);
    expect(run.output.map((o) => o.text)).toContainEqual(expect.stringContaining('TypeError: cannot handle "boom"'));
    expect((await c.closed).code).toBe(1006);
    expect(alive(state.pid!)).toBe(false);

    // The playground keeps working: a restart runs the same code again.
    const again = await run.learner.restart();
    expect(again.status, run.printed()).toBe('running');
    const d = await client(again.port!);
    expect(await d.next()).toBe('Hello webSocket');
  });
});

describe('a server that does not listen on 9900', () => {
  it('never listens: state not-listening with a message naming port 9900', async () => {
    const run = setUp("console.log('no server here');\nsetInterval(() => {}, 1000);\n", { listenTimeoutMs: 400 });
    const state = await run.learner.start();
    expect(state.status, run.printed()).toBe('not-listening');
    expect(state.message).toContain(`port: ${PUBLIC_PORT}`);
    expect(state.message).toContain('has not listened');
    expect(state.port).toBeUndefined();
  });

  it('listens on another port: state not-listening with a message naming that port', async () => {
    const other = await unusedPort();
    const script = COURSE_SERVER.replace('{ port: 9900 }', `{ port: ${other}, host: '127.0.0.1' }`);
    const run = setUp(script, { listenTimeoutMs: 1000 });
    const state = await run.learner.start();
    expect(state.status, run.printed()).toBe('not-listening');
    expect(state.message).toContain(`listens on port ${other}, not ${PUBLIC_PORT}`);
  });

  it('listens on a port the system picks: the message names the port it really got', async () => {
    const script = COURSE_SERVER.replace('{ port: 9900 }', "{ port: 0, host: '127.0.0.1' }");
    const run = setUp(script, { listenTimeoutMs: 1000 });
    const state = await run.learner.start();
    expect(state.status, run.printed()).toBe('not-listening');
    const named = /listens on port (\d+), not 9900/.exec(state.message ?? '');
    expect(named, state.message).not.toBeNull();
    // The port named is where the server is: a client there is greeted.
    const c = await client(Number(named![1]));
    expect(await c.next()).toBe('Hello webSocket');
  });
});
