import { constants, inflateRawSync } from 'node:zlib';
import { Utf8Validator } from './utf8.ts';

/** The four bytes RFC 7692 §7.2.1 strips from the end of every compressed message. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/**
 * An empty final block (BFINAL=1, fixed Huffman, end-of-block). Appended after the tail and
 * inflated with Z_FINISH, it makes zlib prove the message ended on a block boundary, as
 * RFC 7692 §7.2.1 requires; a damaged message that stops mid-block then fails here instead of
 * poisoning the next one.
 */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/** `warning`: the data inflated, but the message breaks a rule (it is flagged, and shown). */
export type InflateResult = { data: Buffer; warning?: string } | { error: string };

/**
 * What one message inflated to, kept bounded whatever its size: the exact length, the first
 * bytes to show, and (text) where its UTF-8 broke, -1 when it did not. Or why it could not be.
 */
export type InflateOutcome = { length: number; preview: Buffer; utf8ErrorIndex: number; warning?: string } | { error: string };

/** The warning of a message that inflates only as a lenient receiver reads it (RFC 7692 §7.2.1). */
const NOT_ON_BOUNDARY = 'the compressed data does not end on a deflate block boundary (RFC 7692 §7.2.1)';

/** How to inflate the next message outside this class, in pieces (MessageInflater.streamOptions). */
export interface StreamPlan {
  windowBits: number;
  /** The history to start from (context takeover), absent for none. */
  dictionary?: Buffer;
  /** The strict pass: the compressed bytes, the tail and an empty final block, inflated with Z_FINISH. */
  strict: Buffer;
  /** The lenient pass, tried when the strict one fails: the bytes and the tail, with Z_SYNC_FLUSH. */
  lenient: Buffer;
}

/**
 * One message's inflated output, taken in pieces as zlib hands them out and kept bounded: it
 * counts the length, keeps the first `previewBytes`, validates text as it goes, and keeps only
 * the last bytes the next message may refer back to (the window). Sans-I/O: whoever runs zlib
 * (the assembler at once, or server/tap/inflation.ts on the thread pool) pushes the pieces.
 */
export class InflatedOutput {
  length = 0;
  private readonly preview: Buffer[] = [];
  private previewKept = 0;
  /** The newest pieces, at least the last `window` bytes of output (fewer if there are fewer). */
  private readonly recent: Buffer[] = [];
  private recentBytes = 0;
  private readonly utf8: Utf8Validator | null;

  constructor(
    private readonly maxOutput: number,
    private readonly previewBytes: number,
    text: boolean,
    private readonly window: number,
  ) {
    this.utf8 = text ? new Utf8Validator() : null;
  }

  /** The next piece of output; false once the output passed the bound (stop inflating). */
  push(piece: Buffer): boolean {
    if (piece.length === 0) return this.length <= this.maxOutput;
    this.length += piece.length;
    if (this.length > this.maxOutput) return false;
    if (this.previewKept < this.previewBytes) {
      const take = Math.min(piece.length, this.previewBytes - this.previewKept);
      // A piece kept whole is the caller's own buffer; a part is copied, so a small preview never
      // keeps a large output alive.
      this.preview.push(take === piece.length ? piece : Buffer.from(piece.subarray(0, take)));
      this.previewKept += take;
    }
    if (this.utf8?.valid) this.utf8.push(piece);
    this.recent.push(piece);
    this.recentBytes += piece.length;
    while (this.recent.length > 1 && this.recentBytes - this.recent[0]!.length >= this.window) this.recentBytes -= this.recent.shift()!.length;
    return true;
  }

  /** The last `window` bytes of output joined after `history` (what a continued stream would hold). */
  tail(history: Buffer): Buffer {
    const parts = this.recentBytes >= this.window ? this.recent : [history, ...this.recent];
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return Buffer.from(joined.subarray(Math.max(0, joined.length - this.window)));
  }

  outcome(warning?: string): InflateOutcome {
    const preview = this.preview.length === 1 ? this.preview[0]! : Buffer.concat(this.preview);
    const utf8ErrorIndex = this.utf8 && !(this.utf8.valid && this.utf8.finish()) ? this.utf8.errorIndex : -1;
    return warning === undefined ? { length: this.length, preview, utf8ErrorIndex } : { length: this.length, preview, utf8ErrorIndex, warning };
  }
}

/**
 * Inflates the messages of one direction of a permessage-deflate connection (RFC 7692 §7.2.2).
 *
 * Sans-I/O: each message is inflated on its own with zlib's raw inflate, and context takeover is
 * honoured by handing zlib the last 2^windowBits bytes of output as a preset dictionary, which is
 * exactly the history a continued inflate stream would hold. It inflates synchronously
 * (`inflate`, `inflateMessage`), or plans a message for whoever inflates it elsewhere in pieces
 * and takes the result back (`streamOptions`, `streamed`, `streamFailed`); either way messages
 * must be inflated one after another, in order. Output is capped per message; past the cap, or
 * after corrupt data, the history is unknown, so later messages that depend on it are reported
 * as not inflatable.
 */
export class MessageInflater {
  private history: Buffer = Buffer.alloc(0);
  private lost: string | null = null;
  private readonly window: number;

