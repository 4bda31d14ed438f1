import { randomBytes, randomInt } from 'node:crypto';
import type { FrameEvent } from '../../server/capture/events.ts';
import { bytesArg, bytesOf, check, must, useLesson, type CallResult } from '../harness.ts';

const lesson = useLesson(import.meta.url, { files: ['decode-frame.js'] });

/** What decodeFrame must return for a frame, with the key and payload as bytes. */
interface Want {
  fin: boolean;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | null;
  length: number;
  payload: Buffer;
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const spaced = (b: Buffer, max = 16) =>
  [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, '0')).join(' ') + (b.length > max ? ` … (${b.length.toLocaleString('en-US')} bytes)` : '');

/** A frame built the RFC's way (the length in its smallest form), masked when a key is given. */
function frame(opcode: number, payload: Buffer, opts: { fin?: boolean; key?: Buffer } = {}): { bytes: Buffer; want: Want } {
  const fin = opts.fin ?? true;
  const n = payload.length;
  const len = n <= 125 ? Buffer.from([n]) : n <= 0xffff ? Buffer.from([126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([127]), u64(n)]);
  if (opts.key) len[0]! |= 0x80;
  const body = opts.key ? Buffer.from(payload.map((b, i) => b ^ opts.key![i % 4]!)) : payload;
  const bytes = Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode]), len, opts.key ?? Buffer.alloc(0), body]);
  return { bytes, want: { fin, opcode, masked: !!opts.key, maskKey: opts.key ?? null, length: n, payload } };
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Bytes from what decodeFrame returned: a Buffer (or Uint8Array), or an array of numbers. */
function asBytes(v: unknown): Buffer | null {
  const b = bytesOf(v);
  if (b) return b;
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) return Buffer.from(v as number[]);
  return null;
}

/** The first way `got` differs from `want`, in words; null when it does not. */
function difference(input: Buffer, r: CallResult | undefined, want: Want, label?: string): string | null {
  const call = `decodeFrame(${spaced(input, 14)})${label ? ` (${label})` : ''}`;
  if (!r) return `${call} returned nothing.`;
  if (!r.ok) return `${call} threw ${r.error}.`;
  const got = r.value as Record<string, unknown> | null;
  if (!got || typeof got !== 'object') return `${call} returned ${JSON.stringify(got)}, not an object { fin, opcode, masked, maskKey, length, payload }.`;
  if (got.fin !== want.fin) return `${call} returned fin: ${JSON.stringify(got.fin)}; the top bit of byte 0 says ${want.fin}.`;
  if (got.opcode !== want.opcode) return `${call} returned opcode: ${JSON.stringify(got.opcode)}; the low 4 bits of byte 0 say ${want.opcode}.`;
  if (got.masked !== want.masked) return `${call} returned masked: ${JSON.stringify(got.masked)}; the top bit of byte 1 says ${want.masked}.`;
  if (got.length !== want.length) {
    const b1 = input[1]! & 0x7f;
    const where = b1 <= 125 ? 'the 7 low bits of byte 1' : b1 === 126 ? 'byte 1 says 126, so the 2 bytes after it' : 'byte 1 says 127, so the 8 bytes after it';
    return `${call} returned length: ${JSON.stringify(got.length)}; ${where} say ${want.length}.`;
  }
  if (want.maskKey) {
    const key = asBytes(got.maskKey);
    if (!key || !key.equals(want.maskKey)) return `${call} returned maskKey: ${key ? spaced(key) : JSON.stringify(got.maskKey)}; the masking key is ${spaced(want.maskKey)} (the 4 bytes after the length).`;
  } else if (got.maskKey !== null && got.maskKey !== undefined) {
    return `${call} returned maskKey: ${JSON.stringify(got.maskKey)} for a frame that is not masked: return null.`;
  }
  const payload = asBytes(got.payload);
  if (!payload) {
    return typeof got.payload === 'string'
      ? `${call} returned the payload as a string; return its bytes (a Buffer): a binary frame's payload is not text.`
      : `${call} returned payload: ${JSON.stringify(got.payload)?.slice(0, 60)}, not bytes (a Buffer).`;
  }
  if (!payload.equals(want.payload)) {
    const i = [...want.payload].findIndex((b, k) => payload[k] !== b);
    const masked = want.maskKey ? ' Is it unmasked (byte i XOR maskKey[i % 4])?' : '';
    if (payload.length !== want.payload.length) return `${call} returned a payload of ${payload.length} bytes; the frame carries ${want.length}.${masked}`;
    return `${call} returned a payload that differs at byte ${i}: ${payload[i]!.toString(16).padStart(2, '0')} instead of ${want.payload[i]!.toString(16).padStart(2, '0')}.${masked}`;
  }
  return null;
}

/** Run the learner's decodeFrame on every case; the first difference, or null. */
/**
 * Limits for the learner's decoder: no single allocation above 16 MiB (the check's largest frame
 * is 70 KB; a decoder that allocates what a header announces is told so), and a small heap.
 */
const LIMITS = { maxAllocBytes: 16 * 1024 * 1024, heapMb: 256 };

