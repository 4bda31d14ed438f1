/**
 * Socket.IO 4 through the wiretap, spoken by the real libraries (socket.io server,
 * socket.io-client in Node): what each side's API sent and received equals the decoded `app`
 * of the messages (and of the long-polling bodies): event names, arguments, ack ids,
 * namespaces, binary attachments joined to their placeholders, and the upgrade's steps.
 */
import http from 'node:http';
import type net from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { Manager, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppInfo, AppUnit, HandshakeEvent, MessageEvent } from '../../server/capture/events.ts';
import { Cleanup, HOST, startTap, until, type TapHandle } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const WAIT = 20_000;

/** A binary argument as the decoded `args` hold it. */
function wire(v: unknown): unknown {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { type: 'Buffer', base64: Buffer.from(v).toString('base64'), length: v.length };
  if (v instanceof ArrayBuffer) return wire(Buffer.from(v));
  if (Array.isArray(v)) return v.map(wire);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, wire(x)]));
  return v;
}

interface Received {
  nsp: string;
  event: string;
  args: unknown[];
}

/**
 * A Socket.IO server on port 0 with a wiretap in front. On every namespace it records what its
 * API received (event and arguments) and answers: `chat` is acked with ('ok', n), `upload` with
 * a Buffer, and `hello` makes it emit `news` (text) and `bin` (binary) to the client.
 */
async function socketIoBehindTap(): Promise<{ tap: TapHandle; received: Received[]; acked: unknown[][] }> {
  const httpServer = http.createServer();
  // No pings during a test: the heartbeat's timing is not what is tested here.
  const io = new Server(httpServer, { pingInterval: 60_000, pingTimeout: 60_000 });
  const received: Received[] = [];
  const acked: unknown[][] = [];
  const serve = (socket: ServerSocket) => {
    socket.onAny((event: string, ...args: unknown[]) => {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (args.pop() as (...a: unknown[]) => void) : null;
      received.push({ nsp: socket.nsp.name, event, args });
      if (event === 'chat' && ack) {
        const reply = ['ok', received.length];
        acked.push(reply);
        ack(...reply);
      }
      if (event === 'upload' && ack) {
        const reply = [Buffer.from('thanks'), { size: 3 }];
        acked.push(reply);
        ack(...reply);
      }
      if (event === 'hello') {
        socket.emit('news', { headline: 'wsplay decodes Socket.IO' }, 7);
        socket.emit('bin', Buffer.from([0xde, 0xad, 0xbe, 0xef]), 'tail');
      }
    });
  };
  io.on('connection', serve);
  io.of('/admin').use((socket, next) => (socket.handshake.auth.token === 'secret' ? next() : next(new Error('not authorized'))));
  io.of('/admin').on('connection', serve);
  await new Promise<void>((resolve) => httpServer.listen(0, HOST, resolve));
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        io.close();
        httpServer.closeAllConnections();
        resolve();
      }),
  );
  const tap = await startTap((httpServer.address() as net.AddressInfo).port);
  cleanup.add(() => tap.close());
  return { tap, received, acked };
}

