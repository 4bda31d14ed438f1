/**
 * Faults the wiretap injects on purpose, so a learner can watch a WebSocket app meet a bad
 * network: a slow handshake, latency, frames cut into tiny TCP segments, lost or late pongs, a
 * connection gone silent. Each applies to one connection or to all (new ones included).
 *
 * - `FAULT_KINDS`, `parseFaultArg`, `describeFault`: the definitions, shared with the CLI and
 *   the dashboard (no Node APIs at module level).
 * - `FaultTable`: which faults are on, and what they mean for one connection (`effective`).
 * - `FrameTracker`: a tiny frame splitter over one direction's stream, to remove exactly the
 *   bytes of a pong and to insert frames between frames, never inside one.
 * - `Lane`: one direction of one relayed connection while a fault applies to it (or a frame is
 *   injected): it delays, splits, drops and inserts, keeping the bytes in order. Connections
 *   without faults never get a Lane: the relay's hot path stays a plain write.
 */
import type { Direction } from '../capture/events.ts';

export type FaultKind = 'delay-handshake' | 'latency' | 'split' | 'drop-pongs' | 'hold-pongs' | 'blackhole';
export type FaultDir = Direction | 'both';

export interface FaultSpec {
  kind: FaultKind;
  /** Milliseconds (delay-handshake, latency, hold-pongs) or bytes per TCP write (split). */
  value?: number;
  /** Whose bytes (latency, split) or whose pongs (the pongs faults): the sender. Default both. */
  dir?: FaultDir;
}

export interface Fault {
  id: number;
  kind: FaultKind;
  /** 0 for the kinds without a parameter. */
  value: number;
  dir: FaultDir;
  /** The connection it applies to, or null for every connection, new ones included. */
  conn: number | null;
  /** Date.now() when it was turned on. */
  since: number;
}

export interface FaultKindInfo {
  kind: FaultKind;
  label: string;
  unit: 'ms' | 'bytes' | null;
  /** The parameter's default, min and max. */
  value: number;
  min: number;
  max: number;
  /** Whether it can apply to one direction only. */
  directional: boolean;
  /** What the learner will see, one or two sentences. */
  help: string;
}

export const FAULT_KINDS: Record<FaultKind, FaultKindInfo> = {
  'delay-handshake': {
    kind: 'delay-handshake',
    label: 'Delay the handshake',
    unit: 'ms',
    value: 2000,
    min: 1,
    max: 60_000,
    directional: false,
    help: "The wiretap holds the server's 101 response: the client stays CONNECTING, and a send() before onopen throws. Applies to connections whose handshake has not been answered yet.",
  },
  latency: {
    kind: 'latency',
    label: 'Add latency',
    unit: 'ms',
    value: 200,
    min: 1,
    max: 60_000,
    directional: true,
    help: 'Every chunk is forwarded this many ms after it arrived, in order.',
  },
  split: {
    kind: 'split',
    label: 'Split into tiny TCP chunks',
    unit: 'bytes',
    value: 1,
    min: 1,
    max: 65_536,
    directional: true,
    help: 'Each chunk is written in pieces of this many bytes, one event-loop turn apart: the receiver must reassemble frames from fragments of headers.',
  },
  'drop-pongs': {
    kind: 'drop-pongs',
    label: 'Drop pongs',
    unit: null,
    value: 0,
    min: 0,
    max: 0,
    directional: true,
    help: 'Pong frames are removed from the stream (exactly their bytes): a heartbeat that waits for them gives up on the peer.',
  },
  'hold-pongs': {
    kind: 'hold-pongs',
    label: 'Hold back pongs',
    unit: 'ms',
    value: 1000,
    min: 1,
    max: 60_000,
    directional: true,
    help: 'Pong frames are forwarded this many ms late, between later frames.',
  },
  blackhole: {
    kind: 'blackhole',
    label: 'Blackhole',
    unit: null,
    value: 0,
    min: 0,
    max: 0,
    directional: false,
    help: 'No more bytes pass either way, while TCP stays open: only a heartbeat (ping, and no pong back) notices. A close or reset of TCP itself still passes.',
  },
};

