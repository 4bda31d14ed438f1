/**
 * The workspace over HTTP (server/app/workspace-routes.ts), composed as `wsplay start` does it
 * (server/cli.ts): a Workspace in a temp folder, the learner's server.js in a LearnerServer, the
 * wiretap in front of it, the LearnerBridge between them and the dashboard serving it all.
 *
 * The files are read and written with the session token only; /workspace/client.js (the URL
 * the Worker loads) with a single-use grant (POST /api/client-grant, a cookie for that path) or
 * the token, and never for a page on another port or site. Every path-escape attempt is sent as
 * a raw request line, byte for byte (fetch would normalise `..` away), and must get 403 and
 * never the content of the file outside.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamMessage } from '../../server/app/stream-protocol.ts';
import { startDashboard, type Dashboard } from '../../server/app/dashboard.ts';
import { LearnerBridge } from '../../server/app/learner-bridge.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { LearnerServer, type RunnerState } from '../../server/runner/learner-server.ts';
import { STARTERS_DIR, Workspace } from '../../server/runner/workspace.ts';
import { Wiretap } from '../../server/tap/wiretap.ts';
import { Cleanup, connect, HOST, until } from '../helpers/net.ts';

const SECRET = 'TOP SECRET: this file is outside the workspace';
const starter = (name: string) => readFileSync(join(STARTERS_DIR, name), 'utf8');

const base = mkdtempSync(join(tmpdir(), 'wsplay-api-'));
/** Next to the workspace folder: what an escape would reach. */
const secretFile = join(base, 'secret.txt');
const cleanup = new Cleanup();
const perTest = new Cleanup();
afterEach(() => perTest.run());

let workspace: Workspace;
let learner: LearnerServer;
let tap: Wiretap;
let tapPort: number;
let dashboard: Dashboard;
const states: RunnerState[] = [];

beforeAll(async () => {
  writeFileSync(secretFile, `${SECRET}\n`);
  // A minimal built UI, so GET / answers 200 (and sets the cookie) without building the real one.
  const uiDir = join(base, 'ui');
  mkdirSync(uiDir);
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>wsplay</title>');

  workspace = new Workspace(join(base, 'workspace'));
  learner = new LearnerServer({ cwd: workspace.root, publicPort: 9900 });
  learner.on('state', (s: RunnerState) => states.push(s));
  tap = new Wiretap({ port: 0, target: { host: HOST, port: 9 } });
  cleanup.add(() => tap.close());
  tapPort = await tap.listen();
  const topology = () => ({ tap: { host: tap.host, port: tap.port }, target: tap.target, targetLabel: 'your server (server.js)' });
  const bridge = new LearnerBridge(tap, workspace, learner, topology);
  cleanup.add(() => bridge.close());
  const first = await learner.start();
  expect(first.status).toBe('running');
  dashboard = await startDashboard({
    port: 0,
    store: new CaptureStore(),
    connections: () => tap.connections,
    topology,
    uiDir,
    workspace,
    learner,
    extraHistory: () => bridge.extraHistory(),
  });
  cleanup.add(() => dashboard.close());
  bridge.attach(dashboard.stream);
}, 30_000);

afterAll(async () => {
  await cleanup.run();
  rmSync(base, { recursive: true, force: true });
});

const origin = () => `http://127.0.0.1:${dashboard.port}`;
const withToken = (headers: Record<string, string> = {}) => ({ 'X-Wsplay-Token': dashboard.token, ...headers });

// ---- raw HTTP -----------------------------------------------------------------------------

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One request written byte for byte on its own connection: the path goes out exactly as given
 * (`..`, `%2e%2e`, backslashes), which fetch and http.request would normalise or refuse.
 */
function raw(method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${dashboard.port}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (method !== 'GET') lines.push('Content-Type: text/plain', `Content-Length: ${Buffer.byteLength(body)}`);
  return new Promise((resolve, reject) => {
    const socket = net.connect(dashboard.port, HOST);
    perTest.add(() => socket.destroy());
    let buf = Buffer.alloc(0);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`No answer to ${method} ${path} within 5 s; got ${JSON.stringify(buf.toString('latin1'))}`));
    });
    socket.on('data', (chunk: Buffer) => (buf = Buffer.concat([buf, chunk])));
    socket.on('error', reject);
    socket.on('close', () => {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`${method} ${path}: the connection ended without a response head: ${JSON.stringify(buf.toString('latin1'))}`));
      const [statusLine = '', ...rest] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of rest) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: buf.subarray(end + 4).toString('utf8') });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** Every escape attempt, as it would appear after a route prefix in a raw request line. */
