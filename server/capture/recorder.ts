import { close as closeAsync, closeSync, openSync, write, writeSync } from 'node:fs';
import type { MessageEvent, WholePayload, WireEvent } from './events.ts';
import { materialize } from './materialize.ts';
import { eventWeight } from './store.ts';
import { incompleteTail } from '../protocol/utf8.ts';

/** The default `--max-payload`: bytes of one frame's or message's payload a recording keeps. */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/**
 * Bytes of lines a Recorder holds while the disk catches up. Past it, a payload longer than the
 * preview is written as its preview (cut, and counted); past it by MAX_LINE_SLACK, events are
 * not written at all (counted): a disk that cannot keep up never makes wsplay grow.
 */
export const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
const MAX_LINE_SLACK = 16 * 1024 * 1024;
/** Bytes written by one write call: a batch of lines, or one large line. */
const BATCH_BYTES = 4 * 1024 * 1024;

/**
 * The event as a recording has it when its payload was collected whole (`whole`, from the
 * decoder's `_whole` or the spill file): its `payload` (frame), `text` or `base64` (message) the
 * whole payload instead of the preview. A payload longer than the cap (`--max-payload`) keeps
 * `truncated: true` and says the cap in `maxPayload`. Made as a copy: `e` stays as the store
 * holds it.
 */
export function withWholePayload(e: WireEvent, whole: WholePayload): WireEvent {
  materialize(e);
  const cut = whole.cut ? { truncated: true as const, maxPayload: whole.bytes.length } : { truncated: undefined };
  if (e.type === 'frame') return { ...e, _whole: undefined, payload: whole.bytes.toString('base64'), ...cut };
  if (e.type === 'message') {
    const m: MessageEvent = { ...e, _whole: undefined, ...cut };
    // A payload cut inside a code point would end in a replacement character for a byte that is fine.
    if (e.opcode === 1) m.text = (whole.cut ? whole.bytes.subarray(0, incompleteTail(whole.bytes)) : whole.bytes).toString('utf8');
    else m.base64 = whole.bytes.toString('base64');
    return m;
  }
  return e;
}

export interface RecorderOptions {
  /** Bytes of lines held while the disk catches up (DEFAULT_QUEUE_BYTES). */
  queueBytes?: number;
}

/**
 * Writes events as JSON Lines (one event per line, README "Record format"). A frame or message
 * longer than the preview is written whole (up to `--max-payload`) when the decoder collected it
 * (`_whole`): give the events to `write` before the CaptureStore, which takes that off.
 *
 * Lines gathered in one turn of the event loop are written together right after it,
 * asynchronously and at positions reserved in order, so a 16 MiB message never stalls the relay
 * on the disk; the queue is bounded in bytes (RecorderOptions.queueBytes). `close()` writes what
 * is left synchronously, which is what makes a recording complete after SIGINT or SIGTERM.
 */
export class Recorder {
  private fd: number | null;
  /** Lines not written yet: strings, or events to make when their batch is written (cheaper on the relay's turn). */
  private pending: Array<string | WireEvent> = [];
  private pendingBytes = 0;
  /** The batch being written asynchronously: rewritten by `close()`, at the same place, if it has not landed. */
  private inFlight: { buf: Buffer; at: number } | null = null;
  /** Where the next batch goes. */
  private position = 0;
  private scheduled = false;
  private closing = false;
  private readonly queueBytes: number;
  /** Lines written or queued. */
  lines = 0;
  /** Payloads longer than `--max-payload`, recorded cut (with `maxPayload`). */
  cut = 0;
  /** Payloads written as their preview only: the disk was behind by more than the queue's bound. */
  shed = 0;
  /** Events not written at all: the disk was far behind, or a write failed. */
  lost = 0;
  /** Why writing stopped (a failed write: ENOSPC, EIO), or null. */
  error: string | null = null;

  constructor(readonly path: string, opts: RecorderOptions = {}) {
    this.fd = openSync(path, 'w');
    this.queueBytes = opts.queueBytes ?? DEFAULT_QUEUE_BYTES;
  }

  /** Bytes queued and in flight. */
  get queued(): number {
    return this.pendingBytes + (this.inFlight?.buf.length ?? 0);
  }

