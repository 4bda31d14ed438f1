/**
 * Property and fuzz tests for the sans-I/O decoders: arbitrary bytes and damaged valid streams,
 * in random chunks, never make them throw, never make them hang, and never make them hold more
 * memory than their bounds allow.
 *
 * "Never hang" is checked by every case returning (a loop that does not end fails the run at
 * vitest's timeout) and by the output staying proportional to the input; nothing is timed.
 * "Never throw" for ConnectionDecoder means no `decoder-failure` violation: it catches what a
 * decoder throws and reports it under that rule.
 *
 * Replaying a failure: the properties run with the fixed seed below (override with FC_SEED=<n>);
 * fast-check prints the seed and path of a failing case: pass `{ seed, path }` to that
 * `fc.assert` to replay exactly that case.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { constants, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction, WireEvent } from '../../server/capture/events.ts';
import { materializeAll } from '../../server/capture/materialize.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { FrameDecoder } from '../../server/protocol/frame-decoder.ts';
import { DEFAULT_LIMITS, MessageAssembler, type DecoderLimits } from '../../server/protocol/message-assembler.ts';
import { decodeFrames, ofType } from '../helpers/decode.ts';
import {
  buildStream,
  chunkPlanArb,
  chunkSizes,
  cut,
  directionDeflateArb,
  encodeFrame,
  handshakeHeads,
  mutate,
  mutationsArb,
  Op,
  prng,
  smallStreamArb,
  type ChunkPlan,
  type DeflateAgreement,
} from '../helpers/encode.ts';

const SEED = Number(process.env.FC_SEED ?? 0xf022);

// Full collections before and after a measurement, so what is left is what the decoder holds.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Collect until the garbage is gone: buffers the caller's frames just dropped are only freed
 * by a collection after the stack has unwound, so yield to the event loop between collections.
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
}

/** Tight bounds, so short random inputs reach them. */
const TINY: DecoderLimits = { previewBytes: 16, maxCompressedMessage: 256, maxInflatedMessage: 512, maxHandshakeBytes: 200, maxPendingBytes: 300 };

const limitsArb: fc.Arbitrary<DecoderLimits> = fc.constantFrom(DEFAULT_LIMITS, TINY);

const bytesArb = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

/** Bytes that look like frame headers more often than uniform noise does. */
const frameishArb: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      fc.record({
        b0: fc.integer({ min: 0, max: 255 }),
        b1: fc.constantFrom(0, 1, 5, 125, 126, 127, 0x80, 0x85, 0xfe, 0xff),
        rest: bytesArb(20),
      }).map(({ b0, b1, rest }) => Buffer.concat([Buffer.from([b0, b1]), rest])),
      bytesArb(8),
    ),
    { maxLength: 30 },
  )
  .map((parts) => Buffer.concat(parts));

const deflateOptArb = directionDeflateArb.map((d) => (d ? { windowBits: d.windowBits, noContextTakeover: d.noContextTakeover } : undefined));

/** What must hold of any event list, whatever the input: bounds on what is kept, JSON-ready. */
function checkEvents(events: WireEvent[], limits: DecoderLimits, inputBytes: number): void {
  // Bounded output per byte: a frame needs at least 2 bytes and gives at most a handful of events.
  expect(events.length).toBeLessThanOrEqual(5 * inputBytes + 10);
  for (const e of events) {
    expect(JSON.parse(JSON.stringify(e))).toEqual(e);
    if (e.type === 'violation') expect(e.rule).not.toBe('decoder-failure');
    if (e.type === 'frame') {
      const kept = Buffer.from(e.payload, 'base64').length;
      expect(kept).toBeLessThanOrEqual(limits.previewBytes);
      if (e.truncated) expect(e.length).toBeGreaterThan(kept);
    }
    if (e.type === 'message') {
      const kept = e.text !== undefined ? Buffer.byteLength(e.text) : Buffer.from(e.base64!, 'base64').length;
      // A text preview may gain replacement characters (3 bytes) for invalid input bytes.
      expect(kept).toBeLessThanOrEqual(e.utf8Valid === false ? 3 * limits.previewBytes : limits.previewBytes);
      expect(e.length).toBeGreaterThanOrEqual(0);
    }
  }
}

