/**
 * The `wsplay` command as a user runs it: a child process, its output lines, its exit code,
 * and its recording file.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  Cleanup,
  connect,
  eventually,
  frameBytes,
  occupyPort,
  rawUpgrade,
  refused,
  runCli,
  startEchoServer,
  startWsServer,
  unusedPort,
  until,
  type CliProcess,
} from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LISTENING = /^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) → ws:\/\/([\d.]+):(\d+)$/;

/** `wsplay COMMAND ...args` without the dashboard (its default port is fixed, and it opens a browser). */
function cli([command, ...args]: string[]): CliProcess {
  const p = runCli([command!, '--no-dashboard', ...args]);
  // SIGTERM first, so `start` stops its echo server; SIGKILL if that does not work.
  cleanup.add(async () => {
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
    await p.exited;
    clearTimeout(timer);
  });
  return p;
}

async function client(url: string) {
  const c = await connect(url);
  cleanup.add(() => c.ws.terminate());
  return c;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('wsplay tap', () => {
  it('prints the address once it listens and relays to the target', async () => {
    const server = await startEchoServer();
    cleanup.add(() => server.close());
    const p = cli(['tap', '--target', `ws://127.0.0.1:${server.port}`, '--port', '0']);
    const [, port, host, target] = await p.line(LISTENING);
    expect([host, target]).toEqual(['127.0.0.1', String(server.port)]);
    expect(p.stdout().split('\n').filter((l) => LISTENING.test(l))).toHaveLength(1);

    const c = await client(`ws://127.0.0.1:${port}`);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('through the command line');
    expect(await c.next()).toBe('I heard you say "through the command line"');
    expect(p.stdout()).not.toMatch(/Nothing answers/);
  });

  it('starts anyway when nothing answers at the target, and says so in one line', async () => {
    const target = await unusedPort();
    const p = cli(['tap', '--target', `ws://127.0.0.1:${target}`, '--port', '0']);
    const [, port] = await p.line(LISTENING);
    const [note] = await p.line(/^Nothing answers at .*$/);
    expect(note).toContain(`127.0.0.1:${target}`);
    expect(note).toMatch(/start your server|fix --target/);

    // A client that connects anyway is ended, and the terminal is told why, once.
    await expect(connect(`ws://127.0.0.1:${port}`)).rejects.toThrow();
    await expect(connect(`ws://127.0.0.1:${port}`)).rejects.toThrow();
    const [warning] = await p.line(/^Cannot reach the server .*$/);
    expect(warning).toContain('ECONNREFUSED');
    expect(p.stdout().split('\n').filter((l) => l.startsWith('Cannot reach'))).toHaveLength(1);
    expect(p.child.exitCode).toBeNull();
  });

  it('exits 2 with one line saying what to do when the port is in use', async () => {
    const busy = await occupyPort();
    cleanup.add(() => busy.close());
    const p = cli(['tap', '--target', 'ws://127.0.0.1:8080', '--port', String(busy.port)]);
    expect((await p.exited).code).toBe(2);
    const lines = p.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Port ${busy.port} is in use`));
    expect(lines[0]).toMatch(/--port \d+/);
    // Linux: the message names who holds the port (this test process).
    if (process.platform === 'linux') expect(lines[0]).toContain(`pid ${process.pid}`);
    expect(p.stdout()).not.toMatch(/Wiretap listening/);
  });

  it.each([
    ['a bad URL', ['--port', '0', '--target', 'nonsense:://'], /not an address.*ws:\/\/HOST:PORT/],
    ['--ca that is not a file', ['--port', '0', '--target', 'wss://127.0.0.1:8443', '--ca', '/nonexistent/ca.pem'], /--ca "\/nonexistent\/ca\.pem" cannot be read.*PEM/],
    ['--ca with a ws:// target', ['--port', '0', '--target', 'ws://127.0.0.1:8080', '--insecure'], /--insecure.*wss:\/\//],
    ['no --target', ['--port', '0'], /needs --target.*--target ws:\/\//],
    ['an unknown option', ['--port', '0', '--target', 'ws://127.0.0.1:8080', '--colour'], /--colour.*Run: npx wsplay --help/],
    ['a bad --port', ['--target', 'ws://127.0.0.1:8080', '--port', 'ninety'], /--port "ninety"/],
    ['--port without its value', ['--target', 'ws://127.0.0.1:8080', '--port'], /--port.*Run: npx wsplay --help/],
    ['a stray argument', ['--port', '0', 'ws://127.0.0.1:8080'], /'ws:\/\/127\.0\.0\.1:8080'.*Run: npx wsplay --help/],
  ])('exits 2 with one clear line for %s', async (_name, args, expected) => {
    const p = cli(['tap', ...args]);
    expect((await p.exited).code).toBe(2);
    const lines = p.stderr().trimEnd().split('\n');
    expect(lines).toEqual([expect.stringMatching(expected)]);
    expect(p.stdout()).toBe('');
  });
});

/** `wsplay tap` with its dashboard on a free port, as a user runs it; resolves once both listen. */
async function tapWithDashboard(target: number, ...args: string[]) {
  const p = runCli(['tap', '--target', `ws://127.0.0.1:${target}`, '--port', '0', '--dashboard-port', '0', '--no-open', ...args], { WSPLAY_SKIP_UI_BUILD: '1' });
  cleanup.add(() => p.stop());
  const [, wiretap] = await p.line(LISTENING);
  const [, dashboard, token] = await p.line(/^Dashboard: http:\/\/127\.0\.0\.1:(\d+)\/\?token=(\S+)$/, 30_000);
  return { p, wiretap: Number(wiretap), dashboard: Number(dashboard), token: token! };
}

describe('wsplay tap, its dashboard and its ports', () => {
  it("answers JSON, never an HTML page, for what tap mode lacks and for an unknown API", async () => {
    const server = await startEchoServer();
    cleanup.add(() => server.close());
    const { dashboard, token } = await tapWithDashboard(server.port);
    const get = async (path: string, method = 'GET') => {
      const res = await fetch(`http://127.0.0.1:${dashboard}${path}`, { method, headers: { 'X-Wsplay-Token': token } });
      return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as { error: string; needs?: string } };
    };
    for (const [path, method] of [['/api/files', 'GET'], ['/api/server/restart', 'POST'], ['/api/lessons', 'GET'], ['/api/types/ws.d.ts', 'GET']] as const) {
      const r = await get(path, method);
      expect(r.status, path).toBe(404);
      expect(r.type).toMatch(/^application\/json/);
      expect(r.body.error).toContain(`${method} ${path}`);
      expect(r.body.error).toMatch(/wsplay tap runs the wiretap only.*npm start/);
      expect(r.body.needs).toBe('npm start');
    }
    const unknown = await get('/api/no-such-thing');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('GET /api/no-such-thing: no such API in this dashboard');
    // What tap mode has still answers.
    const info = await fetch(`http://127.0.0.1:${dashboard}/api/info`, { headers: { 'X-Wsplay-Token': token } });
    expect(((await info.json()) as { topology: { mode?: string } }).topology.mode).toBe('tap');
  });

  it('says a name that could not be resolved is a name problem, not a server to start', async () => {
    // .invalid never resolves (RFC 6761): ENOTFOUND, or EAI_AGAIN on a machine without DNS.
    const p = cli(['tap', '--target', 'ws://wsplay-no-such-host.invalid:8080', '--port', '0']);
    await p.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:\d+ → ws:\/\/wsplay-no-such-host\.invalid:8080$/, 20_000);
    // The probe waits for the lookup: a machine without DNS may take a while to give up.
    const [line] = await p.line(/^The name .*$/, 20_000);
    expect(line).toMatch(/^The name wsplay-no-such-host\.invalid could not be resolved \((ENOTFOUND|EAI_AGAIN), [^)]+\): check the spelling and the network, or give --target an IP address such as ws:\/\/127\.0\.0\.1:8080\.$/);
    expect(p.stdout()).not.toMatch(/Nothing answers|start your server/);
  });

  it('names a wsplay holding the port, with its dashboard, and suggests one command that keeps every flag', async () => {
    const server = await startEchoServer();
    cleanup.add(() => server.close());
    const first = await tapWithDashboard(server.port);
    const record = path.join(dir, 'second run.jsonl');
    const p = runCli(['tap', '--target', `ws://127.0.0.1:${server.port}`, '--port', String(first.wiretap), '--record', record, '--no-open', '--dashboard-port', '0'], { WSPLAY_SKIP_UI_BUILD: '1' });
    cleanup.add(() => p.stop());
    expect((await p.exited).code).toBe(2);
    const lines = p.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^Port ${first.wiretap} is in use by another wsplay \\(pid ${first.p.child.pid}, its dashboard at http://127\\.0\\.0\\.1:${first.dashboard}/\\)\\. Stop it or run: `),
    );
    const [, suggested] = /Stop it or run: (.*)$/.exec(lines[0]!)!;
    expect(suggested).toMatch(
      new RegExp(`^npx wsplay tap --target ws://127\\.0\\.0\\.1:${server.port} --port (\\d+) --record '${record.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' --no-open --dashboard-port 0$`),
    );
    expect(suggested).not.toContain(`--port ${first.wiretap} `);
    expect(existsSync(record)).toBe(false);
  });

  it('suggests free ports for both when both named ports are taken, in one command', async () => {
    const [a, b] = [await occupyPort(), await occupyPort()];
    cleanup.add(() => a.close());
    cleanup.add(() => b.close());
    const p = runCli(['tap', '--target', '8080', '--port', String(a.port), '--dashboard-port', String(b.port), '--no-open'], { WSPLAY_SKIP_UI_BUILD: '1' });
    cleanup.add(() => p.stop());
    expect((await p.exited).code).toBe(2);
    const lines = p.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`Port ${a.port} is in use by another program (pid ${process.pid}); Dashboard port ${b.port} is in use by another program (pid ${process.pid}).`);
    const m = /Stop it or run: npx wsplay tap --target 8080 --port (\d+) --dashboard-port (\d+) --no-open$/.exec(lines[0]!);
    expect(m, lines[0]).not.toBeNull();
    expect([Number(m![1]), Number(m![2])]).not.toContain(a.port);
    expect([Number(m![1]), Number(m![2])]).not.toContain(b.port);
  });
});

