/**
 * The learner's server output for wsplay's terminal, written a turn of the event loop's lines at a
 * time. The course's server.js prints a line per message it receives: at 10,000 frames a second
 * that is 5,000 lines a second, and Node writes to a terminal or a pipe synchronously, one system
 * call per write. Written together, what the lines arrived with in one read is one write.
 *
 * Lines keep their order with everything else printed through `now`, which writes what waits
 * first. What waits is bounded in lines and characters: past either, it is written at once.
 * `print` is wsplay's terminal writer (terminal-writer.ts), which never blocks: a batch is the
 * server's output (dropped first when the terminal stops reading), a `now` line wsplay's own.
 */
import type { LineKind } from './terminal-writer.ts';

export const TERMINAL_BATCH_LINES = 1000;
export const TERMINAL_BATCH_CHARS = 256 * 1024;

export class TerminalLines {
  private pending: string[] = [];
  private chars = 0;
  private scheduled = false;

  /** `print` writes one or more lines (joined with newlines) and the newline after the last. */
  constructor(private readonly print: (text: string, kind: LineKind) => void) {}

  /** Lines waiting to be written. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Write `line` with the others of this turn. */
  later(line: string): void {
    this.pending.push(line);
    this.chars += line.length;
    if (this.pending.length >= TERMINAL_BATCH_LINES || this.chars >= TERMINAL_BATCH_CHARS) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurn);
    }
  }

  /** Write what waits, then `line`. */
  now(line: string): void {
    this.flush();
    this.print(line, 'note');
  }

  /** Write what waits (before an exit, or another write that must come after it). */
  flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('\n');
    this.pending = [];
    this.chars = 0;
    this.print(text, 'server');
  }

  private readonly onTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
