/**
 * Inflation off the relay's path (server/tap/inflation.ts): the wiretap's decoders leave
 * compressed messages to the InflationStage, which inflates small ones on the spot and large
 * ones on the thread pool. What a consumer sees must not change: the same events, in the same
 * order per connection, as the decoder inflating each message at once; and while one
 * connection's messages inflate, other connections' events go straight out.
 */
import { deflateRawSync, constants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { MessageEvent, WireEvent } from '../../server/capture/events.ts';
import { materializeAll } from '../../server/capture/materialize.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { InflationStage, type InflationLimits } from '../../server/tap/inflation.ts';
import { DeflateSender, encodeFrame, handshakeHeads, Op, randomBytes } from '../helpers/encode.ts';
import { until } from '../helpers/net.ts';

const KEY = Buffer.from('a1b2c3d4', 'hex');
const MiB = 1024 * 1024;
const DEFLATE = { serverMaxWindowBits: 15, clientMaxWindowBits: 15, serverNoContextTakeover: false, clientNoContextTakeover: false };

/** A masked client frame, compressed (RSV1) or not. */
const clientFrame = (opcode: number, payload: Buffer, rsv1 = true) => encodeFrame({ opcode, payload, rsv1, mask: KEY });

/** `n` bytes of one letter, compressed on its own (a "bomb": a few KB that inflate to megabytes). */
function bomb(n: number, letter = 0x61): Buffer {
  const all = deflateRawSync(Buffer.alloc(n, letter), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  return all.subarray(0, all.length - 4);
}

/** A stage collecting what it emits; `limits` small enough that tests reach them. */
function stage(limits: Partial<InflationLimits> = {}) {
  const out: WireEvent[] = [];
  const s = new InflationStage((events) => out.push(...events), limits, false);
  return { s, out };
}

/** Feed chunks of one connection's client side through a deferred decoder into the stage. */
function feeder(s: InflationStage, conn: number, deflate = DEFLATE) {
  const d = new ConnectionDecoder(conn, undefined, false, undefined, true);
  const { request, response } = handshakeHeads(deflate);
  const send = (dir: 'client' | 'server', bytes: Buffer, t: number) => s.push(conn, d.receive(dir, bytes, t), d.takeInflations());
  send('client', request, 0);
  send('server', response, 1);
  return {
    client: (bytes: Buffer, t: number) => send('client', bytes, t),
    end: (t: number) => s.push(conn, d.end(t, 'client'), d.takeInflations()),
  };
}

const messages = (events: WireEvent[], conn: number) => events.filter((e): e is MessageEvent => e.type === 'message' && e.conn === conn);

describe('InflationStage', () => {
  it.each([
    // [case, limits, messages inflated on the pool at least]
    ['large ones on the pool', { spotMessageBytes: 4096 }, 5],
    ['all on the pool', { spotMessageBytes: 0 }, 10],
    ['one on the spot a turn, the rest on the next turns', { spotBytesPerTurn: 0 }, 1],
  ])('gives the same events as inflating in the decoder, with context takeover: %s', async (_, limits, aside) => {
    // Messages that refer back to each other (one deflate stream), some small (on the spot), some
    // large (the pool, with a 4 KiB spot limit), a binary one, UTF-8 broken inside a compressed
    // text, and one that does not end on a block boundary, then one after it.
    const sender = new DeflateSender();
    const phrase = Buffer.from('I heard you say "hello wiretap" — naïve über ');
    const payloads: Array<[number, Buffer]> = [
      [Op.Text, phrase],
      [Op.Text, Buffer.concat(Array.from({ length: 3000 }, () => phrase))],
      [Op.Binary, randomBytes(50_000, 7)],
      [Op.Text, phrase],
      [Op.Text, Buffer.concat([Buffer.alloc(70_000, 0x62), Buffer.from([0xff]), phrase])],
      [Op.Text, Buffer.concat(Array.from({ length: 2000 }, (_, i) => Buffer.from(`${i} ${phrase}`)))],
    ];
    const frames: Buffer[] = [];
    for (const [op, data] of payloads) frames.push(clientFrame(op, await sender.compress(data)));
    sender.close();
    // Not on a block boundary (deflate.test.ts): flagged, inflated leniently, and the next one not trusted.
    frames.push(clientFrame(Op.Binary, Buffer.from('626160600001', 'hex')), clientFrame(Op.Text, Buffer.from('39', 'hex')));
    frames.push(clientFrame(Op.Ping, Buffer.from('ping'), false));
    const stream = Buffer.concat(frames);
    const { request, response } = handshakeHeads(DEFLATE);

    const sync = new ConnectionDecoder(1);
    const expected = [...sync.receive('client', request, 0), ...sync.receive('server', response, 1)];
    for (let p = 0, t = 2; p < stream.length; p += 9000, t++) expected.push(...sync.receive('client', stream.subarray(p, p + 9000), t));
    expected.push(...sync.end(1000, 'client'));

    // A second connection without context takeover: corrupt data, then a message that inflates
    // past the 16 MiB bound, each followed by a good one (which inflates: no history needed).
    const noTakeover = { ...DEFLATE, clientNoContextTakeover: true };
    const good = Buffer.from('good');
    const stream2 = Buffer.concat([
      clientFrame(Op.Text, Buffer.from('ffffff', 'hex')),
      clientFrame(Op.Text, await new DeflateSender(15, true).compress(good)),
      clientFrame(Op.Binary, bomb(17 * MiB)),
      clientFrame(Op.Text, await new DeflateSender(15, true).compress(good)),
    ]);
    const heads2 = handshakeHeads(noTakeover);
    const sync2 = new ConnectionDecoder(2);
    expected.push(...sync2.receive('client', heads2.request, 0), ...sync2.receive('server', heads2.response, 1), ...sync2.receive('client', stream2, 2), ...sync2.end(3, 'client'));

    const { s, out } = stage(limits);
    const f = feeder(s, 1);
    const f2 = feeder(s, 2, noTakeover);
    for (let p = 0, t = 2; p < stream.length; p += 9000, t++) f.client(stream.subarray(p, p + 9000), t);
    f.end(1000);
    f2.client(stream2, 2);
    f2.end(3);
    await until(() => (s.idle ? true : undefined), 10_000, () => `the stage to finish (${JSON.stringify(s.stats)})`);

    expect(s.stats.aside).toBeGreaterThanOrEqual(aside);
    expect(s.stats.refused).toBe(0);
    expect(messages(expected, 2).map((m) => m.inflateError ?? m.text)).toEqual([
      'corrupt compressed data (invalid block type)', 'good', 'inflated size passed the 16777216-byte bound', 'good',
    ]);
    expect(messages(expected, 1).map((m) => m.inflateError ?? m.length)).toEqual([
      phrase.length, phrase.length * 3000, 50_000, phrase.length, 70_001 + phrase.length, expect.any(Number), expect.any(Number),
      expect.stringMatching(/^not inflated: an earlier message was not properly compressed/),
    ]);
    expect(expected.some((e) => e.type === 'violation' && e.rule === 'invalid-utf8')).toBe(true);
    expect(expected.some((e) => e.type === 'violation' && e.rule === 'invalid-compressed-data')).toBe(true);
    // Connections interleave differently (one waits, the other does not); each keeps its order.
    for (const conn of [1, 2]) expect(out.filter((e) => e.conn === conn)).toEqual(materializeAll(expected.filter((e) => e.conn === conn)));
  });

  it('lets other connections through while one inflates on the pool, and holds that one in order', async () => {
    const { s, out } = stage();
    const a = feeder(s, 1);
    const b = feeder(s, 2);
    a.client(clientFrame(Op.Text, bomb(8 * MiB)), 2);
    a.client(clientFrame(Op.Text, Buffer.from('after'), false), 3);
    b.client(clientFrame(Op.Text, Buffer.from('hello'), false), 4);
    // Synchronously, before the pool can have answered: connection 2's message is out; 1's are held.
    expect(messages(out, 2).map((m) => m.text)).toEqual(['hello']);
    expect(messages(out, 1)).toEqual([]);
    expect(s.stats).toMatchObject({ running: 1, aside: 0 });
    await until(() => (s.idle ? true : undefined), 20_000, () => 'the bomb to inflate');
    const [big, after] = messages(out, 1);
    expect(big).toMatchObject({ length: 8 * MiB, compressed: true, truncated: true, wireLength: expect.any(Number) });
    expect(big!.text).toBe('a'.repeat(64 * 1024));
    expect(after!.text).toBe('after');
    // Each connection's events in the order its decoder made them: frame, then its message.
    const types = out.filter((e) => e.conn === 1).map((e) => e.type);
    expect(types).toEqual(['handshake', 'frame', 'message', 'frame', 'message']);
  });

  it('refuses messages past the per-connection bound, and says so in each, without losing the order', async () => {
    const { s, out } = stage({ connMessages: 2 });
    const f = feeder(s, 1);
    const frames = Array.from({ length: 4 }, (_, i) => clientFrame(Op.Binary, bomb(2 * MiB, 0x61 + i)));
    f.client(Buffer.concat(frames), 2);
    f.end(3);
    await until(() => (s.idle ? true : undefined), 20_000, () => 'the stage to finish');
    const ms = messages(out, 1);
    expect(ms.map((m) => m.length).slice(0, 2)).toEqual([2 * MiB, 2 * MiB]);
    expect(ms[2]!.inflateError).toMatch(/^not inflated: this connection had 2 compressed messages \(.*\) waiting to be inflated, the most the wiretap holds per connection \(2 messages/);
    // Context takeover: the message after the one refused cannot be inflated either, and says why.
    expect(ms[3]!.inflateError).toMatch(/^not inflated: /);
    expect(s.stats.refused).toBe(2);
    expect(out[out.length - 1]!.type).toBe('end');
  });

  it('gives up on a connection holding back more events than the bound, and lets them all out in order', async () => {
    const { s, out } = stage({ connEvents: 20 });
    const f = feeder(s, 1);
    f.client(clientFrame(Op.Text, bomb(8 * MiB)), 2);
    const before = out.length;
    for (let i = 0; i < 30; i++) f.client(clientFrame(Op.Text, Buffer.from(`m${i}`), false), 3 + i);
    // Past 20 held events the stage stopped waiting: the bomb's message says why, the rest follow.
    const released = out.slice(before);
    const bombMessage = released.find((e): e is MessageEvent => e.type === 'message' && e.compressed)!;
    expect(bombMessage.inflateError).toMatch(/^not inflated: 21 events of this connection \(.*\) were held back behind messages being inflated, more than the wiretap holds per connection \(20 events/);
    expect(messages(out, 1).filter((m) => !m.compressed).map((m) => m.text)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`));
    expect(s.idle).toBe(true);
    expect(s.stats.running).toBe(0);
  });
});
