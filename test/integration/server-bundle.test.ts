/**
 * The warm start: `npm install` bundles the server into server/dist/cli.mjs
 * (server/bin/build-server.js) and server/bin/wsplay.js runs that bundle while it is newer than
 * every file under server/, the TypeScript sources through tsx otherwise. These tests prove that
 * the bundle finds what the sources find by path (ui/dist, the starters, the runner's preload,
 * package.json), that a source edited after the bundle sends wsplay back to the sources, and that
 * wsplay says which one it runs. (Under a debugger it runs tsx: test/integration/vscode-launch.test.ts.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildServer } from '../../server/bin/build-server.js';
import { bundleIsFresh } from '../../server/bin/bundle-state.js';
import { listLessons } from '../../lessons/harness/format.ts';
import { Cleanup, ROOT, until } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());
const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-bundle-'));
cleanup.add(() => rmSync(dir, { recursive: true, force: true }));

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(VITEST|TINYPOOL)/.test(k) && k !== 'NODE_OPTIONS' && k !== 'DEBUG' && k !== 'WSPLAY_TSX') out[k] = v;
  return { ...out, ...extra };
}

describe('bundleIsFresh', () => {
  it('is true only while the bundle is newer than every source, its own folder left out', () => {
    const server = path.join(dir, 'fresh', 'server');
    mkdirSync(path.join(server, 'app'), { recursive: true });
    mkdirSync(path.join(server, 'dist'));
    const source = path.join(server, 'app', 'dashboard.ts');
    const bundle = path.join(server, 'dist', 'cli.mjs');
    writeFileSync(source, '// a source');
    expect(bundleIsFresh(bundle, server), 'no bundle yet').toBe(false);
    writeFileSync(bundle, '// the bundle');
    writeFileSync(path.join(server, 'dist', 'cli.mjs.map'), '{}');
    utimesSync(source, 1000, 1000);
    utimesSync(bundle, 2000, 2000);
    utimesSync(path.join(server, 'dist', 'cli.mjs.map'), 3000, 3000);
    expect(bundleIsFresh(bundle, server), 'bundle newer than the source').toBe(true);
    utimesSync(source, 2001, 2001);
    expect(bundleIsFresh(bundle, server), 'the source edited after the bundle').toBe(false);
  });
});

describe('the bundled server', () => {
  it("runs the playground as the sources do: the dashboard's build, the starters, server.js behind the wiretap", async () => {
    const out = path.join(dir, 'dist', 'cli.mjs');
    await buildServer(out);
    expect(existsSync(`${out}.map`)).toBe(true);
    const workspace = path.join(dir, 'workspace');
    const child = spawn(process.execPath, [out, 'start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', workspace], {
      cwd: dir,
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanup.add(() => void child.kill('SIGKILL'));
    const line = (re: RegExp) =>
      until(() => stdout.split('\n').map((l) => l.match(re)).find((m) => m !== null) ?? undefined, 60_000, () => `${re} in ${JSON.stringify(stdout)} ${JSON.stringify(stderr)}`);

    // server.js ran with the runner's preload (its port 9900 moved behind the wiretap).
    await line(/^server\.js listens on port 9900, moved to internal port \d+ behind the wiretap\.$/);
    const [, tapPort] = await line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) → /);
    const [, dashboard] = await line(/^Dashboard: (\S+)$/);
    // The starters were found next to the sources and copied into the workspace.
    expect(readFileSync(path.join(workspace, 'server.js'), 'utf8')).toBe(readFileSync(path.join(ROOT, 'server/runner/starters/server.js'), 'utf8'));
    // The dashboard's page is ui/dist's.
    const page = await fetch(dashboard!);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(readFileSync(path.join(ROOT, 'ui/dist/index.html'), 'utf8'));
    // The lessons are found next to the sources too (the lesson harness is bundled with the server).
    const at = new URL(dashboard!);
    const lessons = await fetch(`${at.origin}/api/lessons`, { headers: { 'x-wsplay-token': at.searchParams.get('token')! } });
    expect(lessons.status).toBe(200);
    const list = (await lessons.json()) as { lessons: Array<{ id: string }> };
    expect(list.lessons.map((l) => l.id)).toEqual(listLessons().map((l) => l.slug));

    // A message through the wiretap to the course's echo server, and back.
    const ws = new WebSocket(`ws://127.0.0.1:${tapPort}`);
    const got: string[] = [];
    ws.on('message', (m) => got.push(m.toString()));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('bundled');
    await until(() => got.find((m) => m.includes('bundled')), 20_000, () => `the echo in ${JSON.stringify(got)}`);
    ws.close();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);

  it('exports a HAR whose creator is the version in package.json', async () => {
    const out = path.join(dir, 'dist', 'cli.mjs');
    if (!existsSync(out)) await buildServer(out);
    const recording = path.join(ROOT, 'test/fixtures/echo-session.jsonl');
    const har = path.join(dir, 'out.har');
    const r = spawnSync(process.execPath, [out, 'export', recording, '--format', 'har', '-o', har], { cwd: dir, env: env(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect((JSON.parse(readFileSync(har, 'utf8')) as { log: { creator: { version: string } } }).log.creator.version).toBe(version);
  }, 60_000);
});

describe('server/bin/wsplay.js', () => {
  it('runs the bundle while it is fresh, and the sources through tsx when asked, and says which with DEBUG=wsplay:start', async () => {
    if (!bundleIsFresh()) await buildServer();
    const run = (extra: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['server/bin/wsplay.js', '--help'], { cwd: ROOT, env: env({ DEBUG: 'wsplay:start', ...extra }), encoding: 'utf8' });
    const bundled = run({});
    expect(bundled.stderr.split('\n')[0]).toBe('wsplay: running server/dist/cli.mjs, the bundle of server/');
    expect(`${bundled.stdout}${bundled.stderr}`).toContain('Usage:');
    const sources = run({ WSPLAY_TSX: '1' });
    expect(sources.stderr.split('\n')[0]).toBe('wsplay: running the TypeScript sources through tsx (WSPLAY_TSX=1)');
    // The same CLI either way.
    expect(sources.stdout).toBe(bundled.stdout);
    expect(sources.stderr.split('\n').slice(1)).toEqual(bundled.stderr.split('\n').slice(1));
  }, 60_000);
});
