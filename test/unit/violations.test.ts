import { constants, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Direction, ViolationEvent, ViolationRule, WireEvent } from '../../server/capture/events.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { DEFAULT_LIMITS } from '../../server/protocol/message-assembler.ts';
import { RULES } from '../../server/protocol/violations.ts';
import { decodeFrames, hex, ofType, type DecodeOptions } from '../helpers/decode.ts';

/**
 * Every rule in RULES, with the section and close code written out here rather than read back
 * from RULES: a wrong entry there must fail a test, not be copied into it.
 */
const EXPECTED: Record<Exclude<ViolationRule, 'decoder-failure'>, [section: string, closeCode: number]> = {
  'unmasked-client-frame': ['RFC 6455 §5.1', 1002],
  'masked-server-frame': ['RFC 6455 §5.1', 1002],
  'rsv-without-extension': ['RFC 6455 §5.2', 1002],
  'rsv1-on-control-frame': ['RFC 7692 §6.1', 1002],
  'rsv1-on-continuation': ['RFC 7692 §6.1', 1002],
  'reserved-opcode': ['RFC 6455 §5.2', 1002],
  'control-frame-too-long': ['RFC 6455 §5.5', 1002],
  'fragmented-control-frame': ['RFC 6455 §5.5', 1002],
  'unexpected-continuation': ['RFC 6455 §5.4', 1002],
  'data-frame-mid-message': ['RFC 6455 §5.4', 1002],
  'non-minimal-length': ['RFC 6455 §5.2', 1002],
  'length-top-bit-set': ['RFC 6455 §5.2', 1002],
  'invalid-utf8': ['RFC 6455 §8.1', 1007],
  'invalid-close-code': ['RFC 6455 §7.4', 1002],
  'close-body-one-byte': ['RFC 6455 §5.5.1', 1002],
  'invalid-close-reason-utf8': ['RFC 6455 §5.5.1', 1007],
  'invalid-compressed-data': ['RFC 7692 §7.2.2', 1007],
  'frame-after-close': ['RFC 6455 §5.5.1', 1002],
  'data-before-handshake': ['RFC 6455 §4.1', 1002],
  'handshake-too-large': ['RFC 6455 §4.2.1', 1009],
};

const KEY = hex('37fa213d');

