/**
 * The wiretap over real sockets: `ws` clients and servers talk through it, and what they see
 * (messages, close codes) is checked together with what the wiretap reports.
 */
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { WireEvent } from '../../server/capture/events.ts';
import { ServerProcess } from '../../server/runner/server-process.ts';
import {
  Cleanup,
  connect,
  frameBytes,
  rawUpgrade,
  startEchoServer,
  startTap,
  startWsServer,
  unusedPort,
  until,
  type TapHandle,
} from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** An echo server (the tutorial's) with a wiretap in front; both closed after the test. */
async function echoBehindTap(wsOptions = {}): Promise<TapHandle> {
  const server = await startEchoServer(wsOptions);
  cleanup.add(() => server.close());
  const tap = await startTap(server.port);
  cleanup.add(() => tap.close());
  return tap;
}

async function client(url: string, options = {}) {
  const c = await connect(url, options);
  cleanup.add(() => c.ws.terminate());
  return c;
}

/** One readable line per event, for comparing sequences: `server message "Hello webSocket"`. */
function summary(e: WireEvent): string {
  switch (e.type) {
    case 'frame':
      return `${e.dir} frame op${e.opcode}${e.fin ? '' : ' nofin'}${e.masked ? ' masked' : ''}`;
    case 'message':
      return `${e.dir} message ${JSON.stringify(e.text ?? e.base64)}`;
    case 'close':
      return `${e.dir} close ${e.code} ${JSON.stringify(e.reason)}`;
    case 'ping':
    case 'pong':
      return `${e.dir} ${e.type} ${Buffer.from(e.payload, 'base64').toString()}`;
    case 'handshake':
      return `handshake ${e.outcome}`;
    case 'violation':
    case 'appViolation':
      return `${e.dir} ${e.type} ${e.rule}`;
    case 'insight':
      return `insight ${e.rule}`;
    case 'end':
      return `end ${e.code}`;
    case 'open':
      return 'open';
  }
}

describe('the tutorial echo server behind the wiretap', () => {
  it('relays the greeting and the echo, and reports handshake, frames and messages in order', async () => {
    const tap = await echoBehindTap();
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('I am listening');
    expect(await c.next()).toBe('I heard you say "I am listening"');
    c.ws.close(1000, 'bye');
    expect(await c.closed).toEqual({ code: 1000, reason: 'bye' });

    const end = await tap.waitFor('end');
    expect(tap.all(end.conn).map(summary)).toEqual([
      'open',
      'handshake upgraded',
      'server frame op1',
      'server message "Hello webSocket"',
      'client frame op1 masked',
      'client message "I am listening"',
      'server frame op1',
      'server message "I heard you say \\"I am listening\\""',
      'client frame op8 masked',
      'client close 1000 "bye"',
      'server frame op8',
      'server close 1000 "bye"',
      'end 1000',
    ]);

    const [hs] = tap.of(end.conn, 'handshake');
    expect(hs).toMatchObject({ outcome: 'upgraded', acceptValid: true, request: { method: 'GET', path: '/' }, response: { status: 101 } });
    expect(hs!.request!.headers).toContainEqual(['Upgrade', 'websocket']);
    expect(hs!.accept).toBe(hs!.expectedAccept);
    expect(hs!.problems).toEqual([]);

    for (const f of tap.of(end.conn, 'frame')) {
      if (f.dir === 'client') expect(f.maskKey).toMatch(/^[0-9a-f]{8}$/);
      else expect(f).toMatchObject({ masked: false, maskKey: null });
    }
    const clientText = tap.of(end.conn, 'frame').find((f) => f.dir === 'client' && f.opcode === 1)!;
    // The payload is reported unmasked, as the server reads it.
    expect(clientText).toMatchObject({ length: 14, payload: b64('I am listening'), rsv1: false });
    expect(end).toMatchObject({ clean: true, code: 1000, serverCode: 1000, frames: { client: 2, server: 3 } });
  });
});

describe('permessage-deflate', () => {
  const repetitive = 'abc'.repeat(200);

  it('reports messages uncompressed when the server does not accept the extension', async () => {
    const tap = await echoBehindTap();
    const c = await client(tap.url, { perMessageDeflate: { threshold: 0 } });
    await c.next();
    c.ws.send(repetitive);
    expect(await c.next()).toBe(`I heard you say "${repetitive}"`);

    const hs = await tap.waitFor('handshake');
    expect(hs.offeredExtensions.map((x) => x.name)).toContain('permessage-deflate');
    expect(hs.extensions).toEqual([]);
    expect(hs.deflate).toBeNull();
    const sent = await tap.waitFor('message', (m) => m.dir === 'client');
    expect(sent).toMatchObject({ text: repetitive, length: 600, compressed: false });
    expect(sent.wireLength).toBeUndefined();
    expect(tap.of(hs.conn, 'frame').every((f) => !f.rsv1)).toBe(true);
  });

  it('inflates compressed messages in both directions, with context takeover across messages', async () => {
    const tap = await echoBehindTap({ perMessageDeflate: { threshold: 0 } });
    const c = await client(tap.url, { perMessageDeflate: { threshold: 0 } });
    expect(await c.next()).toBe('Hello webSocket');
    for (let i = 0; i < 3; i++) {
      c.ws.send(repetitive);
      expect(await c.next()).toBe(`I heard you say "${repetitive}"`);
    }
    const hs = await tap.waitFor('handshake');
    expect(hs.extensions.map((x) => x.name)).toEqual(['permessage-deflate']);
    expect(hs.deflate).not.toBeNull();

    const messages = await tap.waitForCount('message', 7);
    expect(messages.map((m) => [m.dir, m.text, m.compressed])).toEqual([
      ['server', 'Hello webSocket', true],
      ...[1, 2, 3].flatMap(() => [
        ['client', repetitive, true],
        ['server', `I heard you say "${repetitive}"`, true],
      ]),
    ]);
    for (const m of messages.slice(1)) {
      expect(m.length).toBe(m.text!.length);
      expect(m.wireLength).toBeLessThan(m.length);
    }
    // The frames carry the compressed bytes, with RSV1 set.
    const clientFrames = tap.of(hs.conn, 'frame').filter((f) => f.dir === 'client');
    expect(clientFrames.every((f) => f.rsv1)).toBe(true);
    expect(clientFrames[0]!.length).toBe(messages[1]!.wireLength);
  });

  it('joins and inflates a compressed message sent in fragments', async () => {
    const tap = await echoBehindTap({ perMessageDeflate: { threshold: 0 } });
    const c = await client(tap.url, { perMessageDeflate: { threshold: 0 } });
    await c.next();
    c.ws.send('xyz'.repeat(50), { fin: false });
    c.ws.send('xyz'.repeat(50), { fin: false });
    c.ws.send('!', { fin: true });
    const whole = `${'xyz'.repeat(100)}!`;
    expect(await c.next()).toBe(`I heard you say "${whole}"`);
    const m = await tap.waitFor('message', (e) => e.dir === 'client');
    expect(m).toMatchObject({ text: whole, length: whole.length, compressed: true, frames: 3 });
  });
});

describe('fragmented messages and control frames', () => {
  it('joins a message sent in fragments, in either direction', async () => {
    const server = await startWsServer({}, (ws) => {
      ws.on('message', () => {
        ws.send('Frag', { fin: false });
        ws.send('mented ', { fin: false });
        ws.send('reply', { fin: true });
      });
    });
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const c = await client(tap.url);
    c.ws.send('Hel', { fin: false });
    c.ws.send('lo ', { fin: false });
    c.ws.send('world', { fin: true });
    expect(await c.next()).toBe('Fragmented reply');

    const sent = await tap.waitFor('message', (m) => m.dir === 'client');
    expect(sent).toMatchObject({ text: 'Hello world', length: 11, frames: 3, firstFrame: 0, lastFrame: 2 });
    const got = await tap.waitFor('message', (m) => m.dir === 'server');
    expect(got).toMatchObject({ text: 'Fragmented reply', frames: 3 });
    const frames = tap.of(sent.conn, 'frame').filter((f) => f.dir === 'client');
    expect(frames.map((f) => [f.opcode, f.fin])).toEqual([
      [1, false],
      [0, false],
      [0, true],
    ]);
  });

  it('reports a ping sent between two fragments without breaking the message', async () => {
    const server = await startWsServer({}, (ws) => ws.on('message', (data) => ws.send(`got ${data.toString()}`)));
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const c = await client(tap.url);
    c.ws.send('first half, ', { fin: false });
    c.ws.ping('in the middle');
    c.ws.send('second half', { fin: true });
    expect(await c.next()).toBe('got first half, second half');
    const m = await tap.waitFor('message', (e) => e.dir === 'client');
    expect(tap.all(m.conn).filter((e) => 'dir' in e && e.dir === 'client' && e.type !== 'frame').map(summary)).toEqual([
      'client ping in the middle',
      'client message "first half, second half"',
    ]);
    expect(m.frames).toBe(2);
    await tap.waitFor('pong', (p) => p.dir === 'server');
  });

  it('reports ping and pong in both directions with their payloads', async () => {
    const server = await startWsServer({}, (ws) => {
      ws.on('message', () => ws.ping('from server'));
    });
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const c = await client(tap.url);
    const pong = new Promise<string>((resolve) => c.ws.once('pong', (data) => resolve(data.toString())));
    const ping = new Promise<string>((resolve) => c.ws.once('ping', (data) => resolve(data.toString())));
    c.ws.ping('from client');
    expect(await pong).toBe('from client');
    c.ws.send('ping me');
    expect(await ping).toBe('from server');

    await tap.waitFor('pong', (p) => p.dir === 'client');
    const controls = tap.events.filter((e) => e.type === 'ping' || e.type === 'pong').map(summary);
    expect(controls).toEqual(['client ping from client', 'server pong from client', 'server ping from server', 'client pong from server']);
    const ping1 = tap.events.find((e) => e.type === 'ping')!;
    expect(ping1).toMatchObject({ payload: b64('from client') });
  });
});

describe('closing', () => {
  it('reports a 1000 close started by the client as a clean close', async () => {
    const tap = await echoBehindTap();
    const c = await client(tap.url);
    await c.next();
    c.ws.close(1000);
    expect((await c.closed).code).toBe(1000);
    const end = await tap.waitFor('end');
    expect(tap.all(end.conn).filter((e) => e.type === 'close').map(summary)).toEqual(['client close 1000 ""', 'server close 1000 ""']);
    expect(end).toMatchObject({ clean: true, code: 1000, serverCode: 1000 });
    expect(end.error).toBeUndefined();
  });

  async function serverThatCloses() {
    const server = await startWsServer({}, (ws) =>
      ws.on('message', (data) => {
        const [code, ...reason] = data.toString().split(' ');
        ws.close(Number(code), reason.join(' '));
      }),
    );
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    return tap;
  }

  it('reports a 1000 close started by the server as a clean close', async () => {
    const tap = await serverThatCloses();
    const c = await client(tap.url);
    c.ws.send('1000 done');
    expect(await c.closed).toEqual({ code: 1000, reason: 'done' });
    const end = await tap.waitFor('end');
    expect(tap.all(end.conn).filter((e) => e.type === 'close').map(summary)).toEqual(['server close 1000 "done"', 'client close 1000 "done"']);
    expect(end).toMatchObject({ clean: true, code: 1000, serverCode: 1000 });
  });

  it('reports a custom close code and reason from the server as the client sees them', async () => {
    const tap = await serverThatCloses();
    const c = await client(tap.url);
    c.ws.send('4001 game over, thanks');
    expect(await c.closed).toEqual({ code: 4001, reason: 'game over, thanks' });
    const end = await tap.waitFor('end');
    const close = tap.of(end.conn, 'close').find((e) => e.dir === 'server')!;
    expect(close).toMatchObject({ code: 4001, reason: 'game over, thanks' });
    expect(close.explanation).toContain('4001');
    // The client application's onclose sees the server's code: so does the end event.
    expect(end).toMatchObject({ clean: true, code: 4001 });
  });

  it('reports 1006 and an unclean end when the server process is killed', async () => {
    const output: string[] = [];
    const proc = new ServerProcess({
      script: fileURLToPath(new URL('../../server/runner/echo-server.ts', import.meta.url)),
      port: 0,
      onOutput: (line) => output.push(line),
    });
    const serverPort = await proc.start();
    cleanup.add(() => proc.stop());
    const tap = await startTap(serverPort);
    cleanup.add(() => tap.close());
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');

    process.kill(proc.pid!, 'SIGKILL');
    const closed = await c.closed;
    expect(closed.code).toBe(1006);
    const end = await tap.waitFor('end');
    expect(end).toMatchObject({ by: 'server', clean: false, code: 1006, serverCode: 1006 });
    expect(end.explanation).toContain('1006');
    expect(tap.of(end.conn, 'close')).toEqual([]);
    await until(() => (output.some((l) => l.includes('1006')) ? true : undefined), 5000, () => `a line about the crash in ${JSON.stringify(output)}`);
  });

  it('relays an unmasked client frame untouched, reports the violation and the server\'s 1002', async () => {
    const server = await startWsServer({}, () => {});
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const raw = await rawUpgrade(tap.port);
    cleanup.add(() => raw.socket.destroy());

    const bad = frameBytes(1, Buffer.from('no mask'), { mask: null });
    raw.socket.write(bad);
    await raw.ended;

    // The server got exactly the bytes the client wrote.
    await until(() => (server.raw[0] && Buffer.concat(server.raw[0]).length >= bad.length ? true : undefined), 5000, () => 'the bad frame at the server');
    expect(Buffer.concat(server.raw[0]!)).toEqual(bad);
    expect(server.errors.map((e) => e.message)).toEqual([expect.stringMatching(/MASK must be set/)]);

    // The server's answer reached the client: a close frame with 1002 (0x03ea).
    expect(raw.received().subarray(0, 4)).toEqual(Buffer.from([0x88, 0x02, 0x03, 0xea]));

    const end = await tap.waitFor('end');
    const events = tap.all(end.conn);
    const violation = tap.of(end.conn, 'violation')[0];
    expect(violation).toMatchObject({ dir: 'client', rule: 'unmasked-client-frame', closeCode: 1002 });
    expect(violation!.section).toMatch(/RFC 6455/);
    expect(tap.of(end.conn, 'close')).toEqual([expect.objectContaining({ dir: 'server', code: 1002 })]);
    expect(events.findIndex((e) => e.type === 'violation')).toBeLessThan(events.findIndex((e) => e.type === 'close'));
    expect(end).toMatchObject({ code: 1002, clean: false });
    expect(end.bytes.client).toBe(raw.socket.bytesWritten);
  });
});

describe('what is not a WebSocket connection', () => {
  it('shows a plain HTTP GET answered 426 as plain HTTP', async () => {
    const tap = await echoBehindTap();
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: tap.port, path: '/', agent: false }, (r) => {
          let body = '';
          r.on('data', (d: Buffer) => (body += d.toString()));
          r.on('end', () => resolve({ status: r.statusCode!, body }));
        })
        .on('error', reject);
    });
    expect(res.status).toBe(426);
    const hs = await tap.waitFor('handshake');
    expect(hs).toMatchObject({ outcome: 'plain-http', request: { method: 'GET', path: '/' }, response: { status: 426 } });
    expect(hs.response!.body).toBe(res.body);
    const end = await tap.waitFor('end');
    expect(end.code).toBeNull();
  });

  it('shows an upgrade the server refuses as refused, with its status', async () => {
    const server = await startWsServer({ verifyClient: () => false }, () => {});
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    await expect(connect(tap.url)).rejects.toThrow(/401/);
    const hs = await tap.waitFor('handshake');
    expect(hs).toMatchObject({ outcome: 'refused', response: { status: 401 }, acceptValid: false });
    expect((await tap.waitFor('end')).code).toBeNull();
  });

  it('shows a connection that ends in the middle of its request as an incomplete handshake', async () => {
    // A target that reads and never answers (Node's HTTP server would answer a 400 first).
    const silent = net.createServer((s) => {
      s.resume();
      s.on('end', () => s.end());
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.add(() => new Promise((resolve) => silent.close(resolve)));
    const tap = await startTap((silent.address() as net.AddressInfo).port);
    cleanup.add(() => tap.close());
    const socket = net.connect(tap.port, '127.0.0.1');
    cleanup.add(() => socket.destroy());
    socket.on('error', () => {});
    socket.end('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    const hs = await tap.waitFor('handshake');
    expect(hs).toMatchObject({ outcome: 'incomplete', response: null });
    expect(hs.problems.join(' ')).toMatch(/middle of the request/);
    const end = await tap.waitFor('end');
    expect(tap.of(end.conn, 'handshake')).toHaveLength(1);
    expect(end).toMatchObject({ code: null, by: 'client' });
  });

  it('ends the client and names ECONNREFUSED when nothing listens at the target', async () => {
    const targetErrors: string[] = [];
    const tap = await startTap(await unusedPort(), { onTargetError: (err) => targetErrors.push(err.code ?? '') });
    cleanup.add(() => tap.close());
    await expect(connect(tap.url)).rejects.toThrow();
    const end = await tap.waitFor('end');
    expect(end.by).toBe('wiretap');
    expect(end.error).toMatch(/ECONNREFUSED/);
    expect(end.code).toBeNull();
    expect(targetErrors).toEqual(['ECONNREFUSED']);
  });
});

describe('under load', () => {
  it('echoes every message of 500 concurrent connections on its own connection', async () => {
    const tap = await echoBehindTap();
    const CONNECTIONS = 500;
    const MESSAGES = 10;
    const results = await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, i) => {
        const c = await client(tap.url);
        const got = [await c.next(10_000)];
        for (let j = 0; j < MESSAGES; j++) c.ws.send(`c${i} m${j}`);
        for (let j = 0; j < MESSAGES; j++) got.push(await c.next(10_000));
        c.ws.close(1000);
        await c.closed;
        return got;
      }),
    );
    results.forEach((got, i) => {
      expect(got).toEqual(['Hello webSocket', ...Array.from({ length: MESSAGES }, (_, j) => `I heard you say "c${i} m${j}"`)]);
    });

    const ends = await tap.waitForCount('end', CONNECTIONS, undefined, 15_000);
    expect(ends.every((e) => e.clean && e.code === 1000)).toBe(true);
    const handshakes = tap.events.filter((e) => e.type === 'handshake');
    expect(handshakes).toHaveLength(CONNECTIONS);
    expect(handshakes.every((h) => h.outcome === 'upgraded' && h.acceptValid)).toBe(true);
    // Every connection's messages, as the wiretap decoded them, belong to that connection.
    const byConn = new Map<number, string[]>();
    for (const e of tap.events) if (e.type === 'message' && e.dir === 'client') byConn.set(e.conn, [...(byConn.get(e.conn) ?? []), e.text!]);
    expect(byConn.size).toBe(CONNECTIONS);
    for (const texts of byConn.values()) {
      const prefix = texts[0]!.split(' ')[0];
      expect(texts).toEqual(Array.from({ length: MESSAGES }, (_, j) => `${prefix} m${j}`));
    }
    expect(tap.tap.connections).toBe(0);
  });
});