const ESCAPES = [
  '..',
  '../secret.txt',
  '../../../../../../etc/passwd',
  'a/../../secret.txt',
  '%2e%2e%2fsecret.txt',
  '%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%2fsecret.txt',
  '..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e/secret.txt',
  '%2E%2E%2Fsecret.txt',
  '%252e%252e%252fsecret.txt',
  '..%252fsecret.txt',
  '%252e%252e/secret.txt',
  '/etc/passwd',
  '%2fetc%2fpasswd',
  `/${base.replace(/^\//, '')}/secret.txt`,
  '..\\secret.txt',
  '..%5csecret.txt',
  '%5c..%5csecret.txt',
  'client.js%00',
  '%00../secret.txt',
];

/** The answer must not carry anything from outside the workspace. */
function expectNoLeak(r: RawResponse): void {
  expect(r.body).not.toContain(SECRET);
  expect(r.body).not.toMatch(/root:.*:0:0:/);
}

/** 403 from the workspace's path check (not from the token guard, which these requests pass). */
function expectPathRefused(r: RawResponse): void {
  expect(r.status, r.body).toBe(403);
  const { error } = JSON.parse(r.body) as { error: string };
  expect(error).toMatch(/^403: /);
  expect(error).not.toMatch(/token/);
  expectNoLeak(r);
}

// ---- the file API ---------------------------------------------------------------------------