describe('wsplay start', () => {
  it('says at once that the dashboard port is taken, before it starts server.js or the wiretap', async () => {
    const busy = await occupyPort();
    cleanup.add(() => busy.close());
    const workspace = mkdtempSync(path.join(dir, 'ws-'));
    const p = runCli(['start', '--port', '0', '--dashboard-port', String(busy.port), '--no-open', '--workspace', workspace], { WSPLAY_SKIP_UI_BUILD: '1' });
    cleanup.add(() => p.stop());
    expect((await p.exited).code).toBe(2);
    const lines = p.stderr().trimEnd().split('\n');
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^Dashboard port ${busy.port} is in use.*--dashboard-port \\d+`))]);
    expect(p.stdout()).not.toMatch(/Starting server\.js|Wiretap listening/);
  });

  it('says at once that WSPLAY_TOKEN is unusable, before it starts anything', async () => {
    const p = runCli(['start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', mkdtempSync(path.join(dir, 'ws-'))], { WSPLAY_SKIP_UI_BUILD: '1', WSPLAY_TOKEN: 'short' });
    cleanup.add(() => p.stop());
    expect((await p.exited).code).toBe(2);
    expect(p.stderr().trimEnd().split('\n')).toEqual([expect.stringMatching(/^WSPLAY_TOKEN must be 8 to 128/)]);
    expect(p.stdout()).not.toMatch(/Starting server\.js|Wiretap listening/);
  });

  it("runs the course's server from the workspace behind the wiretap and stops both on SIGTERM", async () => {
    const workspace = mkdtempSync(path.join(dir, 'ws-'));
    const p = cli(['start', '--port', '0', '--workspace', workspace]);
    const [, pid, internal] = await p.line(/^Server: server\.js \(pid (\d+)\) on internal port (\d+)$/);
    const [, port, , serverPort] = await p.line(LISTENING);
    expect(serverPort).toBe(internal);
    // The course's code, verbatim, was seeded into the workspace and runs as written (port 9900 moved).
    expect(readFileSync(path.join(workspace, 'server.js'), 'utf8')).toContain('new WebSocketServer({ port: 9900 })');

    const c = await client(`ws://127.0.0.1:${port}`);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('started');
    expect(await c.next()).toBe('I heard you say "started"');

    p.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    expect(isAlive(Number(pid))).toBe(false);
  });

  it('prints each state of server.js once with DEBUG=wsplay:*, as the time-stamped debug line', async () => {
    const p = runCli(['start', '--port', '0', '--no-dashboard', '--workspace', mkdtempSync(path.join(dir, 'ws-'))], { DEBUG: 'wsplay:*' });
    cleanup.add(() => p.stop());
    await p.line(LISTENING);
    const said = 'server.js listens on port 9900, moved to internal port';
    // The debug line goes to stderr, a pipe of its own: wait for it there.
    await until(() => (p.stderr().includes(said) ? true : undefined), 10_000, () => `the runner's debug line in stderr: ${p.stderr()}`);
    const all = `${p.stdout()}${p.stderr()}`.split('\n').filter((l) => l.includes(said));
    expect(all).toHaveLength(1);
    expect(all[0]).toMatch(/wsplay:runner server\.js running: server\.js listens on port 9900/);
  });

  it('leaves no server process behind when it is killed outright', async () => {
    const p = cli(['start', '--port', '0', '--workspace', mkdtempSync(path.join(dir, 'ws-'))]);
    const [, , , serverPort] = await p.line(LISTENING);
    p.kill('SIGKILL');
    await p.exited;
    // An orphaned server would keep its port; once it is gone, connecting is refused.
    await eventually(() => refused(Number(serverPort)), 5000, `the echo server on port ${serverPort} to exit`);
  });
});

