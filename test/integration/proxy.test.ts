/**
 * `wsplay proxy`: CONNECT tunnels (TLS terminated with the local CA, the real server reached
 * over verified TLS) and absolute-form requests, fed into the wiretap's decoder. Servers are
 * made in the test (`ws` over https, and Python's `websockets`, an independent implementation),
 * with certificates from a CA the test makes; everything on 127.0.0.1, port 0.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadOrCreateCa, type LocalCa } from '../../server/tap/local-ca.ts';
import { InterceptingProxy, MAX_PROXY_HEAD } from '../../server/tap/proxy.ts';
import { readCaFile } from '../../server/tap/upstream.ts';
import { Cleanup, ROOT, startTap, type TapHandle } from '../helpers/net.ts';
import { makeTestPki, startWssEcho, type TestPki } from '../helpers/tls.ts';

/**
 * Python's `websockets` (Debian's python3-websockets; .ci/run installs it): an implementation
 * independent of `ws`. Missing, its cases are skipped loudly, except under CI, where they fail.
 */
const HAS_PY_WEBSOCKETS = spawnSync('/usr/bin/python3', ['-c', 'import websockets'], { stdio: 'ignore' }).status === 0;
if (!HAS_PY_WEBSOCKETS && !process.env.CI) {
  console.warn('\n*** python3-websockets is not installed: the proxy tests against Python\'s websockets are SKIPPED. Install it: apt-get install -y python3-websockets ***\n');
}

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let pki: TestPki;
let good: { cert: string; key: string };
let ca: LocalCa;
let caRoot: string;
beforeAll(async () => {
  pki = makeTestPki();
  good = pki.issue('localhost', ['DNS:localhost', 'IP:127.0.0.1']);
  caRoot = mkdtempSync(path.join(os.tmpdir(), 'wsplay-proxy-ca-'));
  ca = await loadOrCreateCa(path.join(caRoot, 'ca'));
});
afterAll(() => {
  pki.remove();
  rmSync(caRoot, { recursive: true, force: true });
});

interface Proxied {
  tap: TapHandle;
  proxy: InterceptingProxy;
  browserTlsErrors: string[];
  /** Resolves at the first browser-side TLS failure. */
  browserTlsError: Promise<void>;
  targetErrors: string[];
}

async function startProxy(options: { loopbackOnly?: boolean; upstreamCa?: boolean } = {}): Promise<Proxied> {
  const targetErrors: string[] = [];
  const browserTlsErrors: string[] = [];
  let sawTlsError!: () => void;
  const browserTlsError = new Promise<void>((r) => (sawTlsError = r));
  // The wiretap's own port is not used: the proxy hands it every tunnel.
  const tap = await startTap(1, { onTargetError: (err, explained) => targetErrors.push(explained ?? String(err.code)) });
  cleanup.add(() => tap.close());
  const proxy = new InterceptingProxy({
    port: 0,
    tap: tap.tap,
    ca,
    upstreamCa: options.upstreamCa === false ? undefined : readCaFile(pki.caFile),
    loopbackOnly: options.loopbackOnly ?? true,
    onBrowserTlsError: (host, err) => {
      browserTlsErrors.push(`${host}: ${err.message}`);
      sawTlsError();
    },
  });
  await proxy.listen();
  cleanup.add(() => proxy.close());
  return { tap, proxy, browserTlsErrors, browserTlsError, targetErrors };
}