export const FAULT_KIND_LIST: FaultKindInfo[] = Object.values(FAULT_KINDS);

/** A fault as a person would read it: "latency 200 ms (client → server)". */
export function describeFault(f: Pick<Fault, 'kind' | 'value' | 'dir'>): string {
  const whose = f.dir === 'both' ? '' : f.dir === 'client' ? ' (client → server)' : ' (server → client)';
  const from = f.dir === 'both' ? 'both sides' : `the ${f.dir}`;
  switch (f.kind) {
    case 'delay-handshake':
      return `handshake held ${f.value} ms`;
    case 'latency':
      return `latency ${f.value} ms${whose}`;
    case 'split':
      return `split into ${f.value}-byte writes${whose}`;
    case 'drop-pongs':
      return `pongs from ${from} dropped`;
    case 'hold-pongs':
      return `pongs from ${from} held ${f.value} ms`;
    case 'blackhole':
      return 'blackhole';
  }
}

export class FaultError extends Error {}

/** Check a fault asked for over the API or the command line; throws FaultError with the way out. */
export function validateFault(spec: FaultSpec): { kind: FaultKind; value: number; dir: FaultDir } {
  const info = FAULT_KINDS[spec.kind as FaultKind];
  if (!info || !Object.hasOwn(FAULT_KINDS, spec.kind)) {
    throw new FaultError(`Unknown fault "${String(spec.kind)}": use one of ${FAULT_KIND_LIST.map((k) => k.kind).join(', ')}.`);
  }
  let value = 0;
  if (info.unit) {
    value = spec.value ?? info.value;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < info.min || value > info.max) {
      throw new FaultError(`${info.label}: ${info.unit === 'ms' ? 'milliseconds' : 'bytes'} must be a whole number from ${info.min} to ${info.max}, not ${String(spec.value)}.`);
    }
  }
  const dir = spec.dir ?? 'both';
  if (dir !== 'both' && dir !== 'client' && dir !== 'server') throw new FaultError(`A fault's dir is client, server or both, not "${String(dir)}".`);
  if (!info.directional && dir !== 'both') throw new FaultError(`${info.label} applies to both directions; leave dir out.`);
  return { kind: info.kind, value, dir };
}

export const FAULT_ARG_HELP = 'delay-handshake=MS, latency=MS, split=BYTES, drop-pongs, hold-pongs=MS or blackhole, optionally followed by ,dir=client or ,dir=server';

/** `--fault latency=200`, `--fault split=1,dir=server`, `--fault drop-pongs,dir=client`. */
export function parseFaultArg(arg: string): FaultSpec {
  const [head = '', ...opts] = arg.split(',').map((s) => s.trim());
  const [kind = '', raw] = head.split('=');
  if (!Object.hasOwn(FAULT_KINDS, kind)) throw new FaultError(`Unknown fault "${kind}" in --fault ${arg}: use ${FAULT_ARG_HELP}.`);
  const info = FAULT_KINDS[kind as FaultKind];
  const spec: FaultSpec = { kind: info.kind };
  if (raw !== undefined) {
    if (!info.unit) throw new FaultError(`--fault ${kind} takes no value (got "${raw}").`);
    if (!/^\d+$/.test(raw)) throw new FaultError(`--fault ${arg}: the value is a whole number of ${info.unit === 'ms' ? 'milliseconds' : 'bytes'}, e.g. ${kind}=${info.value}.`);
    spec.value = Number(raw);
  }
  for (const opt of opts) {
    const m = /^dir=(client|server|both)$/.exec(opt);
    if (!m) throw new FaultError(`--fault ${arg}: "${opt}" is not an option; use dir=client or dir=server.`);
    spec.dir = m[1] as FaultDir;
  }
  try {
    validateFault(spec);
  } catch (err) {
    throw new FaultError(`--fault ${arg}: ${(err as Error).message}`);
  }
  return spec;
}

