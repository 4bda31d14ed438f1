/**
 * Decoder throughput against `ws`'s own Receiver on the same bytes.
 *
 * Pre-generates one direction's stream of masked client frames, cuts it into 64 KiB chunks (as
 * a socket delivers them) and feeds the same chunks to:
 * - `ws`: `new Receiver({ isServer: true })`, counting 'message' events;
 * - `frames`: our FrameDecoder + MessageAssembler (frame, message events; see test/helpers/decode.ts);
 * - `connection`: our full ConnectionDecoder, after an upgrade request and its 101, handing out
 *   lazy events as the wiretap has it do (server/capture/events.ts): every field decoded, the
 *   payload unmasked and checked, its strings (base64, hex, text) left until the event is read;
 *   its events go through the InflationStage as in the wiretap (server/tap/inflation.ts), which
 *   inflates compressed messages off the decoder's path (one turn of the event loop per chunk,
 *   as a socket hands them out);
 * - `made`: the same with every event's strings made at once (server/capture/materialize.ts),
 *   as happens while a dashboard watches or a recording is written.
 * Like ws, which hands its listener a Buffer, the first three turn no payload into a string.
 * The compressed workload (permessage-deflate, context takeover) has `ws` inflate as it does,
 * asynchronously on zlib's thread pool, and `frames` inflate each message at once in the
 * assembler (the decoder's own, synchronous way; the wiretap's before issue 12).
 * Each is warmed up, then the three alternate for several rounds; the medians are reported.
 *
 * `ws` unmasks payloads in place, in the chunks it is given, so it gets a fresh copy of the
 * stream each pass (made before the clock starts). Ours never writes to its input.
 *
 * Runs as a program (a child of test/bench/run.ts, so its JIT and heap start clean): sends
 * `{ type: 'decoder-results', results }` over IPC, or prints them when run alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { constants, createDeflateRaw } from 'node:zlib';
import * as ws from 'ws';
import type { WireEvent } from '../../server/capture/events.ts';
import { materializeAll } from '../../server/capture/materialize.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { FrameDecoder } from '../../server/protocol/frame-decoder.ts';
import { DEFAULT_LIMITS, MessageAssembler } from '../../server/protocol/message-assembler.ts';
import { InflationStage } from '../../server/tap/inflation.ts';

export type Contender = 'ws' | 'frames' | 'connection' | 'made';
export const CONTENDERS: Contender[] = ['ws', 'frames', 'connection', 'made'];

export interface Workload {
  name: string;
  /** The whole client → server stream of masked frames. */
  bytes: Buffer;
  messages: number;
  /** permessage-deflate was agreed (context takeover, 15 window bits): the messages are compressed. */
  deflate?: boolean;
}

export interface WorkloadResult {
  name: string;
  bytes: number;
  messages: number;
  rounds: number;
  /** Median MB/s (10^6 bytes per second), per contender. */
  mbps: Record<Contender, number>;
  /** Every round's MB/s, for the spread. */
  samples: Record<Contender, number[]>;
}

const CHUNK = 64 * 1024;

/** `ws`'s frame parser: exported by the package (`ws.Receiver`) but absent from @types/ws. */
interface WsReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  write(chunk: Buffer): boolean;
}
const { Receiver, PerMessageDeflate } = ws as unknown as {
  Receiver: new (options: { isServer: boolean; extensions?: Record<string, unknown> }) => WsReceiver;
  PerMessageDeflate: (new (options: { isServer: boolean }) => { accept(offers: unknown[]): unknown }) & { extensionName: string };
};

/** A small seeded PRNG (mulberry32), so every run decodes the same bytes. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One masked client frame, FIN set (RFC 6455 §5.2); RSV1 for a compressed message. */
function maskedFrame(opcode: number, payload: Buffer, key: Buffer, rsv1 = false): Buffer {
  const n = payload.length;
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lenBytes + 4);
  head[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (lenBytes === 0) head[1] = 0x80 | n;
  else if (lenBytes === 2) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  key.copy(head, 2 + lenBytes);
  const body = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([head, body]);
}

const WORDS = ['hello', 'wiretap', 'frame', 'message', 'ping', 'chat', 'ok', '{"id":', '42}', 'naïve', 'über', '→', '😀', 'data'];

