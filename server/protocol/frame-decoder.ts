import type { Direction, LengthEncoding, ViolationRule } from '../capture/events.ts';
import { isControl, isReserved, Opcode } from './opcodes.ts';

/**
 * The header of one frame as read off the wire (RFC 6455 §5.2), with where each part sits in
 * its direction's byte stream so a view can point at the exact bits.
 */
export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | null;
  /** As announced; above 2^53 this is the nearest double (see `lengthExact`). */
  length: number;
  /** The exact decimal length when it does not fit a double. */
  lengthExact?: string;
  lengthEncoding: LengthEncoding;
  header: Buffer;
  /** Offset of the frame's first byte in the direction's stream. */
  offset: number;
  /** Time the first byte of the frame arrived. */
  t: number;
  /** 0-based index of the frame in its direction. */
  seq: number;
}

/** What the frame decoder reports, in stream order. */
export interface FrameSink {
  frameHeader(frame: FrameHeader): void;
  /** A piece of the payload, already unmasked; may be called many times per frame. */
  framePayload(frame: FrameHeader, data: Buffer, payloadOffset: number): void;
  /** The frame's last byte arrived (`complete`), or the stream ended inside it. */
  frameEnd(frame: FrameHeader, t: number, complete: boolean): void;
  violation(rule: ViolationRule, frame: FrameHeader, offset: number, message?: string): void;
  /**
   * The fast path, for the frame most traffic is made of: a whole text or binary frame in one
   * chunk, FIN set, no RSV bit, masked as its direction must be, its length minimally encoded,
   * so it breaks no header rule. `wholeFrameWanted` says whether the sink can take such a frame
   * now (no message in progress, nothing else to flag); `wholeFrame` gets it unmasked in one
   * piece and returns false to decline it after all (text that is not valid UTF-8), in which
   * case the decoder reports the same frame through the calls above.
   */
  wholeFrameWanted?(length: number, t: number, seq: number): boolean;
  wholeFrame?(frame: WholeFrame): boolean;
}

/** A whole frame on the fast path (see FrameSink.wholeFrame); the decoder reuses the object. */
export interface WholeFrame {
  opcode: 1 | 2;
  masked: boolean;
  /** The masking key, big-endian, when masked. */
  maskKey: number;
  length: number;
  lengthEncoding: 7 | 16;
  headerLength: number;
  /** The unmasked payload: the decoder's own copy. */
  payload: Buffer;
  /** True when every payload byte is below 0x80 (so text is valid UTF-8 without a check). */
  ascii: boolean;
  offset: number;
  t: number;
  seq: number;
}

const enum State {
  /** The first two bytes: FIN, RSV1-3, opcode, MASK, 7-bit length. */
  GetInfo,
  /** The rest of the header: 2 or 8 bytes of extended length, then 4 bytes of masking key. */
  GetHeaderRest,
  /** Payload bytes. */
  GetData,
}

const MAX_HEADER = 14;
const TWO_TO_32 = 2 ** 32;

/**
 * Sans-I/O frame decoder for one direction: bytes in, header and payload callbacks out.
 * It never throws and does a bounded amount of work per byte: a frame announcing 2^62 bytes
 * costs nothing until its bytes arrive, and they are streamed, never gathered.
 */
export class FrameDecoder {
  /** Set once permessage-deflate is negotiated: RSV1 is then legal on data frames. */
  deflate = false;

  private state = State.GetInfo;
  private readonly hdr = Buffer.alloc(MAX_HEADER);
  private hdrLen = 0;
  private need = 2;
  private frame: FrameHeader | null = null;
  private remaining = 0;
  private payloadPos = 0;
  private offset: number;
  private seq = 0;
  private frameT = 0;

  constructor(
    private readonly dir: Direction,
    private readonly sink: FrameSink,
    baseOffset = 0,
  ) {
    this.offset = baseOffset;
  }

  /** Bytes of this direction seen so far (the stream offset of the next byte). */
  get position(): number {
    return this.offset;
  }

  /** Frames fully or partly seen so far. */
  get frameCount(): number {
    return this.seq;
  }

  /**
   * How far into a frame the stream stands: the header bytes of a frame begun (none between
   * frames) and the payload bytes still to come. The wiretap's faults, which add or remove
   * whole frames only, start their own frame splitter from here (server/tap/faults.ts).
   */
  get pending(): { header: Buffer; remaining: number } {
    if (this.state === State.GetData) return { header: Buffer.alloc(0), remaining: this.remaining };
    return { header: Buffer.from(this.hdr.subarray(0, this.hdrLen)), remaining: 0 };
  }

