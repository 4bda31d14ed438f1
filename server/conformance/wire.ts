/**
 * The ladder's own frame writer and reader, sans-I/O. The writer must be able to lie (reserved
 * bits, reserved opcodes, fragmented control frames, 126-byte pings): the conforming encoders
 * elsewhere refuse to. The reader is the runner's view of what the peer sent, bounded in bytes
 * because the peer under test is as hostile as any other.
 */
import { randomBytes } from 'node:crypto';

export interface OutFrame {
  opcode: number;
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3), as Autobahn writes them. */
  rsv?: number;
  payload?: Buffer;
}

/** One frame's bytes; `mask` is true when the runner is the client (§5.3: client frames are masked). */
export function encodeFrame(f: OutFrame, mask: boolean): Buffer {
  const payload = f.payload ?? Buffer.alloc(0);
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = ((f.fin ?? true) ? 0x80 : 0) | (((f.rsv ?? 0) & 7) << 4) | (f.opcode & 0x0f);
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + ext);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([head, body]);
}

/** A close frame's body (§5.5.1): no code gives an empty body. */
export function closeBody(code?: number | null, reason: Buffer | string = ''): Buffer {
  if (code === undefined || code === null) return Buffer.alloc(0);
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code & 0xffff, 0);
  r.copy(b, 2);
  return b;
}

export interface InFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Reads frames from the peer's bytes. Bounded: a frame announcing more than `maxPayload` bytes
 * is refused before any of it is buffered. The pieces of a frame still arriving are kept as a
 * list and joined once, when the frame is complete: no copy per TCP chunk.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private total = 0;
  /** Set once the stream cannot be read any further; the reason, for the report. */
  broken: string | null = null;

  constructor(private readonly maxPayload: number) {}

  /** The first `n` buffered bytes (n <= 14: a frame header), joined from as few chunks as needed. */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of this.chunks) {
      parts.push(c);
      got += c.length;
      if (got >= n) break;
    }
    return Buffer.concat(parts);
  }

  /** Removes and returns the first `n` buffered bytes. */
  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.total -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  push(chunk: Buffer): InFrame[] {
    if (this.broken) return [];
    if (chunk.length) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
    const out: InFrame[] = [];
    while (this.total >= 2) {
      const head = this.peek(Math.min(this.total, 14));
      const b0 = head[0]!;
      const b1 = head[1]!;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (head.length < 4) break;
        len = head.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (head.length < 10) break;
        const big = head.readBigUInt64BE(2);
        if (big > BigInt(this.maxPayload)) {
          this.broken = `a frame announcing ${big} bytes, more than the ${this.maxPayload} the runner accepts`;
          break;
        }
        len = Number(big);
        off = 10;
      }
      if (len > this.maxPayload) {
        this.broken = `a frame announcing ${len} bytes, more than the ${this.maxPayload} the runner accepts`;
        break;
      }
      const keyAt = off;
      if (masked) off += 4;
      if (this.total < off + len) break;
      const key = masked ? Buffer.from(head.subarray(keyAt, keyAt + 4)) : null;
      this.take(off);
      const payload = Buffer.from(this.take(len));
      if (key) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i & 3]!;
      out.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    }
    return out;
  }
}

/** Reads one HTTP head (request or response) up to CRLFCRLF, bounded at `max` bytes. */
export class HeadReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly max = 16 * 1024) {}
  /** The head and the bytes after it, null while incomplete; throws past the bound. */
  push(chunk: Buffer): { head: string; rest: Buffer } | null {
    this.buf = Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.buf.length > this.max) throw new Error(`HTTP head longer than ${this.max} bytes without an end (CRLF CRLF)`);
      return null;
    }
    return { head: this.buf.subarray(0, end).toString('latin1'), rest: this.buf.subarray(end + 4) };
  }
}

/** Header lines of an HTTP head, names lower-cased; repeated headers joined with ", ". */
export function headerMap(head: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    m.set(k, m.has(k) ? `${m.get(k)}, ${v}` : v);
  }
  return m;
}
