/**
 * A bounded FIFO: at most `maxItems` items and `maxWeight` total weight (roughly bytes). The
 * oldest items go first when either bound is reached, and what went is counted, so a view can
 * say "12,345 events dropped from view" instead of growing without end.
 */
export class RingBuffer<T> {
  private items: (T | undefined)[];
  private weights: Float64Array;
  private head = 0;
  private count = 0;
  private weight = 0;
  /** Items pushed out by the bounds since the start. */
  dropped = 0;
  /** Items ever pushed: the sequence number the next item gets. */
  total = 0;

  constructor(
    readonly maxItems: number,
    readonly maxWeight = Infinity,
  ) {
    this.items = new Array(maxItems);
    this.weights = new Float64Array(maxItems);
  }

  get size(): number {
    return this.count;
  }

  get totalWeight(): number {
    return this.weight;
  }

  /** Add an item (pushing out the oldest as the bounds require); returns the slot it went to. */
  push(item: T, weight = 1): number {
    while (this.count > 0 && (this.count === this.maxItems || this.weight + weight > this.maxWeight)) this.shift();
    const i = (this.head + this.count) % this.maxItems;
    this.items[i] = item;
    this.weights[i] = weight;
    this.weight += weight;
    this.count++;
    this.total++;
    return i;
  }

  /** Replace the item in a slot `push` returned (while it is still held). */
  setAt(slot: number, item: T): void {
    this.items[slot] = item;
  }

  private shift(): void {
    this.weight -= this.weights[this.head]!;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.maxItems;
    this.count--;
    this.dropped++;
  }

  /** Sequence number of the oldest item still held. */
  get firstSeq(): number {
    return this.total - this.count;
  }

  /** Items with sequence number >= `seq` (all held items when `seq` is older than the oldest). */
  since(seq = 0): T[] {
    const out: T[] = [];
    this.forEachSince(seq, (item) => out.push(item));
    return out;
  }

  /** Each item with sequence number >= `seq`, oldest first, with the slot it sits in. */
  forEachSince(seq: number, fn: (item: T, slot: number) => void): void {
    const skip = Math.max(0, seq - this.firstSeq);
    for (let k = skip; k < this.count; k++) {
      const slot = (this.head + k) % this.maxItems;
      fn(this.items[slot]!, slot);
    }
  }

  /** Each item with sequence number in [from, to), oldest first, with the slot it sits in. */
  forEachRange(from: number, to: number, fn: (item: T, slot: number) => void): void {
    const first = this.firstSeq;
    const end = Math.min(to, this.total) - first;
    for (let k = Math.max(0, from - first); k < end; k++) {
      const slot = (this.head + k) % this.maxItems;
      fn(this.items[slot]!, slot);
    }
  }

  toArray(): T[] {
    return this.since(0);
  }

  clear(): void {
    this.dropped += this.count;
    this.items = new Array(this.maxItems);
    this.head = 0;
    this.count = 0;
    this.weight = 0;
  }
}