function connected(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

/** A client's record of what its API received. */
function recordClient(socket: ClientSocket, into: Received[], nsp = '/'): void {
  socket.onAny((event: string, ...args: unknown[]) => into.push({ nsp, event, args }));
}

/** Every decoded unit of `dir` on the WebSocket messages, in order, with its message. */
function wsApps(tap: TapHandle, dir: 'client' | 'server'): Array<{ m: MessageEvent; app: AppInfo }> {
  return tap.events.flatMap((e) => (e.type === 'message' && e.dir === dir && e.app ? [{ m: e, app: e.app }] : []));
}

/** Every decoded unit of the long-polling bodies, `request` (client) or `response` (server) side. */
function pollingUnits(tap: TapHandle, side: 'request' | 'response'): AppUnit[] {
  return tap.events.flatMap((e) => (e.type === 'handshake' && e.app?.[side] ? e.app[side]! : []));
}

/** The events a side sent, as decoded: EVENT and BINARY_EVENT units, complete ones (not the placeholder-only ones). */
function decodedEvents(units: AppUnit[]): Received[] {
  return units
    .filter((u) => (u.socketType === 'EVENT' || u.socketType === 'BINARY_EVENT') && u.type !== 'attachment' && !/waiting for/.test(u.summary))
    .map((u) => ({ nsp: u.nsp!, event: u.event!, args: u.args! }));
}

const refOf = (m: MessageEvent) => ({ conn: m.conn, dir: m.dir, firstFrame: m.firstFrame });

describe('Socket.IO 4 through the wiretap (socket.io, socket.io-client)', () => {
  it('websocket only: events, acks, namespaces and binary attachments read as each library sent them', async () => {
    const { tap, received, acked } = await socketIoBehindTap();
    const manager = new Manager(tap.url.replace('ws://', 'http://'), { transports: ['websocket'], reconnection: false });
    const main = manager.socket('/');
    const admin = manager.socket('/admin', { auth: { token: 'secret' } });
    cleanup.add(() => {
      main.disconnect();
      admin.disconnect();
    });
    const got: Received[] = [];
    recordClient(main, got);
    await Promise.all([connected(main), connected(admin)]);

    const ack1 = await main.emitWithAck('chat', 'hi', { n: 1 });
    const ack2 = await admin.emitWithAck('chat', 'in admin');
    const ack3 = await main.emitWithAck('upload', Buffer.from([1, 2, 3]), { meta: Buffer.from('xy'), name: 'file.bin' });
    main.emit('hello');
    await until(() => (got.length >= 2 ? got : undefined), WAIT, () => `news and bin (got ${JSON.stringify(got)})`);
    await until(() => (received.length >= 4 ? received : undefined), WAIT, () => 'the server to receive 4 events');

    const client = wsApps(tap, 'client');
    const server = wsApps(tap, 'server');
    // What the server's API received is what the client's messages carried, in order.
    expect(decodedEvents(client.map((x) => x.app))).toEqual(received.map(wire));
    // What the client's API received is what the server's messages carried.
    expect(decodedEvents(server.map((x) => x.app))).toEqual(got.map((g) => ({ ...g, nsp: '/' })).map(wire));

    // Acks: each reply carries the arguments the server passed and the id of the event it answers.
    const acks = server.filter((x) => x.app.socketType === 'ACK' || (x.app.socketType === 'BINARY_ACK' && x.app.type !== 'attachment' && x.app.spans));
    expect(acks.map((x) => x.app.args)).toEqual(acked.map(wire));
    expect([ack1, ack2, wire(ack3)]).toEqual(acked.map(wire).map((a) => (a as unknown[])[0]));
    const chats = client.filter((x) => x.app.event === 'chat');
    expect(acks.slice(0, 2).map((x) => [x.app.nsp, x.app.ackId])).toEqual(chats.map((x) => [x.app.nsp, x.app.ackId]));
    expect(chats[0]!.app.summary).toBe(`EVENT "chat" ["hi",{"n":1}] (ack ${chats[0]!.app.ackId})`);

    // Namespaces: the CONNECT to /admin carried the auth the client passed; the server's answer a session id.
    const connects = client.filter((x) => x.app.socketType === 'CONNECT');
    expect(connects.map((x) => [x.app.nsp, x.app.args])).toEqual([
      ['/', undefined],
      ['/admin', [{ token: 'secret' }]],
    ]);
    expect(server.filter((x) => x.app.socketType === 'CONNECT').map((x) => x.app.summary)).toEqual([
      expect.stringMatching(/^CONNECT \/: session \S+$/),
      expect.stringMatching(/^CONNECT \/admin: session \S+$/),
    ]);

    // Binary: the placeholder message waits; the last attachment completes the packet, naming the others.
    const upload = client.filter((x) => x.app.event === 'upload');
    expect(upload.map((x) => x.app.type)).toEqual(['BINARY_EVENT', 'attachment', 'BINARY_EVENT']);
    expect(upload[0]!.app.summary).toContain('waiting for 2 attachments');
    expect(upload[2]!.app.spans).toEqual([refOf(upload[0]!.m), refOf(upload[1]!.m)]);
    expect(upload[2]!.app.summary).toMatch(/^BINARY_EVENT "upload" .* \(2 attachments joined\)$/);
    expect(tap.events.filter((e) => e.type === 'appViolation')).toEqual([]);

    // Engine.IO: the server's open packet, then Socket.IO inside message packets, layer in layer.
    expect(server[0]!.app).toMatchObject({ engineType: 'open', type: 'open' });
    expect(server[0]!.app.summary).toMatch(/^open: session \S+, upgrades \[\], ping every 60000 ms/);
    const chatLayers = chats[0]!.app.layers!;
    expect(chatLayers.map((l) => l.name)).toEqual(['Engine.IO packet', 'Socket.IO packet', 'JSON payload']);
    const text = chats[0]!.m.text!;
    expect(text.slice(chatLayers[2]!.start, chatLayers[2]!.end)).toBe('["chat","hi",{"n":1}]');
  });

  it('polling, then the upgrade: the bodies carry their packets, and the probe and upgrade read as the steps they are', async () => {
    const { tap, received } = await socketIoBehindTap();
    const manager = new Manager(tap.url.replace('ws://', 'http://'), { transports: ['polling', 'websocket'], reconnection: false });
    const main = manager.socket('/');
    cleanup.add(() => main.disconnect());
    await connected(main);
    await until(() => (main.io.engine.transport.name === 'websocket' ? true : undefined), WAIT, () => 'the upgrade to WebSocket');
    main.emit('chat', 'after the upgrade');
    await until(() => (received.length >= 1 ? received : undefined), WAIT, () => 'the chat event');

    // The open packet came in the first long-polling response.
    const responses = pollingUnits(tap, 'response');
    expect(responses[0]).toMatchObject({ protocol: 'socket.io', engineType: 'open' });
    expect(responses[0]!.summary).toMatch(/upgrades \[websocket\]/);
    // The client's CONNECT went in a POST body; the server's answer in a GET's.
    expect(pollingUnits(tap, 'request')).toContainEqual(expect.objectContaining({ socketType: 'CONNECT', nsp: '/' }));
    expect(responses).toContainEqual(expect.objectContaining({ socketType: 'CONNECT', summary: expect.stringMatching(/^CONNECT \/: session/) }));
    const polls = tap.events.filter((e): e is HandshakeEvent => e.type === 'handshake' && e.outcome === 'plain-http');
    expect(polls.every((h) => /transport=polling/.test(h.request!.path))).toBe(true);

    // The WebSocket: probe, probe answered, upgrade; then the event.
    const steps = tap.events
      .filter((e): e is MessageEvent => e.type === 'message' && e.app !== undefined)
      .map((m) => `${m.dir} ${m.text} ${m.app!.summary.split(':')[0]}`);
    expect(steps.slice(0, 3)).toEqual(['client 2probe ping "probe"', 'server 3probe pong "probe"', 'client 5 upgrade']);
    const upgradeMsgs = tap.events.filter((e): e is MessageEvent => e.type === 'message' && e.app !== undefined).slice(0, 3);
    expect(upgradeMsgs.map((m) => m.app!.summary)).toEqual([
      expect.stringContaining('upgrade step 1 of 3'),
      expect.stringContaining('upgrade step 2 of 3'),
      expect.stringContaining('step 3 of 3'),
    ]);
    expect(decodedEvents(wsApps(tap, 'client').map((x) => x.app))).toEqual(received);
  });

  it('polling only: events, acks and binary attachments read from the request and response bodies', async () => {
    const { tap, received, acked } = await socketIoBehindTap();
    const manager = new Manager(tap.url.replace('ws://', 'http://'), { transports: ['polling'], reconnection: false });
    const main = manager.socket('/');
    cleanup.add(() => main.disconnect());
    const got: Received[] = [];
    recordClient(main, got);
    await connected(main);
    await main.emitWithAck('chat', 'over polling', [1, 2]);
    await main.emitWithAck('upload', Buffer.from([7, 7, 7]));
    main.emit('hello');
    await until(() => (got.length >= 2 ? got : undefined), WAIT, () => `news and bin (got ${got.length})`);
    // Every exchange is reported once its response has ended.
    await until(() => (decodedEvents(pollingUnits(tap, 'response')).length >= 2 ? true : undefined), WAIT, () => 'the bodies with news and bin');

    // A POST's exchange is reported when its "ok" has passed, which may be after the server acted on it.
    await until(() => (decodedEvents(pollingUnits(tap, 'request')).length >= received.length ? true : undefined), WAIT, () => 'the POSTs of every event');
    expect(decodedEvents(pollingUnits(tap, 'request'))).toEqual(received.map(wire));
    expect(decodedEvents(pollingUnits(tap, 'response'))).toEqual(got.map(wire));
    const acks = pollingUnits(tap, 'response').filter((u) => (u.socketType === 'ACK' || u.socketType === 'BINARY_ACK') && !/waiting for/.test(u.summary));
    expect(acks.map((u) => u.args)).toEqual(acked.map(wire));
    // The client POSTs a binary packet and its attachment in two requests: joined across them.
    expect(pollingUnits(tap, 'request').filter((u) => u.event === 'upload').map((u) => u.summary)).toEqual([
      expect.stringMatching(/^BINARY_EVENT "upload" .*\(waiting for 1 attachment\)$/),
      'BINARY_EVENT "upload" [{"type":"Buffer","base64":"BwcH","length":3}] (ack 1) (1 attachment joined)',
    ]);
    expect(tap.events.filter((e) => e.type === 'appViolation')).toEqual([]);
  });

  it('reports packets that claim Engine.IO or Socket.IO and break it', async () => {
    const { tap } = await socketIoBehindTap();
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${tap.url}/socket.io/?EIO=4&transport=websocket`);
    cleanup.add(() => ws.terminate());
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send('40');
    ws.send('42{"not":"an array"}');
    ws.send('9hello');
    const v = await tap.waitForCount('appViolation', 2, undefined, WAIT);
    expect(v.map((x) => [x.protocol, x.dir, x.rule])).toEqual([
      ['socket.io', 'client', 'socket.io-event-not-array'],
      ['socket.io', 'client', 'engine.io-bad-packet-type'],
    ]);
    expect(v[1]!.message).toContain('starts with "9", not a packet type');
  });
});
