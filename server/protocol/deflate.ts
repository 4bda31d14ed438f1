import { constants, inflateRawSync } from 'node:zlib';

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
 * Inflates the messages of one direction of a permessage-deflate connection (RFC 7692 §7.2.2).
 *
 * Sans-I/O and synchronous: each message is inflated on its own with zlib's raw inflate, and
 * context takeover is honoured by handing zlib the last 2^windowBits bytes of output as a
 * preset dictionary, which is exactly the history a continued inflate stream would hold.
 * Output is capped per message; past the cap, or after corrupt data, the history is unknown,
 * so later messages that depend on it are reported as not inflatable.
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

  inflate(compressed: Buffer): InflateResult {
    if (this.lost !== null && !this.noContextTakeover) {
      return { error: `not inflated: ${this.lost}, and with context takeover every later message depends on it` };
    }
    const options = {
      windowBits: this.windowBits,
      maxOutputLength: this.maxOutput,
      ...(this.history.length > 0 && !this.noContextTakeover ? { dictionary: this.history } : {}),
    };
    let data: Buffer;
    let warning: string | undefined;
    try {
      data = inflateRawSync(Buffer.concat([compressed, TAIL, FINAL_EMPTY_BLOCK]), options);
    } catch (strictErr) {
      // Not a proper message. Inflate it as a receiver such as ws does (tail appended, sync
      // flush): what that yields is what the application got, so show it, and say why the
      // message is wrong. Whatever follows with context takeover rests on garbage.
      try {
        data = inflateRawSync(Buffer.concat([compressed, TAIL]), { ...options, finishFlush: constants.Z_SYNC_FLUSH });
      } catch (err) {
        return this.failed(err as NodeJS.ErrnoException);
      }
      if ((strictErr as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return this.failed(strictErr as NodeJS.ErrnoException);
      warning = 'the compressed data does not end on a deflate block boundary (RFC 7692 §7.2.1)';
      this.lost = `an earlier message was not properly compressed (${warning})`;
      this.history = Buffer.alloc(0);
      return { data, warning };
    }
    if (!this.noContextTakeover) {
      const joined = data.length >= this.window ? data : Buffer.concat([this.history, data]);
      this.history = Buffer.from(joined.subarray(Math.max(0, joined.length - this.window)));
    }
    return { data };
  }

  private failed(e: NodeJS.ErrnoException): InflateResult {
    const reason =
      e.code === 'ERR_BUFFER_TOO_LARGE' ? `inflated size passed the ${this.maxOutput}-byte bound` : `corrupt compressed data (${e.message})`;
    this.lost = `an earlier message could not be inflated (${reason})`;
    this.history = Buffer.alloc(0);
    return { error: reason };
  }

  /** The compressor's history was lost (a message too large to gather). */
  loseHistory(reason: string): void {
    this.lost = reason;
    this.history = Buffer.alloc(0);
  }
}
