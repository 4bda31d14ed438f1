/**
 * The dashboard's guard and its event stream, over real sockets: only the dashboard's own page
 * (the token from the start-up URL, a loopback Host with the right port, its own Origin) may read
 * the API or open /api/events; anything else gets 403 before any upgrade. Then the stream itself:
 * history on connect, and a bounded queue with a `shed` count for a page that stops reading.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket as WsClient } from 'ws';
import type { MessageEvent as WireMessageEvent, WireEvent } from '../../server/capture/events.ts';
import type { StreamMessage } from '../../server/app/stream-protocol.ts';
import { chromiumAvailability, launchChromium } from '../helpers/browser.ts';
import { Cleanup, connect, HOST, until, WS_KEY } from '../helpers/net.ts';
import { startPlayground, type Playground } from '../helpers/playground.ts';

const chromium = chromiumAvailability();

let pg: Playground;
beforeAll(async () => {
  pg = await startPlayground({ ui: false });
}, 30_000);
afterAll(() => pg?.close());

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

// ---- raw HTTP, to see exactly what the server answers ----------------------------------

interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * One request written byte for byte on a fresh TCP connection (so Host and Origin are exactly
 * what a test says, as a rebinding page or a foreign origin would send them). For an upgrade,
 * resolves at the end of the response head; otherwise when the server closes.
 */
