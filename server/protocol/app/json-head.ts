/**
 * What the relay's pass of the JSON protocols needs of a message, read from its bytes without
 * JSON.parse: whether it is JSON at all, and (jsonHead, GraphQL) the top-level `type` and `id`
 * of an object, or (jsonTop, JSON-RPC and Socket.IO) the kind and place of the top-level members
 * it is asked for and of an array's first element. One pass over the bytes, no strings made
 * but the values the caller takes, no objects for the payload (on the relay's path, JSON.parse
 * of every message and the garbage of its payload objects cost more than the rest of the
 * decoder). The message's `app` is still made with JSON.parse, when its event is read.
 *
 * It answers as JSON.parse on the message's UTF-8 text would (RFC 8259's grammar, ECMA-262's
 * JSON.parse: the last of repeated keys wins): a message JSON.parse rejects is NOT_JSON, any
 * other JSON that is not an object with a string `type` is NO_TYPE. When a top-level key, or the
 * `type` or `id` string, holds a backslash escape, it answers FALLBACK: the caller parses (rare).
 */
import { knownWord, knownWords } from './known-words.ts';

export const NOT_JSON = 0;
export const NO_TYPE = 1;
export const FALLBACK = 2;

/** An object's `type` (a string) and `id` (absent: undefined; a string, a number, null, or OTHER for true, false, an object or an array). */
export interface JsonHead {
  type: string;
  id: unknown;
}

/** `id` that is true, false, an object or an array: none of them is an id. */
export const OTHER_ID: unique symbol = Symbol('not a string or number');

/** The open containers (0 object, 1 array); grown as deep as a message goes, never past its length. */
let stack = new Uint8Array(256);