/** One frame: unmasked unless `mask`; the length in the shortest encoding unless `len` says. */
function frame(opcode: number, payload: Buffer | string = '', o: { fin?: boolean; rsv?: number; mask?: boolean; len?: 16 | 64 } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const n = data.length;
  const enc = o.len ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const b0 = (o.fin === false ? 0 : 0x80) | (o.rsv ?? 0) | opcode;
  const m = o.mask ? 0x80 : 0;
  let head: Buffer;
  if (enc === 7) head = Buffer.from([b0, m | n]);
  else if (enc === 16) {
    head = Buffer.from([b0, m | 126, 0, 0]);
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = m | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  if (!o.mask) return Buffer.concat([head, data]);
  return Buffer.concat([head, KEY, Buffer.from(data.map((b, i) => b ^ KEY[i & 3]!))]);
}

const masked = (opcode: number, payload: Buffer | string = '', o: { fin?: boolean; rsv?: number } = {}) => frame(opcode, payload, { ...o, mask: true });

/** A valid frame appended after each violation: the decoder must still read it. */
const OK: Record<Direction, Buffer> = { server: frame(1, 'ok'), client: masked(1, 'ok') };

const violations = (events: WireEvent[], rule?: ViolationRule) => ofType(events, 'violation').filter((v) => rule === undefined || v.rule === rule);

/** Exactly one violation of `rule`, with its RFC section, close code, direction, frame and offset. */
function expectOne(events: WireEvent[], rule: Exclude<ViolationRule, 'decoder-failure'>, where: { dir: Direction; frame?: number; offset: number }): ViolationEvent {
  const found = violations(events, rule);
  expect(found, `violations ${JSON.stringify(violations(events).map((v) => v.rule))}`).toHaveLength(1);
  const v = found[0]!;
  const [section, closeCode] = EXPECTED[rule];
  expect(v).toMatchObject({ type: 'violation', rule, section, closeCode, dir: where.dir, offset: where.offset });
  expect(v.frame).toBe(where.frame);
  expect(v.message.length).toBeGreaterThan(10);
  return v;
}

/** The last event is the message "ok" from frame `seq`: decoding went on after the violation. */
function expectContinues(events: WireEvent[], seq: number): void {
  const last = ofType(events, 'message').at(-1);
  expect(last).toMatchObject({ opcode: 1, text: 'ok', firstFrame: seq, lastFrame: seq });
  expect(last!.utf8Valid).toBeUndefined();
}

/** Decode, both in one chunk and byte by byte, and insist the two agree. */
function decode(dir: Direction, bytes: Buffer, opts: DecodeOptions = {}): WireEvent[] {
  const whole = decodeFrames(dir, bytes, opts);
  const stripTimes = (events: WireEvent[]) => events.map((e) => ({ ...e, t: 0, tEnd: 0 }));
  expect(stripTimes(decodeFrames(dir, bytes, { ...opts, chunks: [1] }))).toEqual(stripTimes(whole));
  return whole;
}

const DEFLATE = { deflate: { windowBits: 15, noContextTakeover: false } };

describe('the rule table', () => {
  it('names an RFC section and close code for every rule the decoders check', () => {
    const checked = Object.keys(RULES).filter((r) => r !== 'decoder-failure').sort();
    expect(checked).toEqual(Object.keys(EXPECTED).sort());
    for (const [rule, [section, closeCode]] of Object.entries(EXPECTED)) {
      expect(RULES[rule as ViolationRule], rule).toMatchObject({ section, closeCode });
    }
  });
});

describe('masking (RFC 6455 §5.1)', () => {
  it('rejects an unmasked client frame with 1002, pointing at the MASK bit', () => {
    const ev = decode('client', Buffer.concat([hex('81 02 68 69'), OK.client]));
    expectOne(ev, 'unmasked-client-frame', { dir: 'client', frame: 0, offset: 1 });
    expect(ofType(ev, 'message')[0]).toMatchObject({ text: 'hi', firstFrame: 0 });
    expectContinues(ev, 1);
    expect(violations(ev)).toHaveLength(1);
  });

  it('rejects a masked server frame with 1002, pointing at the MASK bit', () => {
    // "hi" masked with 37fa213d: 68^37 69^fa.
    const ev = decode('server', Buffer.concat([hex('81 82 37 fa 21 3d 5f 93'), OK.server]));
    expectOne(ev, 'masked-server-frame', { dir: 'server', frame: 0, offset: 1 });
    expect(ofType(ev, 'message')[0]).toMatchObject({ text: 'hi' });
    expectContinues(ev, 1);
  });
});

describe('reserved bits (RFC 6455 §5.2, RFC 7692 §6.1)', () => {
  for (const [bit, b0] of [['RSV1', 0xc1], ['RSV2', 0xa1], ['RSV3', 0x91]] as const) {
    it(`rejects ${bit} set without a negotiated extension with 1002`, () => {
      const ev = decode('server', Buffer.concat([Buffer.from([b0, 0x02, 0x68, 0x69]), OK.server]));
      const v = expectOne(ev, 'rsv-without-extension', { dir: 'server', frame: 0, offset: 0 });
      expect(v.message).toContain(bit);
      expectContinues(ev, 1);
    });
  }

  it('rejects RSV2 and RSV3 even when permessage-deflate is negotiated (it defines RSV1 only)', () => {
    const ev = decode('server', Buffer.concat([hex('b1 02 68 69'), OK.server]), DEFLATE);
    const v = expectOne(ev, 'rsv-without-extension', { dir: 'server', frame: 0, offset: 0 });
    expect(v.message).toContain('RSV2 and RSV3');
    expectContinues(ev, 1);
  });

  it('accepts RSV1 on the first frame of a message once permessage-deflate is negotiated', () => {
    const compressed = deflateRawSync('hi', { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const ev = decode('server', frame(1, compressed, { rsv: 0x40 }), DEFLATE);
    expect(violations(ev)).toEqual([]);
    expect(ofType(ev, 'message')[0]).toMatchObject({ text: 'hi', compressed: true });
  });

  it('rejects RSV1 on a ping with permessage-deflate negotiated with 1002 (RFC 7692 §6.1)', () => {
    const ev = decode('server', Buffer.concat([hex('c9 00'), OK.server]), DEFLATE);
    expectOne(ev, 'rsv1-on-control-frame', { dir: 'server', frame: 0, offset: 0 });
    expect(ofType(ev, 'ping')).toHaveLength(1);
    expectContinues(ev, 1);
  });

  it('calls RSV1 on a ping without any extension the RSV-without-extension rule instead', () => {
    const ev = decode('server', Buffer.concat([hex('c9 00'), OK.server]));
    expectOne(ev, 'rsv-without-extension', { dir: 'server', frame: 0, offset: 0 });
    expect(violations(ev, 'rsv1-on-control-frame')).toEqual([]);
  });

  it('rejects RSV1 on a continuation frame with permessage-deflate negotiated with 1002 (RFC 7692 §6.1)', () => {
    // "He" and "llo" as two stored (uncompressed) deflate blocks, then the header byte of the
    // sync-flush block whose last four bytes the sender strips (RFC 7692 §7.2.1).
    const first = frame(1, hex('00 02 00 fd ff 48 65'), { fin: false, rsv: 0x40 });
    const cont = frame(0, hex('00 03 00 fc ff 6c 6c 6f 00'), { rsv: 0x40 });
    const ev = decode('server', Buffer.concat([first, cont, OK.server]), DEFLATE);
    expectOne(ev, 'rsv1-on-continuation', { dir: 'server', frame: 1, offset: first.length });
    expect(ofType(ev, 'message')[0]).toMatchObject({ text: 'Hello', compressed: true, frames: 2 });
    expectContinues(ev, 2);
  });
});

describe('opcodes (RFC 6455 §5.2)', () => {
  for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`rejects reserved opcode 0x${opcode.toString(16)} with 1002 and reads the next frame`, () => {
      const ev = decode('server', Buffer.concat([Buffer.from([0x80 | opcode, 0x01, 0x7a]), OK.server]));
      const v = expectOne(ev, 'reserved-opcode', { dir: 'server', frame: 0, offset: 0 });
      expect(v.message).toContain(`0x${opcode.toString(16)}`);
      expect(ofType(ev, 'frame')[0]).toMatchObject({ opcode, length: 1 });
      expectContinues(ev, 1);
      expect(violations(ev)).toHaveLength(1);
    });
  }
});

describe('control frames (RFC 6455 §5.5)', () => {
  it('rejects a ping with 126 bytes of payload with 1002, pointing at the length', () => {
    const ev = decode('server', Buffer.concat([hex('89 7e 00 7e'), Buffer.alloc(126, 0x61), OK.server]));
    const v = expectOne(ev, 'control-frame-too-long', { dir: 'server', frame: 0, offset: 1 });
    expect(v.message).toContain('126');
    expect(violations(ev)).toHaveLength(1);
    expectContinues(ev, 1);
  });

  it('accepts a close frame with exactly 125 bytes of payload', () => {
    const ev = decode('server', frame(8, Buffer.concat([hex('03e8'), Buffer.alloc(123, 0x61)])));
    expect(violations(ev)).toEqual([]);
  });

  it('rejects a ping without FIN (a fragmented control frame) with 1002', () => {
    const ev = decode('client', Buffer.concat([masked(9, 'p', { fin: false }), OK.client]));
    expectOne(ev, 'fragmented-control-frame', { dir: 'client', frame: 0, offset: 0 });
    expectContinues(ev, 1);
  });

  it('reads a ping between the fragments of a message without complaint', () => {
    const ev = decode('server', Buffer.concat([frame(1, 'o', { fin: false }), frame(9), frame(0, 'k')]));
    expect(violations(ev)).toEqual([]);
    expect(ofType(ev, 'message')).toMatchObject([{ text: 'ok', frames: 2, firstFrame: 0, lastFrame: 2 }]);
  });
});

describe('fragmentation (RFC 6455 §5.4)', () => {
  it('rejects a continuation frame with no message to continue with 1002', () => {
    const ev = decode('server', Buffer.concat([hex('80 02 68 69'), OK.server]));
    expectOne(ev, 'unexpected-continuation', { dir: 'server', frame: 0, offset: 0 });
    expect(ofType(ev, 'message')).toHaveLength(1);
    expectContinues(ev, 1);
  });

  it('rejects a text frame that starts before the fragmented message before it ended with 1002', () => {
    const ev = decode('server', Buffer.concat([hex('01 01 61'), hex('81 01 62'), OK.server]));
    const v = expectOne(ev, 'data-frame-mid-message', { dir: 'server', frame: 1, offset: 3 });
    expect(v.message).toContain('frame 0');
    expect(ofType(ev, 'message')[0]).toMatchObject({ text: 'b', firstFrame: 1, lastFrame: 1 });
    expectContinues(ev, 2);
  });
});

describe('payload length encoding (RFC 6455 §5.2)', () => {
  it('rejects 5 bytes announced in the 16-bit length with 1002', () => {
    const ev = decode('server', Buffer.concat([hex('81 7e 00 05 68 65 6c 6c 6f'), OK.server]));
    const v = expectOne(ev, 'non-minimal-length', { dir: 'server', frame: 0, offset: 1 });
    expect(v.message).toContain('7-bit');
    expect(ofType(ev, 'message')[0]).toMatchObject({ text: 'hello' });
    expectContinues(ev, 1);
  });

  it('rejects 125 bytes (the largest 7-bit length) announced in the 16-bit length', () => {
    const ev = decode('client', Buffer.concat([frame(2, Buffer.alloc(125), { mask: true, len: 16 }), OK.client]));
    expectOne(ev, 'non-minimal-length', { dir: 'client', frame: 0, offset: 1 });
    expectContinues(ev, 1);
  });

  it('rejects 256 bytes announced in the 64-bit length with 1002', () => {
    const ev = decode('server', Buffer.concat([hex('82 7f 00 00 00 00 00 00 01 00'), Buffer.alloc(256, 1), OK.server]));
    const v = expectOne(ev, 'non-minimal-length', { dir: 'server', frame: 0, offset: 1 });
    expect(v.message).toContain('16-bit');
    expect(ofType(ev, 'message')[0]).toMatchObject({ opcode: 2, length: 256 });
    expectContinues(ev, 1);
  });

  it('rejects 65535 bytes (the largest 16-bit length) announced in the 64-bit length', () => {
    const ev = decode('server', Buffer.concat([frame(2, Buffer.alloc(65535), { len: 64 }), OK.server]), {});
    expectOne(ev, 'non-minimal-length', { dir: 'server', frame: 0, offset: 1 });
    expectContinues(ev, 1);
  });

  it('rejects an empty frame announced in the 64-bit length', () => {
    const ev = decode('server', Buffer.concat([hex('82 7f 00 00 00 00 00 00 00 00'), OK.server]));
    expectOne(ev, 'non-minimal-length', { dir: 'server', frame: 0, offset: 1 });
    expectContinues(ev, 1);
  });

  it('rejects a 64-bit length with the top bit set with 1002 and takes what follows as its payload', () => {
    const ev = decode('server', Buffer.concat([hex('82 7f 80 00 00 00 00 00 00 01'), OK.server]));
    expectOne(ev, 'length-top-bit-set', { dir: 'server', frame: 0, offset: 2 });
    expect(violations(ev, 'non-minimal-length')).toEqual([]);
    // 2^63 + 1 bytes announced: the "ok" frame is payload of this one, which never completes.
    const frames = ofType(ev, 'frame');
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ lengthExact: '9223372036854775809', lengthEncoding: 64, complete: false });
    expect(Buffer.from(frames[0]!.payload, 'base64')).toEqual(OK.server);
    expect(ofType(ev, 'message')).toEqual([]);
  });
});

