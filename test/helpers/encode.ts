/**
 * A test-side frame encoder: builds any frame, legal or not, byte by byte (RFC 6455 §5.2), so
 * tests do not depend on the decoder they check. Also: a permessage-deflate sender with a real
 * zlib stream per direction (RFC 7692 §7.2.1), the opening handshake heads, and fast-check
 * arbitraries for random *valid* streams shared by the differential and the fuzz tests.
 */
import { createHash } from 'node:crypto';
import { constants, createDeflateRaw, type DeflateRaw } from 'node:zlib';
import fc from 'fast-check';
import type { Direction } from '../../server/capture/events.ts';

export const Op = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

export interface FrameSpec {
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Any 4-bit value, reserved ones included. */
  opcode: number;
  payload?: Buffer | string;
  /** Masking key (4 bytes); absent or null for an unmasked frame. */
  mask?: Buffer | null;
  /** Force the length field (7, 16 or 64 bits): a larger one than needed is non-minimal. */
  lengthEncoding?: 7 | 16 | 64;
  /** Announce this length instead of the payload's: a frame cut short, or a giant one. */
  announcedLength?: number | bigint;
}

/** The bytes of one frame exactly as `spec` says, whether or not the RFC allows it. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : (spec.payload ?? Buffer.alloc(0));
  const length = BigInt(spec.announcedLength ?? payload.length);
  const encoding = spec.lengthEncoding ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  if (encoding === 7 && length > 125n) throw new Error(`a length of ${length} does not fit the 7-bit field`);
  if (encoding === 16 && length > 0xffffn) throw new Error(`a length of ${length} does not fit the 16-bit field`);
  if (length >= 2n ** 64n) throw new Error(`a length of ${length} does not fit the 64-bit field`);
  const ext = encoding === 7 ? 0 : encoding === 16 ? 2 : 8;
  const mask = spec.mask ?? null;
  if (mask && mask.length !== 4) throw new Error('a masking key is 4 bytes');
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] =
    ((spec.fin ?? true) ? 0x80 : 0) |
    (spec.rsv1 ? 0x40 : 0) |
    (spec.rsv2 ? 0x20 : 0) |
    (spec.rsv3 ? 0x10 : 0) |
    (spec.opcode & 0x0f);
  head[1] = (mask ? 0x80 : 0) | (encoding === 7 ? Number(length) : encoding === 16 ? 126 : 127);
  if (encoding === 16) head.writeUInt16BE(Number(length), 2);
  if (encoding === 64) head.writeBigUInt64BE(length, 2);
  if (!mask) return Buffer.concat([head, payload]);
  mask.copy(head, 2 + ext);
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, body]);
}

/** A close frame's body (§5.5.1): no code gives an empty body. */
export function closeBody(code?: number | null, reason: string | Buffer = ''): Buffer {
  if (code === undefined || code === null) return Buffer.alloc(0);
  const r = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

/** RFC 7692 §7.2.1: the four bytes a Z_SYNC_FLUSH ends with, removed from each message. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * One direction's permessage-deflate compressor: a single raw deflate stream kept across
 * messages (context takeover), or a fresh one per message (no_context_takeover), as ws and
 * browsers do it. Independent of the decoder's inflater, which uses preset dictionaries.
 */
export class DeflateSender {
  private stream: DeflateRaw | null = null;
  private out: Buffer[] = [];

  constructor(
    readonly windowBits = 15,
    readonly noContextTakeover = false,
    readonly level = 6,
  ) {}

  compress(data: Buffer): Promise<Buffer> {
    if (!this.stream) {
      this.stream = createDeflateRaw({ windowBits: this.windowBits, level: this.level });
      this.stream.on('data', (c: Buffer) => this.out.push(c));
    }
    const s = this.stream;
    return new Promise((resolve, reject) => {
      s.write(data);
      s.flush(constants.Z_SYNC_FLUSH, () => {
        const all = Buffer.concat(this.out);
        this.out = [];
        if (this.noContextTakeover) this.close();
        if (!all.subarray(-4).equals(TAIL)) reject(new Error(`deflate output does not end with 00 00 ff ff: ${all.toString('hex')}`));
        else resolve(all.subarray(0, all.length - 4));
      });
    });
  }

  close(): void {
    this.stream?.close();
    this.stream = null;
  }
}

/** permessage-deflate as the server accepts it (RFC 7692 §7.1), for the handshake heads. */
export interface DeflateAgreement {
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
}

export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The opening handshake (§1.3, §4.1, §4.2.2) as a browser and ws would send it. */
export function handshakeHeads(deflate: DeflateAgreement | null, key = SAMPLE_KEY): { request: Buffer; response: Buffer } {
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  const request = [
    'GET /chat HTTP/1.1',
    'Host: 127.0.0.1:9900',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...(deflate ? ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'] : []),
  ];
  const response = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`];
  if (deflate) {
    const params = ['permessage-deflate'];
    // 15 is the default: sometimes leave it out, as servers do.
    if (deflate.serverMaxWindowBits !== 15) params.push(`server_max_window_bits=${deflate.serverMaxWindowBits}`);
    if (deflate.clientMaxWindowBits !== 15) params.push(`client_max_window_bits=${deflate.clientMaxWindowBits}`);
    if (deflate.serverNoContextTakeover) params.push('server_no_context_takeover');
    if (deflate.clientNoContextTakeover) params.push('client_no_context_takeover');
    response.push(`Sec-WebSocket-Extensions: ${params.join('; ')}`);
  }
  const head = (lines: string[]) => Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return { request: head(request), response: head(response) };
}

/** mulberry32: a small seeded PRNG for masking keys and bulky payloads fast-check need not shrink. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

// ---------------------------------------------------------------------------------------------
// Random valid streams.

export interface Control {
  kind: 'ping' | 'pong';
  data: Buffer;
}

export interface DataMessage {
  kind: 'message';
  binary: boolean;
  data: Buffer;
  /** Send compressed (RSV1) when permessage-deflate is in use. */
  compress: boolean;
  /** Fragment boundaries as fractions of the (compressed) payload; empty = one frame. */
  cuts: number[];
  /** Control frames sent after fragment i (interleaved mid-message), i < cuts.length. */
  between: Control[][];
}

export type StreamItem = DataMessage | Control;

export interface DirectionDeflate {
  windowBits: number;
  noContextTakeover: boolean;
  /** zlib level the sender compresses with (0 = stored blocks only). */
  level: number;
}

export interface StreamSpec {
  items: StreamItem[];
  /** A close frame at the end: `code: null` is an empty body (1005). */
  close: { code: number | null; reason: string } | null;
  /** Seed for the masking keys (client streams); some keys are 00000000. */
  maskSeed: number;
}

/** What a receiver must report for a stream, in order. */
export type Expected =
  | { type: 'message'; binary: boolean; data: Buffer; compressed: boolean; frames: number }
  | { type: 'ping' | 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string };

/** A position in [0, 1] (fc.double would mostly give 0, 1 and tiny values). */
const fraction = fc.integer({ min: 0, max: 10_000 }).map((x) => x / 10_000);

const SAMPLE_TEXTS = ['héllo 👋', '', 'Hello webSocket', 'I heard you say "héllo 👋"', '€𐍈ü 日本語 🇫🇷', 'a'];

const textArb = (bulk: number): fc.Arbitrary<string> => fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SAMPLE_TEXTS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  // Long repetitive text: 16-bit lengths, and something for deflate to chew on.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...SAMPLE_TEXTS.filter((s) => s !== '')), fc.integer({ min: 10, max: 10 + Math.floor(bulk / 28) }))
      .map(([s, n]) => s.repeat(n)),
  },
);

const binaryArb = (bulk: number): fc.Arbitrary<Buffer> => fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  // Bulky payloads from a seed: 16-bit and 64-bit lengths (65536+), compressible or not.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 120, max: bulk }), fc.nat(), fc.boolean())
      .map(([n, seed, noisy]) => (noisy ? randomBytes(n, seed) : Buffer.alloc(n, seed & 0xff))),
  },
);

const controlArb: fc.Arbitrary<Control> = fc.record({
  kind: fc.constantFrom('ping' as const, 'pong' as const),
  data: fc.oneof(
    fc.uint8Array({ maxLength: 125 }).map((a) => Buffer.from(a)),
    fc.constantFrom('', 'keepalive', 'héllo 👋').map((s) => Buffer.from(s)),
  ),
});

const messageArb = (bulk: number): fc.Arbitrary<DataMessage> => fc
  .record({
    binary: fc.boolean(),
    text: textArb(bulk),
    bin: binaryArb(bulk),
    compress: fc.boolean(),
    cuts: fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as number[]) },
      { weight: 3, arbitrary: fc.array(fraction, { minLength: 1, maxLength: 5 }) },
    ),
    between: fc.array(fc.array(controlArb, { maxLength: 2 }), { maxLength: 5 }),
  })
  .map(({ binary, text, bin, compress, cuts, between }) => ({
    kind: 'message' as const,
    binary,
    data: binary ? bin : Buffer.from(text, 'utf8'),
    compress,
    cuts: [...cuts].sort((a, b) => a - b),
    between: cuts.map((_, i) => between[i] ?? []),
  }));

const validCloseCode = fc.oneof(
  fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
  fc.integer({ min: 3000, max: 4999 }),
);

const closeArb = fc.option(
  fc.oneof(
    fc.constant({ code: null, reason: '' }),
    fc.record({
      code: validCloseCode,
      reason: fc.oneof(fc.constantFrom('', 'bye', 'au revoir 👋'), fc.string({ unit: 'grapheme', maxLength: 30 })),
    }).map((c) => ({ code: c.code as number | null, reason: trimUtf8(c.reason, 123) })),
  ),
  { nil: null },
);

/**
 * Random valid streams: data messages (some fragmented, some compressed) and control frames.
 * Some messages repeat an earlier one, as chat and echo traffic does: with context takeover
 * their compressed form refers back into earlier messages, which is what the window tests.
 * `bulk` bounds the few large payloads (70 000 reaches the 64-bit length encoding).
 */
export const makeStreamArb = (bulk: number): fc.Arbitrary<StreamSpec> => fc
  .record({
    items: fc.array(
      fc.oneof(
        { weight: 4, arbitrary: fc.tuple(messageArb(bulk), fc.option(fc.nat(), { nil: null, freq: 2 })) },
        { weight: 1, arbitrary: controlArb },
      ),
      { maxLength: 12 },
    ),
    close: closeArb,
    maskSeed: fc.nat(),
  })
  .map(({ items, close, maskSeed }) => {
    const out: StreamItem[] = [];
    const earlier: DataMessage[] = [];
    for (const item of items) {
      if (!Array.isArray(item)) {
        out.push(item);
        continue;
      }
      const [m, repeat] = item;
      const from = repeat !== null && earlier.length > 0 ? earlier[repeat % earlier.length]! : null;
      const msg = from ? { ...m, binary: from.binary, data: from.data } : m;
      earlier.push(msg);
      out.push(msg);
    }
    return { items: out, close, maskSeed };
  });

export const streamArb = makeStreamArb(70_000);
/** Smaller streams, for properties that run many cases (damage, fuzz). */
export const smallStreamArb = makeStreamArb(2_000);

export const directionDeflateArb: fc.Arbitrary<DirectionDeflate | null> = fc.option(
  fc.record({ windowBits: fc.integer({ min: 8, max: 15 }), noContextTakeover: fc.boolean(), level: fc.constantFrom(0, 1, 6, 9) }),
  { nil: null, freq: 3 },
);

/**
 * How a byte stream is cut into chunks: a list of chunk sizes (cycled), or cut positions as
 * fractions of the stream. Both include the extreme of one byte at a time.
 */
export type ChunkPlan = { sizes: number[] } | { cuts: number[] };

export const chunkPlanArb: fc.Arbitrary<ChunkPlan> = fc.oneof(
  fc.record({ sizes: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }) }),
  fc.record({ sizes: fc.constant<number[]>([1]) }),
  fc.record({ cuts: fc.array(fraction, { maxLength: 30 }) }),
);

/** Chunk sizes for `length` bytes; size lists are scaled up so no stream needs 20 000+ chunks. */
export function chunkSizes(length: number, plan: ChunkPlan): number[] {
  if (length === 0) return [1];
  if ('sizes' in plan) {
    const avg = plan.sizes.reduce((a, b) => a + b, 0) / plan.sizes.length;
    const scale = Math.max(1, Math.ceil(length / avg / 20_000));
    return plan.sizes.map((s) => s * scale);
  }
  const at = [...new Set(plan.cuts.map((c) => Math.floor(c * length)))].filter((p) => p > 0 && p < length).sort((a, b) => a - b);
  const sizes: number[] = [];
  let prev = 0;
  for (const p of [...at, length]) {
    sizes.push(p - prev);
    prev = p;
  }
  return sizes;
}

/** Cut `bytes` per `sizes` (cycled). */
export function cut(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    out.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

/**
 * Encode a stream as `dir` sends it: client frames masked, server frames not (§5.1), messages
 * compressed with `deflate` when they ask to be. Returns the bytes and what a receiver must report.
 */
export async function buildStream(
  spec: StreamSpec,
  dir: Direction,
  deflate: DirectionDeflate | null,
): Promise<{ bytes: Buffer; expected: Expected[] }> {
  const rand = prng(spec.maskSeed);
  const mask = () => {
    if (dir === 'server') return null;
    const r = rand();
    // A zero key leaves the payload as is (§5.3): legal, and a fast path in ws.
    return r < 0.1 ? Buffer.alloc(4) : Buffer.from([rand() * 256, rand() * 256, rand() * 256, rand() * 256].map((x) => x | 0));
  };
  const sender = deflate ? new DeflateSender(deflate.windowBits, deflate.noContextTakeover, deflate.level) : null;
  const frames: Buffer[] = [];
  const expected: Expected[] = [];
  const control = (c: Control) => {
    frames.push(encodeFrame({ opcode: c.kind === 'ping' ? Op.Ping : Op.Pong, payload: c.data, mask: mask() }));
    expected.push({ type: c.kind, data: c.data });
  };
  try {
    for (const item of spec.items) {
      if (item.kind !== 'message') {
        control(item);
        continue;
      }
      const compressed = sender !== null && item.compress;
      const wire = compressed ? await sender.compress(item.data) : item.data;
      const at = item.cuts.map((c) => Math.floor(c * wire.length));
      const bounds = [0, ...at, wire.length];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const last = i + 2 === bounds.length;
        frames.push(
          encodeFrame({
            fin: last,
            rsv1: compressed && i === 0,
            opcode: i === 0 ? (item.binary ? Op.Binary : Op.Text) : Op.Continuation,
            payload: wire.subarray(bounds[i]!, bounds[i + 1]!),
            mask: mask(),
          }),
        );
        if (!last) for (const c of item.between[i] ?? []) control(c);
      }
      expected.push({ type: 'message', binary: item.binary, data: item.data, compressed, frames: bounds.length - 1 });
    }
  } finally {
    sender?.close();
  }
  if (spec.close) {
    frames.push(encodeFrame({ opcode: Op.Close, payload: closeBody(spec.close.code, spec.close.reason), mask: mask() }));
    expected.push({ type: 'close', code: spec.close.code ?? 1005, reason: spec.close.reason });
  }
  return { bytes: Buffer.concat(frames), expected };
}

/** Cut a string to at most `max` UTF-8 bytes on a code point boundary. */
function trimUtf8(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Damage: what a buggy peer, a fuzzer or a bad proxy does to a valid stream.

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Buffer }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'duplicate'; at: number; n: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fraction, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fraction }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fraction, bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }).map((a) => Buffer.from(a)) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fraction, n: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fraction, n: fc.integer({ min: 1, max: 32 }) }) },
);

export const mutationsArb: fc.Arbitrary<Mutation[]> = fc.array(mutationArb, { minLength: 1, maxLength: 4 });

/** Apply the mutations in order; positions are fractions of the bytes as they are then. */
export function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of mutations) {
    const at = Math.min(b.length, Math.floor(m.at * b.length));
    switch (m.kind) {
      case 'flip':
        if (at < b.length) b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, at + m.n), b.subarray(at)]);
        break;
    }
  }
  return b;
}
