/**
 * Recordings made on purpose to hurt the exports and the reader (issue 12, items 5-7): a frame
 * announcing a petabyte, numbers no wiretap writes (1e308, -1e308), millions of bad lines and
 * hundreds of thousands of connections that all lack the same thing. Each is scaled to run in
 * seconds, and the CLI runs with a small heap: what an export writes and keeps is bounded by
 * what the recording holds, never by a number in it, and a bad number costs only its line.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { WireEvent } from '../../server/capture/events.ts';
import { exportHar } from '../../server/capture/har-writer.ts';
import { exportPcapng, MAX_ZERO_FILL } from '../../server/capture/pcapng-writer.ts';
import { KEPT_PER_KIND, parseRecording } from '../../server/capture/recording-reader.ts';
import { Cleanup, runCli } from '../helpers/net.ts';

const FIXTURE = path.join(import.meta.dirname, '../fixtures/echo-session.jsonl');
const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '');
const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-hostile-'));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A heap far below a petabyte, or the 4.2 GB 12 million bad lines once took. */
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=192' };

async function wsplayExport(file: string, format: 'har' | 'pcapng'): Promise<{ code: number | null; stdout: string[]; stderr: string[]; out: string }> {
  const out = `${file}.${format}`;
  const p = runCli(['export', file, '--format', format, '-o', out], SMALL_HEAP);
  cleanup.add(() => p.kill());
  const { code } = await p.exited;
  const split = (s: string) => s.split('\n').filter((l) => l !== '');
  return { code, stdout: split(p.stdout()), stderr: split(p.stderr()), out };
}