/** Raw request to the proxy; resolves with the whole answer once the proxy closes the connection. */
function rawAsk(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

/**
 * A tunnel through the proxy to host:port as a browser opens one: CONNECT, 200, then TLS with
 * the certificate the proxy makes (trusting the local CA only) when `secure`.
 */
function tunnel(proxyPort: number, host: string, port: number, secure: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`));
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      if (!head.startsWith('HTTP/1.1 200 ')) return reject(new Error(`proxy answered: ${head}`));
      if (!secure) return resolve(s);
      const t = tls.connect({ socket: s, servername: host, ca: [ca.certPem], ALPNProtocols: ['http/1.1', 'h2'] }, () => resolve(t));
      t.on('error', reject);
    };
    s.on('data', onData);
    s.on('error', reject);
  });
}

/** A `ws` client over a tunnel; collects what it receives. */
async function wsOver(socket: net.Socket, url: string, deflate: boolean) {
  const received: string[] = [];
  const ws = new WebSocket(url, { createConnection: () => socket, perMessageDeflate: deflate });
  cleanup.add(() => ws.terminate());
  ws.on('message', (d, isBinary) => received.push(isBinary ? `bin:${(d as Buffer).toString('base64')}` : (d as Buffer).toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (received.length >= n ? resolve() : ws.once('message', () => setImmediate(check)));
      check();
    });
  return { ws, received, next };
}

const header = (headers: Array<[string, string]> | undefined, name: string) => headers?.find(([n]) => n.toLowerCase() === name)?.[1];

/** The Python `websockets` echo server over TLS (an implementation independent of `ws`). */
async function pythonWss(deflate: boolean): Promise<{ port: number; hosts: string[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wsplay-pywss-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'cert.pem'), good.cert);
  writeFileSync(path.join(dir, 'key.pem'), good.key);
  const child: ChildProcess = spawn('/usr/bin/python3', [path.join(ROOT, 'test/fixtures/wss_echo.py'), path.join(dir, 'cert.pem'), path.join(dir, 'key.pem'), deflate ? 'on' : 'off'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanup.add(() => child.kill('SIGKILL'));
  const hosts: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) {
        if (/^\d+$/.test(line)) resolve(Number(line));
        else if (line.startsWith('host ')) hosts.push(line.slice(5));
      }
    });
    child.once('exit', (code) => reject(new Error(`wss_echo.py exited (${code}) before listening: ${stderr} (is python3-websockets installed? apt-get install python3-websockets)`)));
  });
  return { port, hosts };
}

describe('wsplay proxy', () => {
  const servers = [
    ['ws over https', false],
    ['ws over https', true],
    ...(HAS_PY_WEBSOCKETS || process.env.CI
      ? ([
          ["Python's websockets", false],
          ["Python's websockets", true],
        ] as const)
      : []),
  ] as const;
  it.each(servers)('relays a wss:// echo from %s through a CONNECT tunnel, decoded as on ws:// (permessage-deflate %s)', async (kind, deflate) => {
    let port: number;
    let hostsSeen: () => string[];
    if (kind === 'ws over https') {
      const s = await startWssEcho(good, { perMessageDeflate: deflate });
      cleanup.add(() => s.close());
      port = s.port;
      hostsSeen = () => s.requests.map((r) => r.host ?? '');
    } else {
      const s = await pythonWss(deflate);
      port = s.port;
      hostsSeen = () => s.hosts;
    }
    const p = await startProxy();
    const socket = await tunnel(p.proxy.port, 'localhost', port, true);
    // The browser side: a certificate for the host asked for, signed by the local CA, ALPN http/1.1 only.
    const t = socket as tls.TLSSocket;
    expect(t.authorized).toBe(true);
    expect(t.alpnProtocol).toBe('http/1.1');
    expect(t.getPeerCertificate().subject.CN).toBe('localhost');
    const browserSide = { version: t.getProtocol(), cipher: t.getCipher().name, alpn: 'http/1.1' };

    const c = await wsOver(socket, `wss://localhost:${port}/chat`, deflate);
    c.ws.send('hello through the proxy');
    c.ws.send(Buffer.from([0, 1, 2, 255]));
    c.ws.send('x'.repeat(40_000));
    await c.next(3);
    expect(c.received).toEqual(['hello through the proxy', 'bin:AAEC/w==', 'x'.repeat(40_000)]);
    c.ws.close(1000, 'done');
    const end = await p.tap.waitFor('end', undefined, 10_000);
    expect(end.error).toBeUndefined();

    const [open] = p.tap.of(1, 'open');
    expect(open!.target).toBe(`localhost:${port}`);
    const messages = p.tap.of(1, 'message');
    // Each echo may come back before the next message is sent: compare each direction's order.
    const perDir = (dir: string) => messages.filter((m) => m.dir === dir).map((m) => m.text ?? m.base64);
    expect(perDir('client')).toEqual(['hello through the proxy', 'AAEC/w==', 'x'.repeat(40_000)]);
    expect(perDir('server')).toEqual(perDir('client'));
    expect(messages.every((m) => m.compressed === deflate)).toBe(true);
    expect(p.tap.of(1, 'close').map((e) => [e.dir, e.code])).toEqual([['client', 1000], ['server', 1000]]);
    expect(p.tap.of(1, 'violation')).toEqual([]);

    // The server saw its own Host (the browser's, unchanged), and the upstream TLS was verified.
    expect(hostsSeen()).toEqual([`localhost:${port}`]);
    const [h] = p.tap.of(1, 'handshake');
    expect(h!.outcome).toBe('upgraded');
    expect(h!.request!.path).toBe('/chat');
    expect(header(h!.request?.headers, 'host')).toBe(`localhost:${port}`);
    expect(h!.tls).toMatchObject({ verified: true, alpn: 'http/1.1', servername: 'localhost', subject: 'CN=localhost', issuer: 'CN=wsplay test CA' });
    // And the client's own TLS, which ended at the proxy.
    expect(h!.tls!.intercepted).toEqual(browserSide);
    expect(p.targetErrors).toEqual([]);
  });

  it('ends the tunnel with the cause when the real server\'s certificate is not trusted (no --ca)', async () => {
    const s = await startWssEcho(good);
    cleanup.add(() => s.close());
    const p = await startProxy({ upstreamCa: false });
    const socket = await tunnel(p.proxy.port, 'localhost', s.port, true);
    const ws = new WebSocket(`wss://localhost:${s.port}/`, { createConnection: () => socket });
    const outcome = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('opened'));
      ws.on('error', (e) => resolve(`error: ${e.message}`));
    });
    expect(outcome).toMatch(/^error: /);
    const end = await p.tap.waitFor('end');
    expect(end.error).toMatch(/TLS to localhost:\d+ failed: its certificate is signed by a CA this machine does not trust.*--ca FILE/);
    expect(s.requests).toEqual([]);
  });

  it('resets a proxied wss:// connection (Break it, a client\'s RST) without throwing: TLS sockets have no RST of their own', async () => {
    const s = await startWssEcho(good);
    cleanup.add(() => s.close());
    const p = await startProxy();
    const c = await wsOver(await tunnel(p.proxy.port, 'localhost', s.port, true), `wss://localhost:${s.port}/`, false);
    c.ws.send('before the reset');
    await c.next(1);
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    expect(p.tap.tap.reset(1)).toEqual([1]);
    expect(await closed).toBe(1006);
    const end = await p.tap.waitFor('end');
    expect(end.error).toBe('reset by the wiretap (fault)');
    expect(p.tap.tap.connections).toBe(0);
  });

  it('tunnels ws:// (CONNECT, then plain bytes) and relays absolute-form http:// requests in origin-form', async () => {
    const seen: Array<{ url: string | undefined; host: string | undefined; connection: string | undefined; proxyConnection: string | undefined }> = [];
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url, host: req.headers.host, connection: req.headers.connection, proxyConnection: req.headers['proxy-connection'] as string | undefined });
      res.end(`you asked for ${req.url}`);
    });
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.add(() => new Promise<void>((r) => (wss.close(), server.closeAllConnections(), server.close(() => r()))));
    const port = (server.address() as net.AddressInfo).port;
    const p = await startProxy();

    const page = await rawAsk(p.proxy.port, `GET http://127.0.0.1:${port}/index.html?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nProxy-Connection: keep-alive\r\n\r\n`);
    expect(page).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(page).toContain('you asked for /index.html?x=1');
    expect(seen).toEqual([{ url: '/index.html?x=1', host: `127.0.0.1:${port}`, connection: 'close', proxyConnection: undefined }]);
    await p.tap.waitFor('end', (e) => e.conn === 1);
    expect(p.tap.of(1, 'open')[0]!.target).toBe(`127.0.0.1:${port}`);

    const socket = await tunnel(p.proxy.port, '127.0.0.1', port, false);
    const c = await wsOver(socket, `ws://127.0.0.1:${port}/`, false);
    c.ws.send('plain ws through CONNECT');
    await c.next(1);
    expect(c.received).toEqual(['plain ws through CONNECT']);
    const msgs = await p.tap.waitForCount('message', 2, (m) => m.conn === 2);
    expect(msgs.map((m) => [m.dir, m.text])).toEqual([
      ['client', 'plain ws through CONNECT'],
      ['server', 'plain ws through CONNECT'],
    ]);
    expect(p.tap.of(2, 'handshake')[0]!.tls).toBeUndefined();
  });

  it('answers 502 with the reason for a host it cannot reach or may not try, quietly, and keeps serving', async () => {
    const p = await startProxy();
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const refused = await rawAsk(p.proxy.port, `CONNECT 127.0.0.1:${closed} HTTP/1.1\r\nHost: 127.0.0.1:${closed}\r\n\r\n`);
    expect(refused).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(refused).toContain(`could not reach 127.0.0.1:${closed}: nothing listens there (ECONNREFUSED)`);
    const outside = await rawAsk(p.proxy.port, 'CONNECT update.googleapis.com:443 HTTP/1.1\r\nHost: update.googleapis.com:443\r\n\r\n');
    expect(outside).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(outside).toContain('update.googleapis.com:443 was not tried');
    // No connection was handed to the wiretap, nothing was said.
    expect(p.tap.events).toEqual([]);
    expect(p.targetErrors).toEqual([]);
    expect(p.browserTlsErrors).toEqual([]);
  });

  it('refuses hostile request heads: too large, not a request, a host that is not a name', async () => {
    const p = await startProxy();
    const big = await rawAsk(p.proxy.port, `CONNECT localhost:443 HTTP/1.1\r\nX-Pad: ${'a'.repeat(MAX_PROXY_HEAD)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    const endless = await rawAsk(p.proxy.port, 'GET http://127.0.0.1/ HTTP/1.1\r\nX-Pad: '.padEnd(MAX_PROXY_HEAD + 10, 'b'));
    expect(endless).toMatch(/^HTTP\/1\.1 431 /);
    expect(await rawAsk(p.proxy.port, '\x16\x03\x01\x02\x00garbage\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 .*\r\n\r\n".*" is not an HTTP\/1\.1 request line/s);
    expect(await rawAsk(p.proxy.port, 'CONNECT ev il.test:443 HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawAsk(p.proxy.port, 'CONNECT localhost:99999 HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 .*not host:port/s);
    expect(await rawAsk(p.proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 .*Point a browser at this proxy/s);
    expect(p.tap.events).toEqual([]);
  });
});
