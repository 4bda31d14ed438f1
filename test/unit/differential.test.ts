/**
 * Differential tests: our decoders against ws's own Receiver, on the same bytes, cut at random
 * chunk boundaries. Both must report what the generator put in the stream.
 *
 * Replaying a failure: every property runs with the fixed seed below (override it with
 * FC_SEED=<n>). fast-check prints the seed and the counterexample path when one fails; put
 * them in `{ seed, path }` of that `fc.assert` call to replay exactly that case.
 *
 * Deliberate differences from ws, checked by the "damaged stream" property:
 * - We flag a non-minimal length encoding (§5.2 "the minimal number of bytes MUST be used");
 *   ws accepts it.
 * - We flag invalid UTF-8 as soon as a fragment shows it, even when the message never ends;
 *   ws checks text only once the message is complete.
 * - A 64-bit length above 2^53-1: ws gives up with 1009 (its implementation limit); we keep
 *   decoding and flag only the top bit (§5.2, 1002).
 * - A stream that ends one byte into a frame header: that byte can already break a rule (a
 *   continuation with nothing to continue) and we say so; ws waits for two bytes.
 * - ws runs one zlib inflate stream per direction and feeds it each fragment as it arrives; we
 *   inflate each message on its own once its last fragment is in, with the window as a preset
 *   dictionary. So ws fails on corrupt data in a message that never ends, where we say nothing;
 *   and a damaged message that still inflates but leaves zlib in the middle of a deflate block
 *   (RFC 7692 §7.2.1: a message must end on a block boundary) is noticed by ws only when the next
 *   compressed message fails to inflate, and not by us at all (see the report on deflate.ts).
 * - After a violation ws stops reading; we keep decoding, so what ws delivered is a prefix of
 *   what we report, not all of it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction, WireEvent } from '../../server/capture/events.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { DEFAULT_LIMITS, type DecoderLimits } from '../../server/protocol/message-assembler.ts';
import { Utf8Validator } from '../../server/protocol/utf8.ts';
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
  streamArb,
  type DeflateAgreement,
  type DirectionDeflate,
  type Expected,
} from '../helpers/encode.ts';

const SEED = Number(process.env.FC_SEED ?? 0x5eed2);

// ws's package exports hide its internals; load them by path (the Receiver is also on the main
// export, but @types/ws does not declare it).
const require = createRequire(import.meta.url);
const wsDir = dirname(require.resolve('ws'));
interface WsReceiver {
  write(chunk: Buffer, cb: (err?: Error | null) => void): boolean;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}
const Receiver = require(join(wsDir, 'lib/receiver.js')) as new (opts: { isServer: boolean; extensions: object }) => WsReceiver;
const PerMessageDeflate = require(join(wsDir, 'lib/permessage-deflate.js')) as new (opts: { isServer: boolean }) => {
  params: Record<string, number | boolean>;
  cleanup(): void;
};
const { kStatusCode } = require(join(wsDir, 'lib/constants.js')) as { kStatusCode: symbol };
const { isValidUTF8 } = require(join(wsDir, 'lib/validation.js')) as { isValidUTF8: (b: Buffer) => boolean };

/** What an application sees: messages (text or base64), pings, pongs, the close code and reason. */
type Seen =
  | { type: 'message'; binary: boolean; data: string }
  | { type: 'ping' | 'pong'; data: string }
  | { type: 'close'; code: number; reason: string };

/** Large enough that no message in these streams is cut to a preview. */
const WHOLE: Partial<DecoderLimits> = { previewBytes: 1 << 20 };

function expectedSeen(expected: Expected[]): Seen[] {
  return expected.map((e) =>
    e.type === 'message'
      ? { type: 'message', binary: e.binary, data: e.binary ? e.data.toString('base64') : e.data.toString('utf8') }
      : e.type === 'close'
        ? e
        : { type: e.type, data: e.data.toString('base64') },
  );
}