/** Run the learner's decodeFrame on every case; the first difference, or null. */
async function firstDifference(cases: Array<{ bytes: Buffer; want: Want; label?: string }>): Promise<string | null> {
  let results: CallResult[];
  try {
    results = await lesson.callExport('decode-frame.js', 'decodeFrame', cases.map((c) => [bytesArg(c.bytes)]), 8000, LIMITS);
  } catch (err) {
    return (err as Error).message;
  }
  for (const [i, c] of cases.entries()) {
    const d = difference(c.bytes, results[i], c.want, c.label);
    if (d) return d;
  }
  return null;
}

const HELLO = Buffer.from('Hello');
const RFC_KEY = hex('37 fa 21 3d');

check("decodeFrame reads RFC 6455 §5.7's unmasked 'Hello', its fragments 'Hel' + 'lo' and its ping, byte for byte", { hint: 1 }, async () => {
  const d = await firstDifference([
    { bytes: hex('81 05 48 65 6c 6c 6f'), want: { fin: true, opcode: 1, masked: false, maskKey: null, length: 5, payload: HELLO } },
    { bytes: hex('01 03 48 65 6c'), want: { fin: false, opcode: 1, masked: false, maskKey: null, length: 3, payload: Buffer.from('Hel') } },
    { bytes: hex('80 02 6c 6f'), want: { fin: true, opcode: 0, masked: false, maskKey: null, length: 2, payload: Buffer.from('lo') } },
    { bytes: hex('89 05 48 65 6c 6c 6f'), want: { fin: true, opcode: 9, masked: false, maskKey: null, length: 5, payload: HELLO } },
  ]);
  must(d === null, d!);
});

check("decodeFrame reads §5.7's 256-byte and 64 KiB binary frames (the 16-bit and 64-bit lengths)", { hint: 2 }, async () => {
  const b256 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const b64k = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7) & 0xff));
  const d = await firstDifference([
    // 0x82 0x7E 0x0100 [256 bytes]; 0x82 0x7F 0x0000000000010000 [65536 bytes]
    { bytes: Buffer.concat([hex('82 7e 01 00'), b256]), want: { fin: true, opcode: 2, masked: false, maskKey: null, length: 256, payload: b256 } },
    { bytes: Buffer.concat([hex('82 7f 00 00 00 00 00 01 00 00'), b64k]), want: { fin: true, opcode: 2, masked: false, maskKey: null, length: 65536, payload: b64k } },
  ]);
  must(d === null, d!);
});

check("decodeFrame reads §5.7's masked 'Hello' and masked pong: the masking key, then the payload unmasked", { hint: 3 }, async () => {
  const d = await firstDifference([
    { bytes: hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), want: { fin: true, opcode: 1, masked: true, maskKey: RFC_KEY, length: 5, payload: HELLO } },
    { bytes: hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'), want: { fin: true, opcode: 10, masked: true, maskKey: RFC_KEY, length: 5, payload: HELLO } },
  ]);
  must(d === null, d!);
});

check('decodeFrame reads every length at the edges: 125 (7 bits), 126 and 65,535 (16 bits), 65,536 (64 bits), masked too', { hint: 2 }, async () => {
  const key = randomBytes(4);
  const text = (n: number) => Buffer.from('x'.repeat(n));
  const d = await firstDifference([
    frame(1, text(0)),
    frame(1, text(125)),
    frame(1, text(126)),
    frame(1, text(65535)),
    frame(1, text(65536)),
    frame(1, text(125), { key }),
    frame(2, Buffer.from(Array.from({ length: 126 }, (_, i) => 255 - i)), { key }),
    frame(1, text(65536), { key }),
  ]);
  must(d === null, d!);
});

check('decodeFrame reads random frames: random bytes, sizes, opcodes, FIN bits and masking keys', { hint: 3 }, async () => {
  // New every run: a decoder that only knows the examples above does not pass.
  const cases = Array.from({ length: 24 }, (_, i) => {
    const control = i % 6 === 5;
    const opcode = control ? [8, 9, 10][randomInt(3)]! : [0, 1, 2][randomInt(3)]!;
    const size = control ? randomInt(0, 126) : [randomInt(0, 126), randomInt(126, 65536), randomInt(65536, 70000)][i % 3]!;
    return frame(opcode, randomBytes(size), { fin: control || randomInt(2) === 1, key: randomInt(2) === 1 ? randomBytes(4) : undefined });
  });
  const d = await firstDifference(cases);
  must(d === null, d!);
});

const TWO_31 = 2 ** 31;

