import { describe, expect, it } from 'vitest';
import { RowSlots } from '../../ui/src/lib/row-slots.ts';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('RowSlots: which row element each drawn row takes', () => {
  it('keeps the element of every row still in view, and gives a new row the element a row left', () => {
    const slots = new RowSlots();
    const a = slots.assign(range(100, 20)).keys;
    expect(new Set(a).size).toBe(20);
    const b = slots.assign(range(101, 20)).keys;
    // Rows 101-119 keep their keys; row 120 takes row 100's.
    expect(b.slice(0, 19)).toEqual(a.slice(1));
    expect(b[19]).toBe(a[0]);
  });

  it('under a flood (every row new) gives the elements out in the order they stand, so none moves', () => {
    const slots = new RowSlots();
    slots.assign(range(0, 20));
    const before = slots.assign(range(1, 20)).keys; // the order in the document: 1..19, then row 20 at the end
    const flood = slots.assign(range(5000, 20)).keys;
    expect(flood).toEqual(before);
  });

  it('makes new keys only for rows beyond the elements there are, and never gives one key twice', () => {
    const slots = new RowSlots();
    const a = slots.assign(range(0, 5)).keys;
    const b = slots.assign(range(3, 10)).keys;
    expect(b.slice(0, 2)).toEqual(a.slice(3));
    expect(new Set(b).size).toBe(10);
    expect(Math.max(...b)).toBe(9);
    // A scroll up: rows above come into view and take the keys of the rows that left below.
    const c = slots.assign(range(0, 10)).keys;
    expect(new Set(c).size).toBe(10);
    expect(c.slice(3)).toEqual(b.slice(0, 7));
    // Fewer rows: no key is made, the ones kept are the rows still there.
    const d = slots.assign(range(2, 3)).keys;
    expect(d).toEqual(c.slice(2, 5));
  });

  it('keeps spare elements to make up the pool, and the first rows beyond use the first spares, in order', () => {
    const slots = new RowSlots();
    const a = slots.assign(range(0, 3), 10);
    expect(a.keys).toHaveLength(3);
    expect(a.spare).toHaveLength(7);
    expect(new Set([...a.keys, ...a.spare]).size).toBe(10);
    // More rows come: they take the spares in the order they stand after the rows, so none moves.
    const b = slots.assign(range(0, 8), 10);
    expect(b.keys).toEqual([...a.keys, ...a.spare.slice(0, 5)]);
    expect(b.spare).toEqual(a.spare.slice(5));
    // A flood's draw: every row new, fewer drawn (no margin above): the same elements, in the same order.
    const c = slots.assign(range(900, 6), 10);
    expect([...c.keys, ...c.spare]).toEqual([...b.keys, ...b.spare]);
    // No rows at all: every element is a spare; nothing is made.
    const d = slots.assign([], 10);
    expect(d.spare).toEqual([...c.keys, ...c.spare]);
  });
});
