/**
 * Faults and the frame crafter over real sockets: `ws` clients and servers talk through a
 * Wiretap on port 0, and each fault's effect is observed where a user would see it (a send
 * that throws, a heartbeat that gives up, a close code), together with what the wiretap shows.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';
import { startDashboard } from '../../server/app/dashboard.ts';
import type { Direction, ViolationRule } from '../../server/capture/events.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { RULES } from '../../server/protocol/violations.ts';
import { buildFrame, PRESET_LIST, presetBytes, PRESETS, type Preset } from '../../server/tap/crafter.ts';
import { Cleanup, connect, frameBytes, HOST, runCli, startTap, startWsServer, until, WS_KEY, type Client, type CustomServerHandle, type TapHandle } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const text = (d: RawData) => (Buffer.isBuffer(d) ? d : Buffer.from(d as ArrayBuffer)).toString('utf8');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ServerLog {
  messages: string[];
  pongs: number;
  pings: number;
  closes: Array<{ code: number; reason: string }>;
  connections: number;
}

/**
 * A `ws` server that echoes like the tutorial's (greeting first), logs what it saw, and, with
 * `heartbeatMs`, pings each client on that period and terminates one that has not answered
 * the previous ping with a pong (the heartbeat in ws's README).
 */
async function server(opts: { heartbeatMs?: number; deflate?: boolean } = {}): Promise<{ handle: CustomServerHandle; log: ServerLog }> {
  const log: ServerLog = { messages: [], pongs: 0, pings: 0, closes: [], connections: 0 };
  const handle = await startWsServer({ perMessageDeflate: opts.deflate ?? false }, (ws) => {
    log.connections++;
    let alive = true;
    ws.on('pong', () => {
      alive = true;
      log.pongs++;
    });
    ws.on('ping', () => log.pings++);
    ws.on('message', (data) => {
      log.messages.push(text(data));
      ws.send(`I heard you say "${text(data)}"`);
    });
    ws.on('close', (code, reason) => log.closes.push({ code, reason: reason.toString() }));
    if (opts.heartbeatMs) {
      const timer = setInterval(() => {
        if (!alive) {
          clearInterval(timer);
          ws.terminate();
          return;
        }
        alive = false;
        ws.ping();
      }, opts.heartbeatMs);
      ws.on('close', () => clearInterval(timer));
    }
    ws.send('Hello webSocket');
  });
  cleanup.add(() => handle.close());
  return { handle, log };
}

async function tapFor(port: number): Promise<TapHandle> {
  const tap = await startTap(port);
  cleanup.add(() => tap.close());
  return tap;
}

async function client(url: string, options = {}): Promise<Client> {
  const c = await connect(url, options);
  cleanup.add(() => c.ws.terminate());
  return c;
}

/** The id of the connection the wiretap accepted last. */
const lastConn = (tap: TapHandle) => Math.max(...tap.events.filter((e) => e.type === 'open').map((e) => e.conn));

describe('delay the handshake', () => {
  it("holds the server's 101, so a send before open throws while the client is still CONNECTING", async () => {
    const { handle } = await server();
    const tap = await tapFor(handle.port);
    tap.tap.faults.add({ kind: 'delay-handshake', value: 600 });
    const ws = new WebSocket(tap.url);
    cleanup.add(() => ws.terminate());
    ws.on('error', () => {});
    const greeting = new Promise<string>((resolve) => ws.once('message', (d) => resolve(text(d))));
    // The server has answered (its 101 and greeting are in the wiretap's hands) ...
    await until(() => (tap.tap.faultStatus()[0]?.server.holding ? true : undefined), 5000, () => 'the wiretap to hold the 101');
    // ... and the client, which would have had it by now, still waits: the tutorial's early send fails.
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(() => ws.send('I am listening')).toThrow('WebSocket is not open: readyState 0 (CONNECTING)');
    expect(await greeting).toBe('Hello webSocket');
    const hs = await tap.waitFor('handshake');
    expect(hs.outcome).toBe('upgraded');
    expect(hs.response!.t - hs.request!.t).toBeGreaterThanOrEqual(600);
  });

  it('lets frames sent before the 101 reach the server, and the wiretap flags them', async () => {
    const { handle, log } = await server();
    const tap = await tapFor(handle.port);
    tap.tap.faults.add({ kind: 'delay-handshake', value: 500 });
    const socket = net.connect(tap.port, HOST);
    cleanup.add(() => socket.destroy());
    let received = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => (received = Buffer.concat([received, c])));
    socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await until(() => (log.connections === 1 && tap.tap.faultStatus()[0]?.server.holding ? true : undefined), 5000, () => 'the server to accept');
    expect(received.length).toBe(0);
    socket.write(frameBytes(0x1, Buffer.from('early')));
    // ws has sent its 101 already, so it takes the message; the wiretap saw it come first.
    await until(() => (received.includes('I heard you say "early"') ? true : undefined), 5000, () => `the echo; got ${received.toString('latin1')}`);
    expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    const v = await tap.waitFor('violation');
    expect(v).toMatchObject({ dir: 'client', rule: 'data-before-handshake' });
  });
});

