import type { Direction } from '../../../server/capture/events.ts';
import type { EventLog } from './event-log.ts';

/**
 * Frames, messages and bytes per quarter second, overall and per connection, counted once per
 * event as the page applies it: the Stats view reads a minute of rates from a few hundred bins
 * instead of walking the 200,000 events the page holds at 10,000 frames a second (issue 19).
 */

/** A bin's width: fine enough that a 5 s average is off by at most one bin's share (5%). */
export const SUB_MS = 250;

/** Per bin: messages, bytes, frames, each client then server. */
const MSG = 0;
const BYTES = 2;
const FRAMES = 4;
const SLOTS = 6;
const side = (d: Direction) => (d === 'client' ? 0 : 1);

export type Bins = Map<number, Float64Array>;

export interface EventSource {
  generation: number;
  /** Absolute index of the first event held (events trimmed before it). */
  eventsTrimmed: number;
  /** Read by its columns (time, type, connection, direction, a frame's bytes): no event is made. */
  events: Pick<EventLog, 'length' | 't' | 'type' | 'conn' | 'dir' | 'bytes'>;
}

export class ActivityBins {
  readonly overall: Bins = new Map();
  readonly perConn = new Map<number, Bins>();
  private generation = -1;
  /** Absolute index of the next event to count. */
  private next = 0;

  constructor(
    /** Bins older than this many ms before the newest event counted are let go. */
    private readonly keepMs: number,
  ) {}

  /** Count the events applied since the last call; start over after a reset (a recording, a reconnect). */
  update(src: EventSource): void {
    const base = src.eventsTrimmed;
    const end = base + src.events.length;
    if (src.generation !== this.generation || this.next > end) {
      this.generation = src.generation;
      this.overall.clear();
      this.perConn.clear();
      this.next = base;
      // Starting late (the page held events before): only the span kept matters.
      if (end > base) {
        const lastT = src.events.t(end - 1);
        let abs = end - 1;
        while (abs > base && src.events.t(abs - 1) >= lastT - this.keepMs) abs--;
        this.next = abs;
      }
    }
    let newest = -Infinity;
    for (let abs = Math.max(this.next, base); abs < end; abs++) {
      const ev = src.events;
      const type = ev.type(abs);
      if (type !== 'frame' && type !== 'message') continue;
      const t = ev.t(abs);
      const b = Math.floor(t / SUB_MS);
      const id = ev.conn(abs);
      let conn = this.perConn.get(id);
      if (!conn) this.perConn.set(id, (conn = new Map()));
      const s = side(ev.dir(abs));
      if (type === 'frame') {
        const bytes = ev.bytes(abs);
        add(this.overall, b, BYTES + s, bytes, FRAMES + s);
        add(conn, b, BYTES + s, bytes, FRAMES + s);
      } else {
        add(this.overall, b, MSG + s, 1, -1);
        add(conn, b, MSG + s, 1, -1);
      }
      if (t > newest) newest = t;
    }
    this.next = end;
    if (newest > -Infinity) this.prune(newest);
  }

  private prune(newest: number): void {
    const before = Math.floor((newest - this.keepMs) / SUB_MS);
    const drop = (bins: Bins) => {
      for (const k of bins.keys()) if (k < before) bins.delete(k);
    };
    // Checked once per second's worth of bins at most: a map of a few hundred keys.
    if ((this.pruned ?? -Infinity) === before) return;
    this.pruned = before;
    drop(this.overall);
    for (const [c, bins] of this.perConn) {
      drop(bins);
      if (bins.size === 0) this.perConn.delete(c);
    }
  }

  private pruned: number | undefined;
}

function add(bins: Bins, b: number, slot: number, n: number, frameSlot: number): void {
  let row = bins.get(b);
  if (!row) bins.set(b, (row = new Float64Array(SLOTS)));
  row[slot]! += n;
  if (frameSlot >= 0) row[frameSlot]!++;
}

export interface Activity {
  /** Per second, averaged over the last `rateMs`. */
  msgRate: Record<Direction, number>;
  byteRate: Record<Direction, number>;
  frameRate: Record<Direction, number>;
  /** Per `binMs` bin, oldest first, the last bin being the current (partial) one. */
  msgBins: Record<Direction, number[]>;
  byteBins: Record<Direction, number[]>;
}

export function emptyActivity(count: number): Activity {
  const zero = () => ({ client: 0, server: 0 });
  const bins = () => ({ client: new Array<number>(count).fill(0), server: new Array<number>(count).fill(0) });
  return { msgRate: zero(), byteRate: zero(), frameRate: zero(), msgBins: bins(), byteBins: bins() };
}

/**
 * Rates over [now - rateMs, now] and `spanMs / binMs` bins over [now - spanMs, now], from the
 * quarter-second bins (those more than a second in the future are left out: a clock report
 * behind the events).
 */
export function activityOf(bins: Bins, now: number, spanMs: number, binMs: number, rateMs: number): Activity {
  const count = spanMs / binMs;
  const a = emptyActivity(count);
  const start = now - spanMs;
  const rateFrom = now - rateMs;
  for (const [b, row] of bins) {
    const t = b * SUB_MS;
    if (t + SUB_MS <= start || t > now + 1000) continue;
    const bin = Math.max(0, Math.min(count - 1, Math.floor((t - start) / binMs)));
    a.msgBins.client[bin]! += row[MSG]!;
    a.msgBins.server[bin]! += row[MSG + 1]!;
    a.byteBins.client[bin]! += row[BYTES]!;
    a.byteBins.server[bin]! += row[BYTES + 1]!;
    if (t + SUB_MS > rateFrom) {
      a.msgRate.client += row[MSG]!;
      a.msgRate.server += row[MSG + 1]!;
      a.byteRate.client += row[BYTES]!;
      a.byteRate.server += row[BYTES + 1]!;
      a.frameRate.client += row[FRAMES]!;
      a.frameRate.server += row[FRAMES + 1]!;
    }
  }
  return a;
}
