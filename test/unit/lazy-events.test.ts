/**
 * The decoders' fast path and lazy events (server/capture/materialize.ts).
 *
 * A whole, unremarkable data frame in one chunk is decoded in one go and its strings are left
 * to be made when the event is first read. What a user sees must not depend on either: the same
 * bytes decoded in one chunk (fast path wherever it applies) and one byte at a time (never: the
 * fast path needs a whole frame in a chunk) give the same events, string for string, once made;
 * and the store, its listeners and a recording only ever hand out made events.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction, FrameEvent, MessageEvent, WireEvent } from '../../server/capture/events.ts';
import { isLazy, materializeAll } from '../../server/capture/materialize.ts';
import { Recorder } from '../../server/capture/recorder.ts';
import { CaptureStore, eventWeight } from '../../server/capture/store.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { FrameDecoder } from '../../server/protocol/frame-decoder.ts';
import { DEFAULT_LIMITS, MessageAssembler } from '../../server/protocol/message-assembler.ts';
import { buildStream, directionDeflateArb, encodeFrame, handshakeHeads, mutate, mutationsArb, Op, smallStreamArb } from '../helpers/encode.ts';

const SEED = Number(process.env.FC_SEED ?? 0xfa57);

/** Decode one direction's bytes cut into `size`-byte chunks, all at time 0 unless `timed`; events left lazy. */
function decodeLazy(dir: Direction, bytes: Buffer, size: number, deflate: { windowBits: number; noContextTakeover: boolean } | null, timed = false): WireEvent[] {
  const out: WireEvent[] = [];
  const assembler = new MessageAssembler(1, dir, out, DEFAULT_LIMITS);
  const decoder = new FrameDecoder(dir, assembler);
  if (deflate) {
    decoder.deflate = true;
    assembler.enableDeflate(deflate.windowBits, deflate.noContextTakeover);
  }
  let t = 0;
  for (let p = 0; p < bytes.length; p += size) decoder.receive(bytes.subarray(p, p + size), timed ? (t += 1.25) : 0);
  decoder.end(t + 1);
  return out;
}

