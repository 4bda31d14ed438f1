import type { EndEvent, FrameEvent, WireEvent, WireEventType } from './events.ts';

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
  /**
   * The first bad lines of each kind (KEPT_PER_KIND each: not JSON, not an event, a bad frame
   * event, ...), in line order. A file of millions of bad lines costs a count, not a list.
   */
  errors: RecordingError[];
  /** Every bad line, counted (errors.length or more). */
  badLines: number;
  /** Lines read, blank ones included. */
  lines: number;
}

/** Bad lines kept with their message, per kind: enough to see what is wrong, bounded however many there are. */
export const KEPT_PER_KIND = 5;

/**
 * The bad lines of one reading: all counted, the first KEPT_PER_KIND of each kind kept. Shared
 * by the file reader and the dashboard, so both say the same about the same file.
 */
export class BadLines {
  readonly kept: RecordingError[] = [];
  count = 0;
  private readonly perKind = new Map<string, number>();

  /** Would a bad line of this kind still be kept (its message made)? */
  wants(kind: string): boolean {
    return (this.perKind.get(kind) ?? 0) < KEPT_PER_KIND;
  }

  add(kind: string, error: RecordingError): void {
    this.count++;
    const n = this.perKind.get(kind) ?? 0;
    this.perKind.set(kind, n + 1);
    if (n < KEPT_PER_KIND) this.kept.push(error);
  }
}

/** The kind of a line that does not start as a JSON object does (garbage, a list, a number). */
const NOT_AN_OBJECT = 'not an object';

/** What a line that is not an event is, for BadLines: the kind of its problem. */
export type LineVerdict = { event: WireEvent } | { error: RecordingError; kind: string } | null;

/**
 * The longest line accepted. A frame line holds at most a whole payload of `--max-payload`
 * (16 MiB at most: about 22 MB of base64) and a message line a 16 MiB text that JSON may escape
 * up to 6 times; anything past that is not one of our lines (a binary file opened by mistake)
 * and must not be buffered.
 */
export const MAX_LINE_BYTES = 6 * 16 * 1024 * 1024 + 1024 * 1024;

type Check = (v: unknown) => string | null;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const HEX = /^(?:[0-9a-f]{2})*$/i;

/**
 * Every number is checked for range, not only type: the exports turn times into dates and
 * 64-bit timestamps and lengths into bytes, and a number no wiretap could have written
 * (1e308, -1e308, a petabyte) must cost its line, not the export.
 */
/** Times (`t`, `tEnd`): milliseconds since the wiretap started, up to about 31 years. */
export const MAX_T = 1e12;
/** `wall`: epoch milliseconds up to the year 33658; wall ± MAX_T stays a valid date. */
export const MAX_WALL = 1e15;

const time: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_T ? null : `a time in milliseconds from 0 to ${MAX_T}`);
const epoch: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_WALL ? null : `epoch milliseconds from 0 to ${MAX_WALL}`);
const count: Check = (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? null : 'a whole number from 0 to 2^53');
const int: Check = (v) => (Number.isSafeInteger(v) ? null : 'a whole number within ±2^53');
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

const HTTP_REQUEST: Shape = { method: str, path: str, version: str, headers: array(pair), raw: base64, t: time, 'body?': str, 'bodyTruncated?': oneOf(true) };
const HTTP_RESPONSE: Shape = { status: int, reason: str, version: str, headers: array(pair), raw: base64, t: time, 'body?': str, 'bodyTruncated?': oneOf(true) };
const TLS_SESSION: Shape = { version: str, cipher: str, subject: str, issuer: str, verified: bool, 'insecure?': bool, 'problem?': str };
const PER_DIR_COUNTS: Shape = { client: count, server: count };
const DIR = oneOf('client', 'server');
/** `injected` (sent by the wiretap, not the peer): present only as true. */
const INJECTED = 'injected?';
const yes = oneOf(true);

/**
 * A message's (or an HTTP body's) application layer (`app`, server/protocol/app/): every field
 * the dashboard reads is checked, as a recording's `app` is as hostile as the rest of it.
 */
