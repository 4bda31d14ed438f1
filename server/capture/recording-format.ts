import type { WireEvent, WireEventType } from './events.ts';

/**
 * What a recording line must be (README, "Record format"), and the words for what is wrong
 * with one. Pure TypeScript with no Node imports: the wsplay reader (recording-reader.ts, for
 * files) and the dashboard (ui/src/recording.ts, for a file the learner opens) share it.
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
/** `injected` (sent by the wiretap, not the peer): present only as true. */
const INJECTED = 'injected?';
const yes = oneOf(true);

/**
 * What each event type must carry for the exports and the dashboard to use it. Only fields that
 * exist since the format was first written are required: later additions must stay optional
 * here, or older recordings would stop opening.
 */
const SHAPES: Record<WireEventType, Shape> = {
  open: { client: str, target: str, 'wall?': num },
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
    [INJECTED]: yes,
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
    [INJECTED]: yes,
  },
  ping: { dir: DIR, payload: base64, frame: count, [INJECTED]: yes },
  pong: { dir: DIR, payload: base64, frame: count, [INJECTED]: yes },
  close: { dir: DIR, code: int, reason: str, explanation: str, frame: count, [INJECTED]: yes },
  violation: { dir: DIR, rule: str, section: str, closeCode: int, message: str, 'frame?': count, 'offset?': count, [INJECTED]: yes },
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

/**
 * One line of a recording, already cut at its newline, to an event or to the reason it is not
 * one. `last`: the file ends on this line without a newline (a write that never finished, if
 * the line does not parse).
 */
export function parseLine(text: string, line: number, last: boolean): { event: WireEvent } | { error: RecordingError } | null {
  let s = text;
  if (line === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  if (s.endsWith('\r')) s = s.slice(0, -1);
  if (s.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch (err) {
    return {
      error: {
        line,
        message: last
          ? `line ${line} is cut short: the recording ends in the middle of it (wsplay stopped while writing, or the file is still being copied)`
          : `line ${line} is not JSON (${(err as Error).message})`,
      },
    };
  }
  const problem = checkEvent(value);
  if (problem) return { error: { line, message: `line ${line} ${problem}` } };
  return { event: value as WireEvent };
}

/** The message for a line past MAX_LINE_BYTES. */
export function tooLong(line: number): RecordingError {
  return { line, message: `line ${line} is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB: not a wsplay event (is this a recording?)` };
}