function ourSeen(events: WireEvent[]): Seen[] {
  const seen: Seen[] = [];
  for (const e of events) {
    if (e.type === 'message') seen.push({ type: 'message', binary: e.opcode === 2, data: e.opcode === 2 ? e.base64! : e.text! });
    else if (e.type === 'ping' || e.type === 'pong') seen.push({ type: e.type, data: e.payload });
    else if (e.type === 'close') seen.push({ type: 'close', code: e.code, reason: e.reason });
  }
  return seen;
}

interface WsResult {
  seen: Seen[];
  /** The close code ws fails the connection with, or null when it read everything fine. */
  error: number | null;
}

/**
 * Feed ws's Receiver the chunks: `isServer` means it reads a client's (masked) frames. It stops
 * at a close frame or at its first error, as a ws endpoint does.
 */
async function wsDecode(chunks: Buffer[], isServer: boolean, deflate: DirectionDeflate | null): Promise<WsResult> {
  const extensions: Record<string, unknown> = {};
  let pmd: InstanceType<typeof PerMessageDeflate> | null = null;
  if (deflate) {
    // What ws's negotiation leaves in `params`, for the side this receiver reads.
    pmd = new PerMessageDeflate({ isServer });
    const sender = isServer ? 'client' : 'server';
    pmd.params = { [`${sender}_max_window_bits`]: deflate.windowBits };
    if (deflate.noContextTakeover) pmd.params[`${sender}_no_context_takeover`] = true;
    extensions['permessage-deflate'] = pmd;
  }
  const r = new Receiver({ isServer, extensions });
  const seen: Seen[] = [];
  let concluded = false;
  let error: number | null = null;
  r.on('message', (data, isBinary) => seen.push({ type: 'message', binary: isBinary, data: isBinary ? data.toString('base64') : data.toString('utf8') }));
  r.on('ping', (data) => seen.push({ type: 'ping', data: data.toString('base64') }));
  r.on('pong', (data) => seen.push({ type: 'pong', data: data.toString('base64') }));
  r.on('conclude', (code, reason) => {
    concluded = true;
    seen.push({ type: 'close', code, reason: reason.toString('utf8') });
  });
  r.on('error', () => {});
  for (const c of chunks) {
    if (concluded) break;
    // A copy: ws unmasks in place, and the same bytes go to our decoder.
    const err = await new Promise<Error | null | undefined>((resolve) => r.write(Buffer.from(c), resolve));
    if (err) {
      error = (err as unknown as Record<symbol, number>)[kStatusCode] ?? -1;
      break;
    }
  }
  pmd?.cleanup();
  return { seen, error };
}

const inflateOpts = (d: DirectionDeflate | null) => (d ? { windowBits: d.windowBits, noContextTakeover: d.noContextTakeover } : undefined);

