// wsplay's terminal writer: a terminal that stops reading holds a bounded queue (lines, bytes),
// what does not fit is dropped and counted, and one line says so once the reader is back.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EXIT_FLUSH_MS, NOTE_RESERVE_LINES, QUEUE_BYTES, QUEUE_LINES, TerminalChannel, terminalContext } from '../../server/app/terminal-writer.ts';

/** A terminal whose reader can stop: while paused, the write in progress is not taken. */
class Reader {
  readonly taken: string[] = [];
  writes = 0;
  /** Writes the reader takes before it stops again. */
  private budget = Infinity;
  private held: (() => void) | null = null;
  readonly stream = new Writable({
    decodeStrings: false,
    write: (chunk: string, _enc, done) => {
      this.writes++;
      const take = () => {
        this.taken.push(chunk);
        done();
      };
      if (this.budget > 0) {
        this.budget--;
        take();
      } else this.held = take;
    },
  });

  pause(): void {
    this.budget = 0;
  }

  /** Read again: the held write is taken, and `writes` more after it (all, by default), then stop. */
  resume(writes = Infinity): void {
    this.budget = writes;
    const take = this.held;
    this.held = null;
    take?.();
  }

  /** The lines shown, in order (every write ends with its newline). */
  get lines(): string[] {
    const text = this.taken.join('');
    expect(text === '' || text.endsWith('\n')).toBe(true);
    return text === '' ? [] : text.slice(0, -1).split('\n');
  }
}

const LOST_LINE = /^wsplay: (.*) (?:was|were) not shown: for (\d+\.\d) s the terminal did not keep up \(paused with Ctrl-S, scrolled back, or a pipe nobody reads\)\. The wiretap (?:and the dashboard kept running|kept relaying)/;