const APP_PROTOCOL = oneOf('socket.io', 'graphql-transport-ws', 'graphql-ws', 'stomp', 'mqtt', 'json-rpc');
const MESSAGE_REF = object({ conn: count, dir: DIR, firstFrame: count }, 'a message reference ({ conn, dir, firstFrame })');
const LAYER = object({ name: str, start: count, end: count, label: str }, 'a layer ({ name, start, end, label })');
const APP_UNIT: Shape = {
  protocol: APP_PROTOCOL,
  type: str,
  summary: str,
  'layers?': array(LAYER),
  'engineType?': oneOf('open', 'close', 'ping', 'pong', 'message', 'upgrade', 'noop'),
  'socketType?': oneOf('CONNECT', 'DISCONNECT', 'EVENT', 'ACK', 'CONNECT_ERROR', 'BINARY_EVENT', 'BINARY_ACK'),
  'nsp?': str,
  'event?': str,
  'args?': array(any),
  'ackId?': int,
  'id?': (v) => (v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? null : 'a string, a number or null'),
  'operationName?': nullable(str),
  'operationKind?': nullable(oneOf('query', 'mutation', 'subscription')),
  'command?': str,
  'headers?': array(pair),
  'body?': str,
  'packetType?': str,
  'topic?': str,
  'packetId?': count,
  'qos?': oneOf(0, 1, 2),
  'payload?': base64,
  'method?': str,
  'kind?': oneOf('request', 'response', 'notification', 'error'),
  'replyTo?': MESSAGE_REF,
  'error?': object({ code: int, message: str }, 'an error object ({ code, message })'),
};
const APP_UNIT_CHECK = object(APP_UNIT, 'an application-protocol unit (protocol, type, summary)');
const APP_INFO = object({ ...APP_UNIT, 'parts?': array(APP_UNIT_CHECK), 'spans?': array(MESSAGE_REF) }, 'an application layer (protocol, type, summary)');
const HTTP_APP = object({ 'request?': array(APP_UNIT_CHECK), 'response?': array(APP_UNIT_CHECK) }, 'the application layer of HTTP bodies ({ request, response })');

/**
 * What each event type must carry for the exports and the dashboard to use it. Only fields that
 * exist since the format was first written are required: later additions must stay optional
 * here, or older recordings would stop opening.
 */
const SHAPES: Record<WireEventType, Shape> = {
  open: { client: str, target: str, 'wall?': epoch, 'instance?': str },
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
    'forwardedRequest?': object(HTTP_REQUEST, 'an HTTP request (method, path, version, headers, raw, t)'),
    'tls?': object(TLS_SESSION, 'a TLS session (version, cipher, subject, issuer, verified)'),
    'app?': HTTP_APP,
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
    tEnd: time,
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
    'app?': APP_INFO,
  },
  ping: { dir: DIR, payload: base64, frame: count, [INJECTED]: yes },
  pong: { dir: DIR, payload: base64, frame: count, [INJECTED]: yes },
  close: { dir: DIR, code: int, reason: str, explanation: str, frame: count, [INJECTED]: yes },
  violation: { dir: DIR, rule: str, section: str, closeCode: int, message: str, 'frame?': count, 'offset?': count, [INJECTED]: yes },
  appViolation: {
    dir: DIR,
    protocol: oneOf('socket.io', 'graphql-transport-ws', 'graphql-ws', 'stomp', 'mqtt', 'json-rpc'),
    rule: str,
    section: str,
    message: str,
    'at?': MESSAGE_REF,
  },
  insight: {
    rule: str,
    severity: oneOf('error', 'warning'),
    message: str,
    frames: object({ client: array(count), server: array(count) }, '{ client, server } lists of frame numbers'),
    messages: array(any),
    'conns?': array(count),
    lesson: str,
  },
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
  const base = firstProblem(e, { conn: count, t: time });
  const problem = base ?? firstProblem(e, shape);
  if (problem) return `is not a valid ${e.type} event: ${problem}`;
  if (e.type === 'frame' && (e.header as string).length !== 2 * (e.headerLength as number)) {
    return `is not a valid frame event: \`header\` has ${(e.header as string).length / 2} bytes but \`headerLength\` says ${e.headerLength as number}`;
  }
  if (e.type === 'frame') return impossibleFrame(e as unknown as FrameEvent);
  if (e.type === 'end') {
    const { bytes } = e as unknown as EndEvent;
    for (const dir of ['client', 'server'] as const) {
      if (!reachable(bytes[dir], e.t as number)) return `is not a valid end event: \`bytes.${dir}\` ${tooFast(bytes[dir], e.t as number)}`;
    }
  }
  return null;
}