  write(events: WireEvent[]): void {
    if (this.fd === null || this.closing) return;
    for (const e of events) {
      if (this.error !== null) {
        this.lost++;
        continue;
      }
      const whole = e.type === 'frame' || e.type === 'message' ? e._whole : undefined;
      let item: string | WireEvent = e;
      // Lazy events are made when written; a whole payload is made now, before the store takes it off.
      let weight = eventWeight(e);
      if (whole) {
        if (this.queued + 2 * whole.bytes.length > this.queueBytes) this.shed++;
        else {
          item = JSON.stringify(withWholePayload(e, whole));
          weight = item.length;
          if (whole.cut) this.cut++;
        }
      }
      if (this.queued + weight > this.queueBytes + MAX_LINE_SLACK) {
        this.lost++;
        continue;
      }
      this.pending.push(item);
      this.pendingBytes += weight;
      this.lines++;
    }
    if (!this.scheduled && this.pending.length > 0) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Take up to BATCH_BYTES of pending lines (at least one) as bytes. */
  private takeBatch(all: boolean): Buffer | null {
    if (this.pending.length === 0) return null;
    const parts: string[] = [];
    let bytes = 0;
    let i = 0;
    for (; i < this.pending.length && (all || i === 0 || bytes < BATCH_BYTES); i++) {
      const item = this.pending[i]!;
      if (typeof item !== 'string' && (item.type === 'frame' || item.type === 'message')) item._whole = undefined;
      const line = typeof item === 'string' ? item : JSON.stringify(materialize(item));
      parts.push(line);
      bytes += line.length;
    }
    this.pending = i === this.pending.length ? [] : this.pending.slice(i);
    this.pendingBytes = this.pending.length === 0 ? 0 : Math.max(0, this.pendingBytes - bytes);
    return Buffer.from(parts.join('\n') + '\n', 'utf8');
  }

  /** Start writing what is pending (asynchronously; one write at a time, in order). */
  flush(): void {
    if (this.fd === null || this.inFlight !== null || this.closing) return;
    const buf = this.takeBatch(false);
    if (!buf) return;
    const at = this.position;
    this.position += buf.length;
    const batch = { buf, at };
    this.inFlight = batch;
    const fd = this.fd;
    const done = (err: NodeJS.ErrnoException | null, written: number) => {
      if (!err && written < buf.length) {
        write(fd, buf, written, buf.length - written, at + written, done);
        return;
      }
      if (this.inFlight === batch) this.inFlight = null;
      if (err && this.error === null) this.error = err.code ?? err.message;
      if (this.closing) {
        // close() already wrote this batch again synchronously and left the descriptor to us.
        closeAsync(fd, () => {});
        return;
      }
      if (this.error === null) this.flush();
    };
    write(fd, buf, 0, buf.length, at, done);
  }

  /**
   * Write everything still pending, synchronously: the file is complete when this returns. A
   * batch still being written asynchronously is written again at its place (the same bytes), and
   * the descriptor is closed once that write returns.
   */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.closing = true;
    try {
      const flying = this.inFlight;
      if (flying) writeAll(fd, flying.buf, flying.at);
      const rest = this.takeBatch(true);
      if (rest && this.error === null) writeAll(fd, rest, this.position);
    } catch (err) {
      this.error ??= (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    if (this.inFlight === null) closeSync(fd);
  }

  /** One sentence on what the recording lacks (cut payloads, lines lost), or '' when nothing. */
  summary(): string {
    const parts: string[] = [];
    if (this.cut > 0) parts.push(`${this.cut} payload${this.cut === 1 ? '' : 's'} longer than --max-payload recorded cut ("maxPayload" on the line)`);
    if (this.shed > 0) parts.push(`${this.shed} large payload${this.shed === 1 ? '' : 's'} recorded as previews only (the disk could not keep up)`);
    if (this.lost > 0) parts.push(`${this.lost} event${this.lost === 1 ? '' : 's'} not recorded (${this.error ? `writing failed: ${this.error}` : 'the disk could not keep up'})`);
    return parts.join('; ');
  }
}

function writeAll(fd: number, buf: Buffer, at: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, at + done);
}

/** The smallest and largest `--max-payload`: the preview (64 KiB), and what a recording line may hold (recording-format.ts). */
export const MIN_MAX_PAYLOAD = 64 * 1024;
export const MAX_MAX_PAYLOAD = 16 * 1024 * 1024;

/**
 * `--max-payload`: bytes (`1048576`) or with a unit (`512KiB`, `4MiB`, `4M`, `512k`), from
 * 64 KiB to 16 MiB. Returns the bytes, or throws an Error whose message says what to type.
 */
export function parseMaxPayload(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_PAYLOAD;
  const m = /^\s*(\d+)\s*(k|kib|kb|m|mib|mb)?\s*$/i.exec(value);
  const unit = m?.[2]?.[0]?.toLowerCase();
  const bytes = m ? Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < MIN_MAX_PAYLOAD || bytes > MAX_MAX_PAYLOAD) {
    throw new Error(`--max-payload ${value} is not a size from 64KiB to 16MiB: give bytes or a unit, e.g. --max-payload 4MiB (the default is 16MiB).`);
  }
  return bytes;
}
