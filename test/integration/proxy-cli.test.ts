/**
 * `wsplay proxy` from the command line, and the dashboard's "Open an intercepted browser" route
 * under `wsplay tap` (the proxy started on demand, feeding the same capture). The CA goes to a
 * temporary --ca-dir, never the user's home; --loopback-only keeps everything on this machine.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { WireEvent } from '../../server/capture/events.ts';
import { Cleanup, runCli, startEchoServer } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'wsplay-proxy-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function ask(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('wsplay proxy (command line)', () => {
  it('prints the proxy URL, the CA path and its SPKI; the CA key is 0600; an unreachable host gets a 502 and no line', async () => {
    const caDir = path.join(tmp, 'ca1');
    const cli = runCli(['proxy', '--port', '0', '--no-dashboard', '--ca-dir', caDir]);
    cleanup.add(() => cli.stop());
    const port = Number((await cli.line(/^Proxy listening on http:\/\/127\.0\.0\.1:(\d+)$/, 30_000))[1]);
    const [, caPath] = await cli.line(/^CA certificate: (\S+) \(made by wsplay on this machine, installed nowhere\)$/);
    const [, spki] = await cli.line(/^SPKI: (\S+)$/);
    expect(caPath).toBe(path.join(caDir, 'ca.pem'));
    expect(statSync(path.join(caDir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    const der = new X509Certificate(await import('node:fs').then((fs) => fs.readFileSync(caPath!, 'utf8'))).publicKey.export({ type: 'spki', format: 'der' });
    expect(spki).toBe(createHash('sha256').update(der).digest('base64'));
    await cli.line(/^Point a browser at the proxy: npx wsplay browser/);
    const before = cli.stdout();

    const closed = await closedPort();
    const answer = await ask(port, `CONNECT 127.0.0.1:${closed} HTTP/1.1\r\nHost: 127.0.0.1:${closed}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(answer).toContain(`could not reach 127.0.0.1:${closed}: nothing listens there (ECONNREFUSED)`);
    // Quietly: the proxy still answers, and printed nothing about it.
    expect(await ask(port, 'GET / HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(cli.stdout()).toBe(before);
    expect(cli.stderr()).toBe('');
  }, 60_000);

  it('refuses --insecure and a stray argument with one line saying what to do', async () => {
    const insecure = runCli(['proxy', '--insecure', '--no-dashboard', '--ca-dir', path.join(tmp, 'ca2')]);
    expect((await insecure.exited).code).toBe(2);
    expect(insecure.stderr()).toMatch(/^--insecure is for wsplay tap --target wss:\/\/HOST: the proxy always verifies the servers it reaches \(give a private CA with --ca FILE\)\.\n$/);
    const stray = runCli(['proxy', 'https://example.test/', '--no-dashboard']);
    expect((await stray.exited).code).toBe(2);
    expect(stray.stderr()).toBe("Unexpected argument 'https://example.test/'. This command does not take positional arguments. Run: npx wsplay --help\n");
    const notUrl = runCli(['browser', 'example.test', '--no-dashboard', '--ca-dir', path.join(tmp, 'ca2')]);
    expect((await notUrl.exited).code).toBe(2);
    expect(notUrl.stderr()).toMatch(/^wsplay browser "example\.test": give the page's address as http:\/\/\.\.\. or https:\/\/\.\.\./);
  }, 60_000);
});

describe('"Open an intercepted browser" under wsplay tap', () => {
  it('starts the proxy on demand behind the token and own-page checks, says how to do without Chromium, and its connections join the capture', async () => {
    const echo = await startEchoServer();
    cleanup.add(() => echo.close());
    const caDir = path.join(tmp, 'ca3');
    const cli = runCli(['tap', '--target', `ws://127.0.0.1:${echo.port}`, '--port', '0', '--dashboard-port', '0', '--no-open', '--loopback-only', '--ca-dir', caDir], {
      WSPLAY_SKIP_UI_BUILD: '1',
      CHROMIUM_PATH: path.join(tmp, 'no-chromium-here'),
    });
    cleanup.add(() => cli.stop());
    const [, url] = (await cli.line(/^Dashboard: (\S+)$/, 30_000)) as [string, string];
    const base = new URL(url);
    const token = base.searchParams.get('token')!;
    const post = (headers: Record<string, string>, body: unknown = {}) =>
      fetch(new URL('/api/intercept/browser', base), { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

    expect((await post({})).status).toBe(403);
    expect((await post({ 'X-Wsplay-Token': token, Origin: 'http://127.0.0.1:8123' })).status).toBe(403);
    expect((await post({ 'X-Wsplay-Token': token, 'Sec-Fetch-Site': 'same-site' })).status).toBe(403);
    const badUrl = await post({ 'X-Wsplay-Token': token }, { url: 'file:///etc/passwd' });
    expect(badUrl.status).toBe(400);
    // Nothing started yet.
    const idle = (await (await fetch(new URL('/api/intercept', base), { headers: { 'X-Wsplay-Token': token } })).json()) as { proxy: string | null };
    expect(idle.proxy).toBeNull();

    const res = await post({ 'X-Wsplay-Token': token });
    expect(res.status).toBe(200);
    const outcome = (await res.json()) as { ok: boolean; proxy: string; caPath: string; message: string };
    expect(outcome.ok).toBe(false);
    expect(outcome.caPath).toBe(path.join(caDir, 'ca.pem'));
    expect(outcome.proxy).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(outcome.message).toContain(`CHROMIUM_PATH (${path.join(tmp, 'no-chromium-here')}) is not an executable`);
    expect(outcome.message).toContain(`set its HTTP and HTTPS proxy to ${outcome.proxy}`);
    expect(outcome.message).toContain(`trust the CA certificate ${outcome.caPath} in that browser only`);

    // A client through the proxy shows in the same capture, its target the host:port it asked for.
    const proxyPort = Number(new URL(outcome.proxy).port);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`));
      s.once('data', (d) => (d.toString('latin1').startsWith('HTTP/1.1 200 ') ? resolve(s) : reject(new Error(d.toString()))));
      s.on('error', reject);
    });
    const ws = new WebSocket(`ws://127.0.0.1:${echo.port}/`, { createConnection: () => socket });
    cleanup.add(() => ws.terminate());
    // The course's echo server greets, then answers each message.
    const replies: string[] = [];
    ws.on('message', (d) => replies.push(String(d)));
    await new Promise((r) => ws.once('open', r));
    ws.send('through the on-demand proxy');
    const events = async () =>
      (await (await fetch(new URL('/api/events?since=0', base), { headers: { 'X-Wsplay-Token': token } })).text())
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as WireEvent);
    let seen: WireEvent[] = [];
    const messages = () => seen.filter((e) => e.type === 'message').length;
    for (let i = 0; i < 400 && messages() < 3; i++) {
      seen = await events();
      if (messages() < 3) await new Promise((r) => setTimeout(r, 50));
    }
    const open = seen.find((e) => e.type === 'open') as Extract<WireEvent, { type: 'open' }>;
    expect(open.target).toBe(`127.0.0.1:${echo.port}`);
    const recorded = seen.filter((e) => e.type === 'message').map((e) => [(e as { dir: string }).dir, (e as { text?: string }).text]);
    expect(recorded.filter(([dir]) => dir === 'client')).toEqual([['client', 'through the on-demand proxy']]);
    expect(recorded.filter(([dir]) => dir === 'server').map(([, text]) => text)).toEqual(replies);
    expect(replies).toHaveLength(2);
  }, 60_000);
});
