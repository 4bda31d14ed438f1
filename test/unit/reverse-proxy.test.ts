/**
 * Lesson 13's reverse proxy (lessons/harness/reverse-proxy.mjs), against a real `ws` server and
 * real clients: hop-by-hop headers dropped unless proxy.js sets them, the handshake relayed once
 * they are, the idle cut (and pings that prevent it), a proxy that answers 426 itself, a
 * proxy.js that throws (502 naming it), and TLS: records on the wire, the same frames inside.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { ReverseProxy, type ProxyReport, type ReverseProxyOptions } from '../../lessons/harness/reverse-proxy.ts';
import { loadOrCreateCa } from '../../server/tap/local-ca.ts';
import { until } from '../../lessons/harness/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'wsplay-rproxy-'));
const config = (name: string, body: string) => {
  const file = join(dir, `${name}.js`);
  writeFileSync(file, `module.exports = { forwardHeaders(request) { ${body} } };\n`);
  return file;
};
const FORWARD = config('forward', "return { Upgrade: request.headers.upgrade, Connection: request.headers.upgrade ? 'Upgrade' : undefined };");

/** The upstream: a ws echo server that keeps the request heads it got. */
let wss: WebSocketServer;
let upstreamPort = 0;
const heads: http.IncomingHttpHeaders[] = [];
beforeAll(async () => {
  const server = http.createServer((req, res) => {
    heads.push(req.headers);
    res.writeHead(426, { 'Content-Type': 'text/plain' }).end('Upgrade Required');
  });
  server.on('upgrade', (req) => heads.push(req.headers));
  wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstreamPort = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  (wss.options.server as http.Server).close();
  rmSync(dir, { recursive: true, force: true });
});

const proxies: ReverseProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  heads.length = 0;
});
async function proxy(opts: Partial<ReverseProxyOptions> = {}): Promise<ReverseProxy> {
  const p = new ReverseProxy({ target: upstreamPort, idleMs: 60_000, ...opts });
  proxies.push(p);
  expect(await p.listening(), 'the proxy listens').toBeGreaterThan(0);
  return p;
}

/** A ws client through the proxy: the 101 and an echo, or the HTTP status it got instead. */
function connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, opts);
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.on('error', () => resolve({}));
  });
}
const echo = (ws: WebSocket, text: string) =>
  new Promise<string>((resolve) => {
    ws.once('message', (d) => resolve(String(d)));
    ws.send(text);
  });
const closed = (ws: WebSocket) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

