import { isUtf8 } from 'node:buffer';

/**
 * Streaming UTF-8 validation for a message that arrives in pieces (fragments, TCP chunks).
 * A code point may be split anywhere, so the last incomplete sequence of each piece is carried
 * into the next. The bulk of each piece is checked by Node's native `isUtf8`.
 */
const EMPTY = Buffer.alloc(0);

export class Utf8Validator {
  private carry = EMPTY;
  private failed = false;
  /** Bytes accepted so far: the offset of the first bad byte when validation fails. */
  private accepted = 0;

  get valid(): boolean {
    return !this.failed;
  }

  /** Index (from the start of the message) of the sequence that broke validation, or -1. */
  get errorIndex(): number {
    return this.failed ? this.accepted : -1;
  }

  reset(): this {
    this.carry = EMPTY;
    this.failed = false;
    this.accepted = 0;
    return this;
  }

  /** Feed the next piece; returns false once the text is known to be invalid. */
  push(piece: Buffer): boolean {
    if (this.failed || piece.length === 0) return !this.failed;
    let data = piece;
    if (this.carry.length > 0) {
      // Complete the carried sequence with at most 3 bytes of this piece.
      const need = sequenceLength(this.carry[0]!);
      const take = Math.min(need - this.carry.length, piece.length);
      const joined = Buffer.concat([this.carry, piece.subarray(0, take)]);
      if (joined.length < need) {
        // Fail as soon as the sequence cannot become valid, whatever the chunking (§8.1).
        if (!isValidPrefix(joined, 0, joined.length)) return this.fail();
        this.carry = joined;
        return true;
      }
      if (!isUtf8(joined)) return this.fail();
      this.accepted += need;
      this.carry = EMPTY;
      data = piece.subarray(take);
    }
    const end = incompleteTail(data);
    if (!isUtf8(end === data.length ? data : data.subarray(0, end))) {
      this.accepted += firstInvalid(data.subarray(0, end));
      return this.fail();
    }
    this.accepted += end;
    if (end < data.length) this.carry = Buffer.from(data.subarray(end));
    return true;
  }

  /** The message is over: a sequence still incomplete is invalid. */
  finish(): boolean {
    if (!this.failed && this.carry.length > 0) return this.fail();
    return !this.failed;
  }

  private fail(): false {
    this.failed = true;
    return false;
  }
}

/**
 * Where the trailing incomplete sequence starts; `buf.length` when the buffer ends on a code
 * point boundary, or when its tail can never become valid (so the caller sees the error now,
 * not a chunk later: the result must not depend on where TCP cut the stream). Looks back at
 * most 3 bytes.
 */
export function incompleteTail(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    if ((buf[n - back]! & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    return isValidPrefix(buf, n - back, n) ? n - back : n;
  }
  return n;
}

/** Bytes in the sequence a lead byte starts (Unicode Table 3-7); 0 for a byte that starts none. */
function sequenceLength(b: number): number {
  return b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
}

/** The allowed range of the byte after a lead (Table 3-7 excludes overlongs, surrogates, > U+10FFFF). */
function secondByteRange(lead: number): [number, number] {
  return lead === 0xe0 ? [0xa0, 0xbf] : lead === 0xed ? [0x80, 0x9f] : lead === 0xf0 ? [0x90, 0xbf] : lead === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
}

/** Are buf[start, end) the first bytes of a valid multi-byte sequence, still short of its end? */
function isValidPrefix(buf: Buffer, start: number, end: number): boolean {
  const lead = buf[start]!;
  const need = sequenceLength(lead);
  if (need < 2 || end - start >= need) return false;
  const [lo, hi] = secondByteRange(lead);
  for (let i = start + 1; i < end; i++) {
    const c = buf[i]!;
    if (i === start + 1 ? c < lo || c > hi : (c & 0xc0) !== 0x80) return false;
  }
  return true;
}

/**
 * Offset of the first ill-formed sequence in `buf` (for the violation's location), by the
 * well-formed byte sequences of Unicode Table 3-7. One linear pass: it runs once per invalid
 * message, and a bisection on prefixes can stall when a cut lands inside a sequence.
 */
function firstInvalid(buf: Buffer): number {
  const n = buf.length;
  let i = 0;
  while (i < n) {
    const need = sequenceLength(buf[i]!);
    if (need === 1) {
      i++;
      continue;
    }
    if (need === 0 || i + need > n) return i;
    const [lo, hi] = secondByteRange(buf[i]!);
    const c1 = buf[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k < need; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    i += need;
  }
  return n;
}
