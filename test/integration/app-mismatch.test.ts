/**
 * The mismatch detector (server/protocol/app/mismatch.ts) on the bytes real libraries send
 * through the wiretap: `ws`, `socket.io` and `socket.io-client`, `graphql-ws`. Each case is told
 * in one sentence with the bytes that prove it; matching pairs are told nothing.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import WebSocket, { WebSocketServer } from 'ws';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { WireEvent } from '../../server/capture/events.ts';
import { MISMATCH_RULE, MismatchWatch, mismatchEvent, type Mismatch } from '../../server/protocol/app/mismatch.ts';
import { Cleanup, HOST, startTap, type TapHandle } from '../helpers/net.ts';

// graphql's own copy, as graphql-ws loads it (Node's resolution: index.js); vite would pick
// index.mjs, a second realm whose schema graphql-ws refuses (4500 Internal server error).
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** What the detector tells of a connection's events, fed in the wiretap's order. */
function judge(events: WireEvent[], conn?: number): Mismatch[] {
  const watches = new Map<number, MismatchWatch>();
  const out: Mismatch[] = [];
  for (const e of events) {
    if (conn !== undefined && e.conn !== conn) continue;
    let w = watches.get(e.conn);
    if (!w) watches.set(e.conn, (w = new MismatchWatch()));
    let found: Mismatch | null = null;
    if (e.type === 'handshake') found = w.handshake(e);
    else if (e.type === 'message') {
      const data = e.text !== undefined ? Buffer.from(e.text) : Buffer.from(e.base64 ?? '', 'base64');
      found = w.message({ dir: e.dir, opcode: e.opcode, data, ref: { conn: e.conn, dir: e.dir, firstFrame: e.firstFrame } });
    } else if (e.type === 'close') found = w.close({ dir: e.dir, code: e.code, reason: e.reason });
    if (found) out.push(found);
  }
  return out;
}

async function socketIoServer(): Promise<TapHandle> {
  const httpServer = http.createServer();
  const sio = new Server(httpServer);
  sio.on('connection', (s) => s.on('chat', (msg: string, ack?: (a: string) => void) => ack?.(`got ${msg}`)));
  await new Promise<void>((r) => httpServer.listen(0, HOST, () => r()));
  cleanup.add(() => new Promise<void>((r) => sio.close(() => r())));
  const tap = await startTap((httpServer.address() as { port: number }).port);
  cleanup.add(() => tap.close());
  return tap;
}

/** The tutorial's plain echo server: it greets, then echoes. `ws` picks the first subprotocol offered. */
async function plainServer(): Promise<TapHandle> {
  const wss = new WebSocketServer({ port: 0, host: HOST });
  wss.on('connection', (ws) => {
    ws.send('Hello webSocket');
    ws.on('message', (m) => ws.send(`I heard you say "${m}"`));
  });
  await new Promise((r) => wss.on('listening', r));
  cleanup.add(() => new Promise<void>((r) => wss.close(() => r())));
  for (const c of wss.clients) cleanup.add(() => c.terminate());
  const tap = await startTap((wss.address() as { port: number }).port);
  cleanup.add(() => tap.close());
  return tap;
}

async function graphqlServer(): Promise<TapHandle> {
  const schema = buildSchema('type Query { hello: String }');
  const wss = new WebSocketServer({ port: 0, host: HOST });
  const server = useServer({ schema, roots: { query: { hello: () => 'world' } } }, wss);
  await new Promise((r) => wss.on('listening', r));
  cleanup.add(async () => {
    await server.dispose();
    await new Promise<void>((r) => wss.close(() => r()));
  });
  const tap = await startTap((wss.address() as { port: number }).port);
  cleanup.add(() => tap.close());
  return tap;
}

function plainClient(url: string, protocols?: string | string[], send?: string): Promise<{ code: number; error: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    let error = '';
    ws.on('open', () => send !== undefined && ws.send(send));
    ws.on('error', (e) => (error = e.message));
    ws.on('close', (code) => resolve({ code, error }));
    cleanup.add(() => ws.terminate());
  });
}

