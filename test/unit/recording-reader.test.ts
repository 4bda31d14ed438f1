/**
 * Reading recordings back. The fixture test/fixtures/echo-session.jsonl is a real recording: the
 * tutorial's echo server behind a Wiretap with a Recorder (greeting, two messages, a ping, a
 * close from the client, then a plain HTTP GET answered 426). The broken recordings below are
 * made from it the way they happen: a file cut in the middle of a line, a line overwritten.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, parseRecording, readRecordingFile, RecordingParser } from '../../server/capture/recording-reader.ts';

const FIXTURE = path.join(import.meta.dirname, '../fixtures/echo-session.jsonl');
const text = readFileSync(FIXTURE, 'utf8');
const lines = text.split('\n').filter((l) => l !== '');
const expected = lines.map((l) => JSON.parse(l) as unknown);

const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a whole recording', () => {
  it('opens with every event and no error', () => {
    const r = parseRecording(text);
    expect(r.errors).toEqual([]);
    expect(r.events).toEqual(expected);
    expect(r.lines).toBe(lines.length);
    expect(new Set(r.events.map((e) => e.type))).toEqual(new Set(['open', 'handshake', 'frame', 'message', 'ping', 'pong', 'close', 'end']));
  });

  it('reads the same from a file as from memory', () => {
    expect(readRecordingFile(FIXTURE)).toEqual(parseRecording(text));
  });

  it('gives the same events whatever the chunk boundaries, even inside a UTF-8 character', () => {
    const bytes = Buffer.from(text, 'utf8');
    // The fixture holds "compté": some cut falls inside its two-byte é.
    expect(bytes.length).toBeGreaterThan(text.length);
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const p = new RecordingParser();
      for (let i = 0; i < bytes.length; i += size) p.push(bytes.subarray(i, i + size));
      const r = p.end();
      expect(r.errors).toEqual([]);
      expect(r.events).toEqual(expected);
    }
  });

  it('accepts CRLF line ends, blank lines, a byte-order mark and a last line without a newline', () => {
    const r = parseRecording(`\ufeff${lines.slice(0, 3).join('\r\n')}\r\n\r\n\n${lines[3]}`);
    expect(r.errors).toEqual([]);
    expect(r.events).toEqual(expected.slice(0, 4));
  });

  it("keeps an open event's wall-clock time, and opens older recordings without it", () => {
    expect(expected[0]).not.toHaveProperty('wall');
    const open = { ...(expected[0] as object), wall: 1795634519337.046 };
    const r = parseRecording(`${JSON.stringify(open)}\n${lines[1]}\n`);
    expect(r.errors).toEqual([]);
    expect(r.events).toEqual([open, expected[1]]);
  });

  it('keeps an injected frame\'s mark, opens the fixture (which has none), and names a mark that is not true', () => {
    const frameLine = lines.findIndex((l) => l.includes('"type":"frame"'));
    expect(expected[frameLine]).not.toHaveProperty('injected');
    const injected = { ...(expected[frameLine] as object), injected: true };
    const r = parseRecording(`${JSON.stringify(injected)}\n`);
    expect(r.errors).toEqual([]);
    expect(r.events).toEqual([injected]);
    const bad = parseRecording(`${JSON.stringify({ ...injected, injected: 'yes' })}\n`);
    expect(bad.errors).toEqual([{ line: 1, message: 'line 1 is not a valid frame event: `injected` should be true (got "yes")' }]);
  });

  it('ignores fields it does not know, so a newer recording still opens', () => {
    const open = { ...(expected[0] as object), wallClock: 1700000000000, tags: ['x'] };
    const r = parseRecording(`${JSON.stringify(open)}\n`);
    expect(r.errors).toEqual([]);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: 'open', conn: 1 });
  });
});

describe('a broken recording', () => {
  it('cut in the middle of a line loses that line only, and says the file ends inside it', () => {
    const cutAt = text.indexOf('\n', text.length / 2) + 40;
    const r = parseRecording(text.slice(0, cutAt));
    const whole = text.slice(0, cutAt).split('\n').length - 1;
    expect(r.events).toEqual(expected.slice(0, whole));
    expect(r.errors).toEqual([{ line: whole + 1, message: expect.stringMatching(new RegExp(`^line ${whole + 1} is cut short: the recording ends in the middle of it`)) }]);
  });

  it('with a garbage line keeps every other line and names the bad one', () => {
    const broken = [...lines.slice(0, 5), '\u0000\u0000garbage}{', ...lines.slice(5)].join('\n') + '\n';
    const r = parseRecording(broken);
    expect(r.events).toEqual(expected);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.line).toBe(6);
    expect(r.errors[0]!.message).toMatch(/^line 6 is not JSON \(.+\)$/);
  });

  it('opens from a file with both faults, keeping everything else', () => {
    const file = path.join(dir, 'broken.jsonl');
    const body = [...lines.slice(0, 2), '{"type":"frame","conn":1', ...lines.slice(2)].join('\n');
    writeFileSync(file, body.slice(0, body.length - 10));
    const r = readRecordingFile(file);
    expect(r.events).toEqual([...expected.slice(0, lines.length - 1)]);
    expect(r.errors.map((e) => e.line)).toEqual([3, lines.length + 1]);
    expect(r.errors[0]!.message).toMatch(/^line 3 is not JSON/);
    expect(r.errors[1]!.message).toMatch(/is cut short/);
  });

  it.each([
    ['[1,2,3]', 'line 1 is JSON but not an event (a list, not an object)'],
    ['{"conn":1,"t":2}', 'line 1 is JSON but not an event: it has no `type`'],
    ['{"type":"telemetry","conn":1,"t":2}', 'line 1 has an unknown event type "telemetry" (written by a newer wsplay?)'],
    ['{"type":"open","conn":1,"t":"soon","client":"a:1","target":"b:2"}', 'line 1 is not a valid open event: `t` should be a time in milliseconds from 0 to 1000000000000 (got "soon")'],
    ['{"type":"open","conn":-1,"t":1,"client":"a:1","target":"b:2"}', 'line 1 is not a valid open event: `conn` should be a whole number from 0 to 2^53 (got -1)'],
    ['{"type":"open","conn":1,"t":1,"client":"a:1","target":"b:2","wall":"yesterday"}', 'line 1 is not a valid open event: `wall` should be epoch milliseconds from 0 to 1000000000000000 (got "yesterday")'],
    ['{"type":"ping","conn":1,"t":1,"dir":"client","payload":"not base64!","frame":0}', 'line 1 is not a valid ping event: `payload` should be base64 text (got "not base64!")'],
    ['{"type":"close","conn":1,"t":1,"dir":"up","code":1000,"reason":"","explanation":"","frame":0}', 'line 1 is not a valid close event: `dir` should be "client" or "server" (got "up")'],
    ['{"type":"end","conn":1,"t":1,"by":"client","clean":true,"code":null,"serverCode":null,"explanation":"","bytes":{"client":1},"frames":{"client":0,"server":0}}', 'line 1 is not a valid end event: `bytes` should be { client, server } byte counts (got an object)'],
  ])('explains why %s is not an event', (line, message) => {
    const r = parseRecording(`${line}\n`);
    expect(r.events).toEqual([]);
    expect(r.errors).toEqual([{ line: 1, message }]);
  });

  it('rejects a frame whose fields an export would trip on: a missing header, a key that is not 8 hex digits', () => {
    const frame = expected.find((e) => (e as { type: string }).type === 'frame' && (e as { masked: boolean }).masked) as Record<string, unknown>;
    const { header: _header, ...noHeader } = frame;
    const r = parseRecording([JSON.stringify(noHeader), JSON.stringify({ ...frame, maskKey: 'xyz' }), JSON.stringify({ ...frame, headerLength: 2 })].join('\n'));
    expect(r.events).toEqual([]);
    expect(r.errors.map((e) => e.message)).toEqual([
      'line 1 is not a valid frame event: `header` is missing',
      'line 2 is not a valid frame event: `maskKey` should be 8 hex digits or null (got "xyz")',
      `line 3 is not a valid frame event: \`header\` has ${(frame.header as string).length / 2} bytes but \`headerLength\` says 2`,
    ]);
  });

  it('reports a line past the size bound without holding it, and reads on after it', () => {
    const p = new RecordingParser();
    p.push(`${lines[0]}\n`);
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    for (let sent = 0; sent <= MAX_LINE_BYTES; sent += piece.length) p.push(piece);
    p.push(`\n${lines[1]}\n`);
    const r = p.end();
    expect(r.events).toEqual(expected.slice(0, 2));
    expect(r.errors).toEqual([{ line: 2, message: `line 2 is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB: not a wsplay event (is this a recording?)` }]);
  });
});
