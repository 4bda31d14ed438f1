import { closeSync, openSync, readSync } from 'node:fs';
import type { WireEvent, WireEventType } from './events.ts';

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

export interface RecordingError {
  /** 1-based line number in the file. */
  line: number;
  /** One sentence for a person, starting with the line: `line 7 is not JSON (...)`. */
  message: string;
}

export interface Recording {
  events: WireEvent[];
  errors: RecordingError[];
  /** Lines read, blank ones included. */
  lines: number;
}

/**
 * The longest line accepted. A frame line holds at most a 64 KiB preview (about 90 KB of
 * base64) and a message line a 64 KiB text that JSON may escape up to 6 times; anything far
 * past that is not one of our lines (a binary file opened by mistake) and must not be buffered.
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

type Check = (v: unknown) => string | null;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const HEX = /^(?:[0-9a-f]{2})*$/i;

const num: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? null : 'a number');
const count: Check = (v) => (isInt(v) && v >= 0 ? null : 'a whole number ≥ 0');
const int: Check = (v) => (isInt(v) ? null : 'a whole number');
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
const str: Check = (v) => (typeof v === 'string' ? null : 'text');
const base64: Check = (v) => (typeof v === 'string' && v.length % 4 === 0 && BASE64.test(v) ? null : 'base64 text');
const hex: Check = (v) => (typeof v === 'string' && HEX.test(v) ? null : 'hex digits');
const oneOf =
  (...values: unknown[]): Check =>
  (v) =>
    values.includes(v) ? null : values.map((x) => JSON.stringify(x)).join(' or ');
const nullable =
  (check: Check): Check =>
  (v) =>
    v === null ? null : check(v) && `${check(v)} or null`;
const array =
  (item: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every((x) => item(x) === null) ? null : `a list of ${item(undefined) ?? 'items'}`;
const pair: Check = (v) => (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' ? null : '[name, value] pairs');
const any: Check = () => null;

/** Fields of an object event: name → check; a `?` suffix marks a field that may be absent. */
type Shape = Record<string, Check>;

const object =
  (shape: Shape, what: string): Check =>
  (v) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && firstProblem(v as Record<string, unknown>, shape) === null ? null : what;

const HTTP_REQUEST: Shape = { method: str, path: str, version: str, headers: array(pair), raw: base64, t: num };
const HTTP_RESPONSE: Shape = { status: int, reason: str, version: str, headers: array(pair), raw: base64, t: num, 'body?': str };
const PER_DIR_COUNTS: Shape = { client: count, server: count };
const DIR = oneOf('client', 'server');

/**
 * What each event type must carry for the exports and the dashboard to use it. Only fields that
 * exist since the format was first written are required: later additions must stay optional
 * here, or older recordings would stop opening.
 */
