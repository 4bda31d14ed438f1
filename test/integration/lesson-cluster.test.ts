/**
 * Lesson 20 in the real `wsplay start`: opening the lesson starts a redis-server and a second
 * server.js process (b) beside the playground's own (a), and the wiretap hands connections to
 * them in turn, each connection's `open` event naming its process; leaving the lesson, and
 * stopping wsplay, end both. Without redis-server, one line says how to install it, and the
 * lesson's check says the same.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { OpenEvent, WireEvent } from '../../server/capture/events.ts';
import { redisAvailability } from '../helpers/redis.ts';
import { alive, Cleanup, connect, eventually, ROOT, runCli, type CliProcess } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());


async function startPlayground(env: NodeJS.ProcessEnv = {}, workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-cluster-'))) {
  const cli: CliProcess = runCli(['start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', workspace], { WSPLAY_SKIP_UI_BUILD: '1', HOME: workspace, ...env });
  cleanup.add(() => cli.stop());
  const url = new URL((await cli.line(/^Dashboard: (\S+)$/, 60_000))[1]!);
  const tapPort = Number((await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/, 60_000))[1]);
  const headers = { 'X-Wsplay-Token': url.searchParams.get('token')!, Origin: url.origin };
  const post = (p: string) => fetch(new URL(p, url.origin), { method: 'POST', headers });
  const events = async (): Promise<WireEvent[]> => {
    const text = await (await fetch(new URL('/api/events?since=0&limit=10000', url.origin), { headers })).text();
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as WireEvent);
  };
  return { cli, workspace, tapPort, post, events };
}

const redis = redisAvailability();

describe.skipIf(!redis.binary)(redis.binary ? 'lesson 20 in the playground: two server processes and Redis' : `lesson 20 in the playground: ${redis.reason}`, () => {
  it('starts redis-server and process b with the lesson, alternates connections, and stops both when the lesson closes', async () => {
    const pg = await startPlayground();
    const opened = await pg.post('/api/lessons/20/open');
    expect(opened.status, await opened.clone().text()).toBe(200);
    const redisLine = await pg.cli.line(/^Redis for this lesson: redis:\/\/127\.0\.0\.1:(\d+) \(redis-server pid (\d+)/, 30_000);
    const redisPid = Number(redisLine[2]);
    expect(alive(redisPid)).toBe(true);
    // Both processes run the starter; b's lines come through with its name.
    await pg.cli.line(/^\[server\.js\] process a: listening \(Redis at redis:\/\/127\.0\.0\.1:\d+\)$/, 30_000);
    await pg.cli.line(/^\[server\.js b\] process b: listening \(Redis at redis:\/\/127\.0\.0\.1:\d+\)$/, 30_000);

    // Four clients: a, b, a, b. The starter broadcasts within its process only.
    const clients = [];
    for (let i = 0; i < 4; i++) {
      const c = await connect(`ws://127.0.0.1:${pg.tapPort}/`);
      cleanup.add(() => c.ws.terminate());
      await c.next(); // 'Hello webSocket': this connection's process has it in wss.clients
      clients.push(c);
    }
    let opens: OpenEvent[] = [];
    await eventually(async () => (opens = (await pg.events()).filter((e): e is OpenEvent => e.type === 'open')).length >= 4, 10_000, 'four open events');
    expect(opens.slice(-4).map((o) => o.instance)).toEqual(['a', 'b', 'a', 'b']);
    expect(new Set(opens.slice(-4).map((o) => o.target)).size).toBe(2);
    clients[0]!.ws.send('from the first');
    expect(await clients[2]!.next()).toBe('from the first'); // same process: it arrives
    // Another process: the starter does not pass it on (what the lesson fixes). B has nothing
    // after a message that its neighbour on b sends, which does arrive: so the first never will.
    clients[3]!.ws.send('from the fourth');
    expect(await clients[1]!.next()).toBe('from the fourth');
    expect(clients[1]!.messages).not.toContain('from the first');

    const pgrepBefore = await pgrepRedis();
    expect(pgrepBefore).toContain(redisPid);
    // Another lesson: Redis and process b stop.
    expect((await pg.post('/api/lessons/08/open')).status).toBe(200);
    await eventually(async () => !alive(redisPid), 10_000, `redis-server ${redisPid} to end`);
    const bPid = pidOfInstanceB(pg.workspace);
    expect(bPid, 'process b is still running').toBeNull();
    // New connections go to the one server again.
    const one = await connect(`ws://127.0.0.1:${pg.tapPort}/`);
    cleanup.add(() => one.ws.terminate());
    await one.next();
    await eventually(async () => (await pg.events()).filter((e): e is OpenEvent => e.type === 'open').at(-1)?.instance === undefined, 5000, 'an open event without instance');

    // Open it again, then stop wsplay: nothing of it stays.
    expect((await pg.post('/api/lessons/20/open')).status).toBe(200);
    const again = await pg.cli.line(/^Redis for this lesson: redis:\/\/127\.0\.0\.1:\d+ \(redis-server pid (\d+)/, 30_000).catch(() => null);
    const pids = (pg.cli.stdout().match(/redis-server pid (\d+)/g) ?? []).map((m) => Number(m.split(' ').at(-1)));
    expect(again).not.toBeNull();
    const second = pids.at(-1)!;
    expect(second).not.toBe(redisPid);
    expect(alive(second)).toBe(true);
    await pg.cli.stop();
    await eventually(async () => !alive(second), 10_000, `redis-server ${second} to end with wsplay`);
    expect(await pgrepRedis()).not.toContain(second);
  }, 180_000);
});

describe.skipIf(!redis.binary)(redis.binary ? 'opening lesson 20: process a starts once' : `opening lesson 20: ${redis.reason}`, () => {
  it('starts the playground\'s server.js once in the lesson, with its process name and Redis already set', async () => {
    const pg = await startPlayground();
    await pg.cli.line(/^Server: server\.js \(pid \d+\)/, 60_000);
    const before = pg.cli.stdout().length;
    const opened = await pg.post('/api/lessons/20/open');
    expect(opened.status, await opened.clone().text()).toBe(200);
    // The open answers once the lesson's processes are up: a has printed its line (with Redis),
    // and b its own. Every start of a that the open caused is over by then.
    const [, url] = await pg.cli.line(/^Redis for this lesson: (redis:\/\/127\.0\.0\.1:\d+) /, 30_000);
    await pg.cli.line(/^\[server\.js\] process a: listening \(Redis at redis:\/\/127\.0\.0\.1:\d+\)$/, 30_000);
    await pg.cli.line(/^\[server\.js b\] process b: listening \(Redis at redis:\/\/127\.0\.0\.1:\d+\)$/, 30_000);
    const starts = pg.cli
      .stdout()
      .slice(before)
      .split('\n')
      .filter((l) => /^\[server\.js\] process a: listening/.test(l));
    // One start, in the lesson's folder, already with REDIS_URL: not a first start without it
    // ("Redis at undefined") that the lesson's cluster then restarts.
    expect(starts).toEqual([`[server.js] process a: listening (Redis at ${url})`]);
    await pg.cli.stop();
  }, 180_000);

  it('starts each process once when the playground starts with lesson 20 still open (progress.json)', async () => {
    const workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-cluster-restore-'));
    writeFileSync(path.join(workspace, 'progress.json'), JSON.stringify({ version: 1, current: '20-scaling-out', lessons: {} }));
    const pg = await startPlayground({}, workspace);
    const [, url] = await pg.cli.line(/^Redis for this lesson: (redis:\/\/127\.0\.0\.1:\d+) /, 30_000);
    await pg.cli.line(/^\[server\.js\] process a: listening/, 30_000);
    await pg.cli.line(/^\[server\.js b\] process b: listening/, 30_000);
    // A connection through the wiretap to each: both processes are up and took their first peer.
    for (let i = 0; i < 2; i++) {
      const c = await connect(`ws://127.0.0.1:${pg.tapPort}/`);
      cleanup.add(() => c.ws.terminate());
      await c.next();
    }
    await pg.cli.line(/^\[server\.js b\] process b: a peer connected/, 30_000);
    const lines = pg.cli.stdout().split('\n');
    expect(lines.filter((l) => /^\[server\.js\] process a: listening/.test(l))).toEqual([`[server.js] process a: listening (Redis at ${url})`]);
    // b started with the lesson, not again when a first started after it.
    expect(lines.filter((l) => /^\[server\.js b\] process b: listening/.test(l))).toEqual([`[server.js b] process b: listening (Redis at ${url})`]);
    await pg.cli.stop();
  }, 180_000);
});

describe('lesson 20 without redis-server', () => {
  it('says in one line how to install it, in the playground and in the check', async () => {
    const env = { WSPLAY_REDIS_SERVER: '/nonexistent/redis-server' };
    const pg = await startPlayground(env);
    expect((await pg.post('/api/lessons/20/open')).status).toBe(200);
    const line = await pg.cli.line(/^redis-server is not installed.*$/, 30_000);
    expect(line[0]).toMatch(/apt-get install redis-server/);
    await pg.cli.stop();

    // The check on the solution: not run, under the same line.
    const ws = mkdtempSync(path.join(tmpdir(), 'wsplay-cluster-check-'));
    cpSync(path.join(ROOT, 'lessons', '20-scaling-out', 'solution'), path.join(ws, '20-scaling-out'), { recursive: true });
    writeFileSync(path.join(ws, '20-scaling-out', 'package.json'), '{ "type": "commonjs" }\n');
    const out = await new Promise<string>((resolve) => {
      const child = spawn('npm', ['run', 'check', '--', '20'], { cwd: ROOT, env: { ...process.env, ...env, WSPLAY_WORKSPACE: ws, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (b: Buffer) => (text += b.toString()));
      child.stderr.on('data', (b: Buffer) => (text += b.toString()));
      child.on('close', () => resolve(text));
    });
    expect(out).toMatch(/redis-server is not installed[^\n]*apt-get install redis-server/);
  }, 180_000);
});

/** The pids of running redis-server processes (pgrep). */
function pgrepRedis(): Promise<number[]> {
  return new Promise((resolve) => {
    const child = spawn('pgrep', ['-x', 'redis-server'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', () => resolve(out.split('\n').filter(Boolean).map(Number)));
  });
}

/** A node process running server.js with WSPLAY_INSTANCE=b in `workspace`'s lesson folder, or null. */
function pidOfInstanceB(workspace: string): number | null {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (env.includes('WSPLAY_INSTANCE=b') && cwd.startsWith(workspace)) return Number(pid);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return null;
}