const DIGIT = (c: number) => c >= 0x30 && c <= 0x39;
const HEX = (c: number) => DIGIT(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** Where the string starting at `i` (its opening quote) ends (after its closing quote), or -1 when it is not a JSON string; `escaped` says it holds a backslash. */
let escaped = false;
function stringEnd(b: Uint8Array, i: number): number {
  escaped = false;
  const n = b.length;
  for (i++; i < n; i++) {
    const c = b[i]!;
    if (c === 0x22) return i + 1;
    if (c < 0x20) return -1;
    if (c === 0x5c) {
      escaped = true;
      const e = b[++i];
      if (e === 0x75) {
        if (i + 4 >= n || !HEX(b[i + 1]!) || !HEX(b[i + 2]!) || !HEX(b[i + 3]!) || !HEX(b[i + 4]!)) return -1;
        i += 4;
      } else if (e !== 0x22 && e !== 0x5c && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return -1;
    }
  }
  return -1;
}

/** Where the number starting at `i` ends, or -1 (RFC 8259 §6: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?). */
function numberEnd(b: Uint8Array, i: number): number {
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else if (b[i] !== undefined && b[i]! >= 0x31 && b[i]! <= 0x39) while (DIGIT(b[i] ?? 0)) i++;
  else return -1;
  if (b[i] === 0x2e) {
    i++;
    if (!DIGIT(b[i] ?? 0)) return -1;
    while (DIGIT(b[i] ?? 0)) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!DIGIT(b[i] ?? 0)) return -1;
    while (DIGIT(b[i] ?? 0)) i++;
  }
  return i;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL_WORD = [0x6e, 0x75, 0x6c, 0x6c];
function literalEnd(b: Uint8Array, i: number, word: number[]): number {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return -1;
  return i + word.length;
}

/** Where the literal or number starting at `i` (its first byte `c`) ends, or -1. */
function scalarEnd(b: Uint8Array, i: number, c: number): number {
  if (c === 0x74) return literalEnd(b, i, TRUE);
  if (c === 0x66) return literalEnd(b, i, FALSE);
  if (c === 0x6e) return literalEnd(b, i, NULL_WORD);
  return numberEnd(b, i);
}

/** Open a container (`c` its bracket) at `depth`, growing the stack as deep as a message goes. */
function push(depth: number, c: number): void {
  if (depth === stack.length) {
    const grown = new Uint8Array(stack.length * 2);
    grown.set(stack);
    stack = grown;
  }
  stack[depth] = c === 0x7b ? 0 : 1;
}

/** afterValue: the whole text was one value, and only whitespace follows it. */
const END = -2;
/** afterValue's depth after the containers it closed, and whether a member's key comes next (a comma in an object). */
let valueDepth = 0;
let keyNext = false;

/**
 * After a value at `depth`: the containers it closes, then a comma and where the next value (or
 * key: `keyNext`) starts; END when the top-level value has ended and nothing but whitespace
 * follows, -1 when that is not JSON.
 */
function afterValue(b: Uint8Array, i: number, depth: number): number {
  for (;;) {
    i = skipWs(b, i);
    if (depth === 0) return i === b.length ? END : -1;
    const c = b[i];
    const inObject = stack[depth - 1] === 0;
    if (c === 0x2c) {
      valueDepth = depth;
      keyNext = inObject;
      return skipWs(b, i + 1);
    }
    if ((c === 0x7d && inObject) || (c === 0x5d && !inObject)) {
      depth--;
      i++;
      continue;
    }
    return -1;
  }
}

/** Top-level keys a scan records, as bytes by length (like known-words.ts), each with its index. */
export type TopKeys = Array<Array<[Uint8Array, number]>>;

export function topKeys(names: string[]): TopKeys {
  const table: TopKeys = [];
  names.forEach((name, index) => (table[Buffer.byteLength(name)] ??= []).push([Buffer.from(name, 'utf8'), index]));
  return table;
}

/** The index of the key b[start, end) (a string, quotes included) spells in `keys`, or -1. */
function keyOf(keys: TopKeys, b: Uint8Array, start: number, end: number): number {
  const known = keys[end - start - 2];
  if (known === undefined) return -1;
  for (let k = 0; k < known.length; k++) {
    // Indexed, not destructured: on the relay's path, per key of every message.
    const entry = known[k]!;
    const bytes = entry[0];
    let i = 0;
    while (i < bytes.length && b[start + 1 + i] === bytes[i]) i++;
    if (i === bytes.length) return entry[1];
  }
  return -1;
}

/** What a recorded member's value is. */
export const ABSENT = 0;
export const STRING = 1;
export const NUMBER = 2;
export const NULL = 3;
export const BOOLEAN = 4;
export const OBJECT = 5;
export const ARRAY = 6;

/** What jsonTop answers: the message is not JSON, is JSON but neither object nor array, is an object (its members recorded), or an array. */
export const TOP_NOT_JSON = 0;
export const TOP_OTHER = 1;
export const TOP_OBJECT = 2;
export const TOP_ARRAY = 3;

/**
 * The members the last jsonTop call recorded, by their key's index: the kind of value (ABSENT
 * when the key was not there), where the value is (a string's without its quotes), and whether
 * a string value held an escape. The last of repeated keys wins, as with JSON.parse. Valid until
 * the next call (the scan is synchronous; one record per key, no object per message).
 */
export const MAX_TOP_KEYS = 8;
export const memberKind = new Uint8Array(MAX_TOP_KEYS);
export const memberStart = new Int32Array(MAX_TOP_KEYS);
export const memberEnd = new Int32Array(MAX_TOP_KEYS);
export const memberEscaped = new Uint8Array(MAX_TOP_KEYS);
/** The last jsonTop call met a top-level key with an escape: it could not tell which key that was. */
export let keyEscaped = false;
/** The kind of the first element of the last jsonTop call's top-level array (ABSENT: empty, or no array). */
export let firstElement = ABSENT;

/** The scan's top-level key (its index in the keys; -1 another). */
let key = -1;
/**
 * A member's key at i (its opening quote) and the colon after it: the index past the colon, or
 * -1. A top-level key sets `key` (and `keyEscaped` when escaped); deeper keys only are skipped.
 */
function afterKey(keys: TopKeys, b: Uint8Array, i: number, top: boolean): number {
  if (b[i] !== 0x22) return -1;
  const end = stringEnd(b, i);
  if (end < 0) return -1;
  if (top) {
    if (escaped) keyEscaped = true;
    key = keyOf(keys, b, i, end);
  }
  i = skipWs(b, end);
  return b[i] === 0x3a ? i + 1 : -1;
}

export const text = (b: Uint8Array, start: number, end: number) => Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');

/**
 * One pass over the bytes as JSON.parse would read their UTF-8 text: TOP_NOT_JSON when it would
 * throw, TOP_OTHER for JSON that is not an object, TOP_OBJECT for an object, whose top-level
 * members named in `keys` (at most MAX_TOP_KEYS) are recorded (memberKind ...).
 */
export function jsonTop(b: Uint8Array, keys: TopKeys): number {
  const n = b.length;
  let depth = 0;
  let i = 0;
  key = -1;
  keyEscaped = false;
  firstElement = ABSENT;
  for (let k = 0; k < MAX_TOP_KEYS; k++) memberKind[k] = ABSENT;
  const first = b[skipWs(b, 0)];
  const topObject = first === 0x7b;

  value: for (;;) {
    i = skipWs(b, i);
    if (i >= n) return TOP_NOT_JSON;
    const c = b[i]!;
    const start = i;
    const member = depth === 1 && key >= 0 && topObject ? key : -1;
    // The top-level array's first element: the value right after its opening bracket.
    if (depth === 1 && first === 0x5b && firstElement === ABSENT && start === skipWs(b, skipWs(b, 0) + 1)) {
      firstElement = c === 0x7b ? OBJECT : c === 0x5b ? ARRAY : c === 0x22 ? STRING : c === 0x6e ? NULL : c === 0x74 || c === 0x66 ? BOOLEAN : NUMBER;
    }
    if (c === 0x7b || c === 0x5b) {
      if (member >= 0) memberKind[member] = c === 0x7b ? OBJECT : ARRAY;
      push(depth++, c);
      i = skipWs(b, i + 1);
      // Not empty: its first member's key (an object's) and value, or its first element.
      if (b[i] !== (c === 0x7b ? 0x7d : 0x5d)) {
        if (c === 0x7b) i = afterKey(keys, b, i, depth === 1);
        if (i < 0) return TOP_NOT_JSON;
        continue value;
      }
      depth--;
      i++;
    } else if (c === 0x22) {
      i = stringEnd(b, i);
      if (i < 0) return TOP_NOT_JSON;
      if (member >= 0) {
        memberKind[member] = STRING;
        memberStart[member] = start + 1;
        memberEnd[member] = i - 1;
        memberEscaped[member] = escaped ? 1 : 0;
      }
    } else {
      i = scalarEnd(b, i, c);
      if (i < 0) return TOP_NOT_JSON;
      if (member >= 0) {
        memberKind[member] = c === 0x6e ? NULL : c === 0x74 || c === 0x66 ? BOOLEAN : NUMBER;
        memberStart[member] = start;
        memberEnd[member] = i;
      }
    }
    i = afterValue(b, i, depth);
    if (i === -1) return TOP_NOT_JSON;
    if (i === END) return topObject ? TOP_OBJECT : first === 0x5b ? TOP_ARRAY : TOP_OTHER;
    depth = valueDepth;
    if (keyNext) {
      i = afterKey(keys, b, i, depth === 1);
      if (i < 0) return TOP_NOT_JSON;
    }
  }
}

/** The key at depth 1 that `b[start, end)` (a string, quotes included) is: 1 "type", 2 "id", 0 another. */
function headKeyOf(b: Uint8Array, start: number, end: number): number {
  const len = end - start - 2;
  if (len === 4 && b[start + 1] === 0x74 && b[start + 2] === 0x79 && b[start + 3] === 0x70 && b[start + 4] === 0x65) return 1;
  if (len === 2 && b[start + 1] === 0x69 && b[start + 2] === 0x64) return 2;
  return 0;
}

/** jsonHead's top-level key (headKeyOf's code) and whether a key, type or id held an escape (the caller parses then). */
let headKey = 0;
let fallback = false;
/**
 * A member's key at i (its opening quote) and the colon after it: the index past the colon, or
 * -1. A top-level key sets `headKey` (and `fallback` when escaped); deeper keys only are skipped.
 */
function afterHeadKey(b: Uint8Array, i: number, top: boolean): number {
  if (b[i] !== 0x22) return -1;
  const end = stringEnd(b, i);
  if (end < 0) return -1;
  if (top) {
    if (escaped) fallback = true;
    headKey = headKeyOf(b, i, end);
  }
  i = skipWs(b, end);
  return b[i] === 0x3a ? i + 1 : -1;
}

/**
 * The message's `type` and `id`, or NOT_JSON, NO_TYPE, FALLBACK (see the file's comment). Its
 * own loop, not jsonTop's: through jsonTop's records GraphQL's pass measured 0.2-0.3 µs a round
 * trip slower (its loop keeps the two members in locals). Both follow the same grammar, and
 * app-lazy-pass.test.ts checks each against JSON.parse.
 */
export function jsonHead(b: Uint8Array): JsonHead | typeof NOT_JSON | typeof NO_TYPE | typeof FALLBACK {
  const n = b.length;
  let depth = 0;
  let i = 0;
  /** The depth-1 key whose value comes next (1 type, 2 id, 0 another). */
  headKey = 0;
  fallback = false;
  let typeStart = -1;
  let typeEnd = -1;
  /** The id's kind: 0 absent, 1 string, 2 number, 3 null, 4 other. */
  let idKind = 0;
  let idStart = -1;
  let idEnd = -1;
  const topObject = b[skipWs(b, 0)] === 0x7b;

  value: for (;;) {
    i = skipWs(b, i);
    if (i >= n) return NOT_JSON;
    const c = b[i]!;
    const start = i;
    const member = depth === 1 && headKey !== 0 && topObject;
    if (c === 0x7b || c === 0x5b) {
      if (member) {
        if (headKey === 1) typeStart = -1;
        else idKind = 4;
      }
      push(depth++, c);
      i = skipWs(b, i + 1);
      // Not empty: its first member's key (an object's) and value, or its first element.
      if (b[i] !== (c === 0x7b ? 0x7d : 0x5d)) {
        if (c === 0x7b) i = afterHeadKey(b, i, depth === 1);
        if (i < 0) return NOT_JSON;
        continue value;
      }
      depth--;
      i++;
    } else if (c === 0x22) {
      i = stringEnd(b, i);
      if (i < 0) return NOT_JSON;
      if (member) {
        if (escaped) fallback = true;
        if (headKey === 1) {
          typeStart = start + 1;
          typeEnd = i - 1;
        } else {
          idKind = 1;
          idStart = start + 1;
          idEnd = i - 1;
        }
      }
    } else {
      i = scalarEnd(b, i, c);
      if (i < 0) return NOT_JSON;
      if (member) {
        if (headKey === 1) typeStart = -1;
        else if (c === 0x6e) idKind = 3;
        else if (c === 0x74 || c === 0x66) idKind = 4;
        else {
          idKind = 2;
          idStart = start;
          idEnd = i;
        }
      }
    }
    i = afterValue(b, i, depth);
    if (i === -1) return NOT_JSON;
    if (i === END) {
      if (!topObject || typeStart < 0) return fallback ? FALLBACK : NO_TYPE;
      if (fallback) return FALLBACK;
      const head: JsonHead = { type: typeText(b, typeStart, typeEnd), id: undefined };
      if (idKind === 1) head.id = text(b, idStart, idEnd);
      else if (idKind === 2) head.id = Number(text(b, idStart, idEnd));
      else if (idKind === 3) head.id = null;
      else if (idKind === 4) head.id = OTHER_ID;
      return head;
    }
    depth = valueDepth;
    if (keyNext) {
      i = afterHeadKey(b, i, depth === 1);
      if (i < 0) return NOT_JSON;
    }
  }
}

function skipWs(b: Uint8Array, i: number): number {
  for (; i < b.length; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
  }
  return i;
}

/** The types both GraphQL subprotocols name: a known type is matched without decoding it. */
const TYPES = knownWords(['connection_init', 'connection_ack', 'connection_error', 'connection_terminate', 'ping', 'pong', 'ka', 'subscribe', 'start', 'next', 'data', 'error', 'complete', 'stop']);

/** The text of b[start, end): a known type's own string, else decoded. */
function typeText(b: Uint8Array, start: number, end: number): string {
  return knownWord(TYPES, b, start, end) ?? text(b, start, end);
}
