/**
 * The capture store holding 10 s of 10,000 frames a second (issue 19, target 3): the bench's own
 * traffic (10 connections, a masked client text frame and the server's longer answer, each a
 * one-frame message) decoded as the wiretap decodes it (ConnectionDecoder, lazy events) into a
 * CaptureStore with the default bounds, until it has taken 200,000 events after the handshakes.
 * Then: how many it holds (target: all), its own measure of their weight (store.bytes) and the
 * V8 heap they take, measured after a full collection, per event.
 *
 * Runs as a program with --expose-gc (a child of test/bench/dashboard.ts, so its heap holds
 * nothing else); sends `{ type: 'store-memory', ... }` over IPC, or prints it when run alone.
 */
import { createHash } from 'node:crypto';
import { CaptureStore, DEFAULT_STORE_LIMITS } from '../../server/capture/store.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';

export interface StoreMemory {
  events: number;
  held: number;
  dropped: number;
  maxEvents: number;
  maxBytes: number;
  /** The store's measure of what it holds (eventWeight), bytes. */
  weight: number;
  /** V8 heap used by the store and its events, bytes (after a full collection). */
  heap: number;
  /** Typed arrays outside the heap (the packed slots, server/capture/packed.ts), bytes. */
  arrayBuffers: number;
}

const EVENTS = Number(process.env.BENCH_STORE_EVENTS_FILL ?? 200_000);
const CONNECTIONS = 10;
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function frame(payload: Buffer, masked: boolean): Buffer {
  const mask = masked ? Buffer.from([0x37, 0xfa, 0x21, 0x3d]) : null;
  const head = Buffer.from([0x81, (masked ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([head, payload]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

export function fillStore(): StoreMemory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('store-memory needs node --expose-gc');
  gc();
  const before = process.memoryUsage();
  const store = new CaptureStore();
  const accept = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const response = Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const decoders = Array.from({ length: CONNECTIONS }, (_, i) => new ConnectionDecoder(i + 1, undefined, true, undefined, true));
  let t = 0;
  for (const d of decoders) {
    store.add(d.receive('client', request, t));
    store.add(d.receive('server', response, t));
  }
  const start = store.nextSeq;
  // A message sent and its echo: a frame and a message each way.
  for (let n = 0; store.nextSeq - start < EVENTS; n++) {
    const d = decoders[n % CONNECTIONS]!;
    const text = `tick ${n} ${'x'.repeat(16)}`;
    t += 0.1;
    store.add(d.receive('client', frame(Buffer.from(text), true), t));
    store.add(d.receive('server', frame(Buffer.from(`I heard you say "${text}"`), false), t + 0.05));
  }
  gc();
  const after = process.memoryUsage();
  const result: StoreMemory = {
    events: store.nextSeq,
    held: store.size,
    dropped: store.dropped,
    maxEvents: DEFAULT_STORE_LIMITS.maxEvents,
    maxBytes: DEFAULT_STORE_LIMITS.maxBytes,
    weight: store.bytes,
    heap: after.heapUsed - before.heapUsed,
    arrayBuffers: after.arrayBuffers - before.arrayBuffers,
  };
  // Keep the store alive until measured.
  if (store.size < 0) console.log(store);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = fillStore();
  if (process.send) process.send({ type: 'store-memory', result });
  else console.log(result);
}
