import { describe, expect, it } from 'vitest';
import type { WireEvent } from '../../server/capture/events.ts';
import { RingBuffer } from '../../server/capture/ring-buffer.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { EchoTraffic, tick } from '../helpers/echo-traffic.ts';

const ping = (conn: number, payload = ''): WireEvent => ({ type: 'ping', conn, t: conn, dir: 'client', payload, frame: 0 });

describe('RingBuffer', () => {
  it('keeps the newest items and counts what it dropped', () => {
    const r = new RingBuffer<number>(3);
    for (let i = 0; i < 10; i++) r.push(i);
    expect(r.toArray()).toEqual([7, 8, 9]);
    expect(r.dropped).toBe(7);
    expect(r.total).toBe(10);
  });

  it('drops the oldest items when the weight bound is reached', () => {
    const r = new RingBuffer<string>(100, 10);
    r.push('a', 4);
    r.push('b', 4);
    r.push('c', 4);
    expect(r.toArray()).toEqual(['b', 'c']);
    expect(r.totalWeight).toBe(8);
    expect(r.dropped).toBe(1);
  });

  it('resumes from a sequence number, and from the oldest held when that one is gone', () => {
    const r = new RingBuffer<number>(4);
    for (let i = 0; i < 6; i++) r.push(i);
    expect(r.since(4)).toEqual([4, 5]);
    expect(r.since(0)).toEqual([2, 3, 4, 5]);
    expect(r.since(6)).toEqual([]);
  });
});

describe('CaptureStore', () => {
  it('holds 10 s of 10,000 frames a second with its default bounds: 200,000 events, the first frame still there', () => {
    const store = new CaptureStore();
    const traffic = new EchoTraffic();
    store.add(traffic.open());
    // 50,000 messages and their echoes: 100,000 frames and 100,000 messages, as the wiretap makes them.
    for (let i = 0; i < 200; i++) store.add(traffic.next(250));
    expect(store.counts.frame).toBe(100_000);
    expect(store.dropped).toBe(0);
    expect(store.size).toBe(store.nextSeq);
    const frames = store.range(0, store.nextSeq).filter((e) => e.type === 'frame');
    expect(frames).toHaveLength(100_000);
    expect(Buffer.from(frames[0]!.payload, 'base64').toString()).toBe(tick(0));
    expect(Buffer.from(frames.at(-1)!.payload, 'base64').toString()).toBe(`I heard you say "${tick(49_999)}"`);
  });

  it('counts every event by type, including those the bound pushed out', () => {
    const store = new CaptureStore({ maxEvents: 10, maxBytes: Infinity });
    store.add(Array.from({ length: 25 }, (_, i) => ping(i)));
    expect(store.size).toBe(10);
    expect(store.dropped).toBe(15);
    expect(store.counts.ping).toBe(25);
    expect(store.all()[0]!.conn).toBe(15);
  });

  it('stays within its byte bound however large the payloads', () => {
    const store = new CaptureStore({ maxEvents: 1_000_000, maxBytes: 1_000_000 });
    const big = 'x'.repeat(10_000);
    for (let i = 0; i < 1000; i++) store.add([ping(i, big)]);
    expect(store.bytes).toBeLessThanOrEqual(1_000_000);
    expect(store.size).toBeGreaterThan(0);
    expect(store.dropped + store.size).toBe(1000);
  });

  it('hands each batch to its listeners until they unsubscribe', () => {
    const store = new CaptureStore();
    const seen: number[] = [];
    const off = store.subscribe((events) => seen.push(events.length));
    store.add([ping(1), ping(2)]);
    off();
    store.add([ping(3)]);
    expect(seen).toEqual([2]);
  });
});
