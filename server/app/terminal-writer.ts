import { fstatSync, readFileSync } from 'node:fs';
import { format } from 'node:util';
import createDebug from 'debug';

/**
 * Everything wsplay prints goes through here, and a terminal or pipe that stops reading never
 * stops wsplay.
 *
 * Why: on Linux Node writes to a terminal synchronously (tty.WriteStream sets its descriptor
 * blocking), so a terminal paused with Ctrl-S, or one whose reader is busy, blocks the event loop
 * in write(2): the wiretap stops relaying and the dashboard stops receiving. A pipe or socket
 * (`npm start | less`) is written asynchronously, but Node then buffers without any bound: at the
 * course's line per message that is megabytes a second of memory nobody reads. And a file on disk
 * is written synchronously, which is what a file should get: everything, in order.
 *
 * How: what the sink takes at once is written at once (the terminal keeps up: output as before,
 * one write per line or batch). What it does not take waits in a queue bounded in bytes and lines;
 * past either bound the server's output and the DEBUG log are dropped and counted until the reader
 * has caught up with everything that waited, then one line says how much was lost and for how long.
 * wsplay's own lines (start-up, its errors, server.js's state) are queued past the bound, within a
 * small reserve of their own, so they are the last thing lost.
 */

/**
 * Lines that wait for a terminal that stopped reading, at most. What waits is shown when it reads
 * again: a couple of screens is context, more is scrolled past unseen (a terminal's scrollback is
 * typically 1,000 to 10,000 lines), and at the course's 5,000 lines a second nothing would be
 * current anyway.
 */
export const QUEUE_LINES = 2_000;
/**
 * …and bytes (UTF-8). 2,000 lines of up to ~500 bytes; a server.js line is cut to ~2 K characters
 * (server/runner/console-lines.ts), so a burst of long lines stays within a megabyte. Node holds
 * one more write besides (the one the sink took part of: at most a turn's batch, terminal-lines.ts).
 */
export const QUEUE_BYTES = 1024 * 1024;
/** wsplay's own lines may wait past the bounds, this many more of them (lines, bytes). */
export const NOTE_RESERVE_LINES = 200;
export const NOTE_RESERVE_BYTES = 64 * 1024;
/**
 * At exit (Ctrl-C, a fatal error), how long what waits may take to be written. A terminal that
 * reads at all takes a megabyte in well under a second; one that never reads (paused, a pipe nobody
 * drains) must not keep wsplay running after Ctrl-C, so past this the rest is lost.
 */
export const EXIT_FLUSH_MS = 2_000;

/**
 * `server`: a line the learner's server printed; `log`: a DEBUG=wsplay:* line; `note`: wsplay's
 * own (start-up, its errors, server.js's state). The first two are dropped first.
 */
export type LineKind = 'server' | 'log' | 'note';