describe('UTF-8 in text messages (RFC 6455 §8.1)', () => {
  it('rejects invalid UTF-8 in a single text frame with 1007, pointing at the bad byte', () => {
    // "Hel" ff "o": 0xff never appears in UTF-8.
    const ev = decode('server', Buffer.concat([hex('81 05 48 65 6c ff 6f'), OK.server]));
    expectOne(ev, 'invalid-utf8', { dir: 'server', frame: 0, offset: 5 });
    expect(ofType(ev, 'message')[0]).toMatchObject({ utf8Valid: false, firstFrame: 0 });
    expectContinues(ev, 1);
  });

  it('rejects a sequence broken across two fragments, at the byte that breaks it', () => {
    // "a" e2 82 | 28: the euro sign's third byte replaced by "(".
    const ev = decode('client', Buffer.concat([masked(1, hex('61 e2 82'), { fin: false }), masked(0, hex('28')), OK.client]));
    const second = masked(1, hex('61 e2 82')).length;
    expectOne(ev, 'invalid-utf8', { dir: 'client', frame: 1, offset: second + 6 });
    expect(ofType(ev, 'message')[0]).toMatchObject({ utf8Valid: false, frames: 2 });
    expectContinues(ev, 2);
  });

  it('rejects a text message that ends in the middle of a code point with 1007', () => {
    const ev = decode('server', Buffer.concat([hex('01 01 61'), hex('80 02 e2 82'), OK.server]));
    const v = expectOne(ev, 'invalid-utf8', { dir: 'server', frame: 1, offset: 3 });
    expect(v.message).toContain('middle');
    expect(ofType(ev, 'message')[0]).toMatchObject({ utf8Valid: false });
    expectContinues(ev, 2);
  });

  const invalid: Array<[string, string]> = [
    ['an overlong 2-byte encoding of "/"', 'c0 af'],
    ['an overlong 3-byte encoding of "/"', 'e0 80 af'],
    ['an overlong 4-byte encoding of "/"', 'f0 80 80 af'],
    ['a UTF-16 high surrogate (U+D800)', 'ed a0 80'],
    ['a UTF-16 low surrogate (U+DFFF)', 'ed bf bf'],
    ['a code point above U+10FFFF', 'f4 90 80 80'],
    ['a 5-byte lead byte', 'f8 88 80 80 80'],
    ['a lone continuation byte', '80'],
  ];
  for (const [what, bytes] of invalid) {
    it(`rejects ${what} with 1007, pointing at its first byte`, () => {
      // "a" + the sequence + "b", in one frame.
      const body = Buffer.concat([Buffer.from('a'), hex(bytes), Buffer.from('b')]);
      const ev = decode('server', Buffer.concat([frame(1, body), OK.server]));
      expectOne(ev, 'invalid-utf8', { dir: 'server', frame: 0, offset: 3 });
      expectContinues(ev, 1);
    });
  }

  it('accepts code points split across fragments at every byte position, and across TCP chunks', () => {
    const text = 'é€𝄞 ok ✓ ☃ 😀';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const stream = Buffer.concat([frame(1, bytes.subarray(0, cut), { fin: false, mask: true }), masked(0, bytes.subarray(cut))]);
      for (const chunks of [[stream.length], [1], [2], [3], [5, 7]]) {
        const ev = decodeFrames('client', stream, { chunks });
        expect(violations(ev), `cut at ${cut}, chunks ${chunks}`).toEqual([]);
        expect(ofType(ev, 'message')[0]).toMatchObject({ text, length: bytes.length });
        expect(ofType(ev, 'message')[0]!.utf8Valid).toBeUndefined();
      }
    }
  });

  it('accepts a code point split over three fragments', () => {
    const g = Buffer.from('𝄞'); // f0 9d 84 9e
    const ev = decode('server', Buffer.concat([frame(1, g.subarray(0, 1), { fin: false }), frame(0, g.subarray(1, 3), { fin: false }), frame(0, g.subarray(3))]));
    expect(violations(ev)).toEqual([]);
    expect(ofType(ev, 'message')[0]!.text).toBe('𝄞');
  });

  it('does not check binary messages as UTF-8', () => {
    expect(violations(decode('server', frame(2, hex('ff fe c0 af'))))).toEqual([]);
  });
});

