import type { ConsoleLine } from './stream-protocol.ts';

/** Output lines a page gets when it (re)loads, at most. */
export const CONSOLE_HISTORY_LINES = 300;
/**
 * …and at most this many characters of them. Every page that loads is sent the whole history,
 * so it stays small whatever the server printed (a line is already cut to ~2 K characters in
 * server/runner/console-lines.ts; this keeps a burst of long lines to a few hundred KB).
 */
export const CONSOLE_HISTORY_CHARS = 256 * 1024;

/** The newest console lines within both bounds; the oldest go first. */
export class ConsoleHistory {
  private lines: ConsoleLine[] = [];
  private head = 0;
  private chars = 0;

  constructor(
    private readonly maxLines = CONSOLE_HISTORY_LINES,
    private readonly maxChars = CONSOLE_HISTORY_CHARS,
  ) {}

  push(line: ConsoleLine): void {
    this.lines.push(line);
    this.chars += line.text.length;
    while (this.lines.length - this.head > 1 && (this.lines.length - this.head > this.maxLines || this.chars > this.maxChars)) {
      this.chars -= this.lines[this.head]!.text.length;
      this.lines[this.head++] = undefined as unknown as ConsoleLine;
    }
    // Drop the gone lines from the array now and then, not on every push.
    if (this.head > this.maxLines) {
      this.lines = this.lines.slice(this.head);
      this.head = 0;
    }
  }

  /** The lines held, oldest first. */
  toArray(): ConsoleLine[] {
    return this.lines.slice(this.head);
  }

  get size(): number {
    return this.lines.length - this.head;
  }

  /** Characters of text held. */
  get characters(): number {
    return this.chars;
  }
}