describe('latency', () => {
  it('forwards each chunk N ms after it arrived, in order, both ways', async () => {
    const { handle } = await server();
    const tap = await tapFor(handle.port);
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    tap.tap.faults.add({ kind: 'latency', value: 150 });
    const sentAt = tap.tap.now();
    for (const m of ['one', 'two', 'three']) c.ws.send(m);
    for (const m of ['one', 'two', 'three']) expect(await c.next()).toBe(`I heard you say "${m}"`);
    const msgs = tap.events.filter((e) => e.type === 'message');
    const first = msgs.find((e) => e.type === 'message' && e.dir === 'client' && e.text === 'one')!;
    const echo = msgs.find((e) => e.type === 'message' && e.dir === 'server' && e.text === 'I heard you say "one"')!;
    // The server saw the message 150 ms late, and its answer came back 150 ms after that.
    expect(first.t - sentAt).toBeGreaterThanOrEqual(150);
    expect(echo.t - first.t).toBeGreaterThanOrEqual(150);
  });
});

describe('latency and the closing handshake', () => {
  it('delays the close frames and the FIN too, so a normal close still completes cleanly', async () => {
    const { handle, log } = await server();
    const tap = await tapFor(handle.port);
    tap.tap.faults.add({ kind: 'latency', value: 100 });
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('last words');
    c.ws.close(1000, 'bye');
    expect(await c.closed).toEqual({ code: 1000, reason: 'bye' });
    expect(c.messages).toEqual(['Hello webSocket', 'I heard you say "last words"']);
    const end = await tap.waitFor('end');
    expect(end).toMatchObject({ clean: true, code: 1000, serverCode: 1000 });
    expect(log.closes).toEqual([{ code: 1000, reason: 'bye' }]);
  });
});

describe('split into tiny TCP chunks', () => {
  it('writes a frame a byte at a time, and the server still gets the message', async () => {
    const { handle, log } = await server();
    const tap = await tapFor(handle.port);
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    tap.tap.faults.add({ kind: 'split', value: 1, dir: 'client' });
    const before = handle.raw[0]!.length;
    const message = 'a message cut into one-byte TCP segments';
    c.ws.send(message);
    expect(await c.next()).toBe(`I heard you say "${message}"`);
    expect(log.messages).toEqual([message]);
    // 6 header bytes + the payload, written one per turn of the event loop: the server's socket
    // reads them in many pieces (it may get a few bytes at once, never the frame in one).
    expect(handle.raw[0]!.length - before).toBeGreaterThanOrEqual(10);
    const frame = (await tap.waitFor('frame', (f) => f.dir === 'client')) as { t: number; tEnd: number };
    expect(frame.tEnd).toBeGreaterThan(frame.t);
  });
});