/**
 * Bytes per millisecond no wiretap relays: 100 GB/s, ten times a fast loopback. A stream that
 * reached byte N by time t (ms since the wiretap started) needs N / t of it; a recording that
 * claims more was not written by a wiretap, and its petabyte must not reach the exports.
 */
export const MAX_BYTES_PER_MS = 1e8;

function reachable(bytes: number, t: number): boolean {
  return bytes <= MAX_BYTES_PER_MS * Math.max(t, 1);
}

function tooFast(bytes: number, t: number): string {
  return `says ${bytes} bytes of its stream had crossed by t = ${t} ms, faster than 100 GB/s: no wiretap relayed that`;
}

/**
 * A frame no stream can hold: its end past 2^53 bytes, or a preview longer than the payload it
 * previews. (A large but possible length is the exports' to bound, by what the recording holds.)
 */
function impossibleFrame(f: FrameEvent): string | null {
  if (f.offset + f.headerLength + f.length > Number.MAX_SAFE_INTEGER) {
    return `is not a valid frame event: it would end at byte ${f.offset} + ${f.headerLength} + ${f.length} of its stream, past 2^53 bytes: no connection carried that much`;
  }
  // A complete frame's bytes all crossed the wiretap by tEnd; a cut one (complete: false) only
  // its header and preview.
  const end = f.offset + f.headerLength + (f.complete === false ? 0 : f.length);
  const by = f.complete === false ? f.t : Math.max(f.t, f.tEnd);
  if (!reachable(end, by)) return `is not a valid frame event: it ${tooFast(end, by)}`;
  const preview = (f.payload.length / 4) * 3 - (f.payload.endsWith('==') ? 2 : f.payload.endsWith('=') ? 1 : 0);
  if (preview > f.length) return `is not a valid frame event: \`payload\` holds ${preview} bytes but \`length\` says the frame has ${f.length}`;
  return null;
}

/**
 * One line of a recording, already cut at its newline, to an event or to the reason it is not
 * one. `last`: the file ends on this line without a newline (a write that never finished, if
 * the line does not parse).
 */
export function parseLine(text: string, line: number, last: boolean, wanted: (kind: string) => boolean = () => true): LineVerdict {
  let s = text;
  if (line === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  if (s.endsWith('\r')) s = s.slice(0, -1);
  const trimmed = s.trim();
  if (trimmed === '') return null;
  // An event is a JSON object. A line that cannot be one is counted without JSON.parse, whose
  // error message alone costs ~20 µs: millions of garbage lines must cost a count each. Its
  // message (not JSON, or JSON but no object) is made while its kind is still being kept.
  if (!last && trimmed[0] !== '{' && !wanted(NOT_AN_OBJECT)) return { kind: NOT_AN_OBJECT, error: { line, message: '' } };
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch (err) {
    return {
      kind: last ? 'cut short' : trimmed[0] !== '{' ? NOT_AN_OBJECT : 'not JSON',
      error: {
        line,
        message: last
          ? `line ${line} is cut short: the recording ends in the middle of it (wsplay stopped while writing, or the file is still being copied)`
          : `line ${line} is not JSON (${(err as Error).message})`,
      },
    };
  }
  const problem = checkEvent(value);
  if (problem && trimmed[0] !== '{') return { kind: NOT_AN_OBJECT, error: { line, message: `line ${line} ${problem}` } };
  if (problem) {
    const type = (value as { type?: unknown } | null)?.type;
    return { kind: typeof type === 'string' && Object.hasOwn(SHAPES, type) ? `bad ${type}` : 'not an event', error: { line, message: `line ${line} ${problem}` } };
  }
  return { event: value as WireEvent };
}

/** The message for a line past MAX_LINE_BYTES. */
export function tooLong(line: number): RecordingError {
  return { line, message: `line ${line} is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB: not a wsplay event (is this a recording?)` };
}