/**
 * Run a whole connection through ConnectionDecoder: the two directions cut per their plans and
 * interleaved at random (`mix`), then the end of TCP. Checks what must always hold.
 */
function runConnection(client: Buffer, server: Buffer, plans: [ChunkPlan, ChunkPlan], mix: number, limits: DecoderLimits): WireEvent[] {
  const c = cut(client, chunkSizes(client.length, plans[0]));
  const s = cut(server, chunkSizes(server.length, plans[1]));
  const rand = prng(mix);
  const decoder = new ConnectionDecoder(3, limits);
  const events: WireEvent[] = [];
  let ci = 0;
  let si = 0;
  let t = 0;
  while (ci < c.length || si < s.length) {
    const dir: Direction = si >= s.length || (ci < c.length && rand() < 0.5) ? 'client' : 'server';
    events.push(...decoder.receive(dir, dir === 'client' ? c[ci++]! : s[si++]!, ++t));
  }
  events.push(...decoder.end(++t, rand() < 0.5 ? 'client' : 'server'));
  // Bytes after the end are ignored, not decoded.
  expect(decoder.receive('client', Buffer.from('after'), ++t)).toEqual([]);

  checkEvents(events, limits, client.length + server.length);
  const ends = ofType(events, 'end');
  expect(ends).toHaveLength(1);
  expect(events.at(-1)).toBe(ends[0]);
  expect(ends[0]!.bytes).toEqual({ client: client.length, server: server.length });
  return events;
}

const agreementArb: fc.Arbitrary<DeflateAgreement | null> = fc.option(
  fc.record({
    serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    serverNoContextTakeover: fc.boolean(),
    clientNoContextTakeover: fc.boolean(),
  }),
  { nil: null, freq: 2 },
);

/** How the conversation starts: a real upgrade, a refused one, plain HTTP, or nothing at all. */
const prefixArb = fc.oneof(
  agreementArb.map((a) => ({ kind: 'upgrade' as const, ...handshakeHeads(a) })),
  fc.constant({
    kind: 'refused' as const,
    request: handshakeHeads(null).request,
    response: Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nBad Request'),
  }),
  fc.constant({
    kind: 'plain' as const,
    request: Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
    response: Buffer.from('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 16\r\n\r\nUpgrade Required'),
  }),
  fc.constant({ kind: 'none' as const, request: Buffer.alloc(0), response: Buffer.alloc(0) }),
);

