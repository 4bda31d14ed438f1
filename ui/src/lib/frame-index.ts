/**
 * Frames (or what belongs to them) by frame key: connection, direction, index (state.ts's
 * `frameKey`), as a Map would hold them, but in one array per connection and direction, indexed
 * by the frame's index. A Map of 100,000 frames rehashes all of them when it doubles, in one go:
 * 17 to 70 ms of the page's main thread at 65,536, 131,072 and 262,144 entries (issue 19), and
 * each key above 2^31 is a heap number to collect. An array grows by copying pointers only.
 *
 * A connection's frames come in index order, and the page's bound takes the oldest first, so a
 * lane is a window [base, base + items.length) with holes at its front until they are cut off.
 * An index far from the window (a recording's gaps, a hostile one) goes to a Map instead: the
 * array never grows by a number someone else wrote.
 */

/** A new index may extend the window by at most this many empty slots; further off, the Map. */
const MAX_GAP = 4096;
/** Cut the empty front of a window once it is this long and at least half of it. */
const CUT_AT = 1024;

interface Lane<T> {
  /** The frame index of items[0]. */
  base: number;
  items: Array<T | undefined>;
  /** Position of the first item present (those before it were deleted). */
  head: number;
  /** Items present. */
  count: number;
}

export class FrameIndex<T> {
  private lanes = new Map<number, Lane<T>>();
  private far = new Map<number, T>();

  /** The lane of a key: connection and direction (the key without its frame index). */
  private static split(key: number): { lane: number; seq: number } {
    const conn = Math.floor(key / 2 ** 32);
    const rest = key - conn * 2 ** 32;
    const dir = rest % 2;
    return { lane: conn * 2 + dir, seq: (rest - dir) / 2 };
  }

  get(key: number): T | undefined {
    const { lane, seq } = FrameIndex.split(key);
    const l = this.lanes.get(lane);
    if (l) {
      const i = seq - l.base;
      const v = i >= l.head && i < l.items.length ? l.items[i] : undefined;
      if (v !== undefined) return v;
    }
    return this.far.size > 0 ? this.far.get(key) : undefined;
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  set(key: number, value: T): void {
    const { lane, seq } = FrameIndex.split(key);
    let l = this.lanes.get(lane);
    if (!l) this.lanes.set(lane, (l = { base: seq, items: [], head: 0, count: 0 }));
    if (l.count === 0) {
      l.base = seq;
      l.items.length = 0;
      l.head = 0;
    }
    const i = seq - l.base;
    if (i < l.head || i > l.items.length + MAX_GAP) {
      this.far.set(key, value);
      return;
    }
    if (this.far.size > 0) this.far.delete(key);
    if (i >= l.items.length) {
      while (l.items.length < i) l.items.push(undefined);
      l.items.push(value);
      l.count++;
    } else {
      if (l.items[i] === undefined) l.count++;
      l.items[i] = value;
    }
  }

  delete(key: number): boolean {
    const { lane, seq } = FrameIndex.split(key);
    const l = this.lanes.get(lane);
    if (l) {
      const i = seq - l.base;
      if (i >= l.head && i < l.items.length && l.items[i] !== undefined) {
        l.items[i] = undefined;
        l.count--;
        if (l.count === 0) {
          this.lanes.delete(lane);
          return true;
        }
        while (l.items[l.head] === undefined) l.head++;
        if (l.head >= CUT_AT && l.head * 2 >= l.items.length) {
          l.items = l.items.slice(l.head);
          l.base += l.head;
          l.head = 0;
        }
        return true;
      }
    }
    return this.far.delete(key);
  }

  clear(): void {
    this.lanes.clear();
    this.far.clear();
  }
}