  receive(chunk: Buffer, t: number): void {
    let pos = 0;
    const len = chunk.length;
    const fast = this.sink.wholeFrame !== undefined;
    while (pos < len) {
      if (fast && this.hdrLen === 0 && this.state === State.GetInfo && len - pos >= 2) {
        const used = this.whole(chunk, pos, len, t);
        if (used > 0) {
          pos += used;
          continue;
        }
      }
      if (this.state === State.GetData) {
        const take = Math.min(this.remaining, len - pos);
        this.deliver(chunk, pos, take);
        pos += take;
        this.offset += take;
        this.remaining -= take;
        if (this.remaining === 0) this.endFrame(t);
        continue;
      }
      if (this.hdrLen === 0) this.frameT = t;
      const take = Math.min(this.need - this.hdrLen, len - pos);
      for (let i = 0; i < take; i++) this.hdr[this.hdrLen + i] = chunk[pos + i]!;
      this.hdrLen += take;
      pos += take;
      if (this.hdrLen < this.need) break;
      if (this.state === State.GetInfo) this.getInfo();
      if (this.state === State.GetHeaderRest && this.hdrLen === this.need) this.getHeaderRest(t);
    }
  }

  /** The stream ended: a frame cut short is reported as incomplete. */
  end(t: number): void {
    if (this.frame) {
      this.sink.frameEnd(this.frame, t, false);
      this.frame = null;
    } else if (this.hdrLen > 0) {
      // Fewer header bytes than a frame needs: report what is known as an incomplete frame.
      const partial = this.partialHeader();
      this.sink.frameHeader(partial);
      // The first two bytes already show most broken rules (a receiver like ws fails on them
      // before the rest of the header arrives), so check them even though the frame is cut.
      if (this.hdrLen >= 2) this.checkHeader(partial, true, false);
      this.sink.frameEnd(partial, t, false);
    }
    this.hdrLen = 0;
  }

  private readonly wf: WholeFrame = {
    opcode: 1, masked: false, maskKey: 0, length: 0, lengthEncoding: 7, headerLength: 2,
    payload: Buffer.alloc(0), ascii: true, offset: 0, t: 0, seq: 0,
  };

  /**
   * The fast path (FrameSink.wholeFrame): a whole, unremarkable data frame at `pos`, decoded
   * straight from the chunk. Returns the bytes it used, or 0 to leave the frame to the general
   * path (which also finds every rule a declined frame breaks).
   */
  private whole(chunk: Buffer, pos: number, len: number, t: number): number {
    const b0 = chunk[pos]!;
    // FIN, no RSV bit, text or binary (RFC 6455 §5.2).
    if (b0 !== 0x81 && b0 !== 0x82) return 0;
    const b1 = chunk[pos + 1]!;
    const masked = (b1 & 0x80) !== 0;
    if (masked !== (this.dir === 'client')) return 0;
    let n = b1 & 0x7f;
    let hl = 2;
    if (n === 126) {
      if (len - pos < 4) return 0;
      n = (chunk[pos + 2]! << 8) | chunk[pos + 3]!;
      if (n < 126) return 0;
      hl = 4;
    } else if (n === 127) {
      return 0;
    }
    const keyAt = pos + hl;
    if (masked) hl += 4;
    const total = hl + n;
    if (len - pos < total || !this.sink.wholeFrameWanted!(n, t, this.seq)) return 0;
    const w = this.wf;
    w.opcode = b0 === 0x81 ? 1 : 2;
    w.masked = masked;
    w.length = n;
    w.lengthEncoding = hl === 2 || hl === 6 ? 7 : 16;
    w.headerLength = hl;
    w.offset = this.offset;
    w.t = t;
    w.seq = this.seq;
    const data = Buffer.allocUnsafe(n);
    const at = pos + hl;
    if (masked) {
      const k0 = chunk[keyAt]!;
      const k1 = chunk[keyAt + 1]!;
      const k2 = chunk[keyAt + 2]!;
      const k3 = chunk[keyAt + 3]!;
      w.maskKey = ((k0 << 24) | (k1 << 16) | (k2 << 8) | k3) >>> 0;
      w.ascii = n >= WORDWISE_FROM ? unmaskWords(chunk, at, n, data, k0, k1, k2, k3) : unmaskBytes(chunk, at, n, data, k0, k1, k2, k3);
    } else {
      w.maskKey = 0;
      let or = 0;
      if (n >= WORDWISE_FROM) {
        chunk.copy(data, 0, at, at + n);
        or = 0x80;
      } else {
        for (let i = 0; i < n; i++) or |= data[i] = chunk[at + i]!;
      }
      w.ascii = (or & 0x80) === 0;
    }
    w.payload = data;
    if (!this.sink.wholeFrame!(w)) return 0;
    this.seq++;
    this.offset += total;
    return total;
  }

