/**
 * The learner's server output split into lines (server/runner/console-lines.ts) and the console
 * history pages get (server/app/console-history.ts): a line of any length costs a bounded amount
 * of memory, keeps its start, its end and its true length, and says it was cut.
 */
import { describe, expect, it } from 'vitest';
import { CONSOLE_HISTORY_CHARS, CONSOLE_HISTORY_LINES, ConsoleHistory } from '../../server/app/console-history.ts';
import { LINE_HEAD_CHARS, LINE_TAIL_CHARS, LineSplitter, MAX_LINE_CHARS, type Line } from '../../server/runner/console-lines.ts';

function split(chunks: string[], end = true): Line[] {
  const lines: Line[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  for (const c of chunks) s.push(c);
  if (end) s.end();
  return lines;
}

describe('splitting server output into lines', () => {
  it('splits on newlines across chunk boundaries, keeping empty lines, and ends with what is left', () => {
    expect(split(['hel', 'lo\nwor', 'ld\n\nlast'])).toEqual([{ text: 'hello' }, { text: 'world' }, { text: '' }, { text: 'last' }]);
    expect(split(['a\n'])).toEqual([{ text: 'a' }]);
  });

  it('keeps a line up to the cap whole', () => {
    const text = 'x'.repeat(MAX_LINE_CHARS);
    expect(split([text.slice(0, 100), text.slice(100), '\n'])).toEqual([{ text }]);
  });

  it('cuts the middle of a long line, keeping its start, its end and its true length', () => {
    const length = MAX_LINE_CHARS * 10 + 7;
    const text = 'S' + 'm'.repeat(length - 2) + 'E';
    const [line, next] = split([text.slice(0, 5000), text.slice(5000, 20_000), text.slice(20_000), '\nafter\n']);
    expect(line!.length).toBe(length);
    expect(line!.text.startsWith('S' + 'm'.repeat(LINE_HEAD_CHARS - 1))).toBe(true);
    expect(line!.text.endsWith('m'.repeat(LINE_TAIL_CHARS - 1) + 'E')).toBe(true);
    const cut = length - LINE_HEAD_CHARS - LINE_TAIL_CHARS;
    expect(line!.text).toContain(`[${cut.toLocaleString('en-US')} characters cut: the line had ${length.toLocaleString('en-US')}]`);
    expect(line!.text.length).toBeLessThan(LINE_HEAD_CHARS + LINE_TAIL_CHARS + 100);
    expect(next).toEqual({ text: 'after' });
  });

  it('holds a bounded number of characters while 64 MiB arrive without a newline, in pipe-sized chunks', () => {
    const lines: Line[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const chunk = 'abcdefgh'.repeat(8192); // 64 KiB, as a pipe delivers it
    let most = 0;
    for (let i = 0; i < 1024; i++) {
      s.push(chunk);
      most = Math.max(most, s.held);
    }
    expect(lines).toEqual([]);
    expect(most).toBeLessThanOrEqual(MAX_LINE_CHARS + chunk.length);
    s.push('!\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBe(64 * 1024 * 1024 + 1);
    expect(lines[0]!.text.endsWith('fgh!')).toBe(true);
    expect(s.held).toBe(0);
  });

  it('never leaves half of a surrogate pair at a cut', () => {
    const text = '😀'.repeat(MAX_LINE_CHARS);
    const [line] = split([text, '\n']);
    expect(line!.length).toBe(text.length);
    // Every character of the kept text is whole: it survives a round trip through UTF-8.
    expect(Buffer.from(line!.text, 'utf8').toString('utf8')).toBe(line!.text);
  });
});

describe('the console history a loading page gets', () => {
  const line = (text: string) => ({ source: 'server' as const, stream: 'stdout' as const, text, t: 0 });

  it('keeps the newest lines, at most CONSOLE_HISTORY_LINES', () => {
    const h = new ConsoleHistory();
    for (let i = 0; i < CONSOLE_HISTORY_LINES * 3; i++) h.push(line(`line ${i}`));
    const held = h.toArray();
    expect(held).toHaveLength(CONSOLE_HISTORY_LINES);
    expect(held[held.length - 1]!.text).toBe(`line ${CONSOLE_HISTORY_LINES * 3 - 1}`);
    expect(held[0]!.text).toBe(`line ${CONSOLE_HISTORY_LINES * 2}`);
  });

  it('keeps at most CONSOLE_HISTORY_CHARS characters of text, dropping the oldest lines', () => {
    const h = new ConsoleHistory();
    const long = 'y'.repeat(LINE_HEAD_CHARS + LINE_TAIL_CHARS + 80);
    for (let i = 0; i < CONSOLE_HISTORY_LINES; i++) h.push(line(`${i} ${long}`));
    expect(h.characters).toBeLessThanOrEqual(CONSOLE_HISTORY_CHARS);
    expect(h.toArray().reduce((n, l) => n + l.text.length, 0)).toBe(h.characters);
    expect(h.size).toBeLessThan(CONSOLE_HISTORY_LINES);
    expect(h.toArray().at(-1)!.text.startsWith(`${CONSOLE_HISTORY_LINES - 1} `)).toBe(true);
  });
});
