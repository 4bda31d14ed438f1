import { constants, createInflateRaw, type InflateRaw } from 'node:zlib';
import type { ViolationEvent, WireEvent } from '../capture/events.ts';
import { materialize } from '../capture/materialize.ts';
import type { PendingInflation } from '../protocol/message-assembler.ts';

/**
 * Inflation off the relay's path: the stage between the wiretap's decoders (which, with
 * deferred inflation, hand out compressed messages as PendingInflation) and `onEvents`.
 *
 * A message that inflates to megabytes costs tens of milliseconds of zlib. Done in the decoder,
 * on the thread that relays every connection, a client sending 15 KB frames that each inflate to
 * 15 MiB held every other connection's bytes (and its 101) for seconds. Here:
 * - a message that inflates to little is inflated on the spot, as before, within a budget per
 *   turn of the event loop (all connections together), so ordinary traffic keeps its events in
 *   the same tick. The budget counts what a message costs: the bytes it inflates to, plus a
 *   fixed charge for the fresh zlib context and window each message needs, whatever its size
 *   (bytes, not time: the same traffic gets the same treatment on a busy machine). Past the
 *   budget, messages wait for the next turn;
 * - anything larger, or past the turn's budget, is inflated on libuv's thread pool through
 *   zlib's stream API: the relay's thread only takes the output in 1 MiB pieces, one per
 *   callback, keeping the length, a preview, the UTF-8 check and the window (InflatedOutput),
 *   never the whole output (a 15 MiB message costs it a few milliseconds, in 15 slices).
 *   A few at once (the pool also serves files and DNS), connections taking turns, so one
 *   connection's bombs delay another's compressed messages by at most one message each.
 *
 * Order: each connection's events come out in the order the decoder made them. A message
 * waiting for inflation holds back the events after it on its connection (its violations must
 * follow it, and its direction's next message needs its history); other connections never wait.
 *
 * Bounded, per connection and in total: compressed messages waiting (items, bytes) and events
 * held back behind them (items, bytes). A message past the first bound is not inflated; one
 * held back past the second makes the connection's waiting messages give up. Either way the
 * message says why in its `inflateError`, and with context takeover the messages after it say
 * they could not be inflated; `stats` counts them.
 */
export interface InflationLimits {
  /** Cost inflated on the spot per turn of the event loop, all connections together, in bytes. */
  spotBytesPerTurn: number;
  /** What each message inflated on the spot costs besides its output (a zlib context, its window). */
  spotMessageCost: number;
  /** A message inflating to more than this goes to the thread pool. */
  spotMessageBytes: number;
  /** Messages inflating on the thread pool at once, all connections together. */
  running: number;
  /** Compressed messages waiting per connection, and their compressed bytes. */
  connMessages: number;
  connBytes: number;
  /** Events held back per connection behind a message being inflated, and their size. */
  connEvents: number;
  connEventBytes: number;
  totalMessages: number;
  totalBytes: number;
  totalEvents: number;
  totalEventBytes: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_INFLATION_LIMITS: InflationLimits = {
  spotBytesPerTurn: 4 * MiB,
  spotMessageCost: 16 * 1024,
  spotMessageBytes: 256 * 1024,
  running: 2,
  connMessages: 4096,
  connBytes: 16 * MiB,
  connEvents: 20_000,
  connEventBytes: 32 * MiB,
  totalMessages: 16_384,
  totalBytes: 64 * MiB,
  totalEvents: 100_000,
  totalEventBytes: 128 * MiB,
};

/**
 * Output piece size: how much the relay's thread takes per callback from the pool. Pieces are
 * not kept (InflatedOutput keeps a preview and the window), so larger ones only mean fewer
 * callbacks: 64 KiB pieces cost a 15 MiB message several times the relay-thread time of 256 KiB
 * ones; 1 MiB pieces make it 15 callbacks, each mostly a UTF-8 check (isUtf8) of the piece.
 */
const PIECE = 1024 * 1024;

export interface InflationStats {
  /** Messages inflated on the spot (within the turn's budget). */
  onSpot: number;
  /** Messages inflated on the thread pool. */
  aside: number;
  /** Messages not inflated because a bound was reached (each says so in its `inflateError`). */
  refused: number;
  /** Inflating on the thread pool now, and waiting for a turn there. */
  running: number;
  waiting: number;
  /** Events held back behind messages being inflated, all connections. */
  heldEvents: number;
}

/** One connection's events held back behind a message being inflated. */
interface Queue {
  conn: number;
  events: WireEvent[];
  /** The size each held event was counted at (an event grows once inflated). */
  weights: number[];
  head: number;
  eventBytes: number;
  /** Compressed messages among the held events, with the compressed bytes counted for each. */
  jobs: Map<WireEvent, Job>;
  jobBytes: number;
  /** Compressed messages waiting and counted (not refused on arrival). */
  jobCount: number;
  /** The head job, inflating on the pool. */
  running: Running | null;
  /** In the line for a place on the pool. */
  ready: boolean;
  /** Waiting for the next turn's budget to inflate its head message on the spot. */
  nextTurn: boolean;
}

interface Job {
  job: PendingInflation;
  /** Compressed bytes counted for it (0 once refused). */
  bytes: number;
  /** Counted in the total of waiting messages (not when refused on arrival). */
  counted: boolean;
}

interface Running {
  stream: InflateRaw | null;
  done: boolean;
}

export class InflationStage {
  private readonly queues = new Map<number, Queue>();
  /** Connections whose head message waits for a place on the pool, first come first served. */
  private readonly line: Queue[] = [];
  /** Connections whose head message waits for the next turn's budget. */
  private readonly waitingTurn = new Set<Queue>();
  /** What is left of this turn's budget for inflating on the spot (InflationLimits.spotBytesPerTurn). */
  private spotLeft: number;
  private refill: NodeJS.Immediate | null = null;
  private running = 0;
  private totalJobs = 0;
  private totalJobBytes = 0;
  private totalEvents = 0;
  private totalEventBytes = 0;
  private readonly counts = { onSpot: 0, aside: 0, refused: 0 };
  private readonly limits: InflationLimits;

