/**
 * The dashboard bench's traffic as the wiretap captures it, without sockets: `connections`
 * connections upgraded, then each message a client sends ("tick N xxxx…", masked) and the echo
 * server's answer, decoded by the wiretap's own ConnectionDecoder into lazy events (a frame and a
 * one-frame message each way). For tests and benches that need 200,000 real events in a store
 * in a second, not 10 s of load.
 */
import { createHash } from 'node:crypto';
import type { WireEvent } from '../../server/capture/events.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { WS_KEY } from './net.ts';

function textFrame(text: string, mask: Buffer | null): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('echo-traffic makes short frames only');
  const head = Buffer.from([0x81, (mask ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([head, payload]);
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, payload]);
}

/** The client's n-th message (0-based), as the bench sends it. */
export const tick = (n: number) => `tick ${n} ${'x'.repeat(16)}`;

export class EchoTraffic {
  private readonly decoders: ConnectionDecoder[];
  private n = 0;
  /** Wiretap time (ms) of the next message: 10,000 frames a second, 0.1 ms apart. */
  t = 0;

  constructor(
    readonly connections = 10,
    /** Connection ids from this one on. */
    readonly firstConn = 1,
  ) {
    this.decoders = Array.from({ length: connections }, (_, i) => new ConnectionDecoder(firstConn + i, undefined, true, undefined, true));
  }

  /** Each connection's open event and handshake. */
  open(): WireEvent[] {
    const accept = createHash('sha1').update(`${WS_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const request = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const response = Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const out: WireEvent[] = [];
    this.decoders.forEach((d, i) => {
      out.push({ type: 'open', conn: this.firstConn + i, t: this.t, client: `127.0.0.1:${40000 + i}`, target: '127.0.0.1:1' });
      out.push(...d.receive('client', request, this.t), ...d.receive('server', response, this.t));
    });
    return out;
  }

  /** The next `messages` messages and their echoes: 4 events each (2 frames, 2 messages). */
  next(messages: number): WireEvent[] {
    const out: WireEvent[] = [];
    const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    for (let i = 0; i < messages; i++, this.n++) {
      const d = this.decoders[this.n % this.connections]!;
      const text = tick(this.n);
      out.push(...d.receive('client', textFrame(text, mask), this.t));
      out.push(...d.receive('server', textFrame(`I heard you say "${text}"`, null), this.t + 0.05));
      this.t += 0.2;
    }
    return out;
  }
}
