/**
 * The page's frames by key (ui/src/lib/frame-index.ts): it answers as a Map would, through the
 * page's own pattern (frames of many connections in order, the oldest trimmed first) and through
 * disorder and hostile frame indices, and never grows an array by an index someone else wrote.
 */
import { describe, expect, it } from 'vitest';
import { FrameIndex } from '../../ui/src/lib/frame-index.ts';
import { frameKey } from '../../ui/src/state.ts';

/** A small deterministic generator: the same sequence on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('FrameIndex', () => {
  it('holds 100,000 frames of 10 connections in order and loses the oldest as the bound trims them', () => {
    const index = new FrameIndex<{ conn: number; seq: number }>();
    const order: number[] = [];
    const seq = new Map<string, number>();
    for (let i = 0; i < 100_000; i++) {
      const conn = (i % 10) + 1;
      const dir = i % 20 < 10 ? 'client' : 'server';
      const s = seq.get(`${conn}${dir}`) ?? 0;
      seq.set(`${conn}${dir}`, s + 1);
      const k = frameKey(conn, dir, s);
      index.set(k, { conn, seq: s });
      order.push(k);
    }
    expect(index.get(frameKey(3, 'server', 0))).toEqual({ conn: 3, seq: 0 });
    expect(index.get(frameKey(10, 'client', 4999))).toEqual({ conn: 10, seq: 4999 });
    expect(index.has(frameKey(10, 'client', 5000))).toBe(false);
    expect(index.has(frameKey(11, 'client', 0))).toBe(false);
    // The page's trim: the oldest 60,000 go, in arrival order.
    for (const k of order.slice(0, 60_000)) expect(index.delete(k)).toBe(true);
    for (const k of order.slice(0, 60_000)) expect(index.has(k)).toBe(false);
    for (const k of order.slice(60_000)) expect(index.has(k)).toBe(true);
    expect(index.delete(order[0]!)).toBe(false);
    // Frames keep coming after the trim, and a connection emptied starts again where it is.
    for (const k of order.slice(60_000)) index.delete(k);
    index.set(frameKey(1, 'client', 7000), { conn: 1, seq: 7000 });
    expect(index.get(frameKey(1, 'client', 7000))).toEqual({ conn: 1, seq: 7000 });
    expect(index.has(frameKey(1, 'client', 6999))).toBe(false);
  });

  it('answers as a Map does through random sets, deletes and far-off indices', () => {
    const next = rng(19);
    const index = new FrameIndex<number>();
    const map = new Map<number, number>();
    const keys: number[] = [];
    for (let step = 0; step < 50_000; step++) {
      const r = next();
      if (r < 0.55 || keys.length === 0) {
        const conn = 1 + Math.floor(next() * 4);
        const dir = next() < 0.5 ? 'client' : 'server';
        // Mostly near the others, now and then far off (a gap, a hostile index up to 2^31).
        const s = next() < 0.95 ? Math.floor(next() * 3000) : Math.floor(next() * 2 ** 31);
        const k = frameKey(conn, dir, s);
        index.set(k, step);
        map.set(k, step);
        keys.push(k);
      } else if (r < 0.85) {
        const k = keys[Math.floor(next() * keys.length)]!;
        expect(index.delete(k)).toBe(map.delete(k));
      } else {
        const k = keys[Math.floor(next() * keys.length)]!;
        expect(index.get(k)).toBe(map.get(k));
      }
    }
    for (const k of keys) expect(index.get(k)).toBe(map.get(k));
    index.clear();
    for (const k of keys) expect(index.has(k)).toBe(false);
  });

  it('does not grow by a hostile frame index: 2^31 after 0 is held apart, no array grows to it', () => {
    const index = new FrameIndex<string>();
    index.set(frameKey(1, 'client', 0), 'first');
    index.set(frameKey(1, 'client', 2 ** 31), 'far');
    index.set(frameKey(1, 'client', 1), 'second');
    expect(index.get(frameKey(1, 'client', 2 ** 31))).toBe('far');
    expect(index.get(frameKey(1, 'client', 1))).toBe('second');
    expect(index.get(frameKey(1, 'client', 2 ** 30))).toBeUndefined();
  });
});