describe('close frames (RFC 6455 §5.5.1, §7.4)', () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    it(`rejects close code ${code} with 1002, pointing at the code`, () => {
      const body = Buffer.alloc(2);
      body.writeUInt16BE(code);
      const ev = decode('server', Buffer.concat([frame(8, body), OK.server]));
      const v = expectOne(ev, 'invalid-close-code', { dir: 'server', frame: 0, offset: 2 });
      expect(v.message).toContain(String(code));
      expect(ofType(ev, 'close')).toMatchObject([{ code, reason: '', frame: 0 }]);
    });
  }

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    it(`accepts close code ${code}`, () => {
      const body = Buffer.alloc(2);
      body.writeUInt16BE(code);
      const ev = decode('client', frame(8, Buffer.concat([body, Buffer.from('bye')]), { mask: true }));
      expect(violations(ev)).toEqual([]);
      expect(ofType(ev, 'close')).toMatchObject([{ code, reason: 'bye' }]);
    });
  }

  it('accepts an empty close body and reports it as 1005 (no status)', () => {
    const ev = decode('server', hex('88 00'));
    expect(violations(ev)).toEqual([]);
    expect(ofType(ev, 'close')[0]).toMatchObject({ code: 1005, reason: '' });
  });

  it('rejects a 1-byte close body with 1002', () => {
    const ev = decode('server', Buffer.concat([hex('88 01 03'), OK.server]));
    expectOne(ev, 'close-body-one-byte', { dir: 'server', frame: 0, offset: 2 });
    expect(ofType(ev, 'close')[0]).toMatchObject({ code: 1005 });
  });

  it('rejects a close reason that is not UTF-8 with 1007, pointing at the reason', () => {
    const ev = decode('client', Buffer.concat([masked(8, hex('03 e8 62 ff')), OK.client]));
    expectOne(ev, 'invalid-close-reason-utf8', { dir: 'client', frame: 0, offset: 8 });
    expect(ofType(ev, 'close')[0]).toMatchObject({ code: 1000 });
  });

  it('rejects a close reason cut in the middle of a code point', () => {
    const ev = decode('server', hex('88 04 03 e8 e2 82'));
    expectOne(ev, 'invalid-close-reason-utf8', { dir: 'server', frame: 0, offset: 4 });
  });

  it('flags a frame sent after the close frame with 1002, and still decodes it', () => {
    const ev = decode('server', Buffer.concat([hex('88 02 03 e8'), OK.server]));
    const v = expectOne(ev, 'frame-after-close', { dir: 'server', frame: 1, offset: 4 });
    expect(v.message).toContain('Frame 1');
    expectContinues(ev, 1);
  });

  it('also decodes the frame after a close that broke a rule', () => {
    const ev = decode('server', Buffer.concat([hex('88 02 03 ed'), OK.server]));
    expectOne(ev, 'invalid-close-code', { dir: 'server', frame: 0, offset: 2 });
    expectOne(ev, 'frame-after-close', { dir: 'server', frame: 1, offset: 4 });
    expectContinues(ev, 1);
  });
});

