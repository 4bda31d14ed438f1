import { describe, expect, it } from 'vitest';
import { RowSlots } from '../../ui/src/lib/row-slots.ts';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('RowSlots: which row element each drawn row takes', () => {
  it('keeps the element of every row still in view, and gives a new row the element a row left', () => {
    const slots = new RowSlots();
    const a = slots.assign(range(100, 20));
    expect(new Set(a).size).toBe(20);
    const b = slots.assign(range(101, 20));
    // Rows 101-119 keep their keys; row 120 takes row 100's.
    expect(b.slice(0, 19)).toEqual(a.slice(1));
    expect(b[19]).toBe(a[0]);
  });

  it('under a flood (every row new) gives the elements out in the order they stand, so none moves', () => {
    const slots = new RowSlots();
    slots.assign(range(0, 20));
    const before = slots.assign(range(1, 20)); // the order in the document: 1..19, then row 20 at the end
    const flood = slots.assign(range(5000, 20));
    expect(flood).toEqual(before);
  });

  it('makes new keys only for rows beyond the elements there are, and never gives one key twice', () => {
    const slots = new RowSlots();
    const a = slots.assign(range(0, 5));
    const b = slots.assign(range(3, 10));
    expect(b.slice(0, 2)).toEqual(a.slice(3));
    expect(new Set(b).size).toBe(10);
    expect(Math.max(...b)).toBe(9);
    // A scroll up: rows above come into view and take the keys of the rows that left below.
    const c = slots.assign(range(0, 10));
    expect(new Set(c).size).toBe(10);
    expect(c.slice(3)).toEqual(b.slice(0, 7));
    // Fewer rows: no key is made, the ones kept are the rows still there.
    const d = slots.assign(range(2, 3));
    expect(d).toEqual(c.slice(2, 5));
  });
});
