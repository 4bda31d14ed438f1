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
import { CaptureStore, DEFAULT_STORE_LIMITS } from '../../server/capture/store.ts';
import { EchoTraffic } from '../helpers/echo-traffic.ts';

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

export function fillStore(): StoreMemory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('store-memory needs node --expose-gc');
  gc();
  const before = process.memoryUsage();
  const store = new CaptureStore();
  const traffic = new EchoTraffic();
  store.add(traffic.open());
  const start = store.nextSeq;
  // A message sent and its echo: a frame and a message each way, 4 events.
  while (store.nextSeq - start < EVENTS) store.add(traffic.next(250));
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
