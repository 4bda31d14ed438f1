import { constants, createDeflateRaw } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Direction, WireEvent } from '../../server/capture/events.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { MessageInflater } from '../../server/protocol/deflate.ts';
import { decodeFrames, ofType } from '../helpers/decode.ts';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MB = 1024 * 1024;

/**
 * A permessage-deflate compressor as ws and browsers run one: a single raw deflate stream,
 * flushed with Z_SYNC_FLUSH after each message, the trailing 00 00 ff ff stripped (RFC 7692 §7.2.1).
 * Keeping the stream between messages is context takeover; a fresh one per message is not.
 */
class Compressor {
  private readonly z;
  private readonly chunks: Buffer[] = [];

  constructor(windowBits = 15) {
    this.z = createDeflateRaw({ windowBits });
    this.z.on('data', (c: Buffer) => this.chunks.push(c));
  }

  message(data: Buffer | string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.z.write(data);
      this.z.flush(constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(this.chunks.splice(0));
        if (!out.subarray(-4).equals(TAIL)) reject(new Error('a sync flush ends in 00 00 ff ff'));
        else resolve(out.subarray(0, -4));
      });
    });
  }

  close(): void {
    this.z.close();
  }
}

/** Compress each message with one stream (context takeover) or each with its own stream. */
async function compress(messages: Array<Buffer | string>, o: { windowBits?: number; contextTakeover?: boolean } = {}): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let c = new Compressor(o.windowBits);
  for (const m of messages) {
    if (o.contextTakeover === false) {
      c.close();
      c = new Compressor(o.windowBits);
    }
    out.push(await c.message(m));
  }
  c.close();
  return out;
}

/** Deterministic, poorly compressible letters. */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    b[i] = 97 + ((s >> 16) % 26);
  }
  return b;
}