  private getInfo(): void {
    const b1 = this.hdr[1]!;
    const len7 = b1 & 0x7f;
    this.need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
    this.state = State.GetHeaderRest;
  }

  private getHeaderRest(t: number): void {
    const h = this.hdr;
    const b0 = h[0]!;
    const b1 = h[1]!;
    const len7 = b1 & 0x7f;
    let length = len7;
    let lengthExact: string | undefined;
    let lengthEncoding: LengthEncoding = 7;
    let p = 2;
    let minimal = true;
    let topBit = false;
    if (len7 === 126) {
      length = h.readUInt16BE(2);
      lengthEncoding = 16;
      minimal = length >= 126;
      p = 4;
    } else if (len7 === 127) {
      const hi = h.readUInt32BE(2);
      const lo = h.readUInt32BE(6);
      topBit = (hi & 0x80000000) !== 0;
      length = hi * TWO_TO_32 + lo;
      if (length > Number.MAX_SAFE_INTEGER) lengthExact = h.readBigUInt64BE(2).toString();
      lengthEncoding = 64;
      minimal = length > 0xffff;
      p = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    // One copy of the header; the mask key is a view of it (no allocation per field).
    const header = Buffer.allocUnsafe(this.need);
    h.copy(header, 0, 0, this.need);
    const frame: FrameHeader = {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      maskKey: masked ? header.subarray(p, p + 4) : null,
      length,
      lengthEncoding,
      header,
      offset: this.offset,
      t: this.frameT,
      seq: this.seq++,
    };
    if (lengthExact !== undefined) frame.lengthExact = lengthExact;
    this.frame = frame;
    this.sink.frameHeader(frame);
    this.checkHeader(frame, minimal, topBit);

    this.offset += this.need;
    this.hdrLen = 0;
    this.need = 2;
    this.payloadPos = 0;
    this.remaining = length;
    if (length === 0) {
      this.endFrame(t);
    } else {
      this.state = State.GetData;
    }
  }

  /** The rules a single header can break (§5.1, §5.2, §5.5; RFC 7692 §6.1). */
  private checkHeader(f: FrameHeader, minimal: boolean, topBit: boolean): void {
    const at = f.offset;
    const control = isControl(f.opcode);
    if (this.dir === 'client' && !f.masked) this.sink.violation('unmasked-client-frame', f, at + 1);
    if (this.dir === 'server' && f.masked) this.sink.violation('masked-server-frame', f, at + 1);
    if (f.rsv1) {
      if (!this.deflate) this.sink.violation('rsv-without-extension', f, at, 'RSV1 is set but no extension was negotiated.');
      else if (control) this.sink.violation('rsv1-on-control-frame', f, at);
      else if (f.opcode === Opcode.Continuation) this.sink.violation('rsv1-on-continuation', f, at);
    }
    if (f.rsv2 || f.rsv3) {
      const which = [f.rsv2 && 'RSV2', f.rsv3 && 'RSV3'].filter(Boolean).join(' and ');
      this.sink.violation('rsv-without-extension', f, at, `${which} set but no extension defines ${f.rsv2 && f.rsv3 ? 'them' : 'it'}.`);
    }
    if (isReserved(f.opcode)) {
      this.sink.violation('reserved-opcode', f, at, `Opcode 0x${f.opcode.toString(16)} is reserved.`);
    }
    if (control && !isReserved(f.opcode)) {
      if (f.length > 125) {
        this.sink.violation('control-frame-too-long', f, at + 1, `This control frame announces ${f.lengthExact ?? f.length} bytes; the limit is 125.`);
      }
      if (!f.fin) this.sink.violation('fragmented-control-frame', f, at);
      // Known from the header alone, so a close frame cut short is judged too (§5.5.1).
      if (f.opcode === Opcode.Close && f.length === 1) this.sink.violation('close-body-one-byte', f, at + f.header.length);
    }
    if (!minimal) {
      const fits = f.length < 126 ? 'the 7-bit field' : 'the 16-bit field';
      this.sink.violation('non-minimal-length', f, at + 1, `A length of ${f.length} sent in ${f.lengthEncoding} bits fits in ${fits}.`);
    }
    if (topBit) this.sink.violation('length-top-bit-set', f, at + 2);
  }

  private deliver(chunk: Buffer, pos: number, take: number): void {
    const f = this.frame!;
    const key = f.maskKey;
    let data: Buffer;
    if (key) {
      // Unmask into a copy: the chunk itself is being forwarded untouched (§5.3), with the key
      // rotated to where this piece starts in the payload.
      const j = this.payloadPos & 3;
      const k0 = key[j]!;
      const k1 = key[(j + 1) & 3]!;
      const k2 = key[(j + 2) & 3]!;
      const k3 = key[(j + 3) & 3]!;
      data = Buffer.allocUnsafe(take);
      if (take >= WORDWISE_FROM) unmaskWords(chunk, pos, take, data, k0, k1, k2, k3);
      else unmaskBytes(chunk, pos, take, data, k0, k1, k2, k3);
    } else {
      data = chunk.subarray(pos, pos + take);
    }
    this.sink.framePayload(f, data, this.payloadPos);
    this.payloadPos += take;
  }

  private endFrame(t: number): void {
    const f = this.frame!;
    this.frame = null;
    this.state = State.GetInfo;
    this.sink.frameEnd(f, t, true);
  }

  private partialHeader(): FrameHeader {
    const h = this.hdr;
    const b0 = h[0]!;
    const b1 = this.hdrLen > 1 ? h[1]! : 0;
    return {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked: (b1 & 0x80) !== 0,
      maskKey: null,
      length: b1 & 0x7f,
      lengthEncoding: 7,
      header: Buffer.from(h.subarray(0, this.hdrLen)),
      offset: this.offset,
      t: this.frameT,
      seq: this.seq++,
    };
  }
}

/**
 * Unmask `n` bytes of `src` from `at` into `out` with the key bytes k0..k3 (already rotated to
 * where the piece starts in its payload): short pieces, byte by byte. Returns true when every
 * unmasked byte is ASCII (the fast path then skips the UTF-8 check).
 */
function unmaskBytes(src: Buffer, at: number, n: number, out: Buffer, k0: number, k1: number, k2: number, k3: number): boolean {
  let or = 0;
  const end4 = n & ~3;
  let i = 0;
  for (; i < end4; i += 4) {
    or |= out[i] = src[at + i]! ^ k0;
    or |= out[i + 1] = src[at + i + 1]! ^ k1;
    or |= out[i + 2] = src[at + i + 2]! ^ k2;
    or |= out[i + 3] = src[at + i + 3]! ^ k3;
  }
  if (i < n) or |= out[i] = src[at + i]! ^ k0;
  if (i + 1 < n) or |= out[i + 1] = src[at + i + 1]! ^ k1;
  if (i + 2 < n) or |= out[i + 2] = src[at + i + 2]! ^ k2;
  return (or & 0x80) === 0;
}

/**
 * The same for longer pieces: a native copy, then XOR in place 32 bits at a time. The key word is
 * read through a typed array, so it is in the platform's byte order, as is the view the payload
 * is XORed through; Buffer.allocUnsafe hands out 8-byte-aligned memory, so the unaligned byte
 * loop is only a safety net.
 */
function unmaskWords(src: Buffer, at: number, n: number, out: Buffer, k0: number, k1: number, k2: number, k3: number): boolean {
  src.copy(out, 0, at, at + n);
  rotated[0] = k0;
  rotated[1] = k1;
  rotated[2] = k2;
  rotated[3] = k3;
  const word = rotatedWord[0]!;
  const words = n >>> 2;
  let or = 0;
  if ((out.byteOffset & 3) === 0) {
    const view = new Uint32Array(out.buffer, out.byteOffset, words);
    for (let i = 0; i < words; i++) or |= view[i]! ^= word;
  } else {
    for (let i = 0; i < words * 4; i++) or |= out[i]! ^= rotated[i & 3]!;
  }
  for (let i = words * 4; i < n; i++) or |= out[i]! ^= rotated[i & 3]!;
  return (or & 0x80808080) === 0;
}

/** From this many bytes on, unmasking 4 bytes at a time through a Uint32Array view pays off. */
const WORDWISE_FROM = 64;
const rotated = Buffer.alloc(4);
const rotatedWord = new Uint32Array(rotated.buffer, rotated.byteOffset, 1);
