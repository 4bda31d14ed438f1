import type { Direction, WireEvent } from '../../../server/capture/events.ts';

/**
 * The page's events, held compactly (issue 19). At 10,000 frames a second the page holds
 * 200,000 frames and as many messages; held as the objects JSON.parse made (about 20 fields and
 * 3-4 strings each) every one survived its scavenge and was promoted, and V8's scavenges,
 * mark-compact and Blink's sweeper grew with them into the page's longest tasks.
 *
 * Here a frame, message, ping or pong is a few numbers in typed-array columns (what the model
 * and the views scan: time, type, connection, direction, length) and its place in the text of
 * the batch it came in (one string per batch, kept whole): what survives is a few large arrays
 * and a few hundred strings, not 400,000 objects. The event's object is made again from its text
 * when a view asks for it (the visible rows, the selected frame), kept in a small cache, and
 * dropped after. Other events (open, handshake, close, violations, insights, end) are few, and
 * the model holds them elsewhere by identity: they are kept as objects. So is every event that
 * came with no text (tests, recordings).
 */

/** Event types as one byte in the `type` column. */
const TYPES = ['open', 'handshake', 'frame', 'message', 'ping', 'pong', 'close', 'violation', 'appViolation', 'insight', 'end'] as const;
const TYPE_CODE = new Map<string, number>(TYPES.map((t, i) => [t, i]));
export const T_FRAME = 2;
export const T_MESSAGE = 3;
/** A type this page does not know (a newer server): kept as the object. */
const T_OTHER = 255;

/** Events made again from their text and kept for the views (the rows in view, arrows drawn, the selection). */
const CACHE_MAX = 8192;

/** A batch's text and the absolute index of its last event held (it goes when that one does). */
interface Chunk {
  text: string;
  last: number;
}

export class EventLog {
  /** Absolute index of the first event held. */
  base = 0;
  /** Events held. */
  length = 0;
  private head = 0;
  private cap = 0;
  private tCol = new Float64Array(0);
  private typeCol = new Uint8Array(0);
  private connCol = new Float64Array(0);
  /** 0 client, 1 server. */
  private dirCol = new Uint8Array(0);
  /** A frame's payload length, a message's length. */
  private lengthCol = new Float64Array(0);
  /** A frame's bytes on the wire (header and the payload that arrived). */
  private bytesCol = new Float64Array(0);
  /** A frame's seq, a message's firstFrame. */
  private seqCol = new Float64Array(0);
  /** The chunk id of its text (-1: kept as an object), and where it starts and ends in it. */
  private chunkCol = new Int32Array(0);
  private startCol = new Uint32Array(0);
  private endCol = new Uint32Array(0);
  private chunks: Chunk[] = [];
  /** The id of `chunks[0]`. */
  private chunkBase = 0;
  /** Events held as their objects, by absolute index (in index order: a Map keeps insertion order). */
  private kept = new Map<number, WireEvent>();
  private cache = new Map<number, WireEvent>();

  /** The text of a batch whose events follow with `push(e, chunk, start, end)`; its id. */
  addChunk(text: string): number {
    this.chunks.push({ text, last: -1 });
    return this.chunkBase + this.chunks.length - 1;
  }

  /** Hold `e`, from `text.slice(start, end)` of chunk `chunk` (or -1: kept as the object). Its absolute index. */
  push(e: WireEvent, chunk = -1, start = 0, end = 0): number {
    if (this.head + this.length === this.cap) this.makeRoom();
    const abs = this.base + this.length;
    const i = this.head + this.length;
    this.length++;
    const type = TYPE_CODE.get(e.type) ?? T_OTHER;
    this.tCol[i] = e.t;
    this.typeCol[i] = type;
    this.connCol[i] = e.conn;
    const bulk = e.type === 'frame' || e.type === 'message' || e.type === 'ping' || e.type === 'pong';
    if (bulk) {
      this.dirCol[i] = e.dir === 'server' ? 1 : 0;
      this.lengthCol[i] = e.type === 'frame' || e.type === 'message' ? e.length : 0;
      this.bytesCol[i] = e.type === 'frame' ? e.headerLength + (e.complete === false ? 0 : e.length) : 0;
      this.seqCol[i] = e.type === 'frame' ? e.seq : e.type === 'message' ? e.firstFrame : 0;
    } else {
      this.dirCol[i] = 'dir' in e && e.dir === 'server' ? 1 : 0;
      this.lengthCol[i] = 0;
      this.bytesCol[i] = 0;
      this.seqCol[i] = 0;
    }
    const c = this.chunks[chunk - this.chunkBase];
    if (bulk && c && end > start && end <= c.text.length) {
      this.chunkCol[i] = chunk;
      this.startCol[i] = start;
      this.endCol[i] = end;
      c.last = abs;
    } else {
      this.chunkCol[i] = -1;
      this.kept.set(abs, e);
    }
    return abs;
  }