/** Many small text frames, 20-100 bytes of UTF-8 each (mostly ASCII, some multi-byte). */
export function smallTextWorkload(totalBytes: number, seed = 1): Workload {
  const r = rng(seed);
  const frames: Buffer[] = [];
  let size = 0;
  while (size < totalBytes) {
    const target = 20 + Math.floor(r() * 81);
    let text = '';
    while (Buffer.byteLength(text) < target) text += WORDS[Math.floor(r() * WORDS.length)]! + ' ';
    let payload = Buffer.from(text);
    // Cut to the target length on a code point boundary.
    let cut = target;
    while (cut > 0 && (payload[cut]! & 0xc0) === 0x80) cut--;
    payload = payload.subarray(0, cut);
    const f = maskedFrame(0x1, payload, randomBytesSeeded(r));
    frames.push(f);
    size += f.length;
  }
  return { name: 'small text (20-100 B)', bytes: Buffer.concat(frames), messages: frames.length };
}

/** 16 KiB binary frames. */
export function mediumBinaryWorkload(totalBytes: number, seed = 2): Workload {
  const r = rng(seed);
  const frames: Buffer[] = [];
  let size = 0;
  const payload = randomBytes(16 * 1024);
  while (size < totalBytes) {
    const f = maskedFrame(0x2, payload, randomBytesSeeded(r));
    frames.push(f);
    size += f.length;
  }
  return { name: 'binary 16 KiB', bytes: Buffer.concat(frames), messages: frames.length };
}

/**
 * Compressed text messages as a browser sends a chat or JSON feed with permessage-deflate: one
 * deflate stream for the whole connection (context takeover), flushed after each message, the
 * trailing 00 00 ff ff removed (RFC 7692 §7.2.1). 200 B to 4 KiB of text each before compression.
 */
export async function compressedTextWorkload(totalBytes: number, seed = 3): Promise<Workload> {
  const r = rng(seed);
  const z = createDeflateRaw({ windowBits: 15 });
  const pieces: Buffer[] = [];
  z.on('data', (c: Buffer) => pieces.push(c));
  const frames: Buffer[] = [];
  let size = 0;
  while (size < totalBytes) {
    const target = 200 + Math.floor(r() * 3900);
    let text = '';
    while (text.length < target) text += `{"id":${Math.floor(r() * 1e6)},"user":"${WORDS[Math.floor(r() * WORDS.length)]}","text":"${WORDS[Math.floor(r() * WORDS.length)]} ${WORDS[Math.floor(r() * WORDS.length)]}"},`;
    z.write(text);
    await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    const all = Buffer.concat(pieces.splice(0));
    const f = maskedFrame(0x1, all.subarray(0, all.length - 4), randomBytesSeeded(r), true);
    frames.push(f);
    size += f.length;
  }
  z.close();
  return { name: 'compressed text (deflate)', bytes: Buffer.concat(frames), messages: frames.length, deflate: true };
}

function randomBytesSeeded(r: () => number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(Math.floor(r() * 4294967296));
  return b;
}

