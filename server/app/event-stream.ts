import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WireEvent } from '../capture/events.ts';
import { eventWeight, type CaptureStore } from '../capture/store.ts';
import type { ConsoleLine, StoreStatus, StreamMessage, TopologyInfo } from './stream-protocol.ts';

const log = createDebug('wsplay:dashboard');

export interface EventStreamOptions {
  store: CaptureStore;
  topology: () => TopologyInfo;
  connections: () => number;
  /** How often queued events go out (the page applies them once per animation frame). */
  flushMs?: number;
  /** Bytes the socket may hold unsent before this page counts as slow. */
  highWaterBytes?: number;
  /**
   * Live events owed to one page at most; past that the oldest are shed (and counted). What is
   * owed is a position in the store, not a copy: 200,000 (10 s of 10,000 frames a second with
   * their messages, what the store holds) lets a page ride out a stall (a collection, a machine
   * busy with other work) and catch up, showing every frame late rather than some never.
   */
  maxQueue?: number;
  /** Bytes of serialized batches kept to share between pages, all pages together. */
  cacheBytes?: number;
  /** The wiretap's clock, so a page can tell how old the newest event is. */
  now?: () => number;
  /** Messages a page gets right after the hello (the runner's state, recent console lines). */
  extraHistory?: () => StreamMessage[];
}

/** Console lines sent per flush at most: a server printing in a loop must not flood the pages. */
const CONSOLE_PER_FLUSH = 500;
/** …and characters of them (a line is at most 8 K characters: server/runner/console-lines.ts). */
const CONSOLE_CHARS_PER_FLUSH = 256 * 1024;

/** A batch of events holds at most this many… */
export const BATCH_EVENTS = 500;
/** …and about this many bytes of JSON (at least one event: a payload preview is at most 64 KiB). */
export const BATCH_BYTES = 512 * 1024;
/**
 * Serializing batches gets at most this long per turn of the event loop; the rest waits for the
 * next turn. A page loading 100,000 events of history then costs the wiretap a few milliseconds
 * at a time, never one long stop of every connection it relays.
 */
const SLICE_MS = 8;

/** A page's flow-control window, if it asked for a sensible one (100 to 100,000 events). */
function windowOf(value: unknown): number | null {
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 100 ? Math.floor(Math.min(n, 100_000)) : null;
}

/**
 * Live events kept as made for the next batches, at most this weight (store.ts's measure): a
 * page's window's worth (the dashboard asks for 16,000). A page whose acknowledgements come a few
 * hundred ms late reads a little behind the newest events; were those no longer here, each batch
 * would be made again from the store's packed form, which costs more than the page's lag saves,
 * and the page falls further behind until its events are shed (issue 19).
 */
const RECENT_EVENTS = 32 * BATCH_EVENTS;
const RECENT_WEIGHT = 16 * 1024 * 1024;

/** Events [from, to) as one `events` message, serialized once and sent as is to every page that needs it. */
interface Batch {
  from: number;
  to: number;
  data: Uint8Array;
}

/**
 * JSON text → UTF-8 bytes for the socket. TextEncoder, not Buffer.from: on Node 20 it encodes a
 * batch's JSON (130 KB of one-byte text) about twice as fast (0.045 vs 0.087 ms once the string
 * is flat). ws sends a Uint8Array as is.
 */
const utf8 = new TextEncoder();

/**
 * One open page. What it is still owed is not a copy of events but a position in the store's
 * numbering: `cursor` (the next event to send); events below `historyEnd` are the history the
 * store held when it connected, and live events from `liveNext` on (the ones between
 * `historyEnd` and `liveNext` were shed while it was still reading its history). So a page that
 * reads nothing costs what its socket holds (bounded by `highWaterBytes`), not the store again.
 */
interface Page {
  ws: WebSocket;
  cursor: number;
  historyEnd: number;
  liveNext: number;
  /**
   * Flow control the page asked for: at most `window` events sent and not yet acknowledged
   * (the page acknowledges after it has applied them, so a busy page slows its own stream
   * instead of queueing work it cannot do). Null: socket back-pressure only.
   */
  window: number | null;
  /** Batches sent and not yet acknowledged: [sequence number after the batch, event count]. */
  inflight: Array<[end: number, count: number]>;
  outstanding: number;
  shed: number;
  shedSinceReport: number;
}

