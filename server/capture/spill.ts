import { closeSync, mkdtempSync, openSync, read, rmdirSync, unlinkSync, write } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WholePayload } from './events.ts';
import type { WholeSink } from './store.ts';

/** Bytes of whole payloads the spill file holds at most (`PayloadSpill`): the oldest go first. */
export const DEFAULT_SPILL_BYTES = 1024 * 1024 * 1024;
/** Bytes of payloads waiting for the disk; past it, a payload is not spilled (counted). */
export const DEFAULT_SPILL_QUEUE_BYTES = 64 * 1024 * 1024;

interface Entry {
  /** The events whose payload this is: a one-frame message has its frame's bytes. */
  seqs: number[];
  at: number;
  length: number;
  cut: boolean;
  /** The bytes, until they are on disk. */
  pending: Buffer | null;
  /** Overwritten by newer payloads (the file wrapped around). */
  gone: boolean;
}

export interface SpillOptions {
  maxBytes?: number;
  queueBytes?: number;
  /** Folder for the file (the system's temporary folder). */
  dir?: string;
}

/**
 * The whole payloads of the dashboard's events, for Save recording and the HAR and pcapng
 * exports: the CaptureStore holds each frame's and message's first 64 KiB (what the dashboard
 * shows), and a payload longer than that goes here, by the store's sequence number, so the
 * store's memory stays what its bounds say however large the messages are.
 *
 * A ring in a temporary file of at most `maxBytes` (1 GiB): when it is full it starts again at
 * the front, and the payloads written over are gone (their events fall back to the preview,
 * `truncated` as before). The file is unlinked as soon as it is open, so it disappears with the
 * process however that ends; only its descriptor reaches it. Writes are asynchronous, one at a
 * time, with at most `queueBytes` waiting: a payload that finds the queue full is not spilled
 * and is counted (`shed`).
 */
export class PayloadSpill implements WholeSink {
  private fd: number | null;
  private readonly index = new Map<number, Entry>();
  /** Entries in the order written: the oldest first. */
  private order: Entry[] = [];
  private orderHead = 0;
  private writeAt = 0;
  private queue: Entry[] = [];
  private queuedBytes = 0;
  private writing = false;
  /** The last payload put, to store a one-frame message's bytes once for its frame and itself. */
  private last: { bytes: Buffer; entry: Entry } | null = null;
  private readonly maxBytes: number;
  private readonly queueBytes: number;
  /** Payloads spilled, and their bytes. */
  stored = 0;
  storedBytes = 0;
  /** Payloads not spilled: the disk was behind by more than the queue's bound, or a write failed. */
  shed = 0;
  /** Payloads written over by newer ones (the file is a ring of `maxBytes`). */
  overwritten = 0;
  error: string | null = null;

  constructor(opts: SpillOptions = {}) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_SPILL_BYTES;
    this.queueBytes = opts.queueBytes ?? DEFAULT_SPILL_QUEUE_BYTES;
    const folder = mkdtempSync(join(opts.dir ?? tmpdir(), 'wsplay-spill-'));
    const file = join(folder, 'payloads.bin');
    this.fd = openSync(file, 'w+');
    try {
      unlinkSync(file);
      rmdirSync(folder);
    } catch {
      // A system that cannot unlink an open file (Windows): removed at exit instead.
      process.once('exit', () => {
        try {
          unlinkSync(file);
          rmdirSync(folder);
        } catch {
          // Already gone.
        }
      });
    }
  }

  put(seq: number, whole: WholePayload): void {
    const length = whole.bytes.length;
    if (this.last && this.last.bytes === whole.bytes && !this.last.entry.gone) {
      this.last.entry.seqs.push(seq);
      this.index.set(seq, this.last.entry);
      return;
    }
    if (this.fd === null || this.error !== null || length > this.maxBytes || this.queuedBytes + length > this.queueBytes) {
      this.shed++;
      return;
    }
    if (this.writeAt + length > this.maxBytes) {
      // Wrap: every payload of the last round still ahead of this point is the oldest, and goes.
      while (this.orderHead < this.order.length && this.order[this.orderHead]!.at >= this.writeAt) this.evictOldest();
      this.writeAt = 0;
    }
    const end = this.writeAt + length;
    while (this.orderHead < this.order.length) {
      const oldest = this.order[this.orderHead]!;
      if (oldest.at < this.writeAt || oldest.at >= end) break;
      this.evictOldest();
    }
    const entry: Entry = { seqs: [seq], at: this.writeAt, length, cut: whole.cut, pending: whole.bytes, gone: false };
    this.last = { bytes: whole.bytes, entry };
    this.writeAt = end;
    this.index.set(seq, entry);
    this.order.push(entry);
    this.queue.push(entry);
    this.queuedBytes += length;
    this.stored++;
    this.storedBytes += length;
    if (!this.writing) this.writeNext();
  }

  private evictOldest(): void {
    const e = this.order[this.orderHead]!;
    this.order[this.orderHead++] = undefined as unknown as Entry;
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    e.gone = true;
    for (const seq of e.seqs) if (this.index.get(seq) === e) this.index.delete(seq);
    this.overwritten++;
  }

  private writeNext(): void {
    const entry = this.queue.shift();
    if (!entry || this.fd === null) {
      this.writing = false;
      return;
    }
    this.writing = true;
    const buf = entry.pending!;
    const fd = this.fd;
    const done = (err: NodeJS.ErrnoException | null, written: number, from: number) => {
      if (!err && from + written < buf.length) {
        write(fd, buf, from + written, buf.length - from - written, entry.at + from + written, (e2, w2) => done(e2, w2, from + written));
        return;
      }
      this.queuedBytes -= buf.length;
      entry.pending = null;
      if (err) {
        this.error ??= err.code ?? err.message;
        entry.gone = true;
        for (const seq of entry.seqs) if (this.index.get(seq) === entry) this.index.delete(seq);
      }
      if (this.fd === null) {
        closeSync(fd);
        this.writing = false;
        return;
      }
      this.writeNext();
    };
    write(fd, buf, 0, buf.length, entry.at, (err, written) => done(err, written, 0));
  }

  /** The whole payload of event `seq`, or null when it was never spilled or was written over. */
  read(seq: number): Promise<WholePayload | null> {
    const entry = this.index.get(seq);
    if (!entry || this.fd === null) return Promise.resolve(null);
    if (entry.pending) return Promise.resolve({ bytes: Buffer.from(entry.pending), cut: entry.cut });
    const buf = Buffer.allocUnsafe(entry.length);
    const fd = this.fd;
    return new Promise((resolve) => {
      const next = (from: number) =>
        read(fd, buf, from, entry.length - from, entry.at + from, (err, n) => {
          // Written over while it was read: the bytes may be a newer payload's, so none are used.
          if (err || entry.gone) return resolve(null);
          if (n === 0) return resolve(null);
          if (from + n < entry.length) return next(from + n);
          resolve({ bytes: buf, cut: entry.cut });
        });
      next(0);
    });
  }


  close(): void {
    const fd = this.fd;
    this.fd = null;
    this.index.clear();
    this.order = [];
    this.queue = [];
    this.last = null;
    if (fd !== null && !this.writing) closeSync(fd);
  }
}