function rawRequest(port: number, path: string, headers: Record<string, string>, upgrade = false): Promise<RawResponse> {
  const lines = [`GET ${path} HTTP/1.1`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (upgrade) lines.push('Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${WS_KEY}`, 'Sec-WebSocket-Version: 13');
  else lines.push('Connection: close');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    cleanup.add(() => socket.destroy());
    let buf = Buffer.alloc(0);
    const parse = (): RawResponse | null => {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const head = buf.subarray(0, end).toString('latin1');
      const [statusLine = '', ...rest] = head.split('\r\n');
      const parsed: Record<string, string> = {};
      for (const l of rest) {
        const i = l.indexOf(':');
        if (i > 0) parsed[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      return { status: Number(statusLine.split(' ')[1]), head, headers: parsed, body: buf.subarray(end + 4).toString('utf8') };
    };
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`No complete answer to GET ${path} within 5 s; got ${JSON.stringify(buf.toString('latin1'))}`));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const r = parse();
      if (r && r.status === 101) {
        socket.destroy();
        resolve(r);
      }
    });
    socket.on('end', () => {
      const r = parse();
      if (r) resolve(r);
      else reject(new Error(`The connection ended without a response head: ${JSON.stringify(buf.toString('latin1'))}`));
    });
    socket.on('error', reject);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

const own = () => ({ Host: `127.0.0.1:${pg.dashboardPort}`, Origin: `http://127.0.0.1:${pg.dashboardPort}` });
const eventsPath = (token = pg.token) => `/api/events?token=${encodeURIComponent(token)}`;
const infoPath = (token = pg.token) => `/api/info?token=${encodeURIComponent(token)}`;

/** A tiny web site on another port: the "other origin". */
async function otherOrigin(html = '<!doctype html><title>another site</title><p>another site</p>'): Promise<number> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
  cleanup.add(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

/** Wait until earlier tests' streams are gone, so a new subscriber would show. */
function noPagesOpen(): Promise<number> {
  return until(() => (pg.dashboard.stream.subscribers === 0 ? 0 : undefined), 5000, () => `${pg.dashboard.stream.subscribers} event streams to close`);
}

// ---- a page's event stream, from Node ------------------------------------------------

interface StreamPage {
  ws: WsClient;
  /** Every message so far, parsed. */
  readonly messages: StreamMessage[];
  /** Resolves with the first message that matches; fails after `timeoutMs`. */
  next<K extends StreamMessage['kind']>(kind: K, match?: (m: Extract<StreamMessage, { kind: K }>) => boolean, timeoutMs?: number): Promise<Extract<StreamMessage, { kind: K }>>;
}

async function openStream(playground: Playground): Promise<StreamPage> {
  const c = await connect(`ws://127.0.0.1:${playground.dashboardPort}${eventsPath(playground.token)}`, {
    origin: `http://127.0.0.1:${playground.dashboardPort}`,
  });
  cleanup.add(() => c.ws.terminate());
  // connect() collects every message from the first (the hello comes with the 101); parse them as the page does.
  const messages: StreamMessage[] = [];
  const parsed = () => {
    for (let i = messages.length; i < c.messages.length; i++) messages.push(JSON.parse(c.messages[i]!) as StreamMessage);
    return messages;
  };
  return {
    ws: c.ws,
    get messages() {
      return parsed();
    },
    next: (kind, match, timeoutMs = 5000) =>
      until(
        () => parsed().find((m): m is Extract<StreamMessage, { kind: typeof kind }> => m.kind === kind && (!match || match(m as never))),
        timeoutMs,
        () => `a "${kind}" message; got ${parsed().map((m) => m.kind).join(' ')}`,
      ),
  };
}

// ---- the guard ------------------------------------------------------------------------

describe('the dashboard guard', () => {
  it('lets its own page in: the right token, Host and Origin get 101 and a hello', async () => {
    const page = await openStream(pg);
    const hello = await page.next('hello');
    expect(hello.version).toBe(1);
    expect(hello.topology.tap.port).toBe(pg.tapPort);

    const res = await rawRequest(pg.dashboardPort, eventsPath(), own(), true);
    expect(res.status).toBe(101);
    // The loopback names a browser may show in its address bar.
    for (const name of ['localhost', '[::1]']) {
      const origin = `${name}:${pg.dashboardPort}`;
      expect((await rawRequest(pg.dashboardPort, eventsPath(), { Host: origin, Origin: `http://${origin}` }, true)).status).toBe(101);
    }
    const info = await rawRequest(pg.dashboardPort, infoPath(), own());
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body).topology.tap.port).toBe(pg.tapPort);
  });

  it('refuses the event stream to a page on another origin with 403, before any upgrade', async () => {
    const other = await otherOrigin();
    const before = await noPagesOpen();
    const res = await rawRequest(pg.dashboardPort, eventsPath(), { Host: `127.0.0.1:${pg.dashboardPort}`, Origin: `http://127.0.0.1:${other}` }, true);
    expect(res.status).toBe(403);
    expect(res.head).not.toMatch(/^HTTP\/1\.1 101/);
    expect(res.body).toContain('Origin');
    expect(pg.dashboard.stream.subscribers).toBe(before);
  });

  it('refuses the API to a page on another origin with 403', async () => {
    const other = await otherOrigin();
    const res = await rawRequest(pg.dashboardPort, infoPath(), { Host: `127.0.0.1:${pg.dashboardPort}`, Origin: `http://127.0.0.1:${other}` });
    expect(res.status).toBe(403);
    expect(res.body).not.toContain('topology');
    const events = await rawRequest(pg.dashboardPort, eventsPath(), { Host: `127.0.0.1:${pg.dashboardPort}`, Origin: `http://127.0.0.1:${other}` });
    expect(events.status).toBe(403);
  });

  it('refuses a wrong token and a missing token with 403', async () => {
    const wrong = pg.token.slice(0, -1) + (pg.token.endsWith('A') ? 'B' : 'A');
    for (const path of [infoPath(wrong), '/api/info', eventsPath(wrong), '/api/events']) {
      const res = await rawRequest(pg.dashboardPort, path, own());
      expect(res.status, `GET ${path}`).toBe(403);
      expect(res.body).toContain('token');
    }
    for (const path of [eventsPath(wrong), '/api/events', '/api/events?token=']) {
      const res = await rawRequest(pg.dashboardPort, path, own(), true);
      expect(res.status, `upgrade ${path}`).toBe(403);
    }
    // And the 403 never echoes the real token.
    const res = await rawRequest(pg.dashboardPort, infoPath(wrong), own());
    expect(res.body).not.toContain(pg.token);
  });

  it('refuses a DNS-rebinding Host with 403 on the page, the API and the upgrade', async () => {
    // A rebinding page (evil.test resolving to 127.0.0.1) sends its own name in Host and Origin.
    const evil = { Host: `evil.test:${pg.dashboardPort}`, Origin: `http://evil.test:${pg.dashboardPort}` };
    expect((await rawRequest(pg.dashboardPort, `/?token=${pg.token}`, evil)).status).toBe(403);
    expect((await rawRequest(pg.dashboardPort, infoPath(), evil)).status).toBe(403);
    expect((await rawRequest(pg.dashboardPort, eventsPath(), evil, true)).status).toBe(403);
    // Even with a same-looking Origin, and a loopback name on the wrong port.
    const hostOnly = { Host: `evil.test:${pg.dashboardPort}`, Origin: `http://127.0.0.1:${pg.dashboardPort}` };
    expect((await rawRequest(pg.dashboardPort, eventsPath(), hostOnly, true)).status).toBe(403);
    const wrongPort = { Host: `127.0.0.1:${pg.dashboardPort + 1}` };
    expect((await rawRequest(pg.dashboardPort, infoPath(), wrongPort)).status).toBe(403);
  });

  it('serves its page with a policy that runs only its own scripts', async () => {
    const res = await rawRequest(pg.dashboardPort, `/?token=${pg.token}`, own());
    const csp = res.headers['content-security-policy'] ?? '';
    const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src'));
    expect(scriptSrc).toBe("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('listens on loopback only: the wiretap and the dashboard', async () => {
    const ports = { wiretap: pg.tapPort, dashboard: pg.dashboardPort };
    // What the system says each one is bound to (Linux: /proc/net/tcp*, state 0A = LISTEN).
    if (existsSync('/proc/net/tcp')) {
      for (const [name, port] of Object.entries(ports)) expect(listeners(port), name).toEqual(['127.0.0.1']);
    }
    // And from outside loopback: this machine's other addresses get no answer.
    const outside = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal && !a.address.startsWith('fe80'))
      .map((a) => a!.address);
    for (const address of outside) {
      for (const [name, port] of Object.entries(ports)) {
        expect(await tcpConnect(address, port), `${name} on ${address}`).toBe('ECONNREFUSED');
      }
    }
  });
});