/** One line of a recording: the fields README documents, checked by type. */
function checkRecordedEvent(e: Record<string, unknown>): void {
  const dirs = ['client', 'server'];
  const pairs = (h: unknown) => Array.isArray(h) && h.every((p) => Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === 'string'));
  expect(typeof e.type).toBe('string');
  expect(Number.isInteger(e.conn) && (e.conn as number) >= 1).toBe(true);
  expect(typeof e.t).toBe('number');
  switch (e.type) {
    case 'frame': {
      expect(dirs).toContain(e.dir);
      for (const k of ['fin', 'rsv1', 'rsv2', 'rsv3', 'masked']) expect(typeof e[k], k).toBe('boolean');
      expect(typeof e.opcode).toBe('number');
      expect(typeof e.length).toBe('number');
      if (e.masked) expect(e.maskKey).toMatch(/^[0-9a-f]{8}$/);
      else expect(e.maskKey).toBeNull();
      expect(typeof e.payload).toBe('string');
      if (!e.truncated) expect(Buffer.from(e.payload as string, 'base64').length).toBe(e.length);
      break;
    }
    case 'message':
      expect(dirs).toContain(e.dir);
      expect([1, 2]).toContain(e.opcode);
      expect(typeof e.length).toBe('number');
      expect(typeof e.compressed).toBe('boolean');
      if (e.opcode === 1) expect(typeof e.text).toBe('string');
      else expect(typeof e.base64).toBe('string');
      break;
    case 'handshake': {
      const req = e.request as Record<string, unknown>;
      const res = e.response as Record<string, unknown>;
      expect(typeof req.method).toBe('string');
      expect(typeof req.path).toBe('string');
      expect(pairs(req.headers)).toBe(true);
      expect(typeof res.status).toBe('number');
      expect(pairs(res.headers)).toBe(true);
      expect(typeof e.acceptValid).toBe('boolean');
      expect(Array.isArray(e.extensions)).toBe(true);
      expect(e.subprotocol === null || typeof e.subprotocol === 'string').toBe(true);
      break;
    }
    case 'close':
      expect(dirs).toContain(e.dir);
      expect(typeof e.code).toBe('number');
      expect(typeof e.reason).toBe('string');
      break;
    case 'violation':
      expect(dirs).toContain(e.dir);
      expect(typeof e.rule).toBe('string');
      expect(typeof e.closeCode).toBe('number');
      break;
    default:
      break;
  }
}

