import type { Direction, WireEvent } from '../../../server/capture/events.ts';

/**
 * The page's events, held compactly (issue 19). At 10,000 frames a second the page holds
 * 200,000 frames and as many messages; held as the objects JSON.parse made (about 20 fields and
 * 3-4 strings each) every one survived its scavenge and was promoted, and V8's scavenges,
 * mark-compact and Blink's sweeper grew with them into the page's longest tasks.
 *
 * Here a frame, message, ping or pong is a few numbers in typed-array columns (what the model
 * and the views scan: time, type, connection, direction, length) and its place in the batch it
 * came in, whose text is kept whole (one string per batch): what survives is a few large arrays
 * and a few hundred strings, not 400,000 objects. When a view asks for an event (the visible
 * rows, the selected frame) its batch's text is parsed again, kept for the next few reads (a
 * few batches), and dropped after. No event's place in the text is searched for as it arrives:
 * that scan cost as much as the parse. Other events (open, handshake, close, violations, insights, end) are few, and
 * the model holds them elsewhere by identity: they are kept as objects. So is every event that
 * came with no text (tests, recordings).
 */

/** Event types as one byte in the `type` column. */
const TYPES = ['open', 'handshake', 'frame', 'message', 'ping', 'pong', 'close', 'violation', 'appViolation', 'insight', 'end'] as const;
const TYPE_CODE = new Map<string, number>(TYPES.map((t, i) => [t, i]));
export const T_FRAME = 2;
export const T_MESSAGE = 3;
/** A message that was compressed (permessage-deflate), and one with an application layer (`app`). */
export const FLAG_COMPRESSED = 1;
export const FLAG_APP = 2;
/** A type this page does not know (a newer server): kept as the object. */
const T_OTHER = 255;

/**
 * Batches parsed again and kept for the views (the rows in view, arrows drawn, the selection),
 * at most this many, and at most CACHE_EVENTS events in them.
 */
const CACHE_BATCHES = 16;
const CACHE_EVENTS = 16_384;

/** A batch's text and the absolute index of its last event held (it goes when that one does). */
interface Chunk {
  text: string;
  last: number;
  /** Its events, when parsed again for a view (in the cache). */
  events: WireEvent[] | null;
}

/**
 * Columns are kept in blocks of this many events, allocated as the log grows and let go as it is
 * trimmed: no array is ever copied to grow (doubling a 262,144-event column set took 115 ms at
 * once, a long task of its own).
 */
const BLOCK = 8192;

interface Block {
  t: Float64Array;
  type: Uint8Array;
  conn: Float64Array;
  /** 0 client, 1 server. */
  dir: Uint8Array;
  /** A frame's payload length, a message's length. */
  length: Float64Array;
  /** A frame's bytes on the wire (header and the payload that arrived). */
  bytes: Float64Array;
  /** A frame's seq, a message's firstFrame, a ping's or pong's frame. */
  seq: Float64Array;
  /** A message's FLAG_COMPRESSED and FLAG_APP. */
  flags: Uint8Array;
  /** The chunk id of its batch (-1: kept as an object), and its index in the batch's events. */
  chunk: Int32Array;
  index: Uint32Array;
  /**
   * The events held as their objects (chunk -1), by place; made on the block's first one. Not a
   * Map by absolute index: a recording's 200,000 would rehash it whole as it doubles.
   */
  objs: Array<WireEvent | undefined> | null;
}

const newBlock = (): Block => ({
  t: new Float64Array(BLOCK),
  type: new Uint8Array(BLOCK),
  conn: new Float64Array(BLOCK),
  dir: new Uint8Array(BLOCK),
  length: new Float64Array(BLOCK),
  bytes: new Float64Array(BLOCK),
  seq: new Float64Array(BLOCK),
  flags: new Uint8Array(BLOCK),
  chunk: new Int32Array(BLOCK),
  index: new Uint32Array(BLOCK),
  objs: null,
});

/** Batches parsed again for a view, and their events (the bench reports them: each is a parse of JSON). */
export const reparsed = { batches: 0, events: 0 };

export class EventLog {
  /** Absolute index of the first event held. */
  base = 0;
  /** Events held. */
  length = 0;
  /** Blocks of columns: `blocks[0]` holds absolute indices from `firstBlock * BLOCK` on. */
  private blocks: Block[] = [];
  private firstBlock = 0;
  /** A block let go, used again for the next one (no new memory to allocate and fault in). */
  private spare: Block | null = null;
  private chunks: Chunk[] = [];
  /** The id of `chunks[0]`. */
  private chunkBase = 0;
  /** Chunks whose events are parsed again, oldest read first; and how many events they hold. */
  private cache: Chunk[] = [];
  private cachedEvents = 0;

