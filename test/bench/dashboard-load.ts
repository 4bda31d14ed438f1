/**
 * The dashboard bench's load generator (test/bench/dashboard.ts), in a process of its own so the
 * bench can say what it costs apart from the browser driver's: CONNECTIONS WebSocket clients that together
 * send `fps / 2` text messages a second (`tick N xxxxxxxxxxxxxxxx`, N counting up over all of
 * them, spread over the clients in turn), the learner's echo server answering each.
 *
 * It is part of the measuring, not the product, so it takes as little of the 2 cores from the page
 * as a load generator can: every frame is built before the flood starts (masked, a fresh masking
 * key each, as a browser's or ws's are), the flood is one timer, and the echoes are counted by
 * reading frame headers, not by making messages. What goes on the wire is what the `ws` client it
 * replaces sent: the same handshake, one masked frame per message in one write each.
 *
 * Run by dashboard.ts through server/bin/run-ts.js with BENCH_LOAD_FPS and BENCH_LOAD_SECONDS set: it
 * says `{ type: 'ready' }` once its frames are built; `{ type: 'run', port }` over IPC starts the
 * flood; it answers `{ type: 'done', sent, received }`.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export const CONNECTIONS = 10;
/** What each message carries after its number. */
const FILLER = ` ${'x'.repeat(16)}`;

/** The text of message `n`, as the bench has always sent it. */
export function tickText(n: number): string {
  return `tick ${n}${FILLER}`;
}

/**
 * Messages 0 … count-1 as masked text frames, one after another in one buffer (each under 126
 * bytes of payload: a 2-byte header and the masking key), and where each begins. `count` is the
 * bench's own setting (frames per second × seconds), never a peer's.
 */
export function buildFrames(count: number): { bytes: Buffer; starts: Uint32Array } {
  const starts = new Uint32Array(count + 1);
  let size = 0;
  for (let n = 0; n < count; n++) {
    starts[n] = size;
    size += 6 + Buffer.byteLength(tickText(n));
  }
  starts[count] = size;
  const bytes = Buffer.allocUnsafe(size);
  const masks = Buffer.allocUnsafe(4 * count);
  randomFillSync(masks);
  for (let n = 0; n < count; n++) {
    const at = starts[n]!;
    const text = tickText(n);
    if (text.length > 125) throw new Error(`message ${n} is ${text.length} bytes: this generator makes 7-bit lengths only`);
    bytes[at] = 0x81; // FIN, text
    bytes[at + 1] = 0x80 | text.length; // MASK, payload length
    masks.copy(bytes, at + 2, 4 * n, 4 * n + 4);
    bytes.write(text, at + 6, 'latin1');
    for (let i = 0; i < text.length; i++) bytes[at + 6 + i]! ^= bytes[at + 2 + (i & 3)]!;
  }
  return { bytes, starts };
}

/**
 * Counts the data messages in a server's stream of frames (unmasked or masked, any length),
 * however TCP cut it, without keeping their payloads: a message is counted at its final frame.
 */
export class MessageCounter {
  messages = 0;
  /** Payload bytes still to skip of the frame being read. */
  private skip = 0;
  /** The frame's header so far, while it is split between reads (at most 14 bytes). */
  private head = Buffer.alloc(14);
  private headLen = 0;

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      // Take header bytes until the header is whole (its length is known from its first 2 bytes).
      this.head[this.headLen++] = chunk[pos++]!;
      if (this.headLen < 2) continue;
      const len7 = this.head[1]! & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (this.head[1]! & 0x80 ? 4 : 0);
      if (this.headLen < need) continue;
      const length = len7 === 126 ? this.head.readUInt16BE(2) : len7 === 127 ? Number(this.head.readBigUInt64BE(2)) : len7;
      const fin = (this.head[0]! & 0x80) !== 0;
      const opcode = this.head[0]! & 0x0f;
      if (fin && opcode < 8) this.messages++;
      this.skip = length;
      this.headLen = 0;
    }
  }
}

/** Open a WebSocket with the handshake the `ws` client sends; resolves with the socket and the bytes after the 101. */
export function openRaw(port: number): Promise<{ socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      const end = got.indexOf('\r\n\r\n');
      if (end === -1) {
        if (got.length > 16 * 1024) fail(new Error('the handshake response passed 16 KiB without ending'));
        return;
      }
      const status = got.subarray(0, got.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.1 101 /.test(status)) return fail(new Error(`the wiretap answered the upgrade with "${status}", not 101`));
      socket.off('data', onData);
      socket.off('error', fail);
      resolve({ socket, rest: got.subarray(end + 4) });
    };
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.on('data', onData);
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.write(
        `GET / HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
          `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n` +
          `Host: 127.0.0.1:${port}\r\n\r\n`,
      );
    });
  });
}

/** `fps` frames a second through the wiretap at `port` for `seconds` (half sent, half echoed). */
export async function flood(port: number, fps: number, seconds: number, frames = buildFrames(Math.floor((fps / 2) * seconds))): Promise<{ sent: number; received: number }> {
  const total = frames.starts.length - 1;
  const opened = await Promise.all(Array.from({ length: CONNECTIONS }, () => openRaw(port)));
  const counters = opened.map(({ socket, rest }) => {
    const c = new MessageCounter();
    c.push(rest);
    socket.on('data', (b: Buffer) => c.push(b));
    socket.on('error', () => undefined);
    return c;
  });
  const sockets = opened.map((o) => o.socket);
  let sent = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      // Catch up to the schedule: timers fire late, the rate must not drift.
      const elapsed = performance.now() - start;
      const due = Math.min(total, Math.floor((elapsed / 1000) * (fps / 2)));
      for (; sent < due; sent++) sockets[sent % CONNECTIONS]!.write(frames.bytes.subarray(frames.starts[sent]!, frames.starts[sent + 1]!));
      if (sent >= total || elapsed >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  // The last echoes are still on their way.
  await new Promise((r) => setTimeout(r, 500));
  const received = counters.reduce((a, c) => a + c.messages, 0);
  // A close frame (masked, no body) as ws.close() sends, then the end of TCP.
  const close = Buffer.from([0x88, 0x80, 0, 0, 0, 0]);
  for (const s of sockets) {
    randomFillSync(close, 2, 4);
    s.end(Buffer.from(close));
  }
  return { sent, received };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // The frames are built before it says it is ready: the flood's CPU is the flood's alone.
  const fps = Number(process.env.BENCH_LOAD_FPS);
  const seconds = Number(process.env.BENCH_LOAD_SECONDS);
  const frames = buildFrames(Math.floor((fps / 2) * seconds));
  process.on('message', (msg: { type?: string; port?: number }) => {
    if (msg?.type !== 'run') return;
    flood(msg.port!, fps, seconds, frames).then(
      (r) => process.send?.({ type: 'done', ...r }),
      (err: Error) => process.send?.({ type: 'failed', message: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}