const SHAPES: Record<WireEventType, Shape> = {
  open: { client: str, target: str },
  handshake: {
    outcome: oneOf('upgraded', 'refused', 'plain-http', 'incomplete', 'not-http'),
    request: nullable(object(HTTP_REQUEST, 'an HTTP request (method, path, version, headers, raw, t)')),
    response: nullable(object(HTTP_RESPONSE, 'an HTTP response (status, reason, version, headers, raw, t)')),
    key: nullable(str),
    accept: nullable(str),
    'offeredExtensions?': array(any),
    'extensions?': array(any),
    'deflate?': any,
    'problems?': array(str),
  },
  frame: {
    dir: DIR,
    fin: bool,
    rsv1: bool,
    rsv2: bool,
    rsv3: bool,
    opcode: (v) => (isInt(v) && v >= 0 && v <= 15 ? null : 'an opcode (0-15)'),
    masked: bool,
    maskKey: nullable((v) => (typeof v === 'string' && /^[0-9a-f]{8}$/i.test(v) ? null : '8 hex digits')),
    length: count,
    'lengthExact?': (v) => (typeof v === 'string' && /^\d+$/.test(v) ? null : 'decimal digits'),
    lengthEncoding: oneOf(7, 16, 64),
    payload: base64,
    'truncated?': bool,
    'complete?': bool,
    offset: count,
    header: (v) => hex(v) ?? ((v as string).length <= 28 ? null : 'at most 14 bytes of hex'),
    headerLength: count,
    tEnd: num,
    seq: count,
  },
  message: {
    dir: DIR,
    opcode: oneOf(1, 2),
    length: count,
    'text?': str,
    'base64?': base64,
    'truncated?': bool,
    compressed: bool,
    frames: count,
    firstFrame: count,
    lastFrame: count,
  },
  ping: { dir: DIR, payload: base64, frame: count },
  pong: { dir: DIR, payload: base64, frame: count },
  close: { dir: DIR, code: int, reason: str, explanation: str, frame: count },
  violation: { dir: DIR, rule: str, section: str, closeCode: int, message: str, 'frame?': count, 'offset?': count },
  end: {
    by: oneOf('client', 'server', 'wiretap'),
    clean: bool,
    code: nullable(int),
    serverCode: nullable(int),
    explanation: str,
    'error?': str,
    bytes: object(PER_DIR_COUNTS, '{ client, server } byte counts'),
    frames: object(PER_DIR_COUNTS, '{ client, server } frame counts'),
  },
};

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return v.length > 24 ? `"${v.slice(0, 24)}…"` : JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** The first field of `obj` that does not fit `shape`, as `` `name` should be X (got Y) ``. */
function firstProblem(obj: Record<string, unknown>, shape: Shape): string | null {
  for (const [key, check] of Object.entries(shape)) {
    const optional = key.endsWith('?');
    const name = optional ? key.slice(0, -1) : key;
    const value = obj[name];
    if (value === undefined) {
      if (optional) continue;
      return `\`${name}\` is missing`;
    }
    const want = check(value);
    if (want !== null) return `\`${name}\` should be ${want} (got ${describeValue(value)})`;
  }
  return null;
}

/** Why `value` (a parsed line) is not an event, or null when it is one. */
export function checkEvent(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `is JSON but not an event (${describeValue(value)}, not an object)`;
  const e = value as Record<string, unknown>;
  if (typeof e.type !== 'string') return 'is JSON but not an event: it has no `type`';
  const shape = SHAPES[e.type as WireEventType] as Shape | undefined;
  if (!Object.hasOwn(SHAPES, e.type) || !shape) return `has an unknown event type ${describeValue(e.type)} (written by a newer wsplay?)`;
  const base = firstProblem(e, { conn: count, t: num });
  const problem = base ?? firstProblem(e, shape);
  if (problem) return `is not a valid ${e.type} event: ${problem}`;
  if (e.type === 'frame' && (e.header as string).length !== 2 * (e.headerLength as number)) {
    return `is not a valid frame event: \`header\` has ${(e.header as string).length / 2} bytes but \`headerLength\` says ${e.headerLength as number}`;
  }
  return null;
}

/** Feed a recording in chunks of any size; `end()` returns what was read. Never throws on content. */
export class RecordingParser {
  private readonly events: WireEvent[] = [];
  private readonly errors: RecordingError[] = [];
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
    return { events: this.events, errors: this.errors, lines: this.line };
  }

  private finishLine(last: boolean): void {
    this.line++;
    const line = this.line;
    if (this.skipping) {
      this.skipping = false;
      this.errors.push({ line, message: `line ${line} is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB: not a wsplay event (is this a recording?)` });
      return;
    }
    let text = Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      // The recorder ends every line with a newline: a last line without one that does not
      // parse is a write that never finished.
      this.errors.push({
        line,
        message: last
          ? `line ${line} is cut short: the recording ends in the middle of it (wsplay stopped while writing, or the file is still being copied)`
          : `line ${line} is not JSON (${(err as Error).message})`,
      });
      return;
    }
    const problem = checkEvent(value);
    if (problem) {
      this.errors.push({ line, message: `line ${line} ${problem}` });
      return;
    }
    this.events.push(value as WireEvent);
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