  constructor(
    private readonly emit: (events: WireEvent[]) => void,
    limits: Partial<InflationLimits> = {},
    /** Events go out lazy (server/capture/events.ts); otherwise an inflated message is made here. */
    private readonly lazy = false,
  ) {
    this.limits = { ...DEFAULT_INFLATION_LIMITS, ...limits };
    this.spotLeft = this.limits.spotBytesPerTurn;
  }

  get stats(): InflationStats {
    return { ...this.counts, running: this.running, waiting: this.line.length, heldEvents: this.totalEvents };
  }

  /** True when nothing is held back or inflating. */
  get idle(): boolean {
    return this.queues.size === 0;
  }

  /** A connection's next events, with the compressed messages among them (ConnectionDecoder.takeInflations). */
  push(conn: number, events: WireEvent[], jobs: readonly PendingInflation[]): void {
    let q = this.queues.get(conn);
    // The relay's common case: nothing to inflate, nothing held back.
    if (q === undefined && jobs.length === 0) {
      if (events.length > 0) this.emit(events);
      return;
    }
    if (q === undefined) {
      q = { conn, events: [], weights: [], head: 0, eventBytes: 0, jobs: new Map(), jobBytes: 0, jobCount: 0, running: null, ready: false, nextTurn: false };
      this.queues.set(conn, q);
    }
    for (const job of jobs) this.admit(q, job);
    for (const e of events) {
      const w = weigh(e);
      q.events.push(e);
      q.weights.push(w);
      q.eventBytes += w;
      this.totalEvents++;
      this.totalEventBytes += w;
    }
    const held = q.events.length - q.head;
    const l = this.limits;
    const out: WireEvent[] = [];
    if (held > l.connEvents || q.eventBytes > l.connEventBytes) {
      this.giveUp(q, `${held} events of this connection (${mib(q.eventBytes)}) were held back behind messages being inflated, more than the wiretap holds per connection (${l.connEvents} events, ${mib(l.connEventBytes)})`, out);
    } else if (this.totalEvents > l.totalEvents || this.totalEventBytes > l.totalEventBytes) {
      this.giveUp(q, `${this.totalEvents} events (${mib(this.totalEventBytes)}) were held back behind messages being inflated, more than the wiretap holds (${l.totalEvents} events, ${mib(l.totalEventBytes)})`, out);
    }
    this.pump(q, out);
    this.startNext();
  }