describe('/api/files with the token', () => {
  it('lists the workspace files with their sizes', async () => {
    const res = await fetch(`${origin()}/api/files`, { headers: withToken() });
    expect(res.status).toBe(200);
    const files = (await res.json()) as Array<{ name: string; size: number }>;
    expect(files.map((f) => f.name)).toEqual(['client.js', 'server.js']);
    expect(files.find((f) => f.name === 'client.js')?.size).toBe(Buffer.byteLength(workspace.read('client.js')));
  });

  it("reads the course's server.js as text", async () => {
    const res = await fetch(`${origin()}/api/files/server.js`, { headers: withToken() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(starter('server.js'));
  });

  it('writes client.js to disk, reads it back, and resets it to the starter', async () => {
    const edited = "const socket = new WebSocket('ws://localhost:9900');\nsocket.onopen = () => socket.send('edited in the dashboard');\n";
    const put = await fetch(`${origin()}/api/files/client.js`, { method: 'PUT', headers: withToken({ 'Content-Type': 'text/plain' }), body: edited });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ name: 'client.js', size: Buffer.byteLength(edited) });
    expect(readFileSync(join(workspace.root, 'client.js'), 'utf8')).toBe(edited);
    const get = await fetch(`${origin()}/api/files/client.js`, { headers: withToken() });
    expect(await get.text()).toBe(edited);

    const reset = await fetch(`${origin()}/api/files/client.js/reset`, { method: 'POST', headers: withToken() });
    expect(reset.status).toBe(200);
    expect(await reset.json()).toMatchObject({ name: 'client.js', content: starter('client.js') });
    expect(readFileSync(join(workspace.root, 'client.js'), 'utf8')).toBe(starter('client.js'));
  });

  it('refuses to write a file that is not a workspace file', async () => {
    const res = await fetch(`${origin()}/api/files/other.js`, { method: 'PUT', headers: withToken({ 'Content-Type': 'text/plain' }), body: 'x' });
    expect(res.status).toBe(403);
    expect(existsSync(join(workspace.root, 'other.js'))).toBe(false);
  });

  it('serves the types for the server code (ws and node)', async () => {
    const ws = await fetch(`${origin()}/api/types/ws.d.ts`, { headers: withToken() });
    expect(ws.status).toBe(200);
    expect(await ws.text()).toContain('const WebSocketServer');
    const node = await fetch(`${origin()}/api/types/node.d.ts`, { headers: withToken() });
    expect(node.status).toBe(200);
    expect(await node.text()).toMatch(/declare module ['"](node:)?child_process['"]/);
  });
});

describe('/api/files without the token', () => {
  it('refuses GET, PUT and reset with 403 and leaves the file alone', async () => {
    const before = readFileSync(join(workspace.root, 'server.js'), 'utf8');
    for (const headers of [{}, { 'X-Wsplay-Token': 'not-the-token' }] as Array<Record<string, string>>) {
      const get = await raw('GET', '/api/files/server.js', headers);
      expect(get.status).toBe(403);
      expect(get.body).not.toContain('WebSocketServer');
      expect((await raw('GET', '/api/files', headers)).status).toBe(403);
      expect((await raw('PUT', '/api/files/server.js', headers, 'hijacked')).status).toBe(403);
      expect((await raw('POST', '/api/files/server.js/reset', headers)).status).toBe(403);
      expect((await raw('POST', '/api/server/restart', headers)).status).toBe(403);
    }
    expect(readFileSync(join(workspace.root, 'server.js'), 'utf8')).toBe(before);
  });

  it('refuses the session cookie alone: it opens /workspace only', async () => {
    const res = await raw('GET', '/api/files/server.js', { Cookie: `wsplay_token=${dashboard.token}` });
    expect(res.status).toBe(403);
  });
});

describe('path escapes, as raw request lines', () => {
  it.each(ESCAPES)('GET /api/files/%s gets 403 and nothing from outside', async (name) => {
    expectPathRefused(await raw('GET', `/api/files/${name}`, withToken()));
  });

  it.each(ESCAPES)('PUT /api/files/%s gets 403 and writes nothing outside', async (name) => {
    expectPathRefused(await raw('PUT', `/api/files/${name}`, withToken(), 'overwritten'));
    expect(readFileSync(secretFile, 'utf8')).toBe(`${SECRET}\n`);
  });

  it.each(ESCAPES.filter((n) => !n.includes('/')))('POST /api/files/%s/reset gets 403 and writes nothing outside', async (name) => {
    expectPathRefused(await raw('POST', `/api/files/${name}/reset`, withToken()));
    expect(readFileSync(secretFile, 'utf8')).toBe(`${SECRET}\n`);
  });

  it('refuses a symlink inside the workspace that points outside it', async () => {
    symlinkSync(secretFile, join(workspace.root, 'link.js'));
    symlinkSync(base, join(workspace.root, 'up'));
    perTest.add(() => rmSync(join(workspace.root, 'link.js')));
    perTest.add(() => rmSync(join(workspace.root, 'up')));
    for (const path of ['/api/files/link.js', '/api/files/up/secret.txt', '/api/files/up%2fsecret.txt']) {
      expectPathRefused(await raw('GET', path, withToken()));
    }
    expectPathRefused(await raw('PUT', '/api/files/link.js', withToken(), 'overwritten'));
    expect(readFileSync(secretFile, 'utf8')).toBe(`${SECRET}\n`);
  });

  it('answers the same through a symlinked folder for a file outside that exists and one that does not', async () => {
    symlinkSync(base, join(workspace.root, 'out'));
    perTest.add(() => rmSync(join(workspace.root, 'out')));
    const exists = await raw('GET', '/api/files/out/secret.txt', withToken());
    const missing = await raw('GET', '/api/files/out/no-such-file.txt', withToken());
    expectPathRefused(exists);
    expectPathRefused(missing);
    // Only the name asked for differs: nothing tells whether the file outside exists.
    expect(missing.body.replace('no-such-file.txt', 'secret.txt')).toBe(exists.body);
  });

  it('never shows the absolute path of the workspace in an error', async () => {
    const bodies = await Promise.all(
      ['/api/files/%252e%252e%252fsecret.txt', '/api/files/..%2fsecret.txt', '/api/files/other.js'].map((p) => raw(p.endsWith('other.js') ? 'PUT' : 'GET', p, withToken(), 'x')),
    );
    for (const r of bodies) {
      expect(r.status, r.body).toBe(403);
      expect(r.body).not.toContain(workspace.root);
      expect(r.body).not.toContain(base);
    }
  });
});

// ---- the client file for the Worker --------------------------------------------------------

describe('/workspace/client.js', () => {
  /** What the dashboard's Run asks for before each Worker: a single-use grant, as a cookie. */
  async function grant(): Promise<string> {
    const res = await fetch(`${origin()}/api/client-grant`, { method: 'POST', headers: withToken() });
    expect(res.status).toBe(200);
    const set = res.headers.get('set-cookie') ?? '';
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\/workspace\/client\.js(;|$)/);
    expect(set).not.toContain(dashboard.token);
    const cookie = /^(wsplay_grant=[^;]+)/.exec(set)?.[1];
    expect(cookie, `Set-Cookie: ${set}`).toBeDefined();
    return cookie!;
  }

  it('needs a grant or the token; the start page sets no cookie, and the token in a cookie opens nothing', async () => {
    const none = await raw('GET', '/workspace/client.js');
    expect(none.status).toBe(403);
    expect(none.body).not.toContain('new WebSocket');
    const wrong = await raw('GET', '/workspace/client.js', { Cookie: 'wsplay_grant=not-a-grant' });
    expect(wrong.status).toBe(403);
    expect((await raw('GET', '/workspace/client.js', { Cookie: `wsplay_token=${dashboard.token}` })).status).toBe(403);
    const page = await fetch(`${origin()}/?token=${encodeURIComponent(dashboard.token)}`);
    expect(page.headers.get('set-cookie')).toBeNull();
    // A browser that still holds the cookie an earlier version set has it deleted.
    const old = await fetch(`${origin()}/?token=${encodeURIComponent(dashboard.token)}`, { headers: { Cookie: `wsplay_token=${dashboard.token}` } });
    expect(old.headers.get('set-cookie')).toBe('wsplay_token=; HttpOnly; SameSite=Strict; Path=/workspace; Max-Age=0');
    // A grant needs the token itself.
    expect((await fetch(`${origin()}/api/client-grant`, { method: 'POST' })).status).toBe(403);
  });

  it("serves the learner's client.js as JavaScript once per grant", async () => {
    const cookie = await grant();
    const res = await raw('GET', '/workspace/client.js', { Cookie: cookie, 'Sec-Fetch-Site': 'same-origin' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/javascript/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['set-cookie']).toMatch(/^wsplay_grant=; .*Max-Age=0/);
    expect(res.body).toBe(readFileSync(join(workspace.root, 'client.js'), 'utf8'));
    // Spent: a second load with the same grant (a copy of it, a replay) is refused.
    expect((await raw('GET', '/workspace/client.js', { Cookie: cookie })).status).toBe(403);
  });

  it('grants client.js only, not the other files', async () => {
    const cookie = await grant();
    const res = await raw('GET', '/workspace/server.js', { Cookie: cookie });
    expect(res.status).toBe(403);
    expect(res.body).not.toContain('WebSocketServer');
  });

  it.each([
    ['Sec-Fetch-Site: same-site (a page on another port of 127.0.0.1)', { 'Sec-Fetch-Site': 'same-site' }],
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['a foreign Origin', { Origin: 'http://127.0.0.1:8123' }],
  ])('refuses a request from another page, %s, even with a grant or the token', async (_what, from) => {
    const cookie = await grant();
    const withGrant = await raw('GET', '/workspace/client.js', { Cookie: cookie, ...from });
    expect(withGrant.status).toBe(403);
    expect(withGrant.body).toMatch(/another port or site|is not this dashboard/);
    expect(withGrant.body).not.toContain('new WebSocket');
    expect((await raw('GET', '/workspace/client.js', withToken(from))).status).toBe(403);
    expect((await raw('POST', '/api/client-grant', withToken(from))).status).toBe(403);
  });

  it('serves it with the token header too', async () => {
    const res = await raw('GET', '/workspace/client.js', withToken());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/javascript/);
    expect(res.body).toBe(starter('client.js'));
  });

  it.each(ESCAPES)('GET /workspace/%s gets 403 and nothing from outside, even with a grant', async (name) => {
    const cookie = await grant();
    const r = await raw('GET', `/workspace/${name}`, { Cookie: cookie });
    expect(r.status).toBe(403);
    expectNoLeak(r);
  });
});

// ---- the learner's server through the API ----------------------------------------------------

describe("the learner's server", () => {
  it('restarts on POST /api/server/restart and answers with its new state', async () => {
    const before = learner.state;
    expect(before.status).toBe('running');
    const res = await fetch(`${origin()}/api/server/restart`, { method: 'POST', headers: withToken() });
    expect(res.status).toBe(200);
    const state = (await res.json()) as RunnerState;
    expect(state).toMatchObject({ status: 'running', file: 'server.js' });
    expect(state.pid).not.toBe(before.pid);
    expect(state.port).not.toBe(9900);
    const c = await connect(`ws://${HOST}:${tapPort}`);
    perTest.add(() => c.ws.terminate());
    expect(await c.next()).toBe('Hello webSocket');
  });

  it('restarts when server.js is saved through the API, and the change shows behind the wiretap and on the dashboard stream', async () => {
    const page = await connect(`ws://127.0.0.1:${dashboard.port}/api/events?token=${encodeURIComponent(dashboard.token)}`, { origin: origin() });
    perTest.add(() => page.ws.terminate());
    const messages = () => page.messages.map((m) => JSON.parse(m) as StreamMessage);
    const broadcast = starter('server.js')
      .replace('ws.send(`I heard you say "${msg}"`);', 'for (const c of wss.clients) c.send(`broadcast: ${msg}`);')
      .replace("const wss = new WebSocketServer({ port: 9900 });", "const wss = new WebSocketServer({ port: 9900 });\nconsole.log('broadcast server up');");
    expect(broadcast).toContain('broadcast server up');
    expect(broadcast).toContain('wss.clients');

    const old = learner.state;
    const mark = states.length;
    perTest.add(async () => {
      // Put the course's server back for the tests after this one.
      const m = states.length;
      workspace.reset('server.js');
      await until(() => states.slice(m).find((s) => s.status === 'running'), 10_000, () => 'the server back after reset');
    });
    const put = await fetch(`${origin()}/api/files/server.js`, { method: 'PUT', headers: withToken({ 'Content-Type': 'text/plain' }), body: broadcast });
    expect(put.status).toBe(200);
    const running = await until(() => states.slice(mark).find((s) => s.status === 'running'), 10_000, () => `a restart; states: ${JSON.stringify(states.slice(mark))}`);
    expect(running.pid).not.toBe(old.pid);

    const a = await connect(`ws://${HOST}:${tapPort}`);
    const b = await connect(`ws://${HOST}:${tapPort}`);
    perTest.add(() => a.ws.terminate());
    perTest.add(() => b.ws.terminate());
    expect(await a.next()).toBe('Hello webSocket');
    expect(await b.next()).toBe('Hello webSocket');
    a.ws.send('to everyone');
    expect(await a.next()).toBe('broadcast: to everyone');
    expect(await b.next()).toBe('broadcast: to everyone');

    // The page saw the new state and the new server's output.
    await until(
      () => messages().find((m) => m.kind === 'runner' && m.status === 'running' && m.pid === running.pid),
      5000,
      () => `a runner message for pid ${running.pid}; got ${JSON.stringify(messages().map((m) => m.kind))}`,
    );
    await until(
      () => messages().find((m) => m.kind === 'console' && m.lines.some((l) => l.source === 'server' && l.text === 'broadcast server up')),
      5000,
      () => `the server's output on the stream; got ${JSON.stringify(messages().filter((m) => m.kind === 'console'))}`,
    );
  });

  it('keeps the dashboard working when server.js crashes, with the stack on the stream', async () => {
    const page = await connect(`ws://127.0.0.1:${dashboard.port}/api/events?token=${encodeURIComponent(dashboard.token)}`, { origin: origin() });
    perTest.add(() => page.ws.terminate());
    const messages = () => page.messages.map((m) => JSON.parse(m) as StreamMessage);
    const mark = states.length;
    perTest.add(async () => {
      const m = states.length;
      workspace.reset('server.js');
      await until(() => states.slice(m).find((s) => s.status === 'running'), 10_000, () => 'the server back after reset');
    });
    const put = await fetch(`${origin()}/api/files/server.js`, {
      method: 'PUT',
      headers: withToken({ 'Content-Type': 'text/plain' }),
      body: "throw new Error('server.js is broken on purpose');\n",
    });
    expect(put.status).toBe(200);
    await until(() => states.slice(mark).find((s) => s.status === 'crashed'), 10_000, () => `a crash; states: ${JSON.stringify(states.slice(mark))}`);
    const crashed = await until(
      () => messages().find((m): m is Extract<StreamMessage, { kind: 'runner' }> => m.kind === 'runner' && m.status === 'crashed'),
      5000,
      () => `a crashed runner message; got ${JSON.stringify(messages().map((m) => m.kind))}`,
    );
    expect(crashed.stack).toContain('Error: server.js is broken on purpose');
    // The dashboard still answers.
    const files = await fetch(`${origin()}/api/files/server.js`, { headers: withToken() });
    expect(files.status).toBe(200);
    expect(await files.text()).toContain('broken on purpose');
  });
});