describe('the fast path', () => {
  it('gives the same events as the byte-at-a-time path, for valid and damaged streams in both directions', async () => {
    await fc.assert(
      fc.asyncProperty(
        smallStreamArb,
        fc.constantFrom<Direction>('client', 'server'),
        directionDeflateArb,
        fc.option(mutationsArb, { nil: null }),
        async (spec, dir, deflate, mutations) => {
          const built = await buildStream(spec, dir, deflate);
          const bytes = mutations ? mutate(built.bytes, mutations) : built.bytes;
          const whole = decodeLazy(dir, bytes, bytes.length || 1, deflate);
          const bytewise = decodeLazy(dir, bytes, 1, deflate);
          expect(materializeAll(whole)).toEqual(materializeAll(bytewise));
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('takes the frames it is for, and rebuilds their header and masking key exactly', () => {
    const key = Buffer.from('37fa213d', 'hex');
    const frames = [
      encodeFrame({ opcode: Op.Text, payload: 'Hello', mask: key }),
      encodeFrame({ opcode: Op.Text, payload: 'naïve 😀 über', mask: key }),
      encodeFrame({ opcode: Op.Binary, payload: Buffer.alloc(300, 7), mask: key }),
      encodeFrame({ opcode: Op.Text, payload: 'x'.repeat(126), mask: key }),
      encodeFrame({ opcode: Op.Text, payload: '', mask: key }),
    ];
    const bytes = Buffer.concat(frames);
    const events = decodeLazy('client', bytes, bytes.length, null);
    const made = events.filter((e) => e.type === 'frame') as FrameEvent[];
    // Left lazy: nothing read them yet.
    expect(made.every(isLazy)).toBe(true);
    materializeAll(events);
    expect(made.map((f) => f.header)).toEqual(frames.map((f, i) => f.subarray(0, made[i]!.headerLength).toString('hex')));
    expect(made.map((f) => f.maskKey)).toEqual(frames.map(() => '37fa213d'));
    expect(made[1]!.header).toBe('819137fa213d'); // FIN, text; masked, 17 bytes; the key
    const texts = (events.filter((e) => e.type === 'message') as MessageEvent[]).map((m) => m.text ?? m.base64);
    expect(texts).toEqual(['Hello', 'naïve 😀 über', Buffer.alloc(300, 7).toString('base64'), 'x'.repeat(126), '']);
    expect(events.some(isLazy)).toBe(false);
    // Made events carry no bytes into JSON.
    expect(JSON.stringify(events)).not.toContain('_bytes');
    expect(JSON.stringify(events)).not.toContain('_mask');
  });

  it('leaves invalid UTF-8 to the general path, which flags it', () => {
    const bad = Buffer.from([0x68, 0x69, 0xc3, 0x28]);
    const bytes = encodeFrame({ opcode: Op.Text, payload: bad, mask: Buffer.from('01020304', 'hex') });
    const events = materializeAll(decodeLazy('client', bytes, bytes.length, null));
    expect(events.map((e) => e.type)).toEqual(['frame', 'violation', 'message']);
    expect(events[1]).toMatchObject({ rule: 'invalid-utf8', frame: 0 });
    expect(events[2]).toMatchObject({ type: 'message', utf8Valid: false, length: 4 });
  });
});

describe('lazy events in the store and the recording', () => {
  function lazyConnection(texts: string[]): WireEvent[] {
    const { request, response } = handshakeHeads(null);
    const decoder = new ConnectionDecoder(7, DEFAULT_LIMITS, true);
    const events = [...decoder.receive('client', request, 0), ...decoder.receive('server', response, 1)];
    const frames = Buffer.concat(texts.map((t) => encodeFrame({ opcode: Op.Text, payload: t, mask: Buffer.from('a1b2c3d4', 'hex') })));
    events.push(...decoder.receive('client', frames, 2));
    return events;
  }

  it('hands out made events only: to listeners, from since() and all()', () => {
    const store = new CaptureStore();
    const heard: WireEvent[] = [];
    store.add(lazyConnection(['before anyone listens']));
    store.subscribe((batch) => heard.push(...batch));
    const batch = lazyConnection(['while a page listens']);
    expect(batch.some(isLazy)).toBe(true);
    store.add(batch);
    expect(heard.some(isLazy)).toBe(false);
    expect(heard.filter((e) => e.type === 'message').map((e) => (e as MessageEvent).text)).toEqual(['while a page listens']);
    const all = store.all();
    expect(all.some(isLazy)).toBe(false);
    expect(all.filter((e) => e.type === 'message').map((e) => (e as MessageEvent).text)).toEqual(['before anyone listens', 'while a page listens']);
    expect(store.since(0).filter((e) => e.type === 'frame').map((e) => (e as FrameEvent).maskKey)).toEqual(['a1b2c3d4', 'a1b2c3d4']);
  });

  it('gives back what went in, field for field, whether it packed an event or held it as it came', async () => {
    await fc.assert(
      fc.asyncProperty(
        smallStreamArb,
        fc.constantFrom<Direction>('client', 'server'),
        fc.option(mutationsArb, { nil: null }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 2, max: 400 }),
        async (spec, dir, mutations, maxEvents, batch, chunk) => {
          const built = await buildStream(spec, dir, null);
          const bytes = mutations ? mutate(built.bytes, mutations) : built.bytes;
          const expected = materializeAll(decodeLazy(dir, bytes, chunk, null, true));
          // A small store, fed in small batches: the ring wraps and packed slots are reused.
          const store = new CaptureStore({ maxEvents, maxBytes: Infinity });
          const events = decodeLazy(dir, bytes, chunk, null, true);
          for (let i = 0; i < events.length; i += batch) store.add(events.slice(i, i + batch));
          expect(store.all()).toEqual(expected.slice(-maxEvents));
          expect(store.since(store.nextSeq - 1)).toEqual(expected.slice(-1));
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('decodes injected bytes to the same events, each marked injected, and keeps the mark in the store', () => {
    const { request, response } = handshakeHeads(null);
    const frames = Buffer.concat([
      encodeFrame({ opcode: Op.Text, payload: 'short', mask: Buffer.from('a1b2c3d4', 'hex') }),
      encodeFrame({ opcode: Op.Ping, payload: 'p', mask: Buffer.from('a1b2c3d4', 'hex') }),
      encodeFrame({ opcode: Op.Text, payload: 'unmasked', mask: null }),
    ]);
    const decode = (injected: boolean) => {
      const decoder = new ConnectionDecoder(7, DEFAULT_LIMITS, true);
      decoder.receive('client', request, 0);
      decoder.receive('server', response, 1);
      return injected ? decoder.receiveInjected('client', frames, 2) : decoder.receive('client', frames, 2);
    };
    const plain = materializeAll(decode(false));
    expect(plain.map((e) => e.type)).toEqual(['frame', 'message', 'frame', 'ping', 'frame', 'violation', 'message']);
    expect(plain.some((e) => 'injected' in e)).toBe(false);
    const store = new CaptureStore();
    store.add(decode(true));
    expect(store.all()).toEqual(plain.map((e) => ({ ...e, injected: true })));
  });

  it('never packs an injected event, so the store gives back its mark', () => {
    const store = new CaptureStore();
    // Fast-path events (the kind the store packs), marked as the wiretap would mark its own.
    const events = lazyConnection(['crafted']).filter((e) => e.type === 'frame' || e.type === 'message');
    expect(events.every(isLazy)).toBe(true);
    for (const e of events) (e as FrameEvent | MessageEvent).injected = true;
    store.add(events);
    store.add(lazyConnection(['sent by the client']).filter((e) => e.type === 'frame' || e.type === 'message'));
    expect(store.all().map((e) => [(e as MessageEvent).text ?? e.type, (e as FrameEvent).injected ?? false])).toEqual([
      ['frame', true],
      ['crafted', true],
      ['frame', false],
      ['sent by the client', false],
    ]);
  });

  it('weighs a lazy frame as it will weigh once made', () => {
    const events = lazyConnection(['x'.repeat(100), 'y']).filter((e) => e.type === 'frame');
    const lazy = events.map(eventWeight);
    materializeAll(events);
    expect(events.map(eventWeight)).toEqual(lazy);
  });

  it('records made events', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsplay-lazy-'));
    try {
      const file = join(dir, 'rec.jsonl');
      const recorder = new Recorder(file);
      recorder.write(lazyConnection(['on the record']));
      recorder.close();
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as WireEvent);
      const frame = lines.find((e) => e.type === 'frame') as FrameEvent;
      expect(frame).toMatchObject({ payload: Buffer.from('on the record').toString('base64'), maskKey: 'a1b2c3d4', header: '818da1b2c3d4' });
      expect(lines.find((e) => e.type === 'message')).toMatchObject({ text: 'on the record' });
      expect(readFileSync(file, 'utf8')).not.toContain('_bytes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
