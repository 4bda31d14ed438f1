/**
 * What a decoder remembers until it is answered (a JSON-RPC request's id, an MQTT Packet
 * Identifier, a STOMP receipt, a GraphQL operation), by key, for the `replyTo` of the answer.
 *
 * Why not a bare Map: V8 shrinks a Map's table, reallocating it, whenever a delete leaves fewer
 * entries than half its buckets. A client with one request in flight at a time (the common case:
 * a call, its answer, the next call) takes its Map from one entry to none on every answer, so
 * every answer paid for a new table: on the bench's GraphQL load that was a quarter of the
 * decoder's pass (0.5-0.6 µs a round trip). A key no peer can send (a symbol), held first and
 * never deleted, keeps one entry in the table at all times, so it keeps its size.
 */
const KEEP: unique symbol = Symbol('keeps the table from shrinking');

/** A Map with the KEEP entry first; `size` does not count it. */
export class SteadyMap<K extends string | number, V> {
  private readonly map = new Map<K | typeof KEEP, V | null>([[KEEP, null]]);

  get size(): number {
    return this.map.size - 1;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  get(key: K): V | undefined {
    return this.map.get(key) ?? undefined;
  }

  set(key: K, value: V): void {
    this.map.set(key, value);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  /** The key set longest ago (insertion order), or undefined when empty. */
  oldest(): K | undefined {
    const keys = this.map.keys();
    keys.next(); // KEEP
    return keys.next().value as K | undefined;
  }
}

/**
 * Keys waiting for their answer, at most `max`: remembering one more forgets the oldest (no
 * answer for it then, rather than memory a peer can grow without bound).
 */
export class PendingIds<K extends string | number, V> extends SteadyMap<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  /** Remembers `key` as the newest (again, if it was known), forgetting the oldest past the bound. */
  remember(key: K, value: V): void {
    this.delete(key);
    this.set(key, value);
    if (this.size > this.max) this.delete(this.oldest()!);
  }

  /** The value waiting under `key`, forgotten now that it is answered; undefined when none waits. */
  take(key: K): V | undefined {
    const value = this.get(key);
    if (value !== undefined) this.delete(key);
    return value;
  }
}