describe('fuzz: FrameDecoder + MessageAssembler', () => {
  it('never throw and keep within the bounds on arbitrary bytes, in any chunks, either direction', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Direction>('client', 'server'),
        fc.oneof(bytesArb(2000), frameishArb),
        deflateOptArb,
        chunkPlanArb,
        limitsArb,
        (dir, bytes, deflate, plan, limits) => {
          const events = decodeFrames(dir, bytes, { chunks: chunkSizes(bytes.length, plan), limits, ...(deflate ? { deflate } : {}) });
          checkEvents(events, limits, bytes.length);
        },
      ),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('never throw and keep within the bounds on damaged valid streams, compressed or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Direction>('client', 'server'),
        smallStreamArb,
        directionDeflateArb,
        fc.boolean(),
        mutationsArb,
        chunkPlanArb,
        limitsArb,
        async (dir, spec, deflate, decodeWithDeflate, mutations, plan, limits) => {
          const { bytes: valid } = await buildStream(spec, dir, deflate);
          const bytes = mutate(valid, mutations);
          // Also decode as if permessage-deflate was (or was not) negotiated when it was not (was).
          const d = decodeWithDeflate ? { windowBits: deflate?.windowBits ?? 15, noContextTakeover: deflate?.noContextTakeover ?? false } : undefined;
          const events = decodeFrames(dir, bytes, { chunks: chunkSizes(bytes.length, plan), limits, ...(d ? { deflate: d } : {}) });
          checkEvents(events, limits, bytes.length);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('finishes a text frame whose bad UTF-8 sequence starts a few bytes before a cut (regression: it looped)', () => {
    // f0 90 80 41: a 4-byte lead, two continuations, then "A". Finding where the text broke
    // used to bisect forever on it.
    const ev = decodeFrames('server', encodeFrame({ opcode: Op.Text, payload: Buffer.from('f0908041414141', 'hex') }));
    expect(ofType(ev, 'violation')).toMatchObject([{ rule: 'invalid-utf8', offset: 2 }]);
    expect(ofType(ev, 'message')).toMatchObject([{ utf8Valid: false, length: 7 }]);
  });
});

describe('fuzz: ConnectionDecoder', () => {
  it('never throws on arbitrary bytes in both directions, after any kind of opening or none', () => {
    fc.assert(
      fc.property(
        prefixArb,
        fc.oneof(bytesArb(1000), frameishArb),
        fc.oneof(bytesArb(1000), frameishArb),
        fc.tuple(chunkPlanArb, chunkPlanArb),
        fc.nat(),
        limitsArb,
        (prefix, c, s, plans, mix, limits) => {
          const events = runConnection(Buffer.concat([prefix.request, c]), Buffer.concat([prefix.response, s]), plans, mix, limits);
          if (prefix.kind === 'upgrade' && limits === DEFAULT_LIMITS) {
            // Whatever came after, and even if the 101 overtook the request's last bytes.
            expect(ofType(events, 'handshake')[0]).toMatchObject({ outcome: 'upgraded' });
          }
        },
      ),
      { seed: SEED, numRuns: 600 },
    );
  });

  it('never throws on a damaged conversation: handshake and frames, compressed or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        agreementArb,
        smallStreamArb,
        smallStreamArb,
        fc.tuple(mutationsArb, mutationsArb),
        fc.tuple(fc.boolean(), fc.boolean()),
        fc.tuple(chunkPlanArb, chunkPlanArb),
        fc.nat(),
        limitsArb,
        async (agreement, cSpec, sSpec, [cMut, sMut], [damageClient, damageServer], plans, mix, limits) => {
          const { request, response } = handshakeHeads(agreement);
          const side = (dir: Direction) =>
            agreement && {
              windowBits: dir === 'client' ? agreement.clientMaxWindowBits : agreement.serverMaxWindowBits,
              noContextTakeover: dir === 'client' ? agreement.clientNoContextTakeover : agreement.serverNoContextTakeover,
              level: 6,
            };
          const client = Buffer.concat([request, (await buildStream(cSpec, 'client', side('client'))).bytes]);
          const server = Buffer.concat([response, (await buildStream(sSpec, 'server', side('server'))).bytes]);
          // The damage may land in the HTTP heads as well as in the frames.
          runConnection(damageClient ? mutate(client, cMut) : client, damageServer || !damageClient ? mutate(server, sMut) : server, plans, mix, limits);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Memory bounds.

const MiB = 1 << 20;
const FEED_CHUNK = 64 * 1024;
const FEED_TOTAL = 4 * MiB;

/** The header of a frame announcing `length` bytes with a 64-bit length field. */
function giantHeader(opts: { length: bigint; opcode?: number; mask?: Buffer | null; rsv1?: boolean }): Buffer {
  return encodeFrame({ opcode: opts.opcode ?? Op.Binary, rsv1: opts.rsv1 ?? false, mask: opts.mask ?? null, lengthEncoding: 64, announcedLength: opts.length });
}

/** ArrayBuffer (Buffer) memory and V8 heap in use, in bytes. */
function memory(): { buffers: number; heap: number } {
  const m = process.memoryUsage();
  return { buffers: m.arrayBuffers, heap: m.heapUsed };
}

/**
 * Feed `header` then FEED_TOTAL payload bytes in 64 KiB chunks (one reused buffer, so the
 * feeding allocates nothing itself) to a frame decoder, and measure the memory it holds: the
 * peak while feeding, and what stays allocated after a full collection.
 */
async function feedGiantFrame(dir: Direction, header: Buffer, opts: { limits?: DecoderLimits; deflate?: boolean; fill?: number } = {}) {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const out: WireEvent[] = [];
  const assembler = new MessageAssembler(1, dir, out, limits);
  const decoder = new FrameDecoder(dir, assembler);
  if (opts.deflate) {
    decoder.deflate = true;
    assembler.enableDeflate(15, false);
  }
  const chunk = Buffer.alloc(FEED_CHUNK, opts.fill ?? 0x61);
  await settle();
  const base = memory();
  let peakBuffers = 0;
  let t = 0;
  decoder.receive(header, t++);
  for (let fed = 0; fed < FEED_TOTAL; fed += FEED_CHUNK) {
    decoder.receive(chunk, t++);
    peakBuffers = Math.max(peakBuffers, memory().buffers - base.buffers);
  }
  const during = out.length;
  await settle();
  const after = memory();
  const retained = { buffers: after.buffers - base.buffers, heap: after.heap - base.heap };
  decoder.end(t);
  return { events: materializeAll(out), during, peakBuffers, retained };
}

describe('memory bounds', () => {
  const cases: Array<[string, bigint, string]> = [
    ['2^62', 2n ** 62n, '4611686018427387904'],
    ['2^63-1', 2n ** 63n - 1n, '9223372036854775807'],
    ['2^64-1 (top bit set)', 2n ** 64n - 1n, '18446744073709551615'],
  ];
  for (const [name, length, exact] of cases) {
    it(`allocates nothing big for a server frame announcing ${name} bytes, and reports the length with a preview`, async () => {
      const r = await feedGiantFrame('server', giantHeader({ length }));
      // Unmasked payload is streamed as views of the input: no copies beyond the two previews.
      expect(r.peakBuffers).toBeLessThan(2 * MiB);
      expect(r.retained.buffers).toBeLessThan(1 * MiB);
      expect(r.retained.heap).toBeLessThan(4 * MiB);
      expect(r.during).toBe(0); // nothing is reported until the frame ends
      const [frame, ...more] = ofType(r.events, 'frame');
      expect(more).toEqual([]);
      expect(frame).toMatchObject({ length: Number(length), lengthExact: exact, lengthEncoding: 64, truncated: true, complete: false });
      expect(Buffer.from(frame!.payload, 'base64')).toEqual(Buffer.alloc(DEFAULT_LIMITS.previewBytes, 0x61));
      expect(ofType(r.events, 'message')).toEqual([]);
      const rules = ofType(r.events, 'violation').map((v) => v.rule);
      expect(rules).toEqual(length >= 2n ** 63n ? ['length-top-bit-set'] : []);
    });
  }

  it('holds no more than the previews for a masked client text frame announcing 2^62 bytes', async () => {
    const r = await feedGiantFrame('client', giantHeader({ length: 2n ** 62n, opcode: Op.Text, mask: Buffer.from('37fa213d', 'hex') }));
    // Unmasking copies each chunk, but the copies are garbage once delivered.
    expect(r.retained.buffers).toBeLessThan(1 * MiB);
    expect(r.retained.heap).toBeLessThan(4 * MiB);
    const [frame] = ofType(r.events, 'frame');
    expect(frame).toMatchObject({ length: 2 ** 62, lengthExact: '4611686018427387904', masked: true, truncated: true, complete: false });
    expect(Buffer.from(frame!.payload, 'base64').length).toBe(DEFAULT_LIMITS.previewBytes);
  });

  it('stops gathering a compressed frame announcing 2^62 bytes at maxCompressedMessage', async () => {
    const limits = { ...DEFAULT_LIMITS, maxCompressedMessage: MiB };
    const r = await feedGiantFrame('server', giantHeader({ length: 2n ** 62n, rsv1: true }), { limits, deflate: true });
    expect(r.retained.buffers).toBeLessThan(2 * MiB);
    const [frame] = ofType(r.events, 'frame');
    expect(frame).toMatchObject({ rsv1: true, truncated: true, complete: false, lengthExact: '4611686018427387904' });
    expect(Buffer.from(frame!.payload, 'base64').length).toBeLessThanOrEqual(DEFAULT_LIMITS.previewBytes);
  });

  it('keeps the same bounds through ConnectionDecoder after a real handshake', async () => {
    const decoder = new ConnectionDecoder(1);
    const { request, response } = handshakeHeads(null);
    const chunk = Buffer.alloc(FEED_CHUNK, 0x61);
    let t = 0;
    decoder.receive('client', request, ++t);
    decoder.receive('server', response, ++t);
    await settle();
    const base = memory();
    let peak = 0;
    expect(decoder.receive('server', giantHeader({ length: 2n ** 62n }), ++t)).toEqual([]);
    for (let fed = 0; fed < FEED_TOTAL; fed += FEED_CHUNK) {
      expect(decoder.receive('server', chunk, ++t)).toEqual([]);
      peak = Math.max(peak, memory().buffers - base.buffers);
    }
    expect(peak).toBeLessThan(2 * MiB);
    const events = decoder.end(++t, 'server');
    expect(ofType(events, 'frame')).toMatchObject([{ lengthExact: '4611686018427387904', truncated: true, complete: false }]);
    expect(ofType(events, 'end')).toMatchObject([{ code: 1006, bytes: { server: response.length + 10 + FEED_TOTAL } }]);
  });
});

describe('zip bombs (permessage-deflate)', () => {
  // Raw deflate of 1 MiB of zeros with a sync flush ends on a byte-aligned block boundary, and
  // every back-reference in it points at zeros: copies of it back to back inflate to N MiB of
  // zeros. The output never has to exist to build the bomb.
  const segment = deflateRawSync(Buffer.alloc(MiB), { finishFlush: constants.Z_SYNC_FLUSH });
  const bomb = (mib: number) => {
    const all = Buffer.concat(Array.from({ length: mib }, () => segment));
    return all.subarray(0, all.length - 4); // RFC 7692 §7.2.1: the sender strips 00 00 ff ff
  };

  it('stops a few KB that inflate to 8 MiB at a 1 MiB cap, and says so', async () => {
    const payload = bomb(8);
    expect(payload.length).toBeLessThan(10_000);
    const limits = { maxInflatedMessage: MiB };
    const bytes = Buffer.concat([
      encodeFrame({ opcode: Op.Text, rsv1: true, fin: false, payload: payload.subarray(0, 1000) }),
      encodeFrame({ opcode: Op.Ping, payload: 'still here' }),
      encodeFrame({ opcode: Op.Continuation, payload: payload.subarray(1000) }),
    ]);
    await settle();
    const base = memory().buffers;
    const ev = decodeFrames('server', bytes, { deflate: { windowBits: 15, noContextTakeover: true }, limits });
    await settle();
    expect(memory().buffers - base).toBeLessThan(MiB / 4);
    const [message] = ofType(ev, 'message');
    expect(message).toMatchObject({ compressed: true, wireLength: payload.length, frames: 2 });
    expect(message!.inflateError).toBe(`inflated size passed the ${MiB}-byte bound`);
    expect(message!.text).toBe('');
    expect(ofType(ev, 'ping')).toHaveLength(1);
    expect(ofType(ev, 'violation')).toEqual([]);
  });

  it('stops 1 MB that would inflate to 1 GiB at the default 16 MiB cap, without allocating the gigabyte', () => {
    const payload = bomb(1024);
    const rssBefore = process.resourceUsage().maxRSS * 1024;
    const ev = decodeFrames('client', encodeFrame({ opcode: Op.Binary, rsv1: true, payload, mask: Buffer.from('01020304', 'hex') }), {
      deflate: { windowBits: 15, noContextTakeover: false },
    });
    // maxRSS is the process's high-water mark: had the gigabyte been built, it would show.
    expect(process.resourceUsage().maxRSS * 1024 - rssBefore).toBeLessThan(256 * MiB);
    const [message] = ofType(ev, 'message');
    expect(message!.inflateError).toBe(`inflated size passed the ${DEFAULT_LIMITS.maxInflatedMessage}-byte bound`);
    expect(message!.base64).toBe('');
  });

  it('after a bomb, says the next message cannot be inflated with context takeover, and inflates it without', () => {
    const next = deflateRawSync(Buffer.from('hello'), { finishFlush: constants.Z_SYNC_FLUSH });
    const bytes = Buffer.concat([
      encodeFrame({ opcode: Op.Text, rsv1: true, payload: bomb(4) }),
      encodeFrame({ opcode: Op.Text, rsv1: true, payload: next.subarray(0, next.length - 4) }),
    ]);
    const limits = { maxInflatedMessage: MiB };
    const taken = ofType(decodeFrames('server', bytes, { deflate: { windowBits: 15, noContextTakeover: false }, limits }), 'message');
    expect(taken[1]!.inflateError).toMatch(/^not inflated: an earlier message could not be inflated/);
    const fresh = ofType(decodeFrames('server', bytes, { deflate: { windowBits: 15, noContextTakeover: true }, limits }), 'message');
    expect(fresh.map((m) => [m.text, m.inflateError])).toEqual([
      ['', `inflated size passed the ${MiB}-byte bound`],
      ['hello', undefined],
    ]);
  });
});