describe('differential: our decoders and ws on the same random valid streams', () => {
  it('report the same messages, pings, pongs and close through FrameDecoder + MessageAssembler', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Direction>('client', 'server'),
        streamArb,
        directionDeflateArb,
        chunkPlanArb,
        async (dir, spec, deflate, plan) => {
          const { bytes, expected } = await buildStream(spec, dir, deflate);
          const sizes = chunkSizes(bytes.length, plan);
          const deflateOpt = inflateOpts(deflate);
          const ours = decodeFrames(dir, bytes, { chunks: sizes, limits: WHOLE, ...(deflateOpt ? { deflate: deflateOpt } : {}) });
          const ws = await wsDecode(cut(bytes, sizes), dir === 'client', deflate);

          expect(ws.error).toBeNull();
          expect(ws.seen).toEqual(expectedSeen(expected));
          expect(ourSeen(ours)).toEqual(ws.seen);
          expect(ofType(ours, 'violation')).toEqual([]);
          // What only our decoder reports: every frame whole, and each message's shape.
          expect(ofType(ours, 'frame').every((f) => f.complete === undefined && f.truncated === undefined)).toBe(true);
          const messages = expected.filter((e) => e.type === 'message');
          expect(ofType(ours, 'message').map((m) => ({ compressed: m.compressed, frames: m.frames, length: m.length }))).toEqual(
            messages.map((m) => ({ compressed: m.compressed, frames: m.frames, length: m.data.length })),
          );
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('report the same, both directions at once, through ConnectionDecoder after a real handshake', async () => {
    const agreementArb: fc.Arbitrary<(DeflateAgreement & { levels: [number, number] }) | null> = fc.option(
      fc.record({
        serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
        clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
        serverNoContextTakeover: fc.boolean(),
        clientNoContextTakeover: fc.boolean(),
        levels: fc.tuple(fc.constantFrom(0, 1, 6, 9), fc.constantFrom(0, 1, 6, 9)),
      }),
      { nil: null },
    );
    await fc.assert(
      fc.asyncProperty(streamArb, streamArb, agreementArb, chunkPlanArb, chunkPlanArb, fc.nat(), async (cSpec, sSpec, agreement, cPlan, sPlan, mix) => {
        const side = (dir: Direction): DirectionDeflate | null =>
          agreement && {
            windowBits: dir === 'client' ? agreement.clientMaxWindowBits : agreement.serverMaxWindowBits,
            noContextTakeover: dir === 'client' ? agreement.clientNoContextTakeover : agreement.serverNoContextTakeover,
            level: agreement.levels[dir === 'client' ? 0 : 1],
          };
        const client = await buildStream(cSpec, 'client', side('client'));
        const server = await buildStream(sSpec, 'server', side('server'));
        const { request, response } = handshakeHeads(agreement);

        // The request goes first, then the 101 (possibly in the same chunk as the first server
        // frames), then both directions interleaved at random, as on a real connection.
        const cChunks = [...cut(request, chunkSizes(request.length, cPlan)), ...cut(client.bytes, chunkSizes(client.bytes.length, cPlan))];
        const serverAll = Buffer.concat([response, server.bytes]);
        const sChunks = cut(serverAll, chunkSizes(serverAll.length, sPlan));
        const nRequest = cut(request, chunkSizes(request.length, cPlan)).length;
        const schedule: Array<[Direction, Buffer]> = cChunks.slice(0, nRequest).map((c) => ['client', c]);
        let si = 0;
        for (let got = 0; got < response.length; si++) {
          schedule.push(['server', sChunks[si]!]);
          got += sChunks[si]!.length;
        }
        const rand = prng(mix);
        let ci = nRequest;
        while (ci < cChunks.length || si < sChunks.length) {
          const pickClient = si >= sChunks.length || (ci < cChunks.length && rand() < 0.5);
          schedule.push(pickClient ? ['client', cChunks[ci++]!] : ['server', sChunks[si++]!]);
        }

        const decoder = new ConnectionDecoder(7, { ...DEFAULT_LIMITS, ...WHOLE });
        const events: WireEvent[] = [];
        let t = 0;
        for (const [dir, chunk] of schedule) events.push(...decoder.receive(dir, chunk, ++t));
        events.push(...decoder.end(++t, 'client'));

        const [hs, ...moreHs] = ofType(events, 'handshake');
        expect(moreHs).toEqual([]);
        expect(hs).toMatchObject({ outcome: 'upgraded', acceptValid: true, problems: [] });
        expect(hs!.deflate).toEqual(agreement && { ...agreement, levels: undefined });
        expect(ofType(events, 'violation')).toEqual([]);

        for (const [dir, stream] of [['client', client], ['server', server]] as const) {
          const mine = events.filter((e) => !('dir' in e) || e.dir === dir);
          const ws = await wsDecode(cut(stream.bytes, chunkSizes(stream.bytes.length, dir === 'client' ? cPlan : sPlan)), dir === 'client', side(dir));
          expect(ws.error).toBeNull();
          expect(ws.seen).toEqual(expectedSeen(stream.expected));
          expect(ourSeen(mine)).toEqual(ws.seen);
        }
        const [end] = ofType(events, 'end');
        expect(end).toMatchObject({
          clean: cSpec.close !== null && sSpec.close !== null,
          code: sSpec.close ? (sSpec.close.code ?? 1005) : 1006,
          serverCode: cSpec.close ? (cSpec.close.code ?? 1005) : 1006,
          bytes: { client: request.length + client.bytes.length, server: serverAll.length },
        });
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
});

describe('differential: UTF-8 split across fragments', () => {
  it('joins "héllo 👋" cut at every byte into two fragments with a ping between, one byte per chunk', async () => {
    const text = Buffer.from('héllo 👋');
    for (const dir of ['client', 'server'] as const) {
      const mask = dir === 'client' ? Buffer.from('37fa213d', 'hex') : null;
      for (let at = 0; at <= text.length; at++) {
        const bytes = Buffer.concat([
          encodeFrame({ fin: false, opcode: Op.Text, payload: text.subarray(0, at), mask }),
          encodeFrame({ opcode: Op.Ping, payload: 'mid', mask }),
          encodeFrame({ opcode: Op.Continuation, payload: text.subarray(at), mask }),
        ]);
        const ours = decodeFrames(dir, bytes, { chunks: [1] });
        const ws = await wsDecode(cut(bytes, [1]), dir === 'client', null);
        const want: Seen[] = [
          { type: 'ping', data: Buffer.from('mid').toString('base64') },
          { type: 'message', binary: false, data: 'héllo 👋' },
        ];
        expect(ws).toEqual({ seen: want, error: null });
        expect(ourSeen(ours)).toEqual(want);
        expect(ofType(ours, 'violation')).toEqual([]);
      }
    }
  });

  it('agrees with ws on whether random bytes are UTF-8, whatever the pieces they arrive in', () => {
    // Valid text with a few bytes damaged, the classic bad sequences, and raw bytes.
    const bad = ['c0 80', 'e0 80 80', 'ed a0 80', 'f4 90 80 80', 'f5 80 80 80', 'f0 90 80', 'e2 82', 'ff', '80', 'c3 28'];
    const bytesArb = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }).map((s) => Buffer.from(s)),
      fc
        .tuple(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom(...bad), fc.nat())
        .map(([s, b, at]) => {
          const t = Buffer.from(s);
          const i = t.length ? at % t.length : 0;
          return Buffer.concat([t.subarray(0, i), Buffer.from(b.replace(/ /g, ''), 'hex'), t.subarray(i)]);
        }),
      fc.tuple(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.nat(), fc.integer({ min: 0, max: 7 })).map(([s, at, bit]) => {
        const t = Buffer.from(s);
        if (t.length) t[at % t.length] = t[at % t.length]! ^ (1 << bit);
        return t;
      }),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    );
    fc.assert(
      fc.property(bytesArb, fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), (bytes, sizes) => {
        const v = new Utf8Validator();
        let ok = true;
        for (const piece of cut(bytes, sizes)) ok = v.push(piece) && ok;
        ok = v.finish() && ok;
        expect(ok).toBe(isValidUTF8(bytes));
        if (!ok) {
          // The error index is the length of the longest valid prefix: the first bad sequence.
          let longest = 0;
          for (let p = bytes.length; p >= 0; p--) {
            if (isValidUTF8(bytes.subarray(0, p))) {
              longest = p;
              break;
            }
          }
          expect(v.errorIndex).toBe(longest);
        }
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

describe('differential: streams that end inside a frame', () => {
  // ws fails the connection as soon as the first two bytes of a header break a rule; we judge
  // a frame cut short on the same bytes.
  const cases: Array<[string, Direction, string, string]> = [
    ['a reserved opcode, two bytes into the header', 'client', '84 80', 'reserved-opcode'],
    ['a fragmented ping, before its masking key', 'client', '09 85 37', 'fragmented-control-frame'],
    ['RSV2, before the 16-bit length', 'server', 'a2 7e 01', 'rsv-without-extension'],
    ['a ping announcing 126 bytes, before the extended length', 'server', '89 7e', 'control-frame-too-long'],
    ['a masked server frame, before its masking key', 'server', '82 81 00', 'masked-server-frame'],
    ['a close frame announcing a 1-byte body that never comes', 'server', '88 01', 'close-body-one-byte'],
  ];
  for (const [what, dir, bytes, rule] of cases) {
    it(`flags ${what}, where ws fails with 1002`, async () => {
      const b = Buffer.from(bytes.replace(/ /g, ''), 'hex');
      const ws = await wsDecode([b], dir === 'client', null);
      expect(ws).toEqual({ seen: [], error: 1002 });
      const ours = decodeFrames(dir, b, { chunks: [1] });
      expect(ofType(ours, 'frame')).toMatchObject([{ complete: false }]);
      expect(ofType(ours, 'violation').map((v) => [v.rule, v.closeCode])).toEqual([[rule, 1002]]);
    });
  }

  it('flags a complete 1-byte close body once, and reads it as no code (1005)', async () => {
    const b = Buffer.from('880103', 'hex');
    expect(await wsDecode([b], false, null)).toEqual({ seen: [], error: 1002 });
    const ours = decodeFrames('server', b);
    expect(ofType(ours, 'violation').map((v) => [v.rule, v.offset])).toEqual([['close-body-one-byte', 2]]);
    expect(ofType(ours, 'close')).toMatchObject([{ code: 1005, reason: '' }]);
  });
});

describe('differential: damaged streams', () => {
  it('deliver what ws delivers before it fails, and flag the rule ws fails with', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Direction>('client', 'server'),
        smallStreamArb,
        directionDeflateArb,
        mutationsArb,
        chunkPlanArb,
        async (dir, spec, deflate, mutations, plan) => {
          const valid = await buildStream(spec, dir, deflate);
          const bytes = mutate(valid.bytes, mutations);
          const sizes = chunkSizes(bytes.length, plan);
          const deflateOpt = inflateOpts(deflate);
          const all = decodeFrames(dir, bytes, { chunks: sizes, limits: WHOLE, ...(deflateOpt ? { deflate: deflateOpt } : {}) });
          const ws = await wsDecode(cut(bytes, sizes), dir === 'client', deflate);

          // ws stops reading at a close frame: compare what came up to and including it.
          const close = ofType(all, 'close')[0];
          const stop = close ? all.findIndex((e) => e.type === 'frame' && e.seq > close.frame) : -1;
          const ours = stop === -1 ? all : all.slice(0, stop);
          const violations = ofType(ours, 'violation');

          expect(ourSeen(ours).slice(0, ws.seen.length)).toEqual(ws.seen);
          if (ws.error === null) {
            // ws read it all without complaint: we may only be stricter where documented above.
            const unfinishedText = ofType(ours, 'message').every((m) => m.utf8Valid !== false);
            const oneByteFrames = new Set(ofType(ours, 'frame').filter((f) => f.headerLength < 2).map((f) => f.seq));
            for (const v of violations) {
              const allowed =
                v.rule === 'non-minimal-length' ||
                (v.rule === 'invalid-utf8' && unfinishedText) ||
                (v.frame !== undefined && oneByteFrames.has(v.frame));
              expect(allowed, `${v.rule} in ${bytes.toString('hex')}`).toBe(true);
            }
            expect(ourSeen(ours)).toEqual(ws.seen);
          } else if (ws.error === 1009) {
            // ws's own limit: a 64-bit length it cannot hold in a double.
            expect(ofType(ours, 'frame').some((f) => f.lengthExact !== undefined)).toBe(true);
          } else if (ws.error === 1007 && deflate && !violations.some((v) => v.closeCode === 1007)) {
            // ws's inflate runs over the whole direction; ours per message (see the top).
            expect(ofType(ours, 'frame').some((f) => f.rsv1 && (f.opcode === Op.Text || f.opcode === Op.Binary))).toBe(true);
          } else {
            expect(violations.map((v) => v.closeCode)).toContain(ws.error);
          }
        },
      ),
      { seed: SEED, numRuns: 250 },
    );
  });
});