// ---- what applies to a connection --------------------------------------------------------

/** What one direction of one connection does while faults apply (the sender's bytes). */
export interface LaneSettings {
  /** ms each chunk waits before it is forwarded. */
  latency: number;
  /** Bytes per TCP write; 0 = whole chunks. */
  split: number;
  pongs: 'drop' | 'hold' | null;
  pongHoldMs: number;
  blackhole: boolean;
  /** ms to hold the sender's first bytes (the server's 101) and everything after them. */
  holdFirstMs: number;
}

export const NO_FAULTS: Readonly<LaneSettings> = Object.freeze({ latency: 0, split: 0, pongs: null, pongHoldMs: 0, blackhole: false, holdFirstMs: 0 });

export type ConnFaults = Record<Direction, LaneSettings>;

/**
 * The faults that are on. Each is for one connection or for all; for one connection, its own
 * fault of a kind wins over one for all, and a later one over an earlier one.
 */
export class FaultTable {
  private faults: Fault[] = [];
  private nextId = 1;
  private readonly listeners = new Set<() => void>();

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  get size(): number {
    return this.faults.length;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  /** Turn a fault on; one of the same kind, scope and direction is replaced (its new value). */
  add(spec: FaultSpec, conn: number | null = null): Fault {
    const v = validateFault(spec);
    const fault: Fault = { id: this.nextId++, ...v, conn, since: Date.now() };
    this.faults = this.faults.filter((f) => !(f.kind === v.kind && f.conn === conn && f.dir === v.dir));
    this.faults.push(fault);
    this.changed();
    return { ...fault };
  }

  remove(id: number): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    if (this.faults.length === before) return false;
    this.changed();
    return true;
  }

  /** Turn off every fault (conn undefined), the ones for all (null), or one connection's. */
  clear(conn?: number | null): number {
    const before = this.faults.length;
    this.faults = conn === undefined ? [] : this.faults.filter((f) => f.conn !== conn);
    const removed = before - this.faults.length;
    if (removed > 0) this.changed();
    return removed;
  }

  /** A connection ended: its own faults go with it. */
  forget(conn: number): void {
    if (this.faults.some((f) => f.conn === conn)) this.clear(conn);
  }

  /** What applies to a connection, or null when nothing does (the relay's plain path). */
  effective(conn: number): ConnFaults | null {
    const global = this.faults.filter((f) => f.conn === null);
    const own = this.faults.filter((f) => f.conn === conn);
    if (global.length + own.length === 0) return null;
    const fx: ConnFaults = { client: { ...NO_FAULTS }, server: { ...NO_FAULTS } };
    for (const f of [...global, ...own]) {
      const lanes = f.dir === 'both' ? [fx.client, fx.server] : [fx[f.dir]];
      switch (f.kind) {
        case 'delay-handshake':
          fx.server.holdFirstMs = f.value;
          break;
        case 'latency':
          for (const l of lanes) l.latency = f.value;
          break;
        case 'split':
          for (const l of lanes) l.split = f.value;
          break;
        case 'drop-pongs':
          for (const l of lanes) l.pongs = 'drop';
          break;
        case 'hold-pongs':
          for (const l of lanes) {
            l.pongs = 'hold';
            l.pongHoldMs = f.value;
          }
          break;
        case 'blackhole':
          fx.client.blackhole = true;
          fx.server.blackhole = true;
          break;
      }
    }
    return fx;
  }
}

// ---- frames in a byte stream ---------------------------------------------------------------

/** A piece of one direction's stream: pass it on, or (a whole pong frame) drop or hold it. */
export interface Segment {
  bytes: Buffer;
  /** A complete pong frame, header included. */
  pong: boolean;
  /** The segment ends between two frames. */
  boundary: boolean;
}

const OP_PONG = 0xa;