  /**
   * Stop waiting: every held-back message of every connection is given up (its
   * `inflateError` says `reason`) and every held event goes out now. For the wiretap's close.
   */
  flush(reason: string): void {
    for (const q of [...this.queues.values()]) {
      const out: WireEvent[] = [];
      this.giveUp(q, reason, out);
      this.pump(q, out);
    }
  }

  /** A compressed message joins its connection's queue, or is refused when the queues are full. */
  private admit(q: Queue, job: PendingInflation): void {
    const bytes = job.size;
    const l = this.limits;
    const waiting = q.jobCount;
    let refusal: string | null = null;
    if (waiting >= l.connMessages || q.jobBytes + bytes > l.connBytes) {
      refusal = `this connection had ${waiting} compressed messages (${mib(q.jobBytes)}) waiting to be inflated, the most the wiretap holds per connection (${l.connMessages} messages, ${mib(l.connBytes)}); it was relayed as it came`;
    } else if (this.totalJobs >= l.totalMessages || this.totalJobBytes + bytes > l.totalBytes) {
      refusal = `${this.totalJobs} compressed messages (${mib(this.totalJobBytes)}) were waiting to be inflated, the most the wiretap holds (${l.totalMessages} messages, ${mib(l.totalBytes)}); it was relayed as it came`;
    }
    if (refusal !== null) {
      job.refuse(refusal);
      this.counts.refused++;
      q.jobs.set(job.event, { job, bytes: 0, counted: false });
      return;
    }
    q.jobs.set(job.event, { job, bytes, counted: true });
    q.jobBytes += bytes;
    q.jobCount++;
    this.totalJobs++;
    this.totalJobBytes += bytes;
  }

  /** Every message of `q` still to inflate is refused; the one inflating is stopped, and goes into `out`. */
  private giveUp(q: Queue, reason: string, out: WireEvent[]): void {
    for (const { job } of q.jobs.values()) {
      if (!job.refused) this.counts.refused++;
      job.refuse(reason);
    }
    if (q.ready) {
      q.ready = false;
      this.line.splice(this.line.indexOf(q), 1);
    }
    q.nextTurn = false;
    this.waitingTurn.delete(q);
    const r = q.running;
    if (r) {
      // The head message: its inflater has not moved (it moves only when a message completes).
      this.stop(q, r);
      this.complete(q, q.jobs.get(q.events[q.head]!)!.job.skip(reason), out);
    }
  }

  /**
   * Send out what is no longer held back: events up to the next message that must wait, which
   * is then inflated on the pool (or waits in line for it). Everything goes out in one batch,
   * in order: nothing called from here emits.
   */
  private pump(q: Queue, out: WireEvent[] = []): void {
    while (q.head < q.events.length) {
      const e = q.events[q.head]!;
      const entry = q.jobs.get(e);
      if (entry) {
        if (q.running || q.ready || q.nextTurn) break;
        let after = this.onSpot(entry);
        if (after === 'next turn') {
          q.nextTurn = true;
          this.waitingTurn.add(q);
          break;
        }
        if (after !== null) this.counts.onSpot++;
        else {
          after = this.toPool(q, entry);
          if (after === null) break;
        }
        this.take(q, e, entry);
        out.push(this.made(e));
        for (const v of after) out.push(v);
      } else {
        out.push(e);
      }
      this.drop(q);
    }
    if (q.head === q.events.length) {
      q.events.length = 0;
      q.weights.length = 0;
      q.head = 0;
      if (!q.running && !q.ready && !q.nextTurn) this.queues.delete(q.conn);
    } else if (q.head > 1024 && q.head * 2 > q.events.length) {
      q.events.splice(0, q.head);
      q.weights.splice(0, q.head);
      q.head = 0;
    }
    if (out.length > 0) this.emit(out);
  }

  /** The head event leaves the queue. */
  private drop(q: Queue): void {
    const w = q.weights[q.head]!;
    q.eventBytes -= w;
    this.totalEvents--;
    this.totalEventBytes -= w;
    q.head++;
  }

  /** A message is done: no longer counted as waiting. */
  private take(q: Queue, e: WireEvent, entry: Job): void {
    q.jobs.delete(e);
    q.jobBytes -= entry.bytes;
    this.totalJobBytes -= entry.bytes;
    if (entry.counted) {
      this.totalJobs--;
      q.jobCount--;
    }
  }