describe('pongs', () => {
  it("drops the client's pongs: the server never hears one and its heartbeat gives up, while messages pass", async () => {
    const { handle, log } = await server({ heartbeatMs: 100 });
    const tap = await tapFor(handle.port);
    tap.tap.faults.add({ kind: 'drop-pongs', dir: 'client' });
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('still here');
    expect(await c.next()).toBe('I heard you say "still here"');
    const closed = await c.closed;
    expect(closed.code).toBe(1006);
    expect(log.pongs).toBe(0);
    const conn = lastConn(tap);
    await tap.waitFor('end', (e) => e.conn === conn);
    // The wiretap shows the server's ping, and no pong: it was never forwarded.
    expect(tap.of(conn, 'ping').length).toBeGreaterThanOrEqual(1);
    expect(tap.of(conn, 'pong')).toEqual([]);
    expect(log.closes.map((x) => x.code)).toEqual([1006]);
  });

  it('holds pongs back: each arrives N ms after its ping', async () => {
    const { handle } = await server();
    const tap = await tapFor(handle.port);
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    const conn = lastConn(tap);
    tap.tap.faults.add({ kind: 'hold-pongs', value: 200 }, conn);
    const serverWs = [...handle.wss.clients][0]!;
    const pong = new Promise<string>((resolve) => serverWs.once('pong', (d) => resolve(d.toString())));
    serverWs.ping('are you there');
    c.ws.send('after the ping');
    expect(await c.next()).toBe('I heard you say "after the ping"');
    expect(await pong).toBe('are you there');
    const ping = await tap.waitFor('ping', (e) => e.conn === conn);
    const pongEv = await tap.waitFor('pong', (e) => e.conn === conn);
    expect(pongEv.t - ping.t).toBeGreaterThanOrEqual(200);
    // The message sent after the pong overtook it, each frame whole.
    const fromClient = tap.events.filter((e) => e.conn === conn && e.type !== 'open' && e.type !== 'handshake' && e.type !== 'end' && e.type !== 'insight' && e.dir === 'client');
    expect(fromClient.filter((e) => e.type === 'message' || e.type === 'pong').map((e) => e.type)).toEqual(['message', 'pong']);
    expect(tap.of(conn, 'violation')).toEqual([]);
  });
});

describe('blackhole', () => {
  it('lets no byte through either way, until a heartbeat server terminates the silent peer', async () => {
    const { handle, log } = await server({ heartbeatMs: 100 });
    const tap = await tapFor(handle.port);
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    // The heartbeat works: the client answers pings.
    await until(() => (log.pongs >= 1 ? true : undefined), 5000, () => 'a pong');
    const conn = lastConn(tap);
    tap.tap.faults.add({ kind: 'blackhole' }, conn);
    c.ws.send('into the void');
    const closed = await c.closed;
    // The server ended TCP (terminate); that still passes, so the client sees an abnormal close.
    expect(closed.code).toBe(1006);
    expect(log.closes.map((x) => x.code)).toEqual([1006]);
    expect(log.messages).toEqual([]);
    expect(c.messages).toEqual(['Hello webSocket']);
    const end = await tap.waitFor('end', (e) => e.conn === conn);
    expect(end.by).toBe('server');
    // Nothing the blackhole swallowed shows as sent-and-received.
    expect(tap.of(conn, 'message').filter((m) => m.dir === 'client')).toEqual([]);
  });
});

describe('reset and close from the middle', () => {
  it('resets a connection: both sides see ECONNRESET / 1006', async () => {
    const { handle, log } = await server();
    const tap = await tapFor(handle.port);
    const errors: string[] = [];
    const ws = new WebSocket(tap.url);
    cleanup.add(() => ws.terminate());
    // ws reports a socket error as close 1006 only: listen on its TCP socket for the reset itself.
    ws.on('upgrade', (res) => res.socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message)));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('message', resolve));
    const conn = lastConn(tap);
    expect(tap.tap.reset(conn)).toEqual([conn]);
    expect(await closed).toBe(1006);
    expect(errors).toEqual(['ECONNRESET']);
    await until(() => (log.closes.length > 0 ? true : undefined), 5000, () => 'the server to see the close');
    expect(log.closes[0]!.code).toBe(1006);
    const end = await tap.waitFor('end', (e) => e.conn === conn);
    expect(end).toMatchObject({ by: 'wiretap', code: 1006, error: 'reset by the wiretap (fault)' });
  });

  it('closes a connection with a code: both sides see that code and reason', async () => {
    const { handle, log } = await server();
    const tap = await tapFor(handle.port);
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    const conn = lastConn(tap);
    tap.tap.closeWith(conn, 4001, 'wiretap says bye');
    expect(await c.closed).toEqual({ code: 4001, reason: 'wiretap says bye' });
    await until(() => (log.closes.length > 0 ? true : undefined), 5000, () => 'the server to see the close');
    expect(log.closes).toEqual([{ code: 4001, reason: 'wiretap says bye' }]);
    const end = await tap.waitFor('end', (e) => e.conn === conn);
    expect(end).toMatchObject({ code: 4001, serverCode: 4001 });
    // The frame toward the server was masked, as a client's must be: no violation.
    const closes = tap.of(conn, 'close');
    expect(closes.map((x) => `${x.dir} ${x.code}`).sort()).toEqual(['client 4001', 'server 4001']);
    expect(tap.of(conn, 'violation')).toEqual([]);
  });
});