describe('wsplay tap --record', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('writes a complete JSON Lines recording and exits 0 on %s', async (signal) => {
    const server = await startWsServer({}, (ws) => {
      ws.send('Hello');
      ws.on('message', (data) => ws.send(`echo ${data.toString()}`));
    });
    cleanup.add(() => server.close());
    const file = path.join(dir, `recording-${signal}.jsonl`);
    const p = cli(['tap', '--target', `ws://127.0.0.1:${server.port}`, '--port', '0', '--record', file]);
    const [, port] = await p.line(LISTENING);
    await p.line(/^Recording every event to /);

    // A whole conversation, closed cleanly.
    const c = await client(`ws://127.0.0.1:${port}`);
    expect(await c.next()).toBe('Hello');
    c.ws.send('recorded');
    expect(await c.next()).toBe('echo recorded');
    c.ws.close(1000, 'done');
    await c.closed;
    // A frame that breaks a rule (the server answers 1002).
    const raw = await rawUpgrade(Number(port));
    cleanup.add(() => raw.socket.destroy());
    raw.socket.write(frameBytes(2, Buffer.from([1, 2, 3]), { mask: null }));
    await raw.ended;
    // A connection still open when the signal comes.
    const open = await client(`ws://127.0.0.1:${port}`);
    expect(await open.next()).toBe('Hello');

    const lines = () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    await until(() => (lines().split('\n').filter((l) => l.includes('"type":"end"')).length >= 2 ? true : undefined), 5000, () => `two end events in ${lines()}`);
    await until(() => (lines().includes('"type":"message","conn":3') ? true : undefined), 5000, () => `the open connection's greeting in ${lines()}`);

    p.kill(signal);
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect((await open.closed).code).toBe(1006);

    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const events = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of events) checkRecordedEvent(e);
    const [, count] = await p.line(/^Recording complete: (\d+) events in (.*)$/);
    expect(Number(count)).toBe(events.length);

    const types = new Set(events.map((e) => e.type));
    for (const t of ['open', 'handshake', 'frame', 'message', 'close', 'violation', 'end']) expect(types, t).toContain(t);
    const of = (conn: number, type: string) => events.filter((e) => e.conn === conn && e.type === type);
    expect(of(1, 'message').map((e) => [e.dir, e.text])).toEqual([
      ['server', 'Hello'],
      ['client', 'recorded'],
      ['server', 'echo recorded'],
    ]);
    expect(of(1, 'close').map((e) => [e.dir, e.code, e.reason])).toEqual([
      ['client', 1000, 'done'],
      ['server', 1000, 'done'],
    ]);
    expect(of(2, 'violation')).toEqual([expect.objectContaining({ dir: 'client', rule: 'unmasked-client-frame', closeCode: 1002 })]);
    expect(of(2, 'close')).toEqual([expect.objectContaining({ dir: 'server', code: 1002 })]);
    // Each connection ends exactly once, the one open at the signal included.
    expect([1, 2, 3].map((conn) => of(conn, 'end').length)).toEqual([1, 1, 1]);
    expect(of(3, 'end')[0]).toMatchObject({ by: 'wiretap', code: 1006, clean: false });
  });
});