/**
 * Follows frame boundaries in one direction's stream (RFC 6455 §5.2: 2 header bytes, 0/2/8
 * bytes of extended length, 0/4 of masking key, then the payload). It reads headers only,
 * never payloads, and never throws. Started mid-stream from the decoder's position
 * (ConnectionDecoder.framing), it continues from there.
 */
export class FrameTracker {
  private readonly hdr = Buffer.alloc(14);
  private hdrLen = 0;
  private need = 2;
  private remaining = 0;
  /** Bytes of a pong frame being gathered (it is passed on whole or not at all). */
  private pong: Buffer[] | null = null;
  private pongBytes = 0;

  constructor(from: { header: Buffer; remaining: number } = { header: Buffer.alloc(0), remaining: 0 }) {
    this.remaining = from.remaining;
    if (from.header.length > 0) {
      from.header.copy(this.hdr, 0, 0, Math.min(14, from.header.length));
      // A frame begun before this tracker: its first bytes are gone, so it passes whatever it is.
      this.hdrLen = Math.min(14, from.header.length);
      if (this.hdrLen >= 2) this.need = headerSize(this.hdr[1]!);
    }
  }

  /** Between two frames (no header byte or payload byte of a frame pending). */
  get atBoundary(): boolean {
    return this.hdrLen === 0 && this.remaining === 0 && this.pong === null;
  }

  /** Bytes of a pong held back until it is complete. */
  get gathering(): number {
    return this.pongBytes;
  }

  /**
   * Split `chunk` at frame boundaries. With `catchPongs`, each complete pong frame comes as a
   * segment of its own (its bytes gathered across chunks). With `cutAtBoundaries`, every
   * frame start cuts the chunk (so a frame can be inserted there); otherwise bytes that pass
   * on come as few segments as possible.
   */
  push(chunk: Buffer, catchPongs: boolean, cutAtBoundaries: boolean): Segment[] {
    const out: Segment[] = [];
    let passStart = 0;
    let pos = 0;
    const len = chunk.length;
    const pass = (end: number, boundary: boolean) => {
      if (end > passStart) out.push({ bytes: chunk.subarray(passStart, end), pong: false, boundary });
      else if (boundary && out.length > 0) out[out.length - 1]!.boundary = true;
      passStart = end;
    };
    while (pos < len) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, len - pos);
        if (this.pong) this.gather(chunk.subarray(pos, pos + take));
        pos += take;
        this.remaining -= take;
        if (this.remaining === 0) this.frameDone(out, pos, (p) => (passStart = p));
        continue;
      }
      if (this.hdrLen === 0) {
        // A frame starts here.
        if (cutAtBoundaries || (catchPongs && (chunk[pos]! & 0x0f) === OP_PONG)) pass(pos, true);
        if (catchPongs && (chunk[pos]! & 0x0f) === OP_PONG) this.pong = [];
      }
      const take = Math.min(this.need - this.hdrLen, len - pos);
      chunk.copy(this.hdr, this.hdrLen, pos, pos + take);
      if (this.pong) this.gather(chunk.subarray(pos, pos + take));
      this.hdrLen += take;
      pos += take;
      if (this.hdrLen === 2 && this.need === 2) {
        this.need = headerSize(this.hdr[1]!);
        // A pong announcing more than 125 bytes is no pong a peer would send (§5.5): pass it.
        if (this.pong && (this.hdr[1]! & 0x7f) > 125) {
          out.push({ bytes: Buffer.concat(this.pong), pong: false, boundary: false });
          this.pong = null;
          this.pongBytes = 0;
          passStart = pos;
        }
      }
      if (this.hdrLen < this.need) continue;
      this.remaining = payloadLength(this.hdr);
      this.hdrLen = 0;
      this.need = 2;
      if (this.remaining === 0) this.frameDone(out, pos, (p) => (passStart = p));
    }
    // The bytes of a pong still arriving are gathered, not passed.
    if (this.pong) passStart = len;
    pass(len, this.atBoundary);
    return out;
  }

  private gather(piece: Buffer): void {
    this.pong!.push(Buffer.from(piece));
    this.pongBytes += piece.length;
  }

  private frameDone(out: Segment[], pos: number, setPassStart: (p: number) => void): void {
    if (!this.pong) return;
    out.push({ bytes: Buffer.concat(this.pong), pong: true, boundary: true });
    this.pong = null;
    this.pongBytes = 0;
    setPassStart(pos);
  }
}