describe('permessage-deflate data (RFC 7692 §7.2.2)', () => {
  it('rejects a compressed message that does not inflate with 1007', () => {
    // 0x07: a final deflate block of the reserved type 3.
    const bad = frame(2, hex('07'), { rsv: 0x40 });
    const ev = decode('server', Buffer.concat([bad, OK.server]), DEFLATE);
    const v = expectOne(ev, 'invalid-compressed-data', { dir: 'server', frame: 0, offset: 0 });
    expect(v.message).toContain('invalid block type');
    expect(ofType(ev, 'message')[0]).toMatchObject({ compressed: true, wireLength: 1 });
    expect(ofType(ev, 'message')[0]!.inflateError).toMatch(/^corrupt compressed data/);
    expectContinues(ev, 1);
  });
});

/** Feed a whole connection: each step is one chunk from one side, at time = step index + 1. */
function connection(steps: Array<[Direction, Buffer]>, byteByByte = false, limits = DEFAULT_LIMITS): WireEvent[] {
  const d = new ConnectionDecoder(1, limits);
  const out: WireEvent[] = [];
  steps.forEach(([dir, bytes], i) => {
    if (!byteByByte) out.push(...d.receive(dir, bytes, i + 1));
    else for (let j = 0; j < bytes.length; j++) out.push(...d.receive(dir, bytes.subarray(j, j + 1), i + 1));
  });
  out.push(...d.end(steps.length + 1, 'client'));
  return out;
}