  private makeRoom(): void {
    // Mostly trimmed at the front: move the rest down instead of growing.
    if (this.head > 0 && this.head >= this.cap / 4) {
      for (const col of this.columns()) col.copyWithin(0, this.head, this.head + this.length);
      this.head = 0;
      return;
    }
    const cap = Math.max(1024, this.cap * 2);
    const grow = <A extends Float64Array | Uint8Array | Int32Array | Uint32Array>(old: A, make: (n: number) => A): A => {
      const a = make(cap);
      a.set(old.subarray(this.head, this.head + this.length));
      return a;
    };
    this.tCol = grow(this.tCol, (n) => new Float64Array(n));
    this.typeCol = grow(this.typeCol, (n) => new Uint8Array(n));
    this.connCol = grow(this.connCol, (n) => new Float64Array(n));
    this.dirCol = grow(this.dirCol, (n) => new Uint8Array(n));
    this.lengthCol = grow(this.lengthCol, (n) => new Float64Array(n));
    this.bytesCol = grow(this.bytesCol, (n) => new Float64Array(n));
    this.seqCol = grow(this.seqCol, (n) => new Float64Array(n));
    this.chunkCol = grow(this.chunkCol, (n) => new Int32Array(n));
    this.startCol = grow(this.startCol, (n) => new Uint32Array(n));
    this.endCol = grow(this.endCol, (n) => new Uint32Array(n));
    this.head = 0;
    this.cap = cap;
  }

  private columns(): Array<Float64Array | Uint8Array | Int32Array | Uint32Array> {
    return [this.tCol, this.typeCol, this.connCol, this.dirCol, this.lengthCol, this.bytesCol, this.seqCol, this.chunkCol, this.startCol, this.endCol];
  }

  /** Let the oldest `n` events go. */
  dropFront(n: number): void {
    n = Math.min(n, this.length);
    if (n <= 0) return;
    this.head += n;
    this.length -= n;
    this.base += n;
    for (const abs of this.kept.keys()) {
      if (abs >= this.base) break;
      this.kept.delete(abs);
    }
    for (const abs of this.cache.keys()) if (abs < this.base) this.cache.delete(abs);
    let gone = 0;
    // A batch's text goes with its last event held (one with no bulk event held none: last -1).
    while (gone < this.chunks.length - 1 && this.chunks[gone]!.last < this.base) gone++;
    if (gone > 0) {
      this.chunks.splice(0, gone);
      this.chunkBase += gone;
    }
    if (this.length === 0) this.head = 0;
  }

  /** Let every event go and count from 0 again. */
  clear(): void {
    this.base = 0;
    this.length = 0;
    this.head = 0;
    this.kept.clear();
    this.cache.clear();
    // Chunk ids are never used again: an event still waiting with an old one is kept as its object.
    this.chunkBase += this.chunks.length;
    this.chunks = [];
  }

  has(abs: number): boolean {
    return abs >= this.base && abs < this.base + this.length;
  }

  /** The event at absolute index `abs`, made again from its text if need be; undefined if not held. */
  get(abs: number): WireEvent | undefined {
    if (!this.has(abs)) return undefined;
    const kept = this.kept.get(abs);
    if (kept) return kept;
    const hit = this.cache.get(abs);
    if (hit) return hit;
    const i = this.head + abs - this.base;
    const chunk = this.chunks[this.chunkCol[i]! - this.chunkBase]!;
    const e = JSON.parse(chunk.text.slice(this.startCol[i]!, this.endCol[i]!)) as WireEvent;
    // The oldest made goes first (a Map iterates in insertion order).
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(abs, e);
    return e;
  }

  /** Events `from` to `to` (not included; negative from the newest) as objects: for a few, not all. */
  slice(from = 0, to = this.length): WireEvent[] {
    if (from < 0) from = Math.max(0, this.length + from);
    to = Math.min(to, this.length);
    const out: WireEvent[] = [];
    for (let i = from; i < to; i++) out.push(this.get(this.base + i)!);
    return out;
  }