function headerSize(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

/** Payload bytes the header announces; a 64-bit length beyond 2^53 is followed as a double (never reached). */
function payloadLength(h: Buffer): number {
  const len7 = h[1]! & 0x7f;
  if (len7 === 126) return h.readUInt16BE(2);
  if (len7 === 127) return h.readUInt32BE(2) * 2 ** 32 + h.readUInt32BE(6);
  return len7;
}

// ---- one direction of a faulty connection ------------------------------------------------

/** What a Lane does to the outside world (the relay's sockets and decoder). */
export interface LaneIO {
  /**
   * Write to the receiver and hand the bytes to the decoder; false when the receiver's buffer
   * is full. `injected`: the bytes are the wiretap's own (a crafted frame, its close frame), not
   * the sender's, and the decoder marks their frames so (ConnectionDecoder.receiveInjected).
   */
  write(bytes: Buffer, injected: boolean): boolean;
  onDrain(fn: () => void): void;
  /** FIN toward the receiver. */
  end(): void;
  pauseSender(): void;
  resumeSender(): void;
  /** The decoder's position in this direction's frames (null before frames start, or without a decoder). */
  framing(): { header: Buffer; remaining: number } | null;
  /** The wiretap's clock, ms. */
  now(): number;
  /** Called when the lane has nothing queued or pending any more. */
  idle(): void;
}

export interface LaneStats {
  /** Pongs removed from the stream. */
  droppedPongs: number;
  /** Pongs forwarded late. */
  heldPongs: number;
  /** Bytes the blackhole (or a close from the middle) swallowed. */
  swallowed: number;
  /** Frames (or byte strings) the wiretap inserted: the crafter's, and its own close frames. */
  injected: number;
  /** The sender's first bytes are being held (delay-handshake) right now. */
  holding: boolean;
}

interface Item {
  bytes: Buffer;
  pos: number;
  /** Time (wiretap clock) before which it must not be written. */
  due: number;
  /** A FIN, not bytes. */
  end?: boolean;
  /** Bytes the wiretap inserted (LaneIO.write's `injected`). */
  injected: boolean;
}

/** Queued bytes above which the sender is paused (latency on a fast stream), and below which it resumes. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 1 << 18;
/** How long an inserted frame waits for the sender's frame in progress to end before it goes anyway. */
const INSERT_WAIT_MS = 2000;

/**
 * One direction of a relayed connection while faults apply to it. Everything the sender
 * sends, and every frame the wiretap inserts, goes through one ordered queue; each item has a
 * due time (arrival + latency, or the end of a held handshake), and a split writes items in
 * pieces one event-loop turn apart. Inserted frames wait for a frame boundary of the sender's
 * stream, so they never land inside another frame.
 */
export class Lane {
  settings: LaneSettings;
  readonly stats: LaneStats = { droppedPongs: 0, heldPongs: 0, swallowed: 0, injected: 0, holding: false };
  private tracker: FrameTracker | null = null;
  /** False once bytes were dropped before the tracker was synced: the decoder no longer matches the sender's stream. */
  private canSync = true;
  private readonly queue: Item[] = [];
  private queuedBytes = 0;
  private lastDue = 0;
  private holdUntil = 0;
  private received: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private immediate: ReturnType<typeof setImmediate> | null = null;
  private waitingDrain = false;
  private pausedSender = false;
  /** `injected`: the wiretap's own frame; false for a held pong (the sender's, only late). */
  private readonly inserts: Array<{ bytes: Buffer; end: boolean; injected: boolean }> = [];
  private insertTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly pongTimers = new Set<ReturnType<typeof setTimeout>>();
  /** A FIN (the sender's, or the wiretap's close from the middle) is queued: nothing more passes. */
  private ended = false;
  private disposed = false;
  /** Inside receive() or insert(): the relay must not drop this lane under its own feet. */
  private busy = false;

  constructor(
    readonly dir: Direction,
    private readonly io: LaneIO,
    settings: LaneSettings,
    /** Bytes the sender sent before this lane existed. */
    receivedBefore: number,
  ) {
    this.settings = settings;
    this.received = receivedBefore;
    this.trySync();
  }

  /** Nothing queued, pending or gathered: the relay may go back to its plain path. */
  get idle(): boolean {
    return (
      this.queue.length === 0 &&
      this.timer === null &&
      this.immediate === null &&
      !this.waitingDrain &&
      this.inserts.length === 0 &&
      this.pongTimers.size === 0 &&
      !this.ended &&
      (this.tracker?.gathering ?? 0) === 0
    );
  }

  private trySync(): void {
    if (this.tracker || !this.canSync || this.queue.length > 0 || this.waitingDrain) return;
    const f = this.io.framing();
    if (f) this.tracker = new FrameTracker(f);
  }

  /** Bytes from the sender. */
  receive(chunk: Buffer): void {
    this.busy = true;
    try {
      this.take(chunk);
    } finally {
      this.busy = false;
    }
    this.checkIdle();
  }

  private take(chunk: Buffer): void {
    const first = this.received === 0;
    this.received += chunk.length;
    if (first && this.settings.holdFirstMs > 0) this.holdUntil = this.io.now() + this.settings.holdFirstMs;
    if (this.ended || this.disposed) {
      this.stats.swallowed += chunk.length;
      return;
    }
    if (!this.tracker) this.trySync();
    const s = this.settings;
    if (s.blackhole) {
      this.stats.swallowed += chunk.length;
      if (this.tracker) this.tracker.push(chunk, false, false);
      else this.canSync = false;
      return;
    }
    const segments = this.tracker ? this.tracker.push(chunk, s.pongs !== null, this.inserts.length > 0) : [{ bytes: chunk, pong: false, boundary: false }];
    for (const seg of segments) {
      if (this.ended) {
        this.stats.swallowed += seg.bytes.length;
        continue;
      }
      if (seg.pong && s.pongs === 'drop') {
        this.stats.droppedPongs++;
      } else if (seg.pong && s.pongs === 'hold') {
        this.stats.heldPongs++;
        const timer = setTimeout(() => {
          this.pongTimers.delete(timer);
          this.insert(seg.bytes, false);
          this.checkIdle();
        }, s.pongHoldMs);
        this.pongTimers.add(timer);
      } else {
        this.enqueue(seg.bytes);
      }
      if (seg.boundary && this.inserts.length > 0) this.flushInserts();
    }
    if (!this.pausedSender && this.queuedBytes > HIGH_WATER) {
      this.pausedSender = true;
      this.io.pauseSender();
    }
  }

  /**
   * Insert bytes (a crafted frame, a held pong) between two of the sender's frames: now if the
   * stream is between frames, else once the frame in progress ends. `then: 'end'` sends a FIN
   * right after them and lets nothing more through. Returns whether it had to wait. `counted`:
   * the bytes are the wiretap's own (counted in `stats.injected`, and their frames marked
   * `injected` in the capture); false for a held pong, which the sender did send.
   */
  insert(bytes: Buffer, counted = true, then: 'end' | null = null): 'sent' | 'waiting' {
    this.busy = true;
    let status: 'sent' | 'waiting';
    try {
      status = this.place(bytes, counted, then);
    } finally {
      this.busy = false;
    }
    this.checkIdle();
    return status;
  }

  private place(bytes: Buffer, counted: boolean, then: 'end' | null): 'sent' | 'waiting' {
    if (this.ended || this.disposed) return 'sent';
    if (counted) this.stats.injected++;
    this.inserts.push({ bytes, end: then === 'end', injected: counted });
    if (!this.tracker) this.trySync();
    // Without a tracker (frames not started, or no decoder) the chunk boundary is the best there is.
    if (!this.tracker || this.tracker.atBoundary) {
      this.flushInserts();
      return 'sent';
    }
    this.insertTimer ??= setTimeout(() => {
      this.insertTimer = null;
      this.flushInserts();
      this.checkIdle();
    }, INSERT_WAIT_MS);
    return 'waiting';
  }

  private flushInserts(): void {
    if (this.insertTimer) {
      clearTimeout(this.insertTimer);
      this.insertTimer = null;
    }
    for (const ins of this.inserts.splice(0)) {
      if (this.ended) break;
      this.enqueue(ins.bytes, ins.injected);
      if (ins.end) this.end();
    }
  }

  /** The sender's FIN (or the wiretap's own): after the queued bytes, end the receiver's side. */
  end(): void {
    if (this.ended || this.disposed) return;
    // Frames still waiting for a boundary that will never come go now.
    if (this.inserts.length > 0) this.flushInserts();
    if (this.ended) return;
    this.ended = true;
    for (const t of this.pongTimers) clearTimeout(t);
    this.pongTimers.clear();
    const due = Math.max(this.lastDue, this.io.now() + this.settings.latency, this.holdUntil);
    this.lastDue = due;
    this.queue.push({ bytes: Buffer.alloc(0), pos: 0, due, end: true, injected: false });
    this.pump();
  }

  private enqueue(bytes: Buffer, injected = false): void {
    if (bytes.length === 0) return;
    const now = this.io.now();
    const due = Math.max(this.lastDue, now + this.settings.latency, this.holdUntil);
    this.lastDue = due;
    if (this.queue.length === 0 && due <= now && this.settings.split === 0 && !this.waitingDrain && this.immediate === null) {
      if (!this.io.write(bytes, injected)) this.awaitDrain();
      return;
    }
    this.queue.push({ bytes, pos: 0, due, injected });
    this.queuedBytes += bytes.length;
    this.pump();
  }

  private awaitDrain(): void {
    this.waitingDrain = true;
    if (!this.pausedSender) {
      this.pausedSender = true;
      this.io.pauseSender();
    }
    this.io.onDrain(() => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer || this.immediate || this.waitingDrain || this.disposed) return;
    while (this.queue.length > 0) {
      const item = this.queue[0]!;
      const wait = item.due - this.io.now();
      if (wait > 0) {
        this.stats.holding = item.due <= this.holdUntil;
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, Math.ceil(wait));
        return;
      }
      this.stats.holding = false;
      if (item.end) {
        this.queue.shift();
        this.io.end();
        continue;
      }
      const split = this.settings.split;
      let piece: Buffer;
      if (split > 0 && item.bytes.length - item.pos > split) {
        piece = item.bytes.subarray(item.pos, item.pos + split);
        item.pos += split;
      } else {
        piece = item.pos === 0 ? item.bytes : item.bytes.subarray(item.pos);
        this.queue.shift();
      }
      this.queuedBytes -= piece.length;
      if (!this.io.write(piece, item.injected)) {
        this.awaitDrain();
        return;
      }
      if (split > 0 && this.queue.length > 0) {
        // One piece per turn of the event loop: each leaves as its own TCP segment (noDelay).
        this.immediate = setImmediate(() => {
          this.immediate = null;
          this.pump();
        });
        return;
      }
    }
    if (this.pausedSender && this.queuedBytes < LOW_WATER) {
      this.pausedSender = false;
      this.io.resumeSender();
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (!this.busy && !this.disposed && this.idle) this.io.idle();
  }

  /** The connection is gone: stop every timer. */
  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.insertTimer) clearTimeout(this.insertTimer);
    for (const t of this.pongTimers) clearTimeout(t);
    this.pongTimers.clear();
    this.queue.length = 0;
    this.inserts.length = 0;
    this.timer = null;
    this.immediate = null;
  }
}