beforeEach(() => {
  terminalContext.dashboard = true;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('TerminalChannel', () => {
  it('writes each line at once while the terminal keeps up, in order, nothing waiting', () => {
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    t.write('Dashboard: http://127.0.0.1:9901/', 'note');
    t.write('[server.js] received: a\n[server.js] received: b', 'server');
    t.write('wsplay:frame #1 client → TEXT', 'log');
    expect(r.writes).toBe(3);
    expect(r.lines).toEqual(['Dashboard: http://127.0.0.1:9901/', '[server.js] received: a', '[server.js] received: b', 'wsplay:frame #1 client → TEXT']);
    expect(t.waiting).toEqual({ lines: 0, bytes: 0 });
  });

  it('holds the lines of a terminal that stopped reading and writes them in order, whole, once it reads again', () => {
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    for (let i = 0; i < 50; i++) t.write(`[server.js] received: ${i}`, 'server');
    expect(r.taken).toEqual([]);
    expect(t.waiting.lines).toBe(49); // the first is the write the terminal has not taken
    r.resume();
    expect(r.lines).toEqual(Array.from({ length: 50 }, (_, i) => `[server.js] received: ${i}`));
    expect(t.waiting).toEqual({ lines: 0, bytes: 0 });
  });

  it(`holds at most ${QUEUE_LINES} lines; the rest are counted and said in one line after them`, () => {
    let now = 1000;
    const r = new Reader();
    const t = new TerminalChannel(r.stream, () => now);
    r.pause();
    const n = QUEUE_LINES + 1 + 12_345;
    for (let i = 0; i < n; i++) t.write(`[server.js] received: ${i}`, 'server');
    expect(t.waiting.lines).toBe(QUEUE_LINES);
    now += 4200;
    r.resume();
    const lines = r.lines;
    // The first write (taken when the terminal read again), the queue's, then the count.
    expect(lines.length).toBe(QUEUE_LINES + 2);
    expect(lines.slice(0, -1)).toEqual(Array.from({ length: QUEUE_LINES + 1 }, (_, i) => `[server.js] received: ${i}`));
    const m = LOST_LINE.exec(lines.at(-1)!);
    expect(m, lines.at(-1)).not.toBeNull();
    expect(m![1]).toBe('12,345 lines of server.js output');
    expect(m![2]).toBe('4.2');
    expect(lines.at(-1)).toContain("server.js's recent output is in the dashboard's Console");
    // Caught up: the next line goes straight out, no second note.
    t.write('[server.js] received: later', 'server');
    expect(r.lines.slice(-2)).toEqual([lines.at(-1), '[server.js] received: later']);
  });

  it('without a dashboard (--no-dashboard), says the wiretap kept relaying and points nowhere else', () => {
    terminalContext.dashboard = false;
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    for (let i = 0; i < QUEUE_LINES + 3; i++) t.write(`wsplay:frame #1 client → TEXT ${i}`, 'log');
    r.resume();
    expect(r.lines.at(-1)).toMatch(/^wsplay: 2 lines of the DEBUG log were not shown: for \d+\.\d s .*\. The wiretap kept relaying\.$/);
  });

  it(`holds at most ${QUEUE_BYTES / 1024} KiB: long lines are dropped by bytes before the line bound`, () => {
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    const long = (i: number) => `${String(i).padStart(6, '0')} ${'é'.repeat(2000)}`; // 4,008 bytes with its newline
    for (let i = 0; i < 1000; i++) t.write(long(i), 'log');
    const fits = Math.floor(QUEUE_BYTES / 4008);
    expect(t.waiting).toEqual({ lines: fits, bytes: fits * 4008 });
    r.resume();
    const lines = r.lines;
    expect(lines.slice(0, -1)).toEqual(Array.from({ length: fits + 1 }, (_, i) => long(i)));
    expect(LOST_LINE.exec(lines.at(-1)!)![1]).toBe(`${(1000 - fits - 1).toLocaleString('en-US')} lines of the DEBUG log`);
  });

  it('keeps the whole lines of a batch that fit, and counts the rest of it', () => {
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    t.write('first', 'server');
    const batch = Array.from({ length: QUEUE_LINES + 10 }, (_, i) => `[server.js] received: ${i}`);
    t.write(batch.join('\n'), 'server');
    expect(t.waiting.lines).toBe(QUEUE_LINES);
    r.resume();
    const lines = r.lines;
    expect(lines.slice(0, -1)).toEqual(['first', ...batch.slice(0, QUEUE_LINES)]);
    expect(LOST_LINE.exec(lines.at(-1)!)![1]).toBe('10 lines of server.js output');
  });

  it("keeps dropping until the reader has caught up with everything that waited: one gap, one line, before what came after", () => {
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    for (let i = 0; i < QUEUE_LINES + 1; i++) t.write(`a ${i}`, 'server');
    t.write('dropped 1', 'server');
    // The reader takes a few writes and stops again: the queue has room, but the gap is still open.
    r.resume(5);
    expect(r.lines).toHaveLength(6);
    t.write('dropped 2', 'server');
    r.resume();
    const before = r.lines.length;
    expect(before).toBe(QUEUE_LINES + 2);
    expect(LOST_LINE.exec(r.lines.at(-1)!)![1]).toBe('2 lines of server.js output');
    r.pause();
    t.write('b 0', 'server');
    t.write('b 1', 'server');
    r.resume();
    expect(r.lines.slice(before)).toEqual(['b 0', 'b 1']);
  });

  it("queues wsplay's own lines past the bound, in order, and counts them only past their reserve", () => {
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    for (let i = 0; i < QUEUE_LINES + 1; i++) t.write(`s ${i}`, 'server');
    t.write('[server.js] dropped', 'server');
    t.write('server.js crashed (exit code 1).', 'note');
    for (let i = 0; i < NOTE_RESERVE_LINES + 3; i++) t.write(`note ${i}`, 'note');
    r.resume();
    const lines = r.lines;
    const lost = lines.findIndex((l) => LOST_LINE.test(l));
    expect(lines.slice(0, lost)).toEqual(Array.from({ length: QUEUE_LINES + 1 }, (_, i) => `s ${i}`));
    // The note about the gap comes where the gap began; the notes queued after it follow.
    expect(LOST_LINE.exec(lines[lost]!)![1]).toBe("1 line of server.js output and 4 lines of wsplay's own");
    expect(lines.slice(lost + 1)).toEqual(['server.js crashed (exit code 1).', ...Array.from({ length: NOTE_RESERVE_LINES - 1 }, (_, i) => `note ${i}`)]);
  });

  it('at exit, writes what waits for a terminal that reads', async () => {
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    for (let i = 0; i < 10; i++) t.write(`line ${i}`, 'server');
    const flushed = t.flush();
    r.resume();
    expect(await flushed).toBe(true);
    expect(r.lines).toHaveLength(10);
  });

  it(`at exit, gives a terminal that never reads ${EXIT_FLUSH_MS} ms, not forever`, async () => {
    vi.useFakeTimers();
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    for (let i = 0; i < 10; i++) t.write(`line ${i}`, 'server');
    let result: boolean | null = null;
    void t.flush().then((ok) => (result = ok));
    await vi.advanceTimersByTimeAsync(EXIT_FLUSH_MS - 1);
    expect(result).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe(false);
  });

  it('a terminal that went away (EPIPE) ends nothing: later lines go nowhere, an exit does not wait', async () => {
    const r = new Reader();
    const t = new TerminalChannel(r.stream);
    r.pause();
    t.write('a', 'server');
    t.write('b', 'server');
    r.stream.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await new Promise((resolve) => r.stream.once('close', resolve));
    expect(() => t.write('c', 'note')).not.toThrow();
    expect(await t.flush(60_000)).toBe(true);
    expect(t.waiting).toEqual({ lines: 0, bytes: 0 });
  });
});
