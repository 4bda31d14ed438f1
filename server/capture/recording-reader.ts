import { closeSync, openSync, readSync } from 'node:fs';
import type { WireEvent } from './events.ts';
import { BadLines, MAX_LINE_BYTES, parseLine, tooLong, type Recording } from './recording-format.ts';

export { checkEvent, KEPT_PER_KIND, MAX_LINE_BYTES, type Recording, type RecordingError } from './recording-format.ts';

/**
 * Reads a recording (README, "Record format": one event per line) back into events, tolerantly:
 * a line that is not a well-formed event is reported — its number and why — and skipped, and
 * every other line is kept. A recording cut short (wsplay killed while writing, a disk full, a
 * copy in progress) loses only its unfinished last line. Fields the reader does not know are
 * ignored, so a recording from a newer wsplay opens too.
 *
 * Sans-I/O like the decoders: `RecordingParser` takes chunks and never throws on their content;
 * `readRecordingFile` is the loop that feeds it a file.
 */

/** Feed a recording in chunks of any size; `end()` returns what was read. Never throws on content. */
export class RecordingParser {
  private readonly events: WireEvent[] = [];
  private readonly bad = new BadLines();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The current line is over the bound: drop its bytes until the next newline. */
  private skipping = false;
  private line = 0;

  push(chunk: Buffer | string): void {
    let data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    while (data.length > 0) {
      const nl = data.indexOf(0x0a);
      const piece = nl < 0 ? data : data.subarray(0, nl);
      if (!this.skipping) {
        if (this.pendingBytes + piece.length > MAX_LINE_BYTES) {
          this.skipping = true;
          this.pending = [];
          this.pendingBytes = 0;
        } else if (piece.length > 0) {
          // Copy: the caller may reuse its read buffer.
          this.pending.push(Buffer.from(piece));
          this.pendingBytes += piece.length;
        }
      }
      if (nl < 0) return;
      this.finishLine(false);
      data = data.subarray(nl + 1);
    }
  }

  end(): Recording {
    if (this.pendingBytes > 0 || this.skipping) this.finishLine(true);
    return { events: this.events, errors: this.bad.kept, badLines: this.bad.count, lines: this.line };
  }

  private finishLine(last: boolean): void {
    this.line++;
    const line = this.line;
    if (this.skipping) {
      this.skipping = false;
      this.bad.add('too long', tooLong(line));
      return;
    }
    const text = Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    const r = parseLine(text, line, last, (kind) => this.bad.wants(kind));
    if (r === null) return;
    if ('error' in r) this.bad.add(r.kind, r.error);
    else this.events.push(r.event);
  }
}

/** Parse a whole recording held in memory. */
export function parseRecording(text: string | Buffer): Recording {
  const p = new RecordingParser();
  p.push(text);
  return p.end();
}

/**
 * Read a recording file. File-system errors (ENOENT, EACCES, EISDIR) are thrown for the caller
 * to explain; what is wrong inside the file is in `errors`.
 */
export function readRecordingFile(path: string): Recording {
  const fd = openSync(path, 'r');
  try {
    const p = new RecordingParser();
    const buf = Buffer.alloc(1024 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      p.push(buf.subarray(0, n));
    }
    return p.end();
  } finally {
    closeSync(fd);
  }
}