  /**
   * The text of a stream batch (`{"kind":"events",…,"events":[…]}`, as the server sent it) whose
   * events follow with `push(e, chunk, index)`; its id.
   */
  addChunk(text: string): number {
    this.chunks.push({ text, last: -1, events: null });
    return this.chunkBase + this.chunks.length - 1;
  }

  /** Hold `e`, event `index` of chunk `chunk`'s batch (or chunk -1: kept as the object). Its absolute index. */
  push(e: WireEvent, chunk = -1, index = 0): number {
    const abs = this.base + this.length;
    const id = Math.floor(abs / BLOCK);
    if (this.blocks.length === 0) this.firstBlock = id;
    if (id - this.firstBlock === this.blocks.length) {
      const b = this.spare ?? newBlock();
      b.objs = null;
      this.blocks.push(b);
      this.spare = null;
    }
    const b = this.blocks[id - this.firstBlock]!;
    const i = abs - id * BLOCK;
    this.length++;
    b.t[i] = e.t;
    b.type[i] = TYPE_CODE.get(e.type) ?? T_OTHER;
    b.conn[i] = e.conn;
    const bulk = e.type === 'frame' || e.type === 'message' || e.type === 'ping' || e.type === 'pong';
    if (bulk) {
      b.dir[i] = e.dir === 'server' ? 1 : 0;
      b.length[i] = e.type === 'frame' || e.type === 'message' ? e.length : 0;
      b.bytes[i] = e.type === 'frame' ? e.headerLength + (e.complete === false ? 0 : e.length) : 0;
      b.seq[i] = e.type === 'frame' ? e.seq : e.type === 'message' ? e.firstFrame : e.frame;
      b.flags[i] = e.type === 'message' ? (e.compressed ? FLAG_COMPRESSED : 0) | (e.app ? FLAG_APP : 0) : 0;
    } else {
      b.dir[i] = 'dir' in e && e.dir === 'server' ? 1 : 0;
      b.length[i] = 0;
      b.bytes[i] = 0;
      b.seq[i] = 0;
      b.flags[i] = 0;
    }
    const c = this.chunks[chunk - this.chunkBase];
    if (bulk && c && index >= 0) {
      b.chunk[i] = chunk;
      b.index[i] = index;
      c.last = abs;
    } else {
      b.chunk[i] = -1;
      (b.objs ??= [])[i] = e;
    }
    return abs;
  }

  /** Let the oldest `n` events go. */
  dropFront(n: number): void {
    n = Math.min(n, this.length);
    if (n <= 0) return;
    this.length -= n;
    this.base += n;
    while (this.blocks.length > 0 && (this.firstBlock + 1) * BLOCK <= this.base) {
      this.spare = this.blocks.shift()!;
      this.spare.objs = null;
      this.firstBlock++;
    }
    // The first block may keep objects of events let go (until it goes whole): get() never reads them.
    let gone = 0;
    // A batch's text goes with its last event held (one with no bulk event held none: last -1).
    while (gone < this.chunks.length - 1 && this.chunks[gone]!.last < this.base) gone++;
    if (gone > 0) {
      for (let k = 0; k < gone; k++) this.uncache(this.chunks[k]!);
      this.chunks.splice(0, gone);
      this.chunkBase += gone;
    }
  }

  /** Let every event go and count from 0 again. */
  clear(): void {
    this.base = 0;
    this.length = 0;
    this.blocks = [];
    this.firstBlock = 0;
    this.cache = [];
    this.cachedEvents = 0;
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
    const id = Math.floor(abs / BLOCK);
    const b = this.blocks[id - this.firstBlock]!;
    const i = abs - id * BLOCK;
    if (b.chunk[i] === -1) return b.objs![i];
    const chunk = this.chunks[b.chunk[i]! - this.chunkBase]!;
    return this.eventsOf(chunk)[b.index[i]!];
  }

  /** A batch's events, parsed again from its text (or still cached): the least recently read go first. */
  private eventsOf(chunk: Chunk): WireEvent[] {
    if (chunk.events) {
      // Read again: last out of the cache (a linear move in at most CACHE_BATCHES).
      const at = this.cache.indexOf(chunk);
      if (at !== this.cache.length - 1) {
        this.cache.splice(at, 1);
        this.cache.push(chunk);
      }
      return chunk.events;
    }
    const parsed = (JSON.parse(chunk.text) as { events?: WireEvent[] }).events ?? [];
    reparsed.batches++;
    reparsed.events += parsed.length;
    chunk.events = parsed;
    this.cache.push(chunk);
    this.cachedEvents += parsed.length;
    while (this.cache.length > 1 && (this.cache.length > CACHE_BATCHES || this.cachedEvents > CACHE_EVENTS)) this.uncache(this.cache[0]!);
    return parsed;
  }

  private uncache(chunk: Chunk): void {
    if (!chunk.events) return;
    this.cachedEvents -= chunk.events.length;
    chunk.events = null;
    const at = this.cache.indexOf(chunk);
    if (at >= 0) this.cache.splice(at, 1);
  }

