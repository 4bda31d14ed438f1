/**
 * `npm run dev` (ui/vite.config.ts): vite serves ui/ with hot reload and forwards /api and
 * /workspace to a running playground. What a contributor needs works through it (the event
 * stream, the learner's client.js for the Worker, with the single-use grant the playground
 * sets through the proxy), and what the playground's guard refuses is still refused: a page on another
 * origin gets through the proxy no more than it gets to the playground itself.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../server/app/dashboard.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { Workspace } from '../../server/runner/workspace.ts';
import { Cleanup, connect } from '../helpers/net.ts';

const CONFIG = fileURLToPath(new URL('../../ui/vite.config.ts', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'wsplay-dev-'));
const cleanup = new Cleanup();
let dashboard: Dashboard;
let vite: ViteDevServer;
let devOrigin: string;

beforeAll(async () => {
  const uiDir = join(base, 'ui');
  mkdirSync(uiDir);
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>wsplay</title>');
  const workspace = new Workspace(join(base, 'workspace'));
  workspace.write('client.js', '// the learner client, served to the Worker\n');
  dashboard = await startDashboard({
    port: 0,
    store: new CaptureStore(),
    connections: () => 0,
    topology: () => ({ tap: { host: '127.0.0.1', port: 1 }, target: { host: '127.0.0.1', port: 2 }, targetLabel: 'test' }),
    uiDir,
    workspace,
  });
  cleanup.add(() => dashboard.close());
  // The config reads where the playground is when it loads (this file runs in its own process).
  process.env.WSPLAY_DASHBOARD = `http://127.0.0.1:${dashboard.port}`;
  const { createServer } = await import('vite');
  vite = await createServer({ configFile: CONFIG, logLevel: 'silent', server: { port: 0, strictPort: true, hmr: false } });
  await vite.listen();
  cleanup.add(() => vite.close());
  const address = vite.httpServer!.address();
  devOrigin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 60_000);

afterAll(async () => {
  await cleanup.run();
  rmSync(base, { recursive: true, force: true });
});

describe('npm run dev', () => {
  it("passes on the playground's single-use grant for client.js: served once with it", async () => {
    // The page itself sets no cookie: the session token is never one.
    const page = await fetch(`${devOrigin}/?token=${dashboard.token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('set-cookie')).toBeNull();

    const granted = await fetch(`${devOrigin}/api/client-grant`, { method: 'POST', headers: { 'X-Wsplay-Token': dashboard.token, Origin: devOrigin } });
    expect(granted.status).toBe(200);
    const cookie = granted.headers.get('set-cookie');
    expect(cookie).toMatch(/^wsplay_grant=[\w-]{32}; HttpOnly; SameSite=Strict; Path=\/workspace\/client\.js; Max-Age=30$/);
    expect(cookie).not.toContain(dashboard.token);

    const grant = cookie!.split(';')[0]!;
    const client = await fetch(`${devOrigin}/workspace/client.js`, { headers: { cookie: grant } });
    expect(client.status).toBe(200);
    expect(await client.text()).toContain('the learner client, served to the Worker');
    expect((await fetch(`${devOrigin}/workspace/client.js`, { headers: { cookie: grant } })).status).toBe(403);
  });

  it('does not serve client.js without a grant, with a guessed one, or with the session token as a cookie', async () => {
    expect((await fetch(`${devOrigin}/workspace/client.js`)).status).toBe(403);
    expect((await fetch(`${devOrigin}/workspace/client.js`, { headers: { cookie: 'wsplay_grant=guessed' } })).status).toBe(403);
    expect((await fetch(`${devOrigin}/workspace/client.js`, { headers: { cookie: `wsplay_token=${dashboard.token}` } })).status).toBe(403);
  });

  it('opens the event stream for its own page, and refuses a page on another origin', async () => {
    const url = `${devOrigin.replace('http:', 'ws:')}/api/events?token=${dashboard.token}`;
    const own = await connect(url, { origin: devOrigin });
    try {
      expect(JSON.parse(await own.next())).toMatchObject({ kind: 'hello' });
    } finally {
      own.ws.terminate();
    }
    await expect(connect(url, { origin: 'http://evil.example' })).rejects.toThrow(/403/);
  });

  it('answers the API for its own page with the token, and refuses another origin even with it', async () => {
    const ok = await fetch(`${devOrigin}/api/info`, { headers: { 'x-wsplay-token': dashboard.token, origin: devOrigin } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ size: 0 });
    const foreign = await fetch(`${devOrigin}/api/info`, { headers: { 'x-wsplay-token': dashboard.token, origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect((await fetch(`${devOrigin}/api/info`, { headers: { origin: devOrigin } })).status).toBe(403);
  });
});
