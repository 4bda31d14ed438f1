import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WireEvent } from '../capture/events.ts';
import type { CaptureStore } from '../capture/store.ts';
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
  /** Events queued for one page at most; past that the oldest are shed (and counted). */
  maxQueue?: number;
  /** The wiretap's clock, so a page can tell how old the newest event is. */
  now?: () => number;
  /** Messages a page gets right after the history (the runner's state, recent console lines). */
  extraHistory?: () => StreamMessage[];
}

/** Console lines sent per flush at most: a server printing in a loop must not flood the pages. */
const CONSOLE_PER_FLUSH = 500;

interface Subscriber {
  ws: WebSocket;
  /** Sequence number after the last event sent. */
  sent: number;
  /**
   * Flow control the page asked for: at most `window` events sent and not yet acknowledged
   * (the page acknowledges after it has applied them, so a busy page slows its own stream
   * instead of queueing work it cannot do). Null: socket back-pressure only.
   */
  window: number | null;
  /** Batches sent and not yet acknowledged: [sequence number after the batch, event count]. */
  inflight: Array<[end: number, count: number]>;
  outstanding: number;
  queue: WireEvent[];
  queueFrom: number;
  shed: number;
  shedSinceReport: number;
}

/** History is sent in slices of this many events, so a full store does not become one huge message. */
const HISTORY_SLICE = 2000;

/**
 * The dashboard's one WebSocket: history from the store on (re)load, then live events in
 * batches. A slow or hidden tab never costs unbounded memory: its queue is capped and what it
 * misses is counted and told to it (`shed`).
 */
export class EventStream {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly subs = new Set<Subscriber>();
  private readonly timer: NodeJS.Timeout;
  private readonly statusTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly flushMs: number;
  private readonly highWater: number;
  private readonly maxQueue: number;

  constructor(private readonly opts: EventStreamOptions) {
    this.flushMs = opts.flushMs ?? 50;
    this.highWater = opts.highWaterBytes ?? 1024 * 1024;
    this.maxQueue = opts.maxQueue ?? 20_000;
    this.unsubscribe = opts.store.subscribe((events) => this.enqueue(events));
    this.timer = setInterval(() => this.flush(), this.flushMs);
    this.timer.unref();
    this.statusTimer = setInterval(() => this.broadcast({ kind: 'status', ...this.status() }), 1000);
    this.statusTimer.unref();
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** Per open page: events queued for it, bytes its socket holds unsent, events shed so far. */
  get pages(): Array<{ queued: number; buffered: number; shed: number }> {
    return [...this.subs].map((s) => ({ queued: s.queue.length, buffered: s.ws.bufferedAmount, shed: s.shed }));
  }

  private status(): StoreStatus {
    const s = this.opts.store;
    const status: StoreStatus = { size: s.size, dropped: s.dropped, counts: { ...s.counts }, connections: this.opts.connections() };
    if (this.opts.now) status.now = this.opts.now();
    return status;
  }

  /** Take over an HTTP upgrade that the guard already accepted. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws));
  }

  private attach(ws: WebSocket): void {
    const store = this.opts.store;
    const nextSeq = store.nextSeq;
    const sub: Subscriber = { ws, sent: nextSeq, window: null, inflight: [], outstanding: 0, queue: [], queueFrom: nextSeq, shed: 0, shedSinceReport: 0 };
    this.send(ws, { kind: 'hello', version: 1, topology: this.opts.topology(), nextSeq, ...this.status() });
    const history = store.since(0);
    let from = nextSeq - history.length;
    for (let i = 0; i < history.length; i += HISTORY_SLICE) {
      const events = history.slice(i, i + HISTORY_SLICE);
      this.send(ws, { kind: 'events', from, events, history: true });
      from += events.length;
    }
    for (const msg of this.opts.extraHistory?.() ?? []) this.send(ws, msg);
    this.subs.add(sub);
    log('dashboard page connected (%d history events, %d pages open)', history.length, this.subs.size);
    ws.on('message', (data) => this.command(sub, data.toString()));
    ws.on('close', () => this.subs.delete(sub));
    ws.on('error', () => this.subs.delete(sub));
  }

  /** Page → server: `{ kind: 'flow', window }` turns on acknowledgements; `{ kind: 'ack', seq }` acknowledges up to seq. */
  private command(sub: Subscriber, text: string): void {
    let msg: { kind?: string; window?: number; seq?: number };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.kind === 'flow' && typeof msg.window === 'number' && msg.window >= 100) {
      sub.window = Math.min(msg.window, 100_000);
    } else if (msg.kind === 'ack' && typeof msg.seq === 'number') {
      while (sub.inflight.length > 0 && sub.inflight[0]![0] <= msg.seq) sub.outstanding -= sub.inflight.shift()![1];
    }
  }

  private enqueue(events: WireEvent[]): void {
    for (const sub of this.subs) {
      sub.queue.push(...events);
      const over = sub.queue.length - this.maxQueue;
      if (over > 0) {
        sub.queue.splice(0, over);
        sub.queueFrom += over;
        sub.shed += over;
        sub.shedSinceReport += over;
      }
    }
  }

  private flush(): void {
    if (this.consoleQueue.length > 0 || this.consoleSkipped > 0) {
      const msg: StreamMessage = { kind: 'console', lines: this.consoleQueue };
      if (this.consoleSkipped > 0) msg.skipped = this.consoleSkipped;
      this.consoleQueue = [];
      this.consoleSkipped = 0;
      this.broadcast(msg);
    }
    for (const sub of this.subs) {
      // A page that has not read what it was sent gets nothing more until it catches up.
      if (sub.ws.bufferedAmount > this.highWater) continue;
      if (sub.shedSinceReport > 0) {
        this.send(sub.ws, { kind: 'shed', count: sub.shedSinceReport, total: sub.shed });
        sub.shedSinceReport = 0;
      }
      if (sub.queue.length === 0) continue;
      const room = sub.window === null ? Infinity : sub.window - sub.outstanding;
      if (room <= 0) continue;
      const from = sub.queueFrom;
      const events = room >= sub.queue.length ? sub.queue : sub.queue.slice(0, room);
      sub.queue = events === sub.queue ? [] : sub.queue.slice(room);
      sub.queueFrom = from + events.length;
      sub.sent = sub.queueFrom;
      if (sub.window !== null) {
        sub.inflight.push([sub.sent, events.length]);
        sub.outstanding += events.length;
      }
      this.send(sub.ws, { kind: 'events', from, events });
    }
  }

  private consoleQueue: ConsoleLine[] = [];
  private consoleSkipped = 0;

  /** Queue an output line for every page (sent with the next flush, batched). */
  consoleLine(line: ConsoleLine): void {
    if (this.consoleQueue.length >= CONSOLE_PER_FLUSH) this.consoleSkipped++;
    else this.consoleQueue.push(line);
  }

  /** Send a message to every page now (runner state, file changes, topology). */
  publish(msg: StreamMessage): void {
    this.broadcast(msg);
  }

  private broadcast(msg: StreamMessage): void {
    for (const sub of this.subs) if (sub.ws.bufferedAmount <= this.highWater) this.send(sub.ws, msg);
  }

  private send(ws: WebSocket, msg: StreamMessage): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.statusTimer);
    this.unsubscribe();
    for (const sub of this.subs) sub.ws.terminate();
    this.subs.clear();
    this.wss.close();
  }
}
