import { isUtf8 } from 'node:buffer';

/**
 * Streaming UTF-8 validation for a message that arrives in pieces (fragments, TCP chunks).
 * A code point may be split anywhere, so the last incomplete sequence of each piece is carried
 * into the next. The bulk of each piece is checked by Node's native `isUtf8`.
 */
export class Utf8Validator {
  private carry = Buffer.alloc(0);
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

  reset(): void {
    this.carry = Buffer.alloc(0);
    this.failed = false;
    this.accepted = 0;
  }

  /** Feed the next piece; returns false once the text is known to be invalid. */
  push(piece: Buffer): boolean {
    if (this.failed || piece.length === 0) return !this.failed;
    let data = piece;
    if (this.carry.length > 0) {
      // Complete the carried sequence with at most 3 bytes of this piece.
      const lead = this.carry[0]!;
      const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
      const take = Math.min(need - this.carry.length, piece.length);
      const joined = Buffer.concat([this.carry, piece.subarray(0, take)]);
      if (joined.length < need) {
        this.carry = joined;
        return true;
      }
      if (!isUtf8(joined)) return this.fail();
      this.accepted += need;
      this.carry = Buffer.alloc(0);
      data = piece.subarray(take);
    }
    const end = incompleteTail(data);
    if (!isUtf8(data.subarray(0, end))) {
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
 * Where the trailing, possibly incomplete, multi-byte sequence starts; `buf.length` when the
 * buffer ends on a code point boundary. Looks back at most 3 bytes.
 */
export function incompleteTail(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/** Offset of the first byte that makes `buf` invalid (for the violation's location). */
function firstInvalid(buf: Buffer): number {
  let lo = 0;
  let hi = buf.length;
  // Binary search on prefixes cut at code point boundaries: valid prefixes stay valid.
  while (hi - lo > 4) {
    const mid = (lo + hi) >>> 1;
    const cut = incompleteTail(buf.subarray(0, mid));
    if (isUtf8(buf.subarray(0, cut))) lo = cut;
    else hi = mid;
  }
  return lo;
}