describe('the reverse proxy', () => {
  it('drops the hop-by-hop headers, Upgrade and Connection among them, unless proxy.js sets them: the server answers a plain GET', async () => {
    const p = await proxy();
    // By hand: a client library sets Connection itself; this one also names X-Secret in it.
    const answer = await new Promise<string>((resolve) => {
      const s = net.connect(p.port, '127.0.0.1', () =>
        s.write(
          'GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Secret\r\nX-Secret: no\r\nKeep-Alive: timeout=5\r\n' +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
      );
      let got = '';
      s.on('data', (c) => (got += c.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 426 /);
    expect(heads).toHaveLength(1);
    expect(heads[0]!.upgrade).toBeUndefined();
    expect(heads[0]!.connection).toBe('close');
    // Named by Connection, so hop-by-hop too.
    expect(heads[0]!['x-secret']).toBeUndefined();
    expect(heads[0]!['keep-alive']).toBeUndefined();
    // End-to-end headers pass.
    expect(heads[0]!['sec-websocket-key']).toMatch(/==$/);
  });

  it('relays the handshake and the frames once proxy.js forwards Upgrade and Connection, and keeps a plain GET plain', async () => {
    const p = await proxy({ config: FORWARD });
    const { ws } = await connect(`ws://127.0.0.1:${p.port}/chat`);
    expect(ws, 'the WebSocket opened through the proxy').toBeDefined();
    expect(await echo(ws!, 'héllo 👋')).toBe('héllo 👋');
    expect(heads[0]!.upgrade).toBe('websocket');
    expect(p.reports.some((r) => r.type === 'upgrade' && r.status === 101)).toBe(true);
    ws!.close();
    const status = await new Promise<number>((resolve) => http.get({ host: '127.0.0.1', port: p.port, path: '/health', agent: false }, (res) => (res.resume(), resolve(res.statusCode!))));
    expect(status).toBe(426);
    expect(heads.at(-1)!.upgrade).toBeUndefined();
  });

  it('cuts a silent tunnel after its idle timeout, with no close frame (1006), and reports the cut', async () => {
    const p = await proxy({ config: FORWARD, idleMs: 300 });
    const { ws } = await connect(`ws://127.0.0.1:${p.port}/`);
    expect(await closed(ws!)).toBe(1006);
    const cut = await until(() => p.cuts()[0], 5000);
    expect(cut?.idleMs).toBeGreaterThanOrEqual(300);
  });

  it("keeps a tunnel that carries pings within its idle timeout: 10 of the server's pings answered, no cut", async () => {
    const p = await proxy({ config: FORWARD, idleMs: 400 });
    const pinger = (ws: WebSocket) => setInterval(() => ws.ping(), 80);
    let timer: NodeJS.Timeout | undefined;
    wss.once('connection', (ws) => (timer = pinger(ws)));
    const { ws } = await connect(`ws://127.0.0.1:${p.port}/`);
    let pings = 0;
    ws!.on('ping', () => pings++);
    let gone = false;
    ws!.on('close', () => (gone = true));
    await until(() => (pings >= 10 || gone ? true : undefined), 20_000);
    clearInterval(timer);
    expect(gone).toBe(false);
    expect(pings).toBeGreaterThanOrEqual(10);
    expect(p.cuts()).toEqual([]);
    ws!.terminate();
  });

  it('answers 426 itself when told to (a proxy without WebSocket support): nothing reaches the server', async () => {
    const p = await proxy({ config: FORWARD, answer: 426 });
    const r = await connect(`ws://127.0.0.1:${p.port}/`);
    expect(r.status).toBe(426);
    expect(r.body).toMatch(/does not forward WebSocket handshakes/);
    expect(heads).toHaveLength(0);
  });

  it('answers 502 naming proxy.js when its forwardHeaders throws or returns a header that cannot be sent', async () => {
    for (const [body, words] of [
      ["throw new TypeError('oops');", /proxy\.js's forwardHeaders threw: TypeError: oops/],
      ["return { 'Bad Name': 'x' };", /not a valid header name/],
      ["return { Upgrade: 'a\\r\\nInjected: 1' };", /line break/],
    ] as const) {
      const p = await proxy({ config: config(`bad-${proxies.length}`, body) });
      const r = await connect(`ws://127.0.0.1:${p.port}/`);
      expect(r.status).toBe(502);
      expect(r.body).toMatch(words);
      const reported = await until(() => p.reports.find((x): x is Extract<ProxyReport, { type: 'config-error' }> => x.type === 'config-error'), 5000);
      expect(reported?.message).toMatch(words);
    }
    expect(heads).toHaveLength(0);
  });

  it('over TLS: the TCP wire carries TLS records only (no GET, no Upgrade in the clear), and the same frames arrive inside', async () => {
    const caDir = join(dir, 'ca');
    const ca = await loadOrCreateCa(caDir);
    const p = await proxy({ config: FORWARD, tls: { ...ca.issue('127.0.0.1'), sni: { localhost: ca.issue('localhost') } } });
    const { ws } = await connect(`wss://localhost:${p.port}/secure`, { ca: ca.certPem });
    expect(ws, 'the wss:// WebSocket opened through the TLS proxy').toBeDefined();
    expect(await echo(ws!, 'over TLS')).toBe('over TLS');
    expect(heads[0]!.upgrade).toBe('websocket');
    ws!.close();
    const report = await until(() => p.reports.find((r): r is Extract<ProxyReport, { type: 'tls' }> => r.type === 'tls'), 5000);
    expect(report, 'the TLS summary of the connection').toBeDefined();
    expect(report!.fromClient.tls).toBe(true);
    // A TLS handshake record (content type 22) opens it: the ClientHello.
    expect(report!.fromClient.first).toMatch(/^16 03 0[13] /);
    expect(report!.fromClient.records.applicationData).toBeGreaterThan(0);
    expect(report!.fromClient.plaintext).toBe(false);
    expect(report!.fromProxy.plaintext).toBe(false);
    // A client that does not trust the CA is refused at the TLS handshake, before any HTTP.
    const untrusted = await connect(`wss://localhost:${p.port}/`);
    expect(untrusted.ws).toBeUndefined();
  });
});