describe('mismatch detector against the real libraries', () => {
  it('tells a plain WebSocket client that Engine.IO refused it with 400 "Transport unknown"', async () => {
    const tap = await socketIoServer();
    const seen = await plainClient(`${tap.url}/socket.io/`);
    expect(seen.error).toContain('400');
    await tap.waitFor('end');
    const found = judge(tap.events);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ protocol: 'socket.io', dir: 'server' });
    expect(found[0]!.message).toContain('400 Bad Request');
    expect(found[0]!.message).toContain('“Transport unknown”');
    expect(found[0]!.message).toContain('GET /socket.io/');
  });

  it('tells a plain client at the Engine.IO path that its message is no Engine.IO packet, with both messages quoted', async () => {
    const tap = await socketIoServer();
    await plainClient(`${tap.url}/socket.io/?EIO=4&transport=websocket`, undefined, 'hello');
    await tap.waitFor('end');
    const found = judge(tap.events);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ protocol: 'socket.io', dir: 'client', at: { dir: 'client', firstFrame: 0 } });
    expect(found[0]!.message).toContain('“0{"sid":"');
    expect(found[0]!.message).toContain('“hello”');
    const ev = mismatchEvent(1, 5, found[0]!);
    expect(ev).toMatchObject({ type: 'appViolation', rule: MISMATCH_RULE, protocol: 'socket.io' });
  });

  it('tells a Socket.IO client (websocket only) that the plain server never sent the Engine.IO open packet', async () => {
    const tap = await plainServer();
    const s = io(tap.url.replace('ws:', 'http:'), { transports: ['websocket'], reconnection: false });
    cleanup.add(() => s.close());
    const err = await new Promise<Error>((r) => s.on('connect_error', r));
    expect(err.message).toBe('server error');
    await tap.waitFor('message', (m) => m.dir === 'server');
    const found = judge(tap.events);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ protocol: 'socket.io', dir: 'server', at: { dir: 'server', firstFrame: 0 } });
    expect(found[0]!.message).toContain('“Hello webSocket”');
    expect(found[0]!.message).toContain('EIO=4&transport=websocket');
  });

  it("tells a Socket.IO client (polling first) that the plain server answered its long-polling start with 426", async () => {
    const tap = await plainServer();
    const s = io(tap.url.replace('ws:', 'http:'), { reconnection: false });
    cleanup.add(() => s.close());
    const err = await new Promise<Error>((r) => s.on('connect_error', r));
    expect(err.message).toBe('xhr poll error');
    await tap.waitFor('handshake', (h) => h.response !== null);
    const found = judge(tap.events);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain('426 Upgrade Required');
    expect(found[0]!.message).toContain('transport=polling');
  });

  it('tells an old subscriptions-transport-ws client that the graphql-ws server names no subprotocol, once (not again for its 4406)', async () => {
    const tap = await graphqlServer();
    const seen = await plainClient(tap.url, 'graphql-ws');
    expect(seen.error).toBe('Server sent no subprotocol');
    await tap.waitFor('close', (c) => c.code === 4406);
    const found = judge(tap.events);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ protocol: 'graphql-ws', dir: 'server' });
    expect(found[0]!.message).toContain('Sec-WebSocket-Protocol: graphql-ws');
    expect(found[0]!.message).toContain('101 Switching Protocols names none');
  });

  it('tells a graphql-ws client that a plain server agreed to graphql-transport-ws but answers plain text', async () => {
    const tap = await plainServer();
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      const c = createClient({ url: tap.url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: () => {}, on: { closed: (e) => resolve(e as { code: number; reason: string }) } });
      cleanup.add(() => c.dispose());
    });
    expect((await closed).code).toBe(4004);
    const found = judge(tap.events);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ protocol: 'graphql-transport-ws', dir: 'server', at: { dir: 'server', firstFrame: 0 } });
    expect(found[0]!.message).toContain('agreed to "graphql-transport-ws"');
    expect(found[0]!.message).toContain('“Hello webSocket”');
  });

  it('tells nothing when both sides speak the same protocol: Socket.IO (websocket, polling then upgrade), GraphQL, plain', async () => {
    const sioTap = await socketIoServer();
    for (const transports of [['websocket'], ['polling', 'websocket']] as const) {
      const s = io(sioTap.url.replace('ws:', 'http:'), { transports: [...transports], reconnection: false, forceNew: true });
      cleanup.add(() => s.close());
      await new Promise<void>((r) => s.on('connect', () => r()));
      expect(await s.emitWithAck('chat', 'hi')).toBe('got hi');
      s.close();
    }
    // Both sessions' WebSocket connections (the second upgraded from polling) have closed.
    await sioTap.waitForCount('close', 2, (c) => c.dir === 'client');
    expect(judge(sioTap.events)).toEqual([]);

    const gqlTap = await graphqlServer();
    const client = createClient({ url: gqlTap.url, webSocketImpl: WebSocket, retryAttempts: 0 });
    cleanup.add(() => client.dispose());
    const result = await new Promise<unknown>((resolve, reject) => {
      client.subscribe({ query: '{ hello }' }, { next: resolve, error: reject, complete: () => {} });
    });
    expect(result).toEqual({ data: { hello: 'world' } });
    expect(judge(gqlTap.events)).toEqual([]);

    const plainTap = await plainServer();
    void plainClient(plainTap.url, undefined, 'hi');
    await plainTap.waitFor('message', (m) => m.text === 'I heard you say "hi"');
    expect(judge(plainTap.events)).toEqual([]);
  });

  it('the wiretap records each as an appViolation event (rule protocol-mismatch), once per connection', async () => {
    const tap = await socketIoServer();
    await plainClient(`${tap.url}/socket.io/?EIO=4&transport=websocket`, undefined, 'hello');
    const ev = await tap.waitFor('appViolation', (v) => v.rule === MISMATCH_RULE);
    expect(ev).toMatchObject({ protocol: 'socket.io', dir: 'client', at: { dir: 'client', firstFrame: 0 } });
    expect(ev.message).toContain('“hello”');
    const plain = await plainServer();
    const s = io(plain.url.replace('ws:', 'http:'), { reconnection: false });
    cleanup.add(() => s.close());
    await new Promise((r) => s.on('connect_error', r));
    const polling = await plain.waitFor('appViolation', (v) => v.rule === MISMATCH_RULE);
    expect(polling.message).toContain('426 Upgrade Required');
    await tap.waitFor('end');
    expect(tap.events.filter((e) => e.type === 'appViolation' && e.rule === MISMATCH_RULE)).toHaveLength(1);
  });

  it('never throws and tells at most one finding, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 80 })), { maxLength: 12 }), fc.string({ maxLength: 80 }), (msgs, body) => {
        const w = new MismatchWatch();
        const h = {
          type: 'handshake', conn: 1, t: 0, outcome: 'upgraded', key: null, expectedAccept: null, accept: null, acceptValid: true,
          offeredExtensions: [], extensions: [], offeredSubprotocols: ['graphql-ws'], subprotocol: 'graphql-ws', deflate: null, problems: [],
          request: { method: 'GET', path: `/socket.io/?EIO=4&transport=websocket&x=${body}`, version: 'HTTP/1.1', headers: [], raw: '', t: 0 },
          response: { status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1', headers: [], raw: '', t: 0, body },
        } as const;
        let told = w.handshake(h as never) ? 1 : 0;
        msgs.forEach(([server, data], i) => {
          if (w.message({ dir: server ? 'server' : 'client', opcode: i % 2 ? 2 : 1, data, ref: { conn: 1, dir: server ? 'server' : 'client', firstFrame: i } })) told++;
        });
        if (w.close({ dir: 'server', code: 4406, reason: body })) told++;
        expect(told).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });
});
