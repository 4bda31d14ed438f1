/**
 * A deflate bomb through the wiretap (issue 12, item 3): a client negotiates permessage-deflate
 * with a target that never inflates, then sends frames of 15 KB that each inflate to 15 MiB.
 * Inflated on the relay's thread, they held every other connection's 101 for seconds. The
 * wiretap inflates them off that path now: another client's handshake and echo go through while
 * the bombs are still being inflated, and the bombs' messages are still reported in full.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { constants, deflateRawSync } from 'node:zlib';
import { afterEach, expect, it } from 'vitest';
import { Cleanup, connect, HOST, startEchoServer, startTap, until, WS_KEY } from '../helpers/net.ts';
import { encodeFrame, Op } from '../helpers/encode.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const MiB = 1024 * 1024;
const accept = (key: string) => createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');

/** `n` bytes of 'a', deflated on their own (RFC 7692 §7.2.1: the trailing 00 00 ff ff removed). */
function bomb(n: number): Buffer {
  const all = deflateRawSync(Buffer.alloc(n, 0x61), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  return all.subarray(0, all.length - 4);
}

/**
 * The target: a raw TCP server. An upgrade to /bomb is answered 101 with permessage-deflate and
 * what follows is only counted, never inflated (the target costs nothing, the wiretap pays);
 * any other connection is passed, as it came, to a real echo server.
 */
async function bombTarget(echoPort: number): Promise<{ port: number; received: () => number }> {
  let received = 0;
  const server = net.createServer((socket) => {
    let head = Buffer.alloc(0);
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onHead);
      const text = head.subarray(0, end).toString('latin1');
      if (text.startsWith('GET /bomb ')) {
        const key = /sec-websocket-key:\s*(\S+)/i.exec(text)?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept(key)}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
        );
        received += head.length - end - 4;
        socket.on('data', (c: Buffer) => (received += c.length));
        socket.on('error', () => {});
        return;
      }
      const echo = net.connect(echoPort, HOST, () => echo.write(head));
      socket.pipe(echo).pipe(socket);
      socket.on('error', () => echo.destroy());
      echo.on('error', () => socket.destroy());
    };
    socket.on('data', onHead);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  cleanup.add(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, received: () => received };
}

/** A raw client that upgrades to /bomb offering permessage-deflate; resolves once the 101 came. */
function bombClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let head = '';
    socket.on('error', reject);
    socket.on('data', function onData(c: Buffer) {
      head += c.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101') || !/permessage-deflate/i.test(head)) reject(new Error(`no permessage-deflate upgrade: ${head}`));
      else resolve(socket);
    });
    socket.write(
      `GET /bomb HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
    );
  });
}

it("relays another connection's handshake and echo while bombs inflate, and still reports every bomb's size", async () => {
  const echo = await startEchoServer();
  cleanup.add(() => echo.close());
  const target = await bombTarget(echo.port);
  const tap = await startTap(target.port);
  cleanup.add(() => tap.close());

  const BOMBS = 64;
  const payload = bomb(15 * MiB);
  const over = bomb(17 * MiB);
  // 63 bombs under the 16 MiB bound, then one past it (last: with context takeover, every
  // message after one that could not be inflated could not be either).
  const frames = Array.from({ length: BOMBS }, (_, i) =>
    encodeFrame({ opcode: Op.Text, rsv1: true, payload: i === BOMBS - 1 ? over : payload, mask: Buffer.from([1, 2, 3, i]) }),
  );
  const sent = Buffer.concat(frames);
  const bomber = await bombClient(tap.port);
  cleanup.add(() => bomber.destroy());
  const bombConn = (await tap.waitFor('handshake', (h) => h.request?.path === '/bomb')).conn;
  bomber.write(sent);
  // The target has every byte: the relay passed the bombs on, whatever inflating them costs.
  await until(() => (target.received() >= sent.length ? true : undefined), 30_000, () => `the target to receive ${sent.length} bytes (has ${target.received()})`);

  // Meanwhile, another client: its handshake and an echo through the same wiretap.
  const other = await connect(tap.url);
  cleanup.add(() => other.ws.terminate());
  expect(await other.next()).toBe('Hello webSocket');
  other.ws.send('still there?');
  expect(await other.next()).toBe('I heard you say "still there?"');
  // Done while the bombs were still being inflated: not all of their messages are out yet.
  const inflatedMeanwhile = tap.of(bombConn, 'message').length;
  expect(inflatedMeanwhile).toBeLessThan(BOMBS);

  // And every bomb is still reported: its inflated size, a bounded preview, the one past the bound.
  const messages = await tap.waitForCount('message', BOMBS, (m) => m.conn === bombConn, 120_000);
  expect(messages.slice(0, BOMBS - 1).every((m) => m.length === 15 * MiB && m.compressed && m.wireLength === payload.length && m.truncated === true)).toBe(true);
  expect(messages[0]!.text).toBe('a'.repeat(64 * 1024));
  expect(messages[BOMBS - 1]).toMatchObject({ compressed: true, wireLength: over.length, inflateError: 'inflated size passed the 16777216-byte bound' });
  expect(tap.tap.inflationStats).toMatchObject({ refused: 0, running: 0 });
  expect(tap.tap.inflationStats.aside).toBeGreaterThanOrEqual(BOMBS - 1);
  // The other connection's events are all there, its handshake a 101.
  const otherConn = tap.events.find((e) => e.type === 'handshake' && e.conn !== bombConn)!.conn;
  expect(tap.of(otherConn, 'message').map((m) => m.text)).toEqual(['Hello webSocket', 'still there?', 'I heard you say "still there?"']);
}, 180_000);