  /** Event `i` of those held (0 the oldest; negative from the newest), as `get`. */
  at(i: number): WireEvent | undefined {
    return this.get(this.base + (i < 0 ? this.length + i : i));
  }

  /** Events `from` to `to` (not included; negative from the newest) as objects: for a few, not all. */
  slice(from = 0, to = this.length): WireEvent[] {
    if (from < 0) from = Math.max(0, this.length + from);
    to = Math.min(to, this.length);
    const out: WireEvent[] = [];
    for (let i = from; i < to; i++) out.push(this.get(this.base + i)!);
    return out;
  }

  // The columns of the event at absolute index `abs` (one held: `has(abs)`).
  t(abs: number): number {
    const id = Math.floor(abs / BLOCK);
    return this.blocks[id - this.firstBlock]!.t[abs - id * BLOCK]!;
  }
  type(abs: number): WireEvent['type'] | 'other' {
    const id = Math.floor(abs / BLOCK);
    return TYPES[this.blocks[id - this.firstBlock]!.type[abs - id * BLOCK]!] ?? 'other';
  }
  conn(abs: number): number {
    const id = Math.floor(abs / BLOCK);
    return this.blocks[id - this.firstBlock]!.conn[abs - id * BLOCK]!;
  }
  /** An event's direction ('client' for those without one: open, end, insight). */
  dir(abs: number): Direction {
    const id = Math.floor(abs / BLOCK);
    return this.blocks[id - this.firstBlock]!.dir[abs - id * BLOCK] === 1 ? 'server' : 'client';
  }
  lengthOf(abs: number): number {
    const id = Math.floor(abs / BLOCK);
    return this.blocks[id - this.firstBlock]!.length[abs - id * BLOCK]!;
  }
  /** A frame's bytes on the wire: header and the payload that arrived (0 for other events). */
  bytes(abs: number): number {
    const id = Math.floor(abs / BLOCK);
    return this.blocks[id - this.firstBlock]!.bytes[abs - id * BLOCK]!;
  }
  /** A frame's seq, a message's firstFrame, a ping's or pong's frame (0 for other events). */
  seq(abs: number): number {
    const id = Math.floor(abs / BLOCK);
    return this.blocks[id - this.firstBlock]!.seq[abs - id * BLOCK]!;
  }
  /** A message's FLAG_COMPRESSED and FLAG_APP (0 for other events). */
  flags(abs: number): number {
    const id = Math.floor(abs / BLOCK);
    return this.blocks[id - this.firstBlock]!.flags[abs - id * BLOCK]!;
  }
}

/**
 * A list of events by absolute index into an EventLog (the frames, the messages, a Timeline's
 * rows): 8 bytes an item in a typed array, trimmed at the front.
 */
export class EventList<T extends WireEvent = WireEvent> {
  /** Blocks of BLOCK indices: item `i` is at list position `head + i`, in `blocks[floor(pos / BLOCK) - firstBlock]`. */
  private blocks: Float64Array[] = [];
  private firstBlock = 0;
  private head = 0;
  private spare: Float64Array | null = null;
  length = 0;
  constructor(private readonly log: EventLog) {}

  push(abs: number): void {
    const pos = this.head + this.length;
    const id = Math.floor(pos / BLOCK);
    if (this.blocks.length === 0) this.firstBlock = id;
    if (id - this.firstBlock === this.blocks.length) {
      this.blocks.push(this.spare ?? new Float64Array(BLOCK));
      this.spare = null;
    }
    this.blocks[id - this.firstBlock]![pos - id * BLOCK] = abs;
    this.length++;
  }

  /** The log's absolute index of item `i`. */
  abs(i: number): number {
    const pos = this.head + i;
    const id = Math.floor(pos / BLOCK);
    return this.blocks[id - this.firstBlock]![pos - id * BLOCK]!;
  }

  /** Item `i` (0 is the oldest held; negative from the newest), made from the log; undefined past the end. */
  at(i: number): T | undefined {
    if (i < 0) i += this.length;
    return i >= 0 && i < this.length ? (this.log.get(this.abs(i)) as T | undefined) : undefined;
  }

  /** Let the oldest `n` items go. */
  dropFront(n: number): void {
    n = Math.min(n, this.length);
    this.head += n;
    this.length -= n;
    while (this.blocks.length > 0 && (this.firstBlock + 1) * BLOCK <= this.head) {
      this.spare = this.blocks.shift()!;
      this.firstBlock++;
    }
  }

  /** Items whose absolute index is below `abs`, from the front (they left the log). */
  countBelow(abs: number): number {
    let n = 0;
    while (n < this.length && this.abs(n) < abs) n++;
    return n;
  }

  clear(): void {
    this.blocks = [];
    this.firstBlock = 0;
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