check('decodeFrame does not trust the length: a header announcing 2^31 bytes, with no payload behind it, is read without allocating them', { hint: 5 }, async () => {
  // A header that says 2 GiB follow, and then the frame ends: unmasked, and masked (key, no payload).
  const lies = [hex('82 7f 00 00 00 00 80 00 00 00'), hex('82 ff 00 00 00 00 80 00 00 00 11 22 33 44')];
  let results: CallResult[];
  try {
    results = await lesson.callExport('decode-frame.js', 'decodeFrame', lies.map((b) => [bytesArg(b)]), 8000, LIMITS);
  } catch (err) {
    const msg = (err as Error).message;
    must(
      false,
      /did not return/.test(msg)
        ? `decodeFrame(${spaced(lies[0]!)}) did not return: it works through the ${TWO_31.toLocaleString('en-US')} bytes the header announces, which are not there. Work only with the bytes that arrived.`
        : `decodeFrame(${spaced(lies[0]!)}) brought its process down: ${msg}\nA header announcing ${TWO_31.toLocaleString('en-US')} bytes is not ${TWO_31.toLocaleString('en-US')} bytes: work only with the bytes that arrived.`,
    );
  }
  for (const [i, r] of results.entries()) {
    const call = `decodeFrame(${spaced(lies[i]!)})`;
    // Throwing (an incomplete frame) is a fine answer; asking for the announced bytes is not.
    if (!r.ok) {
      must(
        !r.error.startsWith('AllocationRefused'),
        `${call}: the header announces ${TWO_31.toLocaleString('en-US')} bytes and the frame ends right after it, and decodeFrame asked for that much memory at once (${r.error.replace(/^AllocationRefused: /, '')}). A length field is what the sender claims, not what arrived: take the payload from the bytes you have (subarray stops at their end), or say the frame is incomplete.`,
      );
      continue;
    }
    const got = r.value as Record<string, unknown> | null;
    if (got === null || got === undefined) continue;
    const payload = asBytes(got.payload);
    must(
      !payload || payload.length <= 4,
      `${call} returned a payload of ${payload?.length.toLocaleString('en-US')} bytes, and the frame carries none: return only the bytes that arrived.`,
    );
  }
});

let conversation: Promise<void> | null = null;

/** The client's messages and the server's echoes, waited for once. */
function wireSettled(): Promise<void> {
  conversation ??= (async () => {
    await lesson.waitForType('frame', (f) => f.dir === 'client', 3000);
    await lesson.settle(300, 3000);
  })();
  return conversation;
}

const ENCODINGS: Array<{ bits: 7 | 16 | 64; sizes: string }> = [
  { bits: 7, sizes: 'at most 125 bytes' },
  { bits: 16, sizes: '126 to 65,535 bytes' },
  { bits: 64, sizes: 'more than 65,535 bytes' },
];

check('your client sent messages in all three length encodings: 7-bit, 16-bit and 64-bit', { hint: 4 }, async () => {
  await wireSettled();
  const frames = lesson.wire.frames('client').filter((f) => f.opcode === 1 || f.opcode === 2);
  must(frames.length > 0, () => `Your client sent no message. Send them from socket.onopen.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const missing = ENCODINGS.filter((e) => !frames.some((f) => f.lengthEncoding === e.bits));
  must(
    missing.length === 0,
    `Your client's frames used ${[...new Set(frames.map((f) => `${f.lengthEncoding}-bit`))].join(' and ')} lengths only. Missing: ${missing.map((e) => `${e.bits}-bit (a message of ${e.sizes})`).join(', ')}.`,
  );
});

check('on the wire, every client frame was masked and no server frame was', { hint: 4 }, async () => {
  await wireSettled();
  const client = lesson.wire.frames('client');
  const server = lesson.wire.frames('server');
  must(client.length > 0 && server.length > 0, () => `There are no frames to look at in both directions.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const unmasked = lesson.wire.unmaskedClientFrames();
  const masked = lesson.wire.maskedServerFrames();
  must(unmasked.length === 0, `${unmasked.length} client frame(s) went out unmasked: a server must close the connection with 1002 (RFC 6455 §5.1).`);
  must(masked.length === 0, `${masked.length} server frame(s) were masked: a client must close the connection with 1002 (RFC 6455 §5.1).`);
});

/** A frame's bytes as they crossed the wire: the header, then the payload masked again with its key. */
function wireBytes(f: FrameEvent): Buffer {
  const payload = Buffer.from(f.payload, 'base64');
  const key = f.maskKey ? Buffer.from(f.maskKey, 'hex') : null;
  return Buffer.concat([Buffer.from(f.header, 'hex'), key ? Buffer.from(payload.map((b, i) => b ^ key[i % 4]!)) : payload]);
}

check('decodeFrame reads the frames your client sent, as the wiretap read them', { hint: 3 }, async () => {
  await wireSettled();
  const frames = lesson.wire.frames('client').filter((f) => !f.truncated && f.complete !== false && f.length <= 70_000);
  must(frames.length > 0, 'Your client sent no frame to read (see the checks above).');
  const d = await firstDifference(
    frames.map((f) => ({
      bytes: wireBytes(f),
      want: { fin: f.fin, opcode: f.opcode, masked: f.masked, maskKey: f.maskKey ? Buffer.from(f.maskKey, 'hex') : null, length: f.length, payload: Buffer.from(f.payload, 'base64') },
      label: `#${f.conn} frame ${f.seq}, your client's, as the wiretap captured it`,
    })),
  );
  must(d === null, d!);
});