function connectionBothWays(steps: Array<[Direction, Buffer]>, limits = DEFAULT_LIMITS): WireEvent[] {
  const whole = connection(steps, false, limits);
  expect(connection(steps, true, limits)).toEqual(whole);
  return whole;
}

const REQUEST = Buffer.from(
  'GET / HTTP/1.1\r\nHost: 127.0.0.1:9900\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
);
const RESPONSE = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
);

describe('the opening handshake (RFC 6455 §4)', () => {
  it('flags a client frame sent before the server answered the upgrade with 1002, and decodes it', () => {
    const ev = connectionBothWays([
      ['client', Buffer.concat([REQUEST, masked(1, 'early')])],
      ['server', RESPONSE],
      ['client', OK.client],
    ]);
    expectOne(ev, 'data-before-handshake', { dir: 'client', frame: 0, offset: REQUEST.length });
    expect(ofType(ev, 'message').map((m) => m.text)).toEqual(['early', 'ok']);
  });

  it('does not flag a client frame sent after the 101', () => {
    const ev = connectionBothWays([
      ['client', REQUEST],
      ['server', RESPONSE],
      ['client', OK.client],
    ]);
    expect(violations(ev)).toEqual([]);
  });

  it('flags a request head larger than the bound with 1009 and still reads the server', () => {
    const limits = { ...DEFAULT_LIMITS, maxHandshakeBytes: 100 };
    const answer = Buffer.from('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    const ev = connectionBothWays([['client', REQUEST], ['server', answer]], limits);
    const v = expectOne(ev, 'handshake-too-large', { dir: 'client', frame: undefined, offset: 0 });
    expect(v.message).toContain('100 bytes');
    expect(ofType(ev, 'handshake')[0]).toMatchObject({ response: { status: 431 } });
    expect(ofType(ev, 'end')[0]).toMatchObject({ bytes: { client: REQUEST.length, server: answer.length } });
  });

  it('flags a response head larger than the bound, pointing at where it starts', () => {
    const limits = { ...DEFAULT_LIMITS, maxHandshakeBytes: 200 };
    const big = Buffer.from(RESPONSE.toString().replace('\r\n\r\n', `\r\nX-Padding: ${'x'.repeat(200)}\r\n\r\n`));
    expect(REQUEST.length).toBeLessThan(200);
    const ev = connectionBothWays([['client', REQUEST], ['server', big], ['server', frame(1, 'ok')]], limits);
    expectOne(ev, 'handshake-too-large', { dir: 'server', frame: undefined, offset: 0 });
    // Past the bound the server's bytes are relayed but not read: no frames are made up from them.
    expect(ofType(ev, 'frame')).toEqual([]);
    expect(ofType(ev, 'end')[0]!.bytes.server).toBe(big.length + 4);
  });
});