function chunksOf(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < bytes.length; p += CHUNK) out.push(bytes.subarray(p, p + CHUNK));
  return out;
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const REQUEST = Buffer.from(
  'GET /chat HTTP/1.1\r\nHost: 127.0.0.1:9900\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
);
const RESPONSE = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${createHash('sha1').update(KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')}\r\n\r\n`,
);
const DEFLATE_RESPONSE = Buffer.from(RESPONSE.toString('latin1').replace(/\r\n\r\n$/, '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n'), 'latin1');

/** Decodes the chunks once with `who`; resolves with the messages seen. */
async function decodeOnce(who: Contender, chunks: Buffer[], deflate: boolean): Promise<number> {
  let messages = 0;
  if (who === 'ws') {
    const extensions: Record<string, unknown> = {};
    if (deflate) {
      const pmd = new PerMessageDeflate({ isServer: true });
      pmd.accept([{}]);
      extensions[PerMessageDeflate.extensionName] = pmd;
    }
    const receiver = new Receiver({ isServer: true, extensions });
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    receiver.on('message', () => {
      if (++messages === expectedMessages) done();
    });
    receiver.on('error', (err: Error) => {
      throw err;
    });
    for (const c of chunks) receiver.write(c);
    // Compressed messages are inflated asynchronously (zlib's thread pool): wait for the last.
    if (deflate && messages < expectedMessages) await all;
    return messages;
  }
  if (who === 'frames') {
    const out: WireEvent[] = [];
    const assembler = new MessageAssembler(1, 'client', out, DEFAULT_LIMITS);
    const decoder = new FrameDecoder('client', assembler);
    if (deflate) {
      decoder.deflate = true;
      assembler.enableDeflate(15, false);
    }
    let t = 0;
    for (const c of chunks) {
      decoder.receive(c, t++);
      for (let i = 0; i < out.length; i++) if (out[i]!.type === 'message') messages++;
      out.length = 0;
    }
    return messages;
  }
  const made = who === 'made';
  const stage = new InflationStage(
    (events) => {
      if (made) materializeAll(events);
      for (let i = 0; i < events.length; i++) if (events[i]!.type === 'message') messages++;
    },
    {},
    true,
  );
  const cd = new ConnectionDecoder(1, DEFAULT_LIMITS, true, undefined, true);
  stage.push(1, cd.receive('client', REQUEST, 0), cd.takeInflations());
  stage.push(1, cd.receive('server', deflate ? DEFLATE_RESPONSE : RESPONSE, 0), cd.takeInflations());
  let t = 1;
  for (const c of chunks) {
    stage.push(1, cd.receive('client', c, t++), cd.takeInflations());
    // A socket hands the wiretap one chunk per turn of the event loop; the stage's budget is per turn.
    if (deflate) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  while (!stage.idle) await new Promise<void>((resolve) => setImmediate(resolve));
  return messages;
}

/** The messages of the workload being timed (ws's compressed pass waits for the last). */
let expectedMessages = 0;

/** Time one pass (wall clock); `ws` gets its own copy of the bytes, made first (it unmasks in place). */
async function timeOnce(who: Contender, w: Workload, shared: Buffer[]): Promise<number> {
  const chunks = who === 'ws' ? chunksOf(Buffer.from(w.bytes)) : shared;
  expectedMessages = w.messages;
  const start = performance.now();
  const n = await decodeOnce(who, chunks, w.deflate === true);
  const ms = performance.now() - start;
  if (n !== w.messages) throw new Error(`${who} decoded ${n} messages of ${w.messages} in "${w.name}"`);
  return w.bytes.length / 1e6 / (ms / 1000);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function benchWorkload(w: Workload, rounds: number, warmup = 2): Promise<WorkloadResult> {
  const shared = chunksOf(w.bytes);
  for (let i = 0; i < warmup; i++) for (const who of CONTENDERS) await timeOnce(who, w, shared);
  const samples: Record<Contender, number[]> = { ws: [], frames: [], connection: [], made: [] };
  for (let r = 0; r < rounds; r++) {
    // Rotate who goes first, so no contender always runs right after another's garbage.
    for (let k = 0; k < CONTENDERS.length; k++) {
      const who = CONTENDERS[(r + k) % CONTENDERS.length]!;
      samples[who].push(await timeOnce(who, w, shared));
    }
  }
  return {
    name: w.name,
    bytes: w.bytes.length,
    messages: w.messages,
    rounds,
    mbps: { ws: median(samples.ws), frames: median(samples.frames), connection: median(samples.connection), made: median(samples.made) },
    samples,
  };
}

export async function runDecoderBench(
  opts: { smallBytes?: number; mediumBytes?: number; compressedBytes?: number; rounds?: number } = {},
): Promise<WorkloadResult[]> {
  const rounds = opts.rounds ?? 7;
  return [
    await benchWorkload(smallTextWorkload(opts.smallBytes ?? 8 * 1024 * 1024), rounds),
    await benchWorkload(mediumBinaryWorkload(opts.mediumBytes ?? 32 * 1024 * 1024), rounds),
    await benchWorkload(await compressedTextWorkload(opts.compressedBytes ?? 4 * 1024 * 1024), rounds),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await runDecoderBench({
    smallBytes: Number(process.env.BENCH_SMALL_BYTES ?? 8 * 1024 * 1024),
    mediumBytes: Number(process.env.BENCH_MEDIUM_BYTES ?? 32 * 1024 * 1024),
    compressedBytes: Number(process.env.BENCH_COMPRESSED_BYTES ?? 4 * 1024 * 1024),
    rounds: Number(process.env.BENCH_DECODER_ROUNDS ?? 7),
  });
  if (process.send) {
    process.send({ type: 'decoder-results', results }, () => process.exit(0));
  } else {
    for (const r of results) {
      console.log(`${r.name}: ${(r.bytes / 1e6).toFixed(1)} MB, ${r.messages} messages`);
      for (const who of CONTENDERS) console.log(`  ${who.padEnd(10)} ${r.mbps[who].toFixed(1)} MB/s  [${r.samples[who].map((x) => x.toFixed(0)).join(' ')}]`);
    }
  }
}