  /** The head message of `q` is complete: it goes into `out` with its violations. */
  private complete(q: Queue, after: ViolationEvent[], out: WireEvent[]): void {
    const e = q.events[q.head]!;
    this.take(q, e, q.jobs.get(e)!);
    out.push(this.made(e));
    for (const v of after) out.push(v);
    this.drop(q);
  }

  /**
   * Inflate at once if the message inflates to at most spotMessageBytes: the violations that
   * follow it. Null: it inflates to more (the pool's work). 'next turn': this turn's budget is
   * spent. Either way nothing has changed.
   */
  private onSpot(entry: Job): ViolationEvent[] | null | 'next turn' {
    if (entry.job.refused) return entry.job.inflateNow();
    if (this.limits.spotMessageBytes <= 0) return null;
    // Spent (refill is set when anything was spent this turn; at least one message a turn goes).
    if (this.spotLeft <= 0 && this.refill !== null) return 'next turn';
    const after = entry.job.inflateNow(this.limits.spotMessageBytes);
    // A trial given up on cost its limit; a message inflated, its length (the compressed size when it failed).
    this.spend(this.limits.spotMessageCost + (after === null ? this.limits.spotMessageBytes : entry.job.event.length));
    return after;
  }

  private spend(cost: number): void {
    this.spotLeft -= cost;
    if (this.refill === null) {
      this.refill = setImmediate(() => {
        this.refill = null;
        this.spotLeft = this.limits.spotBytesPerTurn;
        // Connections that waited for this turn, in the order they began to wait.
        const waiting = [...this.waitingTurn];
        this.waitingTurn.clear();
        for (const q of waiting) {
          q.nextTurn = false;
          this.pump(q);
        }
        this.startNext();
      });
    }
  }

  /**
   * The head message of `q` goes to the pool, or in line for a place there: null. Or it turns
   * out there is nothing to inflate (refused, its history lost): the violations that follow it.
   */
  private toPool(q: Queue, entry: Job): ViolationEvent[] | null {
    if (this.running >= this.limits.running) {
      q.ready = true;
      this.line.push(q);
      return null;
    }
    const job = entry.job;
    const begun = job.begin();
    if (Array.isArray(begun)) return begun;
    const { plan, output } = begun;
    const r: Running = { stream: null, done: false };
    q.running = r;
    this.running++;
    const finish = (after: ViolationEvent[]) => {
      this.stop(q, r);
      this.counts.aside++;
      const out: WireEvent[] = [];
      this.complete(q, after, out);
      this.pump(q, out);
      this.startNext();
    };
    const pass = (strict: boolean) => {
      const z = createInflateRaw({
        windowBits: plan.windowBits,
        chunkSize: PIECE,
        ...(plan.dictionary ? { dictionary: plan.dictionary } : {}),
        ...(strict ? {} : { finishFlush: constants.Z_SYNC_FLUSH }),
      });
      r.stream = z;
      const out = output();
      z.on('data', (piece: Buffer) => {
        if (!r.done && !out.push(piece)) finish(job.streamFailed('too-large'));
      });
      z.on('error', (err) => {
        if (r.done) return;
        // Not a proper message: inflate it as a lenient receiver does (MessageInflater.inflate).
        if (strict) pass(false);
        else finish(job.streamFailed(err));
      });
      z.on('end', () => {
        if (!r.done) finish(job.streamed(out, !strict));
      });
      z.end(strict ? plan.strict : plan.lenient);
    };
    pass(true);
    return null;
  }

  /** Connections in line take the places free on the pool. */
  private startNext(): void {
    while (this.running < this.limits.running && this.line.length > 0) {
      const q = this.line.shift()!;
      q.ready = false;
      this.pump(q);
    }
  }

  /** Stop a message inflating on the pool (done, or given up). */
  private stop(q: Queue, r: Running): void {
    r.done = true;
    r.stream?.destroy();
    r.stream = null;
    if (q.running === r) {
      q.running = null;
      this.running--;
    }
  }

  private made(e: WireEvent): WireEvent {
    return this.lazy ? e : materialize(e);
  }
}

/** Roughly what an event holds: its fields, and its payload as bytes or as strings. */
function weigh(e: WireEvent): number {
  let w = 256;
  if ('_bytes' in e && e._bytes) w += e._bytes.byteLength;
  if (e.type === 'frame' || e.type === 'ping' || e.type === 'pong') w += e.payload.length;
  else if (e.type === 'message') w += (e.text?.length ?? 0) + (e.base64?.length ?? 0);
  return w;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