/**
 * The dashboard's one WebSocket: history from the store on (re)load, then live events, through
 * one acknowledged, bounded queue. Events go out in batches serialized once and shared by every
 * page (a cache bounded in bytes), in slices of work that leave the event loop to the wiretap.
 * A slow or hidden tab never costs unbounded memory: it is sent no more than its socket and its
 * window hold, its live backlog is capped, and what it misses is counted and told to it (`shed`).
 */
export class EventStream {
  /** A page sends only `flow` and `ack` commands, a few dozen bytes: nothing larger is read. */
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 });
  private readonly subs = new Set<Page>();
  private readonly timer: NodeJS.Timeout;
  private readonly statusTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly flushMs: number;
  private readonly highWater: number;
  private readonly maxQueue: number;
  private readonly cacheMax: number;
  /** Serialized batches, sorted by `from` (two may overlap where a page was moved past what it shed). */
  private batches: Batch[] = [];
  private cachedBytes = 0;
  private pumpPending = false;
  /** Batches serialized and events in them since the start (for tests and the bench). */
  serialized = { batches: 0, events: 0 };

  constructor(private readonly opts: EventStreamOptions) {
    this.flushMs = opts.flushMs ?? 50;
    this.highWater = opts.highWaterBytes ?? 1024 * 1024;
    this.maxQueue = opts.maxQueue ?? 200_000;
    this.cacheMax = opts.cacheBytes ?? 32 * 1024 * 1024;
    this.unsubscribe = opts.store.subscribe((events) => this.onEvents(events));
    this.timer = setInterval(() => this.flush(), this.flushMs);
    this.timer.unref();
    this.statusTimer = setInterval(() => this.broadcast({ kind: 'status', ...this.status() }), 1000);
    this.statusTimer.unref();
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** Per open page: events still owed to it, bytes its socket holds unsent, events shed so far. */
  get pages(): Array<{ queued: number; buffered: number; shed: number }> {
    const end = this.opts.store.nextSeq;
    return [...this.subs].map((p) => ({ queued: this.owed(p, end), buffered: p.ws.bufferedAmount, shed: p.shed }));
  }

  /** Bytes of serialized batches held for sharing, all pages together. */
  get cacheBytes(): number {
    return this.cachedBytes;
  }

  private owed(p: Page, end: number): number {
    return p.cursor < p.historyEnd ? p.historyEnd - p.cursor + Math.max(0, end - p.liveNext) : Math.max(0, end - p.cursor);
  }

  private status(): StoreStatus {
    const s = this.opts.store;
    const status: StoreStatus = { size: s.size, dropped: s.dropped, counts: { ...s.counts }, connections: this.opts.connections() };
    if (this.opts.now) status.now = this.opts.now();
    return status;
  }

  /** Take over an HTTP upgrade that the guard already accepted. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // `?window=N` asks for flow control from the first batch on (as `{ kind: 'flow' }` does
    // from when it arrives): the history is then paced by the page's acknowledgements too.
    const window = windowOf(new URL(req.url ?? '/', 'http://localhost').searchParams.get('window'));
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, window));
  }

  private attach(ws: WebSocket, window: number | null): void {
    const store = this.opts.store;
    const nextSeq = store.nextSeq;
    const page: Page = { ws, cursor: store.firstSeq, historyEnd: nextSeq, liveNext: nextSeq, window, inflight: [], outstanding: 0, shed: 0, shedSinceReport: 0 };
    this.send(ws, { kind: 'hello', version: 1, topology: this.opts.topology(), nextSeq, ...this.status() });
    for (const msg of this.opts.extraHistory?.() ?? []) this.send(ws, msg);
    this.subs.add(page);
    log('dashboard page connected (%d history events, %d pages open)', nextSeq - page.cursor, this.subs.size);
    ws.on('message', (data) => this.command(page, data.toString()));
    ws.on('close', () => this.subs.delete(page));
    ws.on('error', () => this.subs.delete(page));
    this.schedulePump();
  }

  /** Page → server: `{ kind: 'flow', window }` turns on acknowledgements; `{ kind: 'ack', seq }` acknowledges up to seq. */
  private command(p: Page, text: string): void {
    let msg: { kind?: string; window?: number; seq?: number };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.kind === 'flow') {
      const window = windowOf(msg.window);
      if (window !== null) p.window = window;
    } else if (msg.kind === 'ack' && typeof msg.seq === 'number') {
      while (p.inflight.length > 0 && p.inflight[0]![0] <= msg.seq) p.outstanding -= p.inflight.shift()![1];
      // The page has room again: a page loading its history need not wait for the next flush.
      this.schedulePump();
    }
  }

  /**
   * The newest events as the store handed them out (made already), so live batches need not
   * make them again from the store's packed form. Bounded in events and in weight (store.ts).
   */
  private recent: WireEvent[] = [];
  /** Each one's weight (store.ts's measure), beside it: it is let go by the weight it came with. */
  private recentWeights: number[] = [];
  /** Index in `recent` of the oldest event kept; `recentFrom` is its sequence number. */
  private recentHead = 0;
  private recentFrom = 0;
  private recentWeight = 0;

  /** Events kept as made for batches not made yet (for tests and the bench). */
  get recentHeld(): number {
    return this.recent.length - this.recentHead;
  }

  /** New events in the store: cap each page's live backlog now (what is owed is a count, not a copy). */
  private onEvents(events: WireEvent[]): void {
    if (this.subs.size === 0 || events.length === 0) return;
    this.remember(events);
    const from = this.opts.store.nextSeq - this.maxQueue;
    for (const p of this.subs) this.shedLiveBefore(p, from);
  }

  private remember(events: WireEvent[]): void {
    const from = this.opts.store.nextSeq - events.length;
    if (this.recentFrom + this.recent.length - this.recentHead !== from) {
      this.recent = [];
      this.recentWeights = [];
      this.recentHead = 0;
      this.recentFrom = from;
      this.recentWeight = 0;
    }
    for (const e of events) {
      const w = eventWeight(e);
      this.recent.push(e);
      this.recentWeights.push(w);
      this.recentWeight += w;
    }
    this.forgetBefore(this.recentFrom);
  }

  /**
   * Let go of the recent events below `seq`, and of the oldest while the bounds are passed. Those
   * every page has been sent are in batches now (pump calls this with the lowest position a page
   * still needs): kept, each would outlive the young generation's collections and be copied into
   * the old one, which cost more than any other step of the stream at 10,000 frames/s.
   */
  private forgetBefore(seq: number): void {
    while (
      this.recent.length - this.recentHead > 0 &&
      (this.recentFrom < seq || this.recent.length - this.recentHead > RECENT_EVENTS || this.recentWeight > RECENT_WEIGHT)
    ) {
      this.recentWeight -= this.recentWeights[this.recentHead]!;
      this.recent[this.recentHead++] = undefined as unknown as WireEvent;
      this.recentFrom++;
    }
    // Compact now and then, not on every batch (the wiretap adds events a few at a time).
    if (this.recentHead > RECENT_EVENTS || (this.recentHead > 0 && this.recentHead === this.recent.length)) {
      this.recent = this.recent.slice(this.recentHead);
      this.recentWeights = this.recentWeights.slice(this.recentHead);
      this.recentHead = 0;
    }
  }

  /** The lowest sequence number a page may still be sent from `recent`: live events it has not been sent. */
  private lowestNeeded(): number {
    let need = this.opts.store.nextSeq;
    for (const p of this.subs) need = Math.min(need, p.cursor < p.historyEnd ? p.liveNext : p.cursor);
    return need;
  }

  /** Events [from, to): from those just seen if they are there, else from the store. */
  private eventsIn(from: number, to: number): WireEvent[] {
    const held = this.recent.length - this.recentHead;
    if (from >= this.recentFrom && to <= this.recentFrom + held) {
      const at = this.recentHead + from - this.recentFrom;
      return this.recent.slice(at, at + to - from);
    }
    return this.opts.store.range(from, to);
  }

  /** Shed the live events below `seq` this page has not been sent. */
  private shedLiveBefore(p: Page, seq: number): void {
    if (p.cursor >= p.historyEnd) {
      this.skip(p, seq);
    } else if (seq > p.liveNext) {
      this.count(p, seq - p.liveNext);
      p.liveNext = seq;
    }
  }

  /** Move the page past everything below `seq` it has not been sent (the store no longer holds it, or it is shed). */
  private skip(p: Page, seq: number): void {
    if (seq <= p.cursor) return;
    if (p.cursor < p.historyEnd) {
      this.count(p, Math.min(seq, p.historyEnd) - p.cursor + Math.max(0, seq - p.liveNext));
      if (seq >= p.historyEnd) p.cursor = p.liveNext = Math.max(p.liveNext, seq);
      else p.cursor = seq;
    } else {
      this.count(p, seq - p.cursor);
      p.cursor = p.liveNext = seq;
    }
  }

  private count(p: Page, n: number): void {
    p.shed += n;
    p.shedSinceReport += n;
  }

  private flush(): void {
    if (this.consoleQueue.length > 0 || this.consoleSkipped > 0) {
      const msg: StreamMessage = { kind: 'console', lines: this.consoleQueue };
      if (this.consoleSkipped > 0) msg.skipped = this.consoleSkipped;
      this.consoleQueue = [];
      this.consoleChars = 0;
      this.consoleSkipped = 0;
      this.broadcast(msg);
    }
    for (const p of this.subs) {
      if (p.shedSinceReport > 0 && p.ws.bufferedAmount <= this.highWater) {
        this.send(p.ws, { kind: 'shed', count: p.shedSinceReport, total: p.shed });
        p.shedSinceReport = 0;
      }
    }
    this.pump();
  }

  private schedulePump(): void {
    if (this.pumpPending) return;
    this.pumpPending = true;
    setImmediate(() => this.pump());
  }

  /**
   * Send each page the batches it has room for, a batch per page in turn, until no page has
   * room or this turn's slice of time is spent (then the rest waits for the next turn).
   */
  private pump(): void {
    this.pumpPending = false;
    const started = performance.now();
    let sent = true;
    while (sent) {
      sent = false;
      for (const p of this.subs) {
        if (performance.now() - started > SLICE_MS) {
          this.schedulePump();
          this.evict();
          return;
        }
        if (this.sendNext(p)) sent = true;
      }
    }
    this.forgetBefore(this.lowestNeeded());
    this.evict();
  }

  /** Send the page its next batch if it has room for it; true if something changed. */
  private sendNext(p: Page): boolean {
    const ws = p.ws;
    if (ws.readyState !== ws.OPEN || ws.bufferedAmount > this.highWater) return false;
    if (p.window !== null && p.outstanding >= p.window) return false;
    const store = this.opts.store;
    const end = store.nextSeq;
    if (p.cursor >= end) return false;
    // History stops where it ended when live events were shed after it (the gap is counted).
    const limit = p.cursor < p.historyEnd && p.liveNext > p.historyEnd ? p.historyEnd : end;
    const batch = this.batchAt(p.cursor, limit);
    if (!batch) {
      // The store's bound pushed these out before this page read them.
      this.skip(p, store.firstSeq);
      return true;
    }
    const count = batch.to - batch.from;
    // A window smaller than a batch still lets one batch through at a time.
    if (p.window !== null && p.outstanding > 0 && p.outstanding + count > p.window) return false;
    ws.send(batch.data, { binary: false });
    p.cursor = batch.to;
    if (p.cursor >= p.historyEnd && p.liveNext > p.cursor) p.cursor = p.liveNext;
    if (p.window !== null) {
      p.inflight.push([batch.to, count]);
      p.outstanding += count;
    }
    return true;
  }

  /** The batch of events starting at `from` (ending at `limit` at most): shared if made before, else made now. */
  private batchAt(from: number, limit: number): Batch | null {
    const i = this.indexOf(from);
    const next = this.batches[i];
    if (next && next.from === from && next.to <= limit) return next;
    const store = this.opts.store;
    if (from < store.firstSeq) return null;
    // End where a shared batch begins, so pages that meet there share from then on; batches
    // of history end on multiples of BATCH_EVENTS, so pages reading the same history share them.
    let to = Math.min(limit, (Math.floor(from / BATCH_EVENTS) + 1) * BATCH_EVENTS);
    if (next && next.from > from) to = Math.min(to, next.from);
    const events = this.eventsIn(from, to);
    let batch: Batch;
    // Most batches are small events well within the bound by the store's own measure (which
    // counts 2 bytes a character): one JSON.stringify of the whole message then, no string per
    // event to join and flatten. At 20,000 events a second that halves what a batch costs.
    let weight = 0;
    for (let i = 0; i < events.length && weight <= BATCH_BYTES; i++) weight += eventWeight(events[i]!);
    if (weight <= BATCH_BYTES) {
      const msg: StreamMessage = { kind: 'events', from, events };
      batch = { from, to: from + events.length, data: utf8.encode(JSON.stringify(msg)) };
    } else {
      const parts: string[] = [];
      let bytes = 0;
      for (const e of events) {
        const json = JSON.stringify(e);
        parts.push(json);
        bytes += json.length;
        if (bytes >= BATCH_BYTES) break;
      }
      batch = { from, to: from + parts.length, data: utf8.encode(`{"kind":"events","from":${from},"events":[${parts.join(',')}]}`) };
    }
    const sent = batch.to - from;
    this.serialized.batches++;
    this.serialized.events += sent;
    // A shorter batch at the place of a longer one (a page's history ends inside it): keep the new one.
    if (next && next.from === from) {
      this.cachedBytes -= next.data.length;
      this.batches[i] = batch;
    } else {
      this.batches.splice(i, 0, batch);
    }
    this.cachedBytes += batch.data.length;
    return batch;
  }

  /** Index of the first batch with `from` >= the given one. */
  private indexOf(from: number): number {
    let lo = 0;
    let hi = this.batches.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.batches[mid]!.from < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Drop batches of events the store no longer holds, then the oldest while the cache is over
   * its bound. Batches nobody needs now are kept within the bound: the next page to load (a
   * reload, a second tab) reads the same history. A page that needs a dropped batch has it made
   * again from the store: the cache saves work, it holds nothing the store does not.
   */
  private evict(): void {
    if (this.batches.length === 0) return;
    const first = this.opts.store.firstSeq;
    let drop = 0;
    let bytes = this.cachedBytes;
    while (drop < this.batches.length && (this.batches[drop]!.to <= first || bytes > this.cacheMax)) bytes -= this.batches[drop++]!.data.length;
    if (drop > 0) {
      this.batches = this.batches.slice(drop);
      this.cachedBytes = bytes;
    }
  }

  private consoleQueue: ConsoleLine[] = [];
  private consoleChars = 0;
  private consoleSkipped = 0;

  /** Queue an output line for every page (sent with the next flush, batched). */
  consoleLine(line: ConsoleLine): void {
    if (this.consoleQueue.length >= CONSOLE_PER_FLUSH || this.consoleChars + line.text.length > CONSOLE_CHARS_PER_FLUSH) {
      this.consoleSkipped++;
    } else {
      this.consoleQueue.push(line);
      this.consoleChars += line.text.length;
    }
  }

  /** Send a message to every page now (runner state, file changes, topology). */
  publish(msg: StreamMessage): void {
    this.broadcast(msg);
  }

  /** Serialized once, the same bytes to every page that is keeping up. */
  private broadcast(msg: StreamMessage): void {
    let data: Uint8Array | null = null;
    for (const p of this.subs) {
      if (p.ws.readyState !== p.ws.OPEN || p.ws.bufferedAmount > this.highWater) continue;
      data ??= utf8.encode(JSON.stringify(msg));
      p.ws.send(data, { binary: false });
    }
  }

  private send(ws: WebSocket, msg: StreamMessage): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.statusTimer);
    this.unsubscribe();
    for (const p of this.subs) p.ws.terminate();
    this.subs.clear();
    this.batches = [];
    this.cachedBytes = 0;
    this.recent = [];
    this.recentWeights = [];
    this.recentHead = 0;
    this.wss.close();
  }
}