/**
 * What `ws` 8 answers to each preset (its close code, or "accepts"), written out rather than
 * read from RULES: where it differs from the rule's code, the comment says why.
 */
const WS_ANSWERS: Record<keyof typeof PRESETS, number | 'accepts'> = {
  'unmasked-client-frame': 1002,
  'masked-server-frame': 1002,
  'rsv-without-extension': 1002,
  'rsv1-on-control-frame': 1002,
  'rsv1-on-continuation': 1002,
  'reserved-opcode': 1002,
  'control-frame-too-long': 1002,
  'fragmented-control-frame': 1002,
  'unexpected-continuation': 1002,
  'data-frame-mid-message': 1002,
  // ws never checks that a length is minimal (RULES: 1002): it reads the message.
  'non-minimal-length': 'accepts',
  // ws refuses any length above 2^53-1 as unsupported: 1009, not the rule's 1002.
  'length-top-bit-set': 1009,
  'invalid-utf8': 1007,
  'invalid-close-code': 1002,
  'close-body-one-byte': 1002,
  'invalid-close-reason-utf8': 1007,
  'invalid-compressed-data': 1007,
  // ws stops reading at the close frame and answers it with its code (1000); the text after
  // it is never read (RULES: 1002).
  'frame-after-close': 1000,
  // ws has sent its 101 when the early frame arrives: it takes it (RULES: 1002).
  'data-before-handshake': 'accepts',
};

describe('crafter presets against ws', () => {
  it('knows what ws answers to every preset', () => {
    expect(Object.keys(WS_ANSWERS).sort()).toEqual(PRESET_LIST.map((p) => p.rule).sort());
    const differs = PRESET_LIST.filter((p) => WS_ANSWERS[p.rule as keyof typeof PRESETS] !== RULES[p.rule].closeCode).map((p) => p.rule);
    expect(differs.sort()).toEqual(['data-before-handshake', 'frame-after-close', 'length-top-bit-set', 'non-minimal-length']);
  });

  it.each(PRESET_LIST.map((p) => [p.rule, p] as const))('%s is answered by ws as expected, and shows in the timeline', async (rule, preset: Preset) => {
    const { handle, log } = await server({ deflate: preset.needs === 'deflate' });
    const tap = await tapFor(handle.port);
    const heldHandshake = preset.needs === 'held-handshake';
    if (heldHandshake) tap.tap.faults.add({ kind: 'delay-handshake', value: 400 });
    const ws = new WebSocket(tap.url, { perMessageDeflate: preset.needs === 'deflate' });
    cleanup.add(() => ws.terminate());
    const messages: string[] = [];
    const clientErrors: string[] = [];
    ws.on('message', (d) => messages.push(text(d)));
    ws.on('error', (err) => clientErrors.push(err.message));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    let conn: number;
    if (heldHandshake) {
      await until(() => (tap.tap.faultStatus().some((s) => s.server.holding) ? true : undefined), 5000, () => 'the 101 to be held');
      conn = lastConn(tap);
    } else {
      await until(() => (messages[0] === 'Hello webSocket' ? true : undefined), 5000, () => 'the greeting');
      conn = lastConn(tap);
    }
    expect(tap.tap.inject(conn, preset.dir, presetBytes(preset))).toBe('sent');

    const violation = await tap.waitFor('violation', (v) => v.conn === conn && v.rule === rule);
    expect(violation.dir).toBe(preset.dir);
    const expected = WS_ANSWERS[rule as keyof typeof PRESETS];
    if (expected === 'accepts') {
      const sent = preset.frame.payload.kind === 'text' ? preset.frame.payload.text : '';
      await until(() => (messages.includes(`I heard you say "${sent}"`) ? true : undefined), 5000, () => `the echo; got ${JSON.stringify(messages)}`);
      expect(log.closes).toEqual([]);
    } else {
      // The endpoint that received the frame fails the connection with a close frame: the
      // server's, or (for a preset sent toward the client) the ws client's.
      const answerDir: Direction = preset.dir === 'client' ? 'server' : 'client';
      const close = await tap.waitFor('close', (e) => e.conn === conn && e.dir === answerDir);
      expect(close.code).toBe(expected);
      if (preset.dir === 'client') expect(await closed).toBe(expected);
      else expect(clientErrors.length).toBe(1);
    }
    ws.terminate();
  });
});

