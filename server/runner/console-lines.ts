/**
 * Output of the learner's server, split into lines in time linear in what it printed, each
 * line bounded. The course's server logs what it receives, so one message of 64 MiB becomes
 * one line of 64 MiB, possibly with no newline for a long while: joining and splitting the
 * pending text on every chunk of the pipe (64 KiB) made that quadratic and froze the whole
 * playground for minutes. Here each chunk is scanned once, and a long line keeps only its
 * head and its tail, with its true length.
 */

/** Lines up to this many characters are kept whole. */
export const MAX_LINE_CHARS = 8192;
/**
 * A longer line keeps this many characters of its start… (less than the 1,500 the Code tab's
 * console shows before "show all", so the note of what was cut is in sight at once).
 */
export const LINE_HEAD_CHARS = 1024;
/** …and this many of its end, with a note of what was cut between them. */
export const LINE_TAIL_CHARS = 1024;

export interface Line {
  text: string;
  /** The line's true length in characters, when the middle was cut out of `text`. */
  length?: number;
}

/** The note that stands where the middle of a long line was cut. */
export function cutNote(cut: number, length: number): string {
  return ` … [${cut.toLocaleString('en-US')} characters cut: the line had ${length.toLocaleString('en-US')}] … `;
}

/** Drop a lone half of a surrogate pair left at either edge by a cut. */
function trimHead(s: string): string {
  const last = s.charCodeAt(s.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? s.slice(0, -1) : s;
}
function trimTail(s: string): string {
  const first = s.charCodeAt(0);
  return first >= 0xdc00 && first <= 0xdfff ? s.slice(1) : s;
}

/**
 * Feed it the text of one stream as it comes; it calls `emit` for each line (without its
 * newline). Holds at most MAX_LINE_CHARS + LINE_TAIL_CHARS characters of an unfinished line.
 */
export class LineSplitter {
  /** The unfinished line while it is short enough to keep whole. */
  private parts: string[] = [];
  /** Characters in the unfinished line, all of them (also past the cap). */
  private length = 0;
  /** Once the line is too long: its first characters and, kept up to date, its last ones. */
  private head: string | null = null;
  private tail = '';

  constructor(private readonly emit: (line: Line) => void) {}

  /** Characters held for the unfinished line (bounded, whatever its length). */
  get held(): number {
    return this.head === null ? this.length : this.head.length + this.tail.length;
  }

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) {
        if (start < chunk.length) this.add(start === 0 ? chunk : chunk.slice(start));
        return;
      }
      if (nl > start) this.add(chunk.slice(start, nl));
      this.finish();
      start = nl + 1;
    }
  }

  /** The stream ended: what is left is a line. */
  end(): void {
    if (this.length > 0) this.finish();
  }

  private add(piece: string): void {
    this.length += piece.length;
    if (this.head === null) {
      this.parts.push(piece);
      if (this.length <= MAX_LINE_CHARS) return;
      const whole = this.parts.join('');
      this.parts = [];
      this.head = trimHead(whole.slice(0, LINE_HEAD_CHARS));
      this.tail = whole.slice(-LINE_TAIL_CHARS);
      return;
    }
    this.tail = piece.length >= LINE_TAIL_CHARS ? piece.slice(-LINE_TAIL_CHARS) : (this.tail + piece).slice(-LINE_TAIL_CHARS);
  }

  private finish(): void {
    let line: Line;
    if (this.head === null) {
      line = { text: this.parts.length === 1 ? this.parts[0]! : this.parts.join('') };
    } else {
      const tail = trimTail(this.tail);
      const cut = this.length - this.head.length - tail.length;
      line = { text: this.head + cutNote(cut, this.length) + tail, length: this.length };
    }
    this.parts = [];
    this.length = 0;
    this.head = null;
    this.tail = '';
    this.emit(line);
  }
}