/** A final frame (or a fragment), server style: unmasked. */
function frame(opcode: number, payload: Buffer, o: { fin?: boolean; rsv1?: boolean } = {}): Buffer {
  const n = payload.length;
  const b0 = (o.fin === false ? 0 : 0x80) | (o.rsv1 ? 0x40 : 0) | opcode;
  let head: Buffer;
  if (n < 126) head = Buffer.from([b0, n]);
  else if (n < 65536) {
    head = Buffer.from([b0, 126, 0, 0]);
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

const compressedText = (data: Buffer) => frame(1, data, { rsv1: true });
const violations = (ev: WireEvent[]) => ofType(ev, 'violation');

describe('MessageInflater', () => {
  it('inflates a message whose 00 00 ff ff tail was stripped', async () => {
    const [c] = await compress(['Hello webSocket']);
    const r = new MessageInflater(15, false, MB).inflate(c!);
    expect(r).toEqual({ data: Buffer.from('Hello webSocket') });
  });

  it('inflates an empty message (a lone 00 byte on the wire)', async () => {
    const [c] = await compress(['']);
    expect(c).toEqual(Buffer.from([0x00]));
    expect(new MessageInflater(15, false, MB).inflate(c!)).toEqual({ data: Buffer.alloc(0) });
  });

  it('takes over the context: a message that refers back into the one before it inflates', async () => {
    const text = 'I heard you say "I am listening"';
    const [first, second] = await compress([text, text]);
    // The second message is a back-reference to the first: far smaller than the text.
    expect(second!.length).toBeLessThan(first!.length / 2);
    const inflater = new MessageInflater(15, false, MB);
    expect(inflater.inflate(first!)).toEqual({ data: Buffer.from(text) });
    expect(inflater.inflate(second!)).toEqual({ data: Buffer.from(text) });
  });

  it('keeps the history across many messages, longer in total than the window', async () => {
    const messages = Array.from({ length: 12 }, (_, i) => Buffer.concat([noise(3000, i), noise(3000, i - 1)]));
    const compressed = await compress(messages, { windowBits: 13 });
    const inflater = new MessageInflater(13, false, MB);
    for (const [i, c] of compressed.entries()) expect(inflater.inflate(c), `message ${i}`).toEqual({ data: messages[i] });
  });

  it('with no_context_takeover inflates each message on its own', async () => {
    const text = 'the same text, again and again';
    const compressed = await compress([text, text, text], { contextTakeover: false });
    expect(compressed[1]).toEqual(compressed[0]);
    const inflater = new MessageInflater(15, true, MB);
    for (const c of compressed) expect(inflater.inflate(c)).toEqual({ data: Buffer.from(text) });
  });

  it('with no_context_takeover cannot inflate a message that refers back to the one before', async () => {
    const text = 'the same text, again and again';
    const [first, second] = await compress([text, text]);
    const inflater = new MessageInflater(15, true, MB);
    expect(inflater.inflate(first!)).toEqual({ data: Buffer.from(text) });
    expect(inflater.inflate(second!)).toEqual({ error: 'corrupt compressed data (invalid distance too far back)' });
  });

  for (let bits = 8; bits <= 15; bits++) {
    it(`honours ${bits} window bits: a back-reference as far as the compressor reaches inflates`, async () => {
      // zlib reaches back at most 2^bits - 262 bytes, and uses 9 bits when asked for 8.
      const reach = 2 ** Math.max(bits, 9) - 262;
      const block = noise(200, bits);
      const far = noise(reach, bits + 100);
      const messages = [Buffer.concat([block, block]), far, far];
      const compressed = await compress(messages, { windowBits: bits });
      // The third message is nothing but a reference back into the second.
      expect(compressed[2]!.length).toBeLessThan(reach / 20);
      const inflater = new MessageInflater(bits, false, MB);
      for (const [i, c] of compressed.entries()) expect(inflater.inflate(c), `message ${i}`).toEqual({ data: messages[i] });
    });
  }

  // zlib, like every streaming receiver, does not police the distance of a reference inside the
  // output it is still holding; the window bound shows when a message refers back to the last.
  for (const bits of [8, 9, 10, 11, 12, 13]) {
    it(`fails to inflate a reference into the previous message beyond the negotiated ${bits} bits`, async () => {
      const block = noise(2 ** bits + 100, bits);
      const compressed = await compress([block, block], { windowBits: 15 });
      const strict = new MessageInflater(bits, false, MB);
      expect(strict.inflate(compressed[0]!)).toEqual({ data: block });
      expect(strict.inflate(compressed[1]!)).toEqual({ error: 'corrupt compressed data (invalid distance too far back)' });
      const wide = new MessageInflater(15, false, MB);
      for (const c of compressed) expect(wide.inflate(c)).toEqual({ data: block });
    });
  }

  it('reports every later message as not inflatable after a window error when context is taken over', async () => {
    const block = noise(3000, 1);
    const compressed = await compress([block, block, 'after'], { windowBits: 15 });
    const inflater = new MessageInflater(11, false, MB);
    expect(inflater.inflate(compressed[0]!)).toEqual({ data: block });
    expect(inflater.inflate(compressed[1]!)).toMatchObject({ error: expect.stringContaining('invalid distance too far back') });
    expect(inflater.inflate(compressed[2]!)).toMatchObject({ error: expect.stringMatching(/^not inflated: an earlier message could not be inflated \(corrupt/) });
  });

  it('stops at the output bound and says so', async () => {
    const [c] = await compress([Buffer.alloc(100_000, 0x61)]);
    expect(new MessageInflater(15, false, 10_000).inflate(c!)).toEqual({ error: 'inflated size passed the 10000-byte bound' });
  });

  it('reports every later message as not inflatable after a failure when context is taken over', async () => {
    const [big, small] = await compress([Buffer.alloc(100_000, 0x61), 'small']);
    const inflater = new MessageInflater(15, false, 10_000);
    expect(inflater.inflate(big!)).toMatchObject({ error: 'inflated size passed the 10000-byte bound' });
    const after = inflater.inflate(small!);
    expect(after).toEqual({
      error: 'not inflated: an earlier message could not be inflated (inflated size passed the 10000-byte bound), and with context takeover every later message depends on it',
    });
  });

  it('goes on inflating after a failure when there is no context takeover', async () => {
    const [big, small] = await compress([Buffer.alloc(100_000, 0x61), 'small'], { contextTakeover: false });
    const inflater = new MessageInflater(15, true, 10_000);
    expect(inflater.inflate(big!)).toMatchObject({ error: expect.stringContaining('bound') });
    expect(inflater.inflate(small!)).toEqual({ data: Buffer.from('small') });
  });
});

describe('permessage-deflate through the frame decoder', () => {
  const deflate = { windowBits: 15, noContextTakeover: false };

  it('reports both the compressed size on the wire and the inflated size', async () => {
    const text = 'I heard you say "I am listening" '.repeat(20);
    const [c] = await compress([text]);
    const ev = decodeFrames('server', compressedText(c!), { deflate });
    const [f] = ofType(ev, 'frame');
    expect(f).toMatchObject({ rsv1: true, length: c!.length, payload: c!.toString('base64') });
    expect(ofType(ev, 'message')).toEqual([
      expect.objectContaining({ opcode: 1, compressed: true, text, length: text.length, wireLength: c!.length, frames: 1 }),
    ]);
    expect(c!.length).toBeLessThan(text.length / 5);
    expect(violations(ev)).toEqual([]);
  });

  it('joins a compressed message sent in three fragments, RSV1 on the first only', async () => {
    const data = noise(5000, 7);
    const [c] = await compress([data]);
    const a = c!.subarray(0, 100);
    const b = c!.subarray(100, 2000);
    const rest = c!.subarray(2000);
    const bytes = Buffer.concat([frame(2, a, { fin: false, rsv1: true }), frame(0, b, { fin: false }), frame(0, rest)]);
    for (const chunks of [[bytes.length], [1], [333]]) {
      const ev = decodeFrames('server', bytes, { deflate, chunks });
      expect(ofType(ev, 'message')).toEqual([
        expect.objectContaining({ opcode: 2, compressed: true, base64: data.toString('base64'), length: 5000, wireLength: c!.length, frames: 3, firstFrame: 0, lastFrame: 2 }),
      ]);
      expect(violations(ev)).toEqual([]);
    }
  });

  it('inflates a conversation with context takeover, and leaves uncompressed messages as they are', async () => {
    const texts = ['Hello webSocket', 'Hello webSocket, again', 'Hello webSocket, again and again'];
    const compressed = await compress(texts);
    const plain = frame(1, Buffer.from('not compressed'));
    const bytes = Buffer.concat([compressedText(compressed[0]!), plain, compressedText(compressed[1]!), compressedText(compressed[2]!)]);
    const ev = decodeFrames('server', bytes, { deflate, chunks: [5] });
    expect(ofType(ev, 'message').map((m) => [m.text, m.compressed])).toEqual([
      [texts[0], true],
      ['not compressed', false],
      [texts[1], true],
      [texts[2], true],
    ]);
  });

  it('caps inflation at limits.maxInflatedMessage, without calling it the peer\'s fault', async () => {
    const [bomb, next] = await compress([Buffer.alloc(1_000_000, 0x61), 'next']);
    const bytes = Buffer.concat([compressedText(bomb!), compressedText(next!)]);
    const ev = decodeFrames('server', bytes, { deflate, limits: { maxInflatedMessage: 64 * 1024 } });
    const [first, second] = ofType(ev, 'message');
    expect(first).toMatchObject({ compressed: true, wireLength: bomb!.length, inflateError: 'inflated size passed the 65536-byte bound', text: '' });
    expect(second!.inflateError).toMatch(/^not inflated: an earlier message could not be inflated \(inflated size passed the 65536-byte bound\)/);
    expect(violations(ev)).toEqual([]);
  });

  it('inflates the messages after a capped one when there is no context takeover', async () => {
    const [bomb, next] = await compress([Buffer.alloc(1_000_000, 0x61), 'next'], { contextTakeover: false });
    const bytes = Buffer.concat([compressedText(bomb!), compressedText(next!)]);
    const ev = decodeFrames('server', bytes, { deflate: { windowBits: 15, noContextTakeover: true }, limits: { maxInflatedMessage: 64 * 1024 } });
    expect(ofType(ev, 'message').map((m) => [m.text, m.inflateError])).toEqual([
      ['', 'inflated size passed the 65536-byte bound'],
      ['next', undefined],
    ]);
  });

  it('gives up on a compressed message larger than limits.maxCompressedMessage, and on the ones after it', async () => {
    const [big, next] = await compress([noise(5000, 3), 'next']);
    const bytes = Buffer.concat([frame(2, big!, { rsv1: true }), compressedText(next!)]);
    const ev = decodeFrames('server', bytes, { deflate, limits: { maxCompressedMessage: 1000 } });
    const [first, second] = ofType(ev, 'message');
    expect(first).toMatchObject({ wireLength: big!.length, inflateError: 'not inflated: the compressed message passed the 1000-byte bound' });
    expect(second!.inflateError).toMatch(/^not inflated: a compressed message passed the 1000-byte bound/);
  });

  it('checks inflated text as UTF-8', async () => {
    const [c] = await compress([Buffer.from([0x61, 0xff, 0x62])]);
    const ev = decodeFrames('server', compressedText(c!), { deflate });
    expect(ofType(ev, 'message')[0]).toMatchObject({ compressed: true, utf8Valid: false });
    expect(violations(ev)).toMatchObject([{ rule: 'invalid-utf8', closeCode: 1007, frame: 0 }]);
  });
});

describe('permessage-deflate as negotiated in the handshake', () => {
  const request = Buffer.from(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1:9900\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
  );
  const response = (params: string) =>
    Buffer.from(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate${params}\r\n\r\n`,
    );
  const KEY = Buffer.from('a1b2c3d4', 'hex');
  const maskedCompressed = (data: Buffer) => {
    const f = frame(1, Buffer.from(data.map((b, i) => b ^ KEY[i & 3]!)), { rsv1: true });
    const head = f.subarray(0, f.length - data.length);
    head[1] = head[1]! | 0x80;
    return Buffer.concat([head, KEY, f.subarray(head.length)]);
  };

  function connection(params: string, client: Buffer[], server: Buffer[]): WireEvent[] {
    const d = new ConnectionDecoder(1);
    const out = [...d.receive('client', request, 1), ...d.receive('server', response(params), 2)];
    let t = 3;
    for (const c of client) out.push(...d.receive('client', maskedCompressed(c), t++));
    for (const s of server) out.push(...d.receive('server', compressedText(s), t++));
    return [...out, ...d.end(t, 'client')];
  }

  const texts = (ev: WireEvent[], dir: Direction) => ofType(ev, 'message').filter((m) => m.dir === dir).map((m) => m.inflateError ?? m.text);

  it('inflates each direction with its own parameters: client_no_context_takeover, server_max_window_bits=10', async () => {
    const said = ['I am listening', 'I am listening', 'I am listening'];
    const heard = said.map((s) => `I heard you say "${s}"`);
    const fromClient = await compress(said, { contextTakeover: false });
    const fromServer = await compress(heard, { windowBits: 10 });
    const ev = connection('; client_no_context_takeover; server_max_window_bits=10', fromClient, fromServer);
    expect(ofType(ev, 'handshake')[0]!.deflate).toEqual({ serverNoContextTakeover: false, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 15 });
    expect(texts(ev, 'client')).toEqual(said);
    expect(texts(ev, 'server')).toEqual(heard);
    expect(violations(ev)).toEqual([]);
  });

  it('flags a server that keeps its context although it agreed to server_no_context_takeover', async () => {
    const text = 'Hello webSocket';
    const fromServer = await compress([text, text]);
    const ev = connection('; server_no_context_takeover', [], fromServer);
    expect(texts(ev, 'server')).toEqual([text, 'corrupt compressed data (invalid distance too far back)']);
    expect(violations(ev)).toMatchObject([{ rule: 'invalid-compressed-data', dir: 'server', frame: 1, closeCode: 1007 }]);
  });

  it('flags a server that compresses with a larger window than the server_max_window_bits it accepted', async () => {
    const block = noise(3000, 5);
    const fromServer = await compress([block, block], { windowBits: 15 });
    const ev = connection('; server_max_window_bits=10', [], fromServer);
    expect(texts(ev, 'server')).toEqual([block.toString(), 'corrupt compressed data (invalid distance too far back)']);
    expect(violations(ev)).toMatchObject([{ rule: 'invalid-compressed-data', dir: 'server', frame: 1 }]);
  });
});

describe('a compressed message that does not end on a block boundary', () => {
  // RFC 7692 §7.2.1: the sender ends each message with an empty stored block and strips its
  // last four bytes. These payloads stop inside a block instead: zlib still yields bytes when the
  // tail is appended (and that is what a lenient receiver such as ws hands the application), but
  // the message is malformed, and with context takeover what follows rests on garbage.
  const first = Buffer.from('626160600001', 'hex');
  const frame = (opcode: number, payload: Buffer) => Buffer.concat([Buffer.from([0xc0 | opcode, payload.length]), payload]);

  it('shows what inflated, flags invalid-compressed-data with 1007, and does not trust the next message', () => {
    const ev = decodeFrames('server', Buffer.concat([frame(2, first), frame(1, Buffer.from('39', 'hex'))]), {
      deflate: { windowBits: 8, noContextTakeover: false },
    });
    const [m1, m2] = ofType(ev, 'message');
    expect(m1!.inflateError).toBeUndefined();
    const v = ofType(ev, 'violation');
    expect(v[0]).toMatchObject({ rule: 'invalid-compressed-data', closeCode: 1007, frame: 0 });
    expect(v[0]!.message).toMatch(/block boundary/);
    expect(m2!.inflateError).toMatch(/not properly compressed/);
  });

  it('inflates the same bytes as a well-formed message once the block is closed', () => {
    const inflater = new MessageInflater(15, false, MB);
    const good = inflater.inflate(Buffer.from('000200fdff486900', 'hex'));
    expect('data' in good && good.data.toString()).toBe('Hi');
    expect('warning' in good && good.warning).toBeFalsy();
  });
});