/** What the writer needs of a stream (process.stdout, a net.Socket, a Writable in tests). */
export interface Sink {
  write(chunk: string, cb: (err?: Error | null) => void): boolean;
  readonly writableLength: number;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

interface Item {
  text: string;
  lines: number;
  bytes: number;
  kind: LineKind;
}

/** Where the note about lost lines goes in the queue: after what waited when the first was dropped. */
const LOST = Symbol('lost');

interface Lost {
  server: number;
  log: number;
  note: number;
}

function linesIn(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

const count = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** The line that says what was lost: the thing, the cause, and that nothing else stopped. */
/** Whether a dashboard runs (not with --no-dashboard): the note about lost lines points to its Console. */
export const terminalContext = { dashboard: false };

function lostLine(lost: Lost, ms: number): string {
  const parts: string[] = [];
  if (lost.server > 0) parts.push(`${count(lost.server, 'line')} of server.js output`);
  if (lost.log > 0) parts.push(`${count(lost.log, 'line')} of the DEBUG log`);
  if (lost.note > 0) parts.push(`${count(lost.note, 'line')} of wsplay's own`);
  const total = lost.server + lost.log + lost.note;
  const list = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : parts[0];
  return (
    `wsplay: ${list} ${total === 1 ? 'was' : 'were'} not shown: for ${(ms / 1000).toFixed(1)} s the terminal did not keep up ` +
    `(paused with Ctrl-S, scrolled back, or a pipe nobody reads). ` +
    (terminalContext.dashboard
      ? `The wiretap and the dashboard kept running${lost.server > 0 ? "; server.js's recent output is in the dashboard's Console" : ''}.`
      : 'The wiretap kept relaying.')
  );
}

/** One destination (a terminal, a pipe, a file): its queue, in order, and what it dropped. */
export class TerminalChannel {
  private queue: (Item | typeof LOST)[] = [];
  private bytes = 0;
  private lines = 0;
  /** A write the sink has not taken all of: the next waits for its callback. */
  private pending = 0;
  private seq = 0;
  /** Dropped since the queue filled; null while nothing is being dropped. */
  private lost: Lost | null = null;
  /** When the sink first did not take a write at once (0: it keeps up). */
  private stalledSince = 0;
  /** The sink failed (EPIPE: the reader went away): nothing more can be shown there. */
  private gone = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly sink: Sink,
    private readonly now: () => number = Date.now,
    private readonly bounds = { lines: QUEUE_LINES, bytes: QUEUE_BYTES, noteLines: NOTE_RESERVE_LINES, noteBytes: NOTE_RESERVE_BYTES },
  ) {
    // Without a listener an EPIPE would end wsplay; the wiretap and dashboard are worth more than
    // a terminal that is gone.
    sink.on('error', () => this.goneAway());
  }

  /** Lines and bytes waiting (not counting the write the sink has part of). */
  get waiting(): { lines: number; bytes: number } {
    return { lines: this.lines, bytes: this.bytes };
  }

  /** `text`: one or more lines without the last newline. */
  write(text: string, kind: LineKind): void {
    if (this.gone) return;
    if (this.pending === 0 && this.queue.length === 0) {
      this.send(`${text}\n`);
      return;
    }
    if (this.lost !== null && kind !== 'note') {
      // Until the reader has caught up with all that waited: a gap is one gap, said once.
      this.lost[kind] += linesIn(text);
      return;
    }
    const lines = linesIn(text);
    const bytes = Buffer.byteLength(text) + 1;
    const overLines = this.lines + lines - this.bounds.lines;
    const overBytes = this.bytes + bytes - this.bounds.bytes;
    if (overLines <= 0 && overBytes <= 0) return this.push({ text, lines, bytes, kind });
    if (kind === 'note') {
      if (overLines <= this.bounds.noteLines && overBytes <= this.bounds.noteBytes) return this.push({ text, lines, bytes, kind });
      this.drop(kind, lines);
      return;
    }
    // A batch of lines keeps the ones that fit; the rest are the first lost.
    const kept = this.fitting(text);
    if (kept.lines > 0) this.push({ text: text.slice(0, kept.end), lines: kept.lines, bytes: kept.bytes, kind });
    this.drop(kind, lines - kept.lines);
  }

  /** Resolves once everything waiting is written, or after `ms` (false: some was not). */
  flush(ms = EXIT_FLUSH_MS): Promise<boolean> {
    if (this.idle) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      timer.unref();
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private get idle(): boolean {
    return this.gone || (this.pending === 0 && this.queue.length === 0);
  }

  /** How much of `text` fits in the queue, in whole lines: the end of the last that fits, and their bytes with the newline after each. */
  private fitting(text: string): { end: number; lines: number; bytes: number } {
    let lines = 0;
    let bytes = 0;
    let end = 0;
    for (let from = 0; from <= text.length && this.lines + lines < this.bounds.lines; ) {
      const nl = text.indexOf('\n', from);
      const stop = nl === -1 ? text.length : nl;
      const size = Buffer.byteLength(text.slice(from, stop)) + 1;
      if (this.bytes + bytes + size > this.bounds.bytes) break;
      bytes += size;
      lines++;
      end = stop;
      if (nl === -1) break;
      from = nl + 1;
    }
    return { end, lines, bytes };
  }

  private push(item: Item): void {
    this.queue.push(item);
    this.lines += item.lines;
    this.bytes += item.bytes;
  }

  private drop(kind: LineKind, lines: number): void {
    if (lines === 0) return;
    if (this.lost === null) {
      this.lost = { server: 0, log: 0, note: 0 };
      this.queue.push(LOST);
    }
    this.lost[kind] += lines;
  }

  private send(chunk: string): void {
    const id = ++this.seq;
    this.sink.write(chunk, (err) => {
      if (err) this.goneAway();
      else if (id === this.pending) this.taken();
    });
    // Taken at once (the kernel had room, or a file written synchronously): the next goes now.
    if (this.sink.writableLength === 0) return;
    this.pending = id;
    if (this.stalledSince === 0) this.stalledSince = this.now();
  }

  /** The sink took the write that was pending: send what waits, in order, while it keeps taking. */
  private taken(): void {
    this.pending = 0;
    while (this.pending === 0 && this.queue.length > 0) {
      const item = this.queue.shift()!;
      if (item === LOST) {
        const line = lostLine(this.lost!, this.now() - this.stalledSince);
        this.lost = null;
        this.send(`${line}\n`);
        continue;
      }
      this.lines -= item.lines;
      this.bytes -= item.bytes;
      this.send(`${item.text}\n`);
    }
    if (this.pending === 0) {
      this.stalledSince = 0;
      this.wakeIdle();
    }
  }

  private goneAway(): void {
    this.gone = true;
    this.queue = [];
    this.lines = 0;
    this.bytes = 0;
    this.lost = null;
    this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** wsplay's stdout and stderr: one channel each, or one for both when they are the same terminal or pipe. */
export class TerminalWriter {
  constructor(
    private readonly outChannel: TerminalChannel,
    private readonly errChannel: TerminalChannel,
  ) {}

  /** A line (or lines) to stdout. */
  out(text: string, kind: LineKind = 'note'): void {
    this.outChannel.write(text, kind);
  }

  /** A line (or lines) to stderr. */
  err(text: string, kind: LineKind = 'note'): void {
    this.errChannel.write(text, kind);
  }

  /** Before an exit: what waits is written, for `ms` at most (EXIT_FLUSH_MS). */
  async flush(ms = EXIT_FLUSH_MS): Promise<boolean> {
    const [a, b] = await Promise.all([this.outChannel.flush(ms), this.errChannel === this.outChannel ? true : this.errChannel.flush(ms)]);
    return a && b;
  }
}

/** O_CLOEXEC in /proc/self/fdinfo's octal flags. */
const O_CLOEXEC = 0o2000000;

/**
 * Let a terminal's writes wait in libuv instead of in write(2). tty.WriteStream makes its
 * descriptor blocking; making it non-blocking again is safe only on a descriptor of wsplay's own:
 * libuv reopens a terminal by its name (uv_tty_init) and dup3()s it onto fd 1 or 2 with O_CLOEXEC,
 * so the shell and npm, which share the terminal, keep theirs blocking. When libuv could not
 * reopen it (a pty master, no /dev/pts name) the descriptor is the one everyone shares: it stays
 * blocking, and a paused terminal still pauses wsplay, as before.
 */
function unblockTerminal(stream: NodeJS.WriteStream, fd: number): void {
  if (!stream.isTTY) return;
  const handle = (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle;
  if (typeof handle?.setBlocking !== 'function') return;
  let flags: number;
  try {
    const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    if (!m) return;
    flags = parseInt(m[1]!, 8);
  } catch {
    return;
  }
  if ((flags & O_CLOEXEC) === 0) return;
  if (handle.setBlocking(false) !== 0) return;
  // As Node left it, for anything that writes after us (Node's own last words on a crash).
  process.once('exit', () => handle.setBlocking!(true));
}

function sameTarget(a: number, b: number): boolean {
  try {
    const x = fstatSync(a);
    const y = fstatSync(b);
    return x.dev === y.dev && x.ino === y.ino && x.rdev === y.rdev;
  } catch {
    return false;
  }
}

let installed: TerminalWriter | null = null;

/**
 * The process's writer over stdout and stderr, made on first use: the `debug` module's lines and
 * console.* go through it too, so nothing wsplay prints takes another way (and jumps the queue).
 */
export function terminal(): TerminalWriter {
  if (installed) return installed;
  unblockTerminal(process.stdout, 1);
  unblockTerminal(process.stderr, 2);
  const out = new TerminalChannel(process.stdout);
  // One queue when both are the same terminal or pipe (stderr's lines then go through fd 1, to the
  // same place): their lines keep their order between them, and one stall is one note, not two.
  const err = sameTarget(1, 2) ? out : new TerminalChannel(process.stderr);
  const writer = new TerminalWriter(out, err);
  installed = writer;
  createDebug.log = (...args: unknown[]) => writer.err(format(...args), 'log');
  console.log = (...args: unknown[]) => writer.out(format(...args));
  console.info = console.log;
  console.error = (...args: unknown[]) => writer.err(format(...args));
  console.warn = console.error;
  return writer;
}
