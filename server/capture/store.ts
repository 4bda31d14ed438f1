import type { WholePayload, WireEvent, WireEventType } from './events.ts';
import { materialize, materializeAll } from './materialize.ts';
import { PackedSlots } from './packed.ts';
import { RingBuffer } from './ring-buffer.ts';

export interface StoreLimits {
  /** Events held at most. */
  maxEvents: number;
  /** Approximate bytes held at most (payload previews dominate). */
  maxBytes: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = { maxEvents: 250_000, maxBytes: 128 * 1024 * 1024 };

/** Characters of base64 for `n` bytes. */
const base64Chars = (n: number) => Math.ceil(n / 3) * 4;

/**
 * What an event costs to hold, roughly: its strings (2 bytes a character) plus a fixed part.
 * A lazy event (events.ts) weighs what it will once its strings are made, so the bound holds
 * whether or not anyone has read it.
 */
export function eventWeight(e: WireEvent): number {
  let w = 160;
  switch (e.type) {
    case 'frame':
      w += 2 * ((e._bytes ? base64Chars(e._bytes.length) : e.payload.length) + (e.header === '' ? 2 * e.headerLength : e.header.length));
      break;
    case 'message':
      if (e._bytes) w += 2 * (e.opcode === 1 ? e._bytes.length : base64Chars(e._bytes.length));
      else w += 2 * ((e.text?.length ?? 0) + (e.base64?.length ?? 0));
      // The decoded layer (server/protocol/app/) holds what it parsed of at most the data's
      // first 16 KiB (arguments, params): counted as twice that, plus its summary.
      if (e.app) w += 2 * e.app.summary.length + 2 * Math.min(e.length, 16 * 1024);
      else if (e._app) w += 400 + 2 * Math.min(e.length, 16 * 1024);
      break;
    case 'handshake': {
      const bodies = (e.request?.body?.length ?? 0) + (e.response?.body?.length ?? 0);
      w += 2 * ((e.request?.raw.length ?? 0) * 2 + (e.response?.raw.length ?? 0) * 2 + bodies);
      if (e.app) w += 4 * bodies;
      break;
    }
    case 'ping':
    case 'pong':
      w += 2 * (e._bytes ? base64Chars(e._bytes.length) : e.payload.length);
      break;
    case 'violation':
    case 'insight':
      w += 2 * e.message.length;
      break;
    default:
      break;
  }
  return w;
}

/**
 * The capture store: the newest events within bounds, and counts of everything ever seen,
 * including what the bounds pushed out. Listeners get each batch as it is added.
 *
 * It takes lazy events (events.ts) as they come from the wiretap and makes their strings only
 * when they are read: for listeners as a batch arrives, for `since` and `all` on the way out.
 * Everything it hands out is made.
 */
/** Where whole payloads go instead of the store (server/capture/spill.ts), by the store's sequence number. */
export interface WholeSink {
  put(seq: number, whole: WholePayload): void;
  /** The whole payload of the event `seq`, or null when it is not held (any more). */
  read(seq: number): Promise<WholePayload | null>;
}

export class CaptureStore {
  /**
   * Whole payloads of events longer than the preview (`_whole`, only while something records):
   * handed here by `add`, never held by the store. Null: they are let go.
   */
  spill: WholeSink | null = null;
  /** Held events; null where the event is packed (server/capture/packed.ts) in the same slot. */
  private readonly ring: RingBuffer<WireEvent | null>;
  private packed: PackedSlots | null = null;
  /** Events ever added, by type (kept after the events themselves are dropped). */
  readonly counts: Record<WireEventType, number> = {
    open: 0, handshake: 0, frame: 0, message: 0, ping: 0, pong: 0, close: 0, violation: 0, appViolation: 0, insight: 0, end: 0,
  };
  private listeners = new Set<(events: WireEvent[]) => void>();

  constructor(readonly limits: StoreLimits = DEFAULT_STORE_LIMITS) {
    this.ring = new RingBuffer(limits.maxEvents, limits.maxBytes);
  }

  add(events: WireEvent[]): void {
    if (events.length === 0) return;
    const packed = (this.packed ??= new PackedSlots(this.limits.maxEvents));
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      this.counts[e.type]++;
      // The store keeps previews only: a whole payload goes to the spill file, never into the ring.
      if ((e.type === 'frame' || e.type === 'message') && e._whole !== undefined) {
        this.spill?.put(this.ring.total, e._whole);
        e._whole = undefined;
      }
      const slot = this.ring.push(null, eventWeight(e));
      if (!packed.pack(slot, e)) this.ring.setAt(slot, e);
    }
    if (this.listeners.size === 0) return;
    materializeAll(events);
    for (const l of this.listeners) l(events);
  }

  /** Events pushed out by the bounds so far. */
  get dropped(): number {
    return this.ring.dropped;
  }

  get size(): number {
    return this.ring.size;
  }

  get bytes(): number {
    return this.ring.totalWeight;
  }

  /** Sequence number the next event gets; `since(n)` resumes from a number seen before. */
  get nextSeq(): number {
    return this.ring.total;
  }

  since(seq = 0): WireEvent[] {
    const out: WireEvent[] = [];
    const packed = this.packed;
    this.ring.forEachSince(seq, (e, slot) => out.push(e === null ? packed!.unpack(slot) : materialize(e)));
    return out;
  }

  /** Sequence number of the oldest event held. */
  get firstSeq(): number {
    return this.ring.firstSeq;
  }

  /** Held events with sequence numbers in [from, to): a slice of history without making all of it. */
  range(from: number, to: number): WireEvent[] {
    const out: WireEvent[] = [];
    const packed = this.packed;
    this.ring.forEachRange(from, to, (e, slot) => out.push(e === null ? packed!.unpack(slot) : materialize(e)));
    return out;
  }

  all(): WireEvent[] {
    return this.since(0);
  }

  subscribe(listener: (events: WireEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