  constructor(
    private readonly windowBits: number,
    private readonly noContextTakeover: boolean,
    private readonly maxOutput: number,
  ) {
    this.window = 2 ** windowBits;
  }

  /** Inflate one whole message at once, keeping all its output. */
  inflate(compressed: Buffer): InflateResult {
    const r = this.run(compressed, this.maxOutput)!;
    if ('data' in r) {
      this.remember(r.warning, (history) => {
        const joined = r.data.length >= this.window ? r.data : Buffer.concat([history, r.data]);
        return Buffer.from(joined.subarray(Math.max(0, joined.length - this.window)));
      });
    }
    return r;
  }

  /**
   * Inflate one whole message at once, keeping only what InflatedOutput keeps. With `limit` below
   * the bound, a trial: null when the output would pass `limit`, and nothing has changed (the
   * message is to be inflated elsewhere, from the same state).
   */
  inflateMessage(compressed: Buffer, previewBytes: number, text: boolean, limit = this.maxOutput): InflateOutcome | null {
    const r = this.run(compressed, Math.min(limit, this.maxOutput));
    if (r === null || 'error' in r) return r;
    const out = new InflatedOutput(this.maxOutput, previewBytes, text, this.window);
    out.push(r.data);
    return this.streamed(out, r.warning);
  }

  /** The plan for inflating the next message in pieces, or why it cannot be. */
  streamOptions(compressed: Buffer): StreamPlan | { error: string } {
    const refused = this.refused();
    if (refused) return refused;
    return {
      windowBits: this.windowBits,
      ...(this.history.length > 0 && !this.noContextTakeover ? { dictionary: this.history } : {}),
      strict: Buffer.concat([compressed, TAIL, FINAL_EMPTY_BLOCK]),
      lenient: Buffer.concat([compressed, TAIL]),
    };
  }

  /** A bounded accumulator for the next message's output. */
  output(previewBytes: number, text: boolean): InflatedOutput {
    return new InflatedOutput(this.maxOutput, previewBytes, text, this.window);
  }

  /** The message inflated (in pieces, into `out`); `warning`: only by the lenient pass (LENIENT_WARNING). */
  streamed(out: InflatedOutput, warning?: string): InflateOutcome {
    this.remember(warning, (history) => out.tail(history));
    return out.outcome(warning);
  }

  /** The warning a message gets when only the lenient pass inflated it. */
  static readonly LENIENT_WARNING = NOT_ON_BOUNDARY;

  /** Inflating the message in pieces failed: its output passed the bound, or zlib refused the data. */
  streamFailed(cause: 'too-large' | Error): { error: string } {
    return this.failed(cause === 'too-large' ? ({ code: 'ERR_BUFFER_TOO_LARGE' } as NodeJS.ErrnoException) : (cause as NodeJS.ErrnoException));
  }

  /** The compressor's history was lost (a message too large to gather, one not inflated). */
  loseHistory(reason: string): void {
    this.lost = reason;
    this.history = Buffer.alloc(0);
  }

  private refused(): { error: string } | null {
    if (this.lost !== null && !this.noContextTakeover) {
      return { error: `not inflated: ${this.lost}, and with context takeover every later message depends on it` };
    }
    return null;
  }

  /** Inflate at once with the output bounded by `limit`; null: passed a `limit` below the bound. */
  private run(compressed: Buffer, limit: number): InflateResult | null {
    const refused = this.refused();
    if (refused) return refused;
    const options = {
      windowBits: this.windowBits,
      maxOutputLength: limit,
      ...(this.history.length > 0 && !this.noContextTakeover ? { dictionary: this.history } : {}),
    };
    const trial = limit < this.maxOutput;
    try {
      return { data: inflateRawSync(Buffer.concat([compressed, TAIL, FINAL_EMPTY_BLOCK]), options) };
    } catch (strictErr) {
      // Output past the bound: the lenient pass would only yield the same bytes again.
      if ((strictErr as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return trial ? null : this.failed(strictErr as NodeJS.ErrnoException);
      // Not a proper message. Inflate it as a receiver such as ws does (tail appended, sync
      // flush): what that yields is what the application got, so show it, and say why the
      // message is wrong. Whatever follows with context takeover rests on garbage.
      try {
        return { data: inflateRawSync(Buffer.concat([compressed, TAIL]), { ...options, finishFlush: constants.Z_SYNC_FLUSH }), warning: NOT_ON_BOUNDARY };
      } catch (err) {
        if (trial && (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null;
        return this.failed(err as NodeJS.ErrnoException);
      }
    }
  }

  /** A message inflated: `next` makes the next message's history (the last window of output) from this one's. */
  private remember(warning: string | undefined, next: (history: Buffer) => Buffer): void {
    if (warning !== undefined) {
      this.lost = `an earlier message was not properly compressed (${warning})`;
      this.history = Buffer.alloc(0);
      return;
    }
    if (!this.noContextTakeover) this.history = next(this.history);
  }

  private failed(e: NodeJS.ErrnoException): { error: string } {
    const reason =
      e.code === 'ERR_BUFFER_TOO_LARGE' ? `inflated size passed the ${this.maxOutput}-byte bound` : `corrupt compressed data (${e.message})`;
    this.lost = `an earlier message could not be inflated (${reason})`;
    this.history = Buffer.alloc(0);
    return { error: reason };
  }
}