function write(name: string, rows: unknown[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
  return file;
}

/** The fixture's first connection, its last client frame (the close) replaced by `frame`. */
function withFrame(frame: Record<string, unknown>, end?: Record<string, unknown>): unknown[] {
  const rows = events.filter((e) => e.conn === 1);
  const closeAt = rows.findIndex((e) => e.type === 'frame' && e.dir === 'client' && e.opcode === 8);
  const out: unknown[] = rows.map((e, i) => (i === closeAt ? { ...e, ...frame } : e));
  const endAt = rows.findIndex((e) => e.type === 'end');
  if (end) out[endAt] = { ...rows[endAt], ...end };
  else out.splice(endAt, 1);
  return out;
}

describe('a frame announcing a petabyte', () => {
  const petabyte = { length: 1e15, lengthEncoding: 64, truncated: true, header: '88ff00038d7ea4c680000dd76693', headerLength: 14 };
  const closeLine = lines.findIndex((l) => l.includes('"opcode":8,"masked":true')) + 1;
  const endLine = lines.findIndex((l) => l.startsWith('{"type":"end","conn":1,')) + 1;

  it.each([
    ['at an offset of 10^15, 37 ms after the start', withFrame({ ...petabyte, offset: 1e15 }, {}), closeLine, 'frame', /it says 2000000000000014 bytes of its stream had crossed by t = 37\.022 ms, faster than 100 GB\/s/],
    ['in a connection whose end counts 10^15 bytes', withFrame({}, { bytes: { client: 1e15, server: 231 } }), endLine, 'end', /`bytes\.client` says 1000000000000000 bytes of its stream had crossed by t = 39\.25 ms, faster than 100 GB\/s/],
  ])('%s is a bad line, named, and the rest exports to pcapng in a small heap', async (_what, rows, line, type, why) => {
    const file = write(`petabyte-${type}.jsonl`, rows);
    const r = await wsplayExport(file, 'pcapng');
    expect(r.code, r.stderr.join('\n')).toBe(0);
    expect(r.stderr[0]).toMatch(new RegExp(`^Warning: petabyte-${type}\\.jsonl: line ${line} is not a valid ${type} event: `));
    expect(r.stderr[0]).toMatch(why);
    expect(r.stdout).toEqual([expect.stringMatching(/^Exported 1 connection \(\d+ frames\) to .*; 1 bad line skipped\.$/)]);
    expect(statSync(r.out).size).toBeLessThan(64 * 1024);
  });

  it('that could have crossed (27 hours into a capture) is written up to the zero-fill bound, and the rest is a gap, said', async () => {
    const late = { ...petabyte, t: 1e8, tEnd: 1e8 };
    const file = write('petabyte-late.jsonl', withFrame(late, { t: 1e8 + 1, bytes: { client: 275 + 14 + 1e15, server: 231 } }));
    const r = await wsplayExport(file, 'pcapng');
    expect(r.stderr.filter((l) => !l.startsWith('Note: '))).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toEqual([expect.stringMatching(/^Exported 1 connection \(\d+ frames\) to /)]);
    // At most the zero-fill bound of made-up bytes, and the packets' own headers.
    expect(statSync(r.out).size).toBeGreaterThan(MAX_ZERO_FILL);
    expect(statSync(r.out).size).toBeLessThan(MAX_ZERO_FILL * 1.1);
    expect(r.stderr).toContainEqual(
      `Note: Connection 1: ${1e15 - 6 - MAX_ZERO_FILL} payload bytes client → server past the recording's previews are left out (the export writes at most 64 MiB of zeros in all); Wireshark shows "previous segment not captured" there.`,
    );
  });

  it('past 2^53 bytes of its stream is a bad line, named, and the rest exports', async () => {
    const file = write('past-2-53.jsonl', withFrame({ ...petabyte, length: 2 ** 52, offset: 2 ** 52 }, {}));
    const r = await wsplayExport(file, 'pcapng');
    expect(r.code).toBe(0);
    const line = lines.findIndex((l) => l.includes('"opcode":8,"masked":true')) + 1;
    expect(r.stderr[0]).toBe(
      `Warning: past-2-53.jsonl: line ${line} is not a valid frame event: it would end at byte ${2 ** 52} + 14 + ${2 ** 52} of its stream, past 2^53 bytes: no connection carried that much; skipped.`,
    );
  });

  it('with a preview longer than its length is a bad line', () => {
    const frame = events.find((e) => e.type === 'frame')!;
    const r = parseRecording(`${JSON.stringify({ ...frame, length: 3 })}\n`);
    expect(r.errors).toEqual([{ line: 1, message: 'line 1 is not a valid frame event: `payload` holds 15 bytes but `length` says the frame has 3' }]);
  });
});

describe('numbers no wiretap writes', () => {
  const open = events[0]!;
  const handshake = events[1]!;
  const lineOf = (bad: Record<string, unknown>) => lines.findIndex((l) => l.startsWith(`{"type":"${bad.type as string}","conn":1,`));
  const replaced = (bad: Record<string, unknown>) => lines.map((l, i) => (i === lineOf(bad) ? JSON.stringify(bad) : l));

  it.each([
    ['wall: 1e308', { ...open, wall: 1e308 }, '`wall` should be epoch milliseconds from 0 to 1000000000000000 (got 1e+308)'],
    ['t: 1e308', { ...open, t: 1e308 }, '`t` should be a time in milliseconds from 0 to 1000000000000 (got 1e+308)'],
    ['t: -1e308', { ...open, t: -1e308 }, '`t` should be a time in milliseconds from 0 to 1000000000000 (got -1e+308)'],
  ])('%s makes its line a bad line, and HAR and pcapng still export the rest', async (what, bad, reason) => {
    const file = write(`numbers-${what.replace(/\W+/g, '-')}.jsonl`, replaced(bad));
    for (const format of ['har', 'pcapng'] as const) {
      const r = await wsplayExport(file, format);
      expect(r.code, r.stderr.join('\n')).toBe(0);
      expect(r.stderr[0]).toBe(`Warning: ${path.basename(file)}: line ${lineOf(bad) + 1} is not a valid open event: ${reason}; skipped.`);
      expect(r.stdout).toEqual([expect.stringMatching(/^Exported 2 connections .*; 1 bad line skipped\.$/)]);
      expect(r.stderr.join('\n')).not.toMatch(/space|RangeError|BigInt/);
    }
  });

  it.each([
    ['wall: -1', { ...open, wall: -1 }, '`wall` should be epoch milliseconds from 0 to 1000000000000000 (got -1)'],
    ["a request head's t: 1e308", { ...handshake, request: { ...(handshake.request as object), t: 1e308 } }, '`request` should be an HTTP request (method, path, version, headers, raw, t) or null (got an object)'],
    ['a frame\'s tEnd: Infinity (written as 1e999)', null, '`tEnd` should be a time in milliseconds from 0 to 1000000000000 (got Infinity)'],
    ['conn: 2^60', { ...open, conn: 2 ** 60 }, '`conn` should be a whole number from 0 to 2^53 (got 1152921504606847000)'],
    ['an end with 2^60 bytes', { ...(events.find((e) => e.type === 'end') as object), bytes: { client: 2 ** 60, server: 1 } }, '`bytes` should be { client, server } byte counts (got an object)'],
  ])('%s makes its line a bad line, named', (_what, bad, reason) => {
    const frame = lines.find((l) => l.includes('"type":"frame"'))!;
    const text = bad ? JSON.stringify(bad) : frame.replace(/"tEnd":[\d.]+/, '"tEnd":1e999');
    const r = parseRecording(`${text}\n`);
    expect(r.events).toEqual([]);
    expect(r.errors).toEqual([{ line: 1, message: expect.stringMatching(/^line 1 is not a valid \w+ event: /) }]);
    expect(r.errors[0]!.message).toContain(reason);
  });
});

describe('a recording of many bad lines', () => {
  it('is read in bounded memory: all counted, the first few of each kind kept with their line numbers', () => {
    const bad = 200_000;
    const rows: string[] = [lines[0]!];
    for (let i = 0; i < bad; i++) rows.push(i % 2 ? 'garbage' : '{"type":"open","conn":-1,"t":0}');
    rows.push(...lines.slice(1));
    const r = parseRecording(rows.join('\n') + '\n');
    expect(r.events).toHaveLength(lines.length);
    expect(r.badLines).toBe(bad);
    expect(r.errors).toHaveLength(2 * KEPT_PER_KIND);
    expect(r.errors.slice(0, 3).map((e) => e.line)).toEqual([2, 3, 4]);
    expect(r.errors[0]!.message).toBe('line 2 is not a valid open event: `conn` should be a whole number from 0 to 2^53 (got -1)');
    expect(r.errors[1]!.message).toMatch(/^line 3 is not JSON/);
  });

  it('exports in a small heap, with at most 20 warnings and a count of the rest', async () => {
    const bad = 300_000;
    const rows: string[] = [...lines];
    for (let i = 0; i < bad; i++) rows.push(i % 3 ? 'x' : '{"type":"frame","conn":1,"t":1e308}');
    const file = write('many-bad.jsonl', rows);
    const r = await wsplayExport(file, 'har');
    expect(r.code).toBe(0);
    expect(r.stderr.length).toBeLessThanOrEqual(21);
    expect(r.stderr.at(-1)).toBe(`Warning: many-bad.jsonl: ${bad - (r.stderr.length - 1)} more bad lines skipped.`);
    expect(r.stdout).toEqual([expect.stringMatching(/; 300000 bad lines skipped\.$/)]);
  });
});

describe('many connections that lack the same thing', () => {
  // Only an `end` per connection: no open, no handshake, no request.
  const many = 30_000;
  const ends: WireEvent[] = Array.from({ length: many }, (_, i) => ({ ...(events.at(-1) as unknown as WireEvent), conn: i + 1 }) as WireEvent);

  it('give a few pcapng notes and a count, not one note each', () => {
    const { notes } = exportPcapng(ends, { startedAt: 0 });
    expect(notes.length).toBeLessThanOrEqual(20);
    expect(notes).toContain(`${many - 5} more connections have no open event in the recording; their ports are made up too.`);
  });

  it('give a few HAR notes and a count', () => {
    const { notes } = exportHar(ends, { startedAt: 0 });
    expect(notes).toHaveLength(6);
    expect(notes.at(-1)).toBe(`${many - 5} more connections have no HTTP request in the recording, and no HAR entry either.`);
  });
});