describe('inject', () => {
  it('waits for the frame the client is in the middle of, then puts the crafted frame after it', async () => {
    const order: string[] = [];
    const handle = await startWsServer({}, (ws) => {
      ws.on('message', (d) => order.push(`message ${text(d)}`));
      ws.on('ping', (d) => order.push(`ping ${d.toString()}`));
    });
    cleanup.add(() => handle.close());
    const tap = await tapFor(handle.port);
    const socket = net.connect(tap.port, HOST);
    cleanup.add(() => socket.destroy());
    let head = '';
    socket.on('data', (c: Buffer) => (head += c.toString('latin1')));
    socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await until(() => (head.includes('\r\n\r\n') ? true : undefined), 5000, () => 'the 101');
    const frame = frameBytes(0x1, Buffer.from('a message in two halves'));
    socket.write(frame.subarray(0, 9));
    await until(() => (handle.raw[0] && Buffer.concat(handle.raw[0]).length >= 9 ? true : undefined), 5000, () => 'the first half at the server');
    const ping = buildFrame({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 0x9, mask: true, payload: { kind: 'text', text: 'crafted' } }).bytes;
    expect(tap.tap.inject(lastConn(tap), 'client', ping)).toBe('waiting');
    await sleep(50);
    socket.write(frame.subarray(9));
    await until(() => (order.length === 2 ? true : undefined), 5000, () => `both frames; got ${JSON.stringify(order)}`);
    expect(order).toEqual(['message a message in two halves', 'ping crafted']);
    expect(handle.errors).toEqual([]);
  });

  it('refuses a connection that is not open', async () => {
    const { handle } = await server();
    const tap = await tapFor(handle.port);
    expect(() => tap.tap.inject(42, 'client', new Uint8Array([0x89, 0x00]))).toThrow(/No open connection #42/);
  });
});

describe('the command channel (/api/faults, /api/inject)', () => {
  async function dashboard() {
    const { handle, log } = await server();
    const tap = await tapFor(handle.port);
    const dash = await startDashboard({
      port: 0,
      store: new CaptureStore(),
      topology: () => ({ tap: { host: HOST, port: tap.port }, target: { host: HOST, port: handle.port }, targetLabel: 'test' }),
      connections: () => tap.tap.connections,
      token: 'test-token',
      uiDir: '/nonexistent',
      control: tap.tap,
    });
    cleanup.add(() => dash.close());
    const api = (path: string, init: RequestInit & { json?: unknown } = {}, token = 'test-token') =>
      fetch(`http://127.0.0.1:${dash.port}${path}`, {
        ...init,
        headers: { 'X-Wsplay-Token': token, ...(init.json !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
      });
    return { tap, log, api };
  }

  it('turns faults on and off, and lists them with a sentence each', async () => {
    const { api } = await dashboard();
    expect((await api('/api/faults', {}, 'wrong')).status).toBe(403);
    const added = await api('/api/faults', { method: 'POST', json: { kind: 'latency', value: 250, dir: 'server' } });
    expect(added.status).toBe(201);
    await api('/api/faults', { method: 'POST', json: { kind: 'blackhole', conn: 3 } });
    const state = (await (await api('/api/faults')).json()) as { faults: Array<{ id: number; text: string; conn: number | null }> };
    expect(state.faults.map((f) => [f.conn, f.text])).toEqual([
      [null, 'latency 250 ms (server → client)'],
      [3, 'blackhole'],
    ]);
    expect((await api(`/api/faults/${state.faults[1]!.id}`, { method: 'DELETE' })).status).toBe(200);
    const cleared = (await (await api('/api/faults', { method: 'DELETE' })).json()) as { removed: number; faults: unknown[] };
    expect(cleared).toMatchObject({ removed: 1, faults: [] });
  });

  it('explains a request it cannot carry out', async () => {
    const { api } = await dashboard();
    const bad = async (path: string, json: unknown) => {
      const res = await api(path, { method: 'POST', json });
      return `${res.status} ${((await res.json()) as { error: string }).error}`;
    };
    expect(await bad('/api/faults', { kind: 'latency', value: -5 })).toMatch(/^400 400: Add latency: milliseconds must be a whole number from 1 to 60000/);
    expect(await bad('/api/faults', { kind: 'teleport' })).toMatch(/^400 400: Unknown fault "teleport"/);
    expect(await bad('/api/inject', { conn: 7, dir: 'client', hex: '8900' })).toMatch(/^404 404: No open connection #7/);
    expect(await bad('/api/inject', { conn: 1, dir: 'sideways', hex: '8900' })).toMatch(/^400 400: "dir" is "client"/);
    expect(await bad('/api/faults/close', { conn: 1, code: 70000 })).toMatch(/^400 400: "code" is the close code to send, 0-65535/);
    const form = await api('/api/faults', { method: 'POST', body: 'kind=blackhole', headers: { 'X-Wsplay-Token': 'test-token', 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(400);
  });

  it('injects a preset on a live connection and the server answers it', async () => {
    const { tap, api } = await dashboard();
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    const conn = lastConn(tap);
    const res = await api('/api/inject', { method: 'POST', json: { conn, preset: 'reserved-opcode' } });
    expect(await res.json()).toMatchObject({ conn, dir: 'client', status: 'sent', hex: Buffer.from(presetBytes(PRESETS['reserved-opcode'])).toString('hex').replace(/(..)(?!$)/g, '$1 ') });
    expect((await c.closed).code).toBe(1002);
    const v = await tap.waitFor('violation', (e) => e.conn === conn);
    expect(v.rule).toBe<ViolationRule>('reserved-opcode');
  });

  it('closes every connection from the middle with a code', async () => {
    const { tap, api, log } = await dashboard();
    const a = await client(tap.url);
    const b = await client(tap.url);
    await a.next();
    await b.next();
    const res = await api('/api/faults/close', { method: 'POST', json: { conn: 'all', code: 1001, reason: 'going away' } });
    expect(((await res.json()) as { closed: number[] }).closed).toHaveLength(2);
    expect(await a.closed).toEqual({ code: 1001, reason: 'going away' });
    expect(await b.closed).toEqual({ code: 1001, reason: 'going away' });
    await until(() => (log.closes.length === 2 ? true : undefined), 5000, () => 'both server sockets to close');
    expect(log.closes.map((x) => x.code)).toEqual([1001, 1001]);
  });
});

describe('--fault on the command line', () => {
  it('refuses a fault it cannot read, with the way out', async () => {
    const bad = runCli(['tap', '--target', 'ws://127.0.0.1:1', '--port', '0', '--no-dashboard', '--fault', 'latency=fast']);
    cleanup.add(() => bad.kill());
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toMatch(/--fault latency=fast: the value is a whole number of milliseconds, e.g. latency=200/);
  });

  it('turns the fault on for every connection and says so', async () => {
    const { handle } = await server();
    const cli = runCli(['tap', '--target', `ws://127.0.0.1:${handle.port}`, '--port', '0', '--no-dashboard', '--fault', 'latency=150,dir=server']);
    cleanup.add(() => cli.kill());
    await cli.line(/Fault on for every connection: latency 150 ms \(server → client\)/);
    const [, port] = await cli.line(/Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/);
    const start = performance.now();
    // The server's 101 is held 150 ms like every byte it sends.
    const c = await client(`ws://127.0.0.1:${port}`);
    expect(performance.now() - start).toBeGreaterThanOrEqual(150);
    expect(await c.next()).toBe('Hello webSocket');
  });
});