  private pos(abs: number): number {
    return this.head + abs - this.base;
  }

  /** Event `i` of those held (0 the oldest; negative from the newest), as `get`. */
  at(i: number): WireEvent | undefined {
    return this.get(this.base + (i < 0 ? this.length + i : i));
  }
  t(abs: number): number {
    return this.tCol[this.pos(abs)]!;
  }
  type(abs: number): WireEvent['type'] | 'other' {
    return TYPES[this.typeCol[this.pos(abs)]!] ?? 'other';
  }
  typeCode(abs: number): number {
    return this.typeCol[this.pos(abs)]!;
  }
  conn(abs: number): number {
    return this.connCol[this.pos(abs)]!;
  }
  /** An event's direction ('client' for those without one: open, end, insight). */
  dir(abs: number): Direction {
    return this.dirCol[this.pos(abs)] === 1 ? 'server' : 'client';
  }
  lengthOf(abs: number): number {
    return this.lengthCol[this.pos(abs)]!;
  }
  /** A frame's bytes on the wire: header and the payload that arrived (0 for other events). */
  bytes(abs: number): number {
    return this.bytesCol[this.pos(abs)]!;
  }
  /** A frame's seq, a message's firstFrame (0 for other events). */
  seq(abs: number): number {
    return this.seqCol[this.pos(abs)]!;
  }
}

/**
 * The places in a stream batch's text (`{"kind":"events","from":N,"events":[{…},{…}]}`) where
 * each event's object starts and ends, as [start0, end0, start1, end1, …]; null when the text is
 * not that shape. A structural scan: braces and brackets outside strings, a string's escapes.
 */
export function eventSpans(text: string, expected: number): Uint32Array | null {
  const at = text.indexOf('"events":[');
  if (at < 0) return null;
  const spans = new Uint32Array(expected * 2);
  let n = 0;
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = at + 10; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (depth === 0) {
        if (c !== 123 || n >= expected) return null;
        start = i;
      }
      depth++;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      if (depth === 0) break; // the events array's own ]
      depth--;
      if (depth === 0) {
        spans[2 * n] = start;
        spans[2 * n + 1] = i + 1;
        n++;
      }
    }
  }
  return n === expected ? spans : null;
}

/**
 * A list of events by absolute index into an EventLog (the frames, the messages, a Timeline's
 * rows): 8 bytes an item in a typed array, trimmed at the front.
 */
export class EventList<T extends WireEvent = WireEvent> {
  private a = new Float64Array(1024);
  private head = 0;
  length = 0;
  constructor(private readonly log: EventLog) {}

  push(abs: number): void {
    if (this.head + this.length === this.a.length) {
      if (this.head >= this.a.length / 4) {
        this.a.copyWithin(0, this.head, this.head + this.length);
      } else {
        const a = new Float64Array(this.a.length * 2);
        a.set(this.a.subarray(this.head, this.head + this.length));
        this.a = a;
      }
      this.head = 0;
    }
    this.a[this.head + this.length++] = abs;
  }

  /** The log's absolute index of item `i`. */
  abs(i: number): number {
    return this.a[this.head + i]!;
  }

  /** Item `i` (0 is the oldest held), made from the log; undefined past the end. */
  at(i: number): T | undefined {
    if (i < 0) i += this.length;
    return i >= 0 && i < this.length ? (this.log.get(this.a[this.head + i]!) as T | undefined) : undefined;
  }

  /** Let the oldest `n` items go. */
  dropFront(n: number): void {
    n = Math.min(n, this.length);
    this.head += n;
    this.length -= n;
    if (this.length === 0) this.head = 0;
  }

  /** Items whose absolute index is below `abs`, from the front (they left the log). */
  countBelow(abs: number): number {
    let n = 0;
    while (n < this.length && this.a[this.head + n]! < abs) n++;
    return n;
  }

  clear(): void {
    this.head = 0;
    this.length = 0;
  }

  /** Items `from` to `to` (not included) as objects: for a few, not the whole list. */
  slice(from = 0, to = this.length): T[] {
    if (from < 0) from = Math.max(0, this.length + from);
    to = Math.min(to, this.length);
    const out: T[] = [];
    for (let i = from; i < to; i++) out.push(this.at(i)!);
    return out;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.length; i++) yield this.at(i)!;
  }
}