/** Local addresses with a listening TCP socket on `port`, from /proc/net/tcp and tcp6. */
function listeners(port: number): string[] {
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue;
      const [addr = '', p = ''] = cols[1]!.split(':');
      if (parseInt(p, 16) !== port) continue;
      if (addr.length === 8) {
        // Little-endian IPv4.
        found.push([3, 2, 1, 0].map((i) => parseInt(addr.slice(i * 2, i * 2 + 2), 16)).join('.'));
      } else {
        found.push(addr === '0'.repeat(32) ? '::' : `ipv6:${addr}`);
      }
    }
  }
  return found;
}

function tcpConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve('ETIMEDOUT');
    });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

// ---- the event stream ---------------------------------------------------------------

describe('the event stream', () => {
  it("sends what was captured before the page connected, numbered below the hello's nextSeq", async () => {
    const client = await connect(`ws://127.0.0.1:${pg.tapPort}`);
    cleanup.add(() => client.ws.terminate());
    expect(await client.next()).toBe('Hello webSocket');
    client.ws.send('before the page');
    expect(await client.next()).toBe('I heard you say "before the page"');
    const echo = await pg.waitFor('message', (m) => m.text === 'I heard you say "before the page"');

    const page = await openStream(pg);
    const hello = await page.next('hello');
    expect(hello.nextSeq).toBe(pg.store.nextSeq);
    // History may come in several batches: wait for the one that reaches the hello's nextSeq.
    await page.next('events', (m) => m.from + m.events.length === hello.nextSeq);
    const history = page.messages.filter((m): m is Extract<StreamMessage, { kind: 'events' }> => m.kind === 'events' && m.from < hello.nextSeq);
    const events = history.flatMap((m) => m.events);
    expect(events).toContainEqual(echo);
    expect(events.some((e) => e.type === 'handshake' && e.conn === echo.conn && e.acceptValid)).toBe(true);
    // History arrives before any live batch, numbered up to the hello's nextSeq.
    const last = history[history.length - 1]!;
    expect(last.from + last.events.length).toBe(hello.nextSeq);

    // Then live events, numbered from the hello's nextSeq on.
    client.ws.send('after the page');
    const live = await page.next('events', (m) => m.events.some((e) => e.type === 'message' && e.text === 'I heard you say "after the page"'));
    expect(live.from).toBeGreaterThanOrEqual(hello.nextSeq);
  });

  it('tells a page that stopped reading how many events it missed, and keeps its queue bounded', async () => {
    const maxQueue = 200;
    const highWaterBytes = 64 * 1024;
    const slow = await startPlayground({ ui: false, stream: { maxQueue, highWaterBytes, flushMs: 10 } });
    cleanup.add(() => slow.close());
    const page = await openStream(slow);
    await page.next('hello');
    const stream = slow.dashboard.stream;
    page.ws.pause();

    let produced = 0;
    const add = (n: number, size: number) => {
      const events: WireEvent[] = [];
      for (let i = 0; i < n; i++) events.push(fakeMessage(produced + i, 'x'.repeat(size)));
      produced += n;
      slow.store.add(events);
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    // Fill the socket buffers until the server holds more than the high-water mark for this page.
    const filled = Date.now();
    while (stream.pages[0]!.buffered <= highWaterBytes) {
      if (Date.now() - filled > 15_000) throw new Error(`The page's socket never backed up: ${JSON.stringify(stream.pages)}`);
      add(20, 16 * 1024);
      await sleep(20);
    }
    // Now a flood the page cannot take: many times its queue bound.
    let maxQueued = 0;
    for (let i = 0; i < 10; i++) {
      add(maxQueue, 50);
      maxQueued = Math.max(maxQueued, stream.pages[0]!.queued);
      await sleep(15);
    }
    expect(maxQueued).toBeLessThanOrEqual(maxQueue);
    expect(stream.pages[0]!.shed).toBeGreaterThan(0);
    const shedOnServer = stream.pages[0]!.shed;

    page.ws.resume();
    const lastSeq = produced - 1;
    await page.next('events', (m) => m.events.some((e) => e.type === 'message' && e.firstFrame === lastSeq), 15_000);
    const shed = await page.next('shed');
    expect(shed.count).toBeGreaterThan(0);
    expect(shed.total).toBe(shedOnServer);
    // Every event is accounted for: received, or counted as shed.
    const received = page.messages.filter((m) => m.kind === 'events').reduce((n, m) => n + (m.kind === 'events' ? m.events.length : 0), 0);
    expect(received + shed.total).toBe(produced);
    // The page knows where the gap is: the batch after the shed notice starts past it.
    const batches = page.messages.filter((m): m is Extract<StreamMessage, { kind: 'events' }> => m.kind === 'events');
    const gaps = batches.slice(1).reduce((n, b, i) => n + (b.from - (batches[i]!.from + batches[i]!.events.length)), 0);
    expect(gaps).toBe(shed.total);
  });
});

/** A captured text message, as the wiretap would record it; `firstFrame` numbers it. */
function fakeMessage(n: number, text: string): WireMessageEvent {
  return { type: 'message', conn: 999, t: n, dir: 'client', opcode: 1, length: text.length, text, compressed: false, frames: 1, firstFrame: n, lastFrame: n };
}

// ---- in a real browser ----------------------------------------------------------------

describe.skipIf(chromium.skip)(chromium.skip ? `in real Chromium: ${chromium.reason}` : 'in real Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 30_000);
  afterAll(() => browser?.close());

  it('a page on another origin can neither open the event stream nor read the API, even with the token', async () => {
    const other = await otherOrigin();
    const page = await browser.newPage();
    cleanup.add(() => page.close());
    await page.goto(`http://127.0.0.1:${other}/`);
    const before = await noPagesOpen();
    const dash = `127.0.0.1:${pg.dashboardPort}`;
    const result = await page.evaluate(
      async ({ dash, token }) => {
        const ws = await new Promise<{ opened: boolean; messages: number; closeCode: number; error: boolean }>((resolve) => {
          const s = new WebSocket(`ws://${dash}/api/events?token=${token}`);
          const r = { opened: false, messages: 0, closeCode: 0, error: false };
          s.onopen = () => (r.opened = true);
          s.onmessage = () => r.messages++;
          s.onerror = () => (r.error = true);
          s.onclose = (e) => resolve({ ...r, closeCode: e.code });
        });
        let api: string;
        try {
          const res = await fetch(`http://${dash}/api/info?token=${token}`);
          api = `read: ${await res.text()}`;
        } catch (err) {
          api = `refused: ${(err as Error).name}`;
        }
        let opaque: string;
        try {
          const res = await fetch(`http://${dash}/api/info?token=${token}`, { mode: 'no-cors' });
          opaque = `${res.type}:${await res.text()}`;
        } catch (err) {
          opaque = `refused: ${(err as Error).name}`;
        }
        return { ws, api, opaque };
      },
      { dash, token: pg.token },
    );
    expect(result.ws).toEqual({ opened: false, messages: 0, closeCode: 1006, error: true });
    expect(result.api).toBe('refused: TypeError');
    // A no-cors fetch gets an opaque response: nothing of the body reaches the page.
    expect(result.opaque).toBe('opaque:');
    expect(pg.dashboard.stream.subscribers).toBe(before);
  });
});
