/**
 * The frame crafter builds exactly the bytes described (RFC 6455 §5.7 examples byte for byte),
 * lies about lengths when asked, and each preset breaks the rule it is named after, as the
 * wiretap's own decoders judge it. Also the fault definitions the CLI parses, and the frame
 * splitter the faults use to remove pongs and insert frames between frames.
 */
import { describe, expect, it } from 'vitest';
import type { ViolationRule } from '../../server/capture/events.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { RULES } from '../../server/protocol/violations.ts';
import {
  buildFrame,
  CraftError,
  EXAMPLE_KEY,
  NO_PRESET,
  parseHex,
  PRESET_LIST,
  PRESETS,
  presetBytes,
  toHex,
  type FrameDescription,
} from '../../server/tap/crafter.ts';
import { describeFault, FaultError, FaultTable, FrameTracker, parseFaultArg, type Segment } from '../../server/tap/faults.ts';
import { decodeFrames, hex, ofType } from '../helpers/decode.ts';
import { handshakeHeads } from '../helpers/encode.ts';

const base: FrameDescription = { fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 1, mask: false, payload: { kind: 'text', text: '' } };
const bytesOf = (d: Partial<FrameDescription>) => Buffer.from(buildFrame({ ...base, ...d }).bytes);

describe('building frames', () => {
  // RFC 6455 §5.7, each example as printed there.
  it('builds a single-frame unmasked text message', () => {
    expect(toHex(bytesOf({ payload: { kind: 'text', text: 'Hello' } }), '')).toBe('810548656c6c6f');
  });

  it('builds a single-frame masked text message with the given key', () => {
    expect(toHex(bytesOf({ mask: true, maskKey: '37 fa 21 3d', payload: { kind: 'text', text: 'Hello' } }), '')).toBe('818537fa213d7f9f4d5158');
  });

  it('builds a fragmented unmasked text message', () => {
    expect(toHex(bytesOf({ fin: false, payload: { kind: 'text', text: 'Hel' } }), '')).toBe('010348656c');
    expect(toHex(bytesOf({ opcode: 0, payload: { kind: 'text', text: 'lo' } }), '')).toBe('80026c6f');
  });

  it('builds an unmasked ping and a masked pong', () => {
    expect(toHex(bytesOf({ opcode: 9, payload: { kind: 'text', text: 'Hello' } }), '')).toBe('890548656c6c6f');
    expect(toHex(bytesOf({ opcode: 10, mask: true, maskKey: EXAMPLE_KEY, payload: { kind: 'text', text: 'Hello' } }), '')).toBe('8a8537fa213d7f9f4d5158');
  });

  it('uses the 16-bit length for 256 bytes and the 64-bit length for 64 KiB', () => {
    const b256 = bytesOf({ opcode: 2, payload: { kind: 'hex', hex: '00'.repeat(256) } });
    expect(toHex(b256.subarray(0, 4), '')).toBe('827e0100');
    expect(b256.length).toBe(4 + 256);
    const b64k = bytesOf({ opcode: 2, payload: { kind: 'hex', hex: '00'.repeat(65536) } });
    expect(toHex(b64k.subarray(0, 10), '')).toBe('827f0000000000010000');
  });

  it('writes a close body as the code in network order and the reason in UTF-8', () => {
    expect(toHex(bytesOf({ opcode: 8, payload: { kind: 'close', code: 1001, reason: 'é' } }), '')).toBe('880403e9c3a9');
    expect(toHex(bytesOf({ opcode: 8, payload: { kind: 'close', code: null, reason: '' } }), '')).toBe('8800');
  });

  it('sets each RSV bit and any opcode, reserved ones included', () => {
    expect(bytesOf({ rsv1: true, rsv2: true, rsv3: true, opcode: 0xb })[0]).toBe(0x80 | 0x70 | 0xb);
    expect(bytesOf({ fin: false, opcode: 3 })[0]).toBe(0x03);
  });

  it('picks a fresh random masking key when none is given', () => {
    const a = buildFrame({ ...base, mask: true, payload: { kind: 'text', text: 'x' } });
    const b = buildFrame({ ...base, mask: true, payload: { kind: 'text', text: 'x' } }, () => new Uint8Array([1, 2, 3, 4]));
    expect(a.maskKey).toHaveLength(4);
    expect(toHex(b.bytes, '')).toBe('8181010203047' + '9');
  });

  it('announces a length it does not send, and says what the receiver will do', () => {
    const longer = buildFrame({ ...base, payload: { kind: 'text', text: 'abc' }, announcedLength: 10 });
    expect(toHex(longer.bytes, '')).toBe('810a616263');
    expect(longer.notes[0]).toMatch(/Announces 10 bytes but sends 3: the receiver waits for 7 more/);
    const events = decodeFrames('server', Buffer.from(longer.bytes));
    expect(ofType(events, 'frame')[0]).toMatchObject({ length: 10, complete: false });

    const shorter = buildFrame({ ...base, payload: { kind: 'text', text: 'abc' }, announcedLength: '1' });
    expect(toHex(shorter.bytes, '')).toBe('8101616263');
    expect(shorter.notes[0]).toMatch(/the last 2 bytes are read as the start of another frame/);
  });

  it('forces the 16- and 64-bit length fields, which the decoder reports as non-minimal', () => {
    const f16 = buildFrame({ ...base, payload: { kind: 'text', text: 'Hi' }, lengthEncoding: 16 });
    expect(toHex(f16.bytes, '')).toBe('817e00024869');
    const f64 = buildFrame({ ...base, payload: { kind: 'text', text: 'Hi' }, lengthEncoding: 64 });
    expect(toHex(f64.bytes, '')).toBe('817f00000000000000024869');
    for (const f of [f16, f64]) {
      expect(ofType(decodeFrames('server', Buffer.from(f.bytes)), 'violation').map((v) => v.rule)).toEqual(['non-minimal-length']);
    }
  });

  it('announces lengths up to 2^64-1 without sending them', () => {
    const f = buildFrame({ ...base, opcode: 2, payload: { kind: 'hex', hex: '' }, announcedLength: '18446744073709551615' });
    expect(toHex(f.bytes, '')).toBe('827fffffffffffffffff');
    expect(f.notes.some((n) => /most significant bit/.test(n))).toBe(true);
  });

  it('refuses what no frame can carry, with the reason', () => {
    expect(() => buildFrame({ ...base, payload: { kind: 'text', text: 'x' }, announcedLength: 200, lengthEncoding: 7 })).toThrow(/7-bit length field holds 0-125/);
    expect(() => buildFrame({ ...base, announcedLength: 70000, lengthEncoding: 16 })).toThrow(/16-bit length field holds at most 65535/);
    expect(() => buildFrame({ ...base, announcedLength: '18446744073709551616' })).toThrow(/at most 2\^64-1/);
    expect(() => buildFrame({ ...base, announcedLength: '-1' })).toThrow(CraftError);
    expect(() => buildFrame({ ...base, opcode: 16 })).toThrow(/4 bits/);
    expect(() => buildFrame({ ...base, mask: true, maskKey: '37fa21' })).toThrow(/4 bytes \(8 hex digits\), not 3/);
    expect(() => buildFrame({ ...base, payload: { kind: 'hex', hex: '4' } })).toThrow(/Odd number of hex digits/);
    expect(() => buildFrame({ ...base, payload: { kind: 'hex', hex: 'zz' } })).toThrow(/"z" is not a hex digit/);
    expect(() => buildFrame({ ...base, opcode: 8, payload: { kind: 'close', code: 70000, reason: '' } })).toThrow(/0-65535/);
  });

  it('reads hex written with spaces, 0x prefixes, commas or colons', () => {
    for (const s of ['48 65 6c', '0x48,0x65,0x6c', '48:65:6c', '48656C']) expect(Buffer.from(parseHex(s)).toString()).toBe('Hel');
  });
});

/** Events of the preset's bytes on an upgraded connection (with permessage-deflate when it needs it). */
function judge(rule: keyof typeof PRESETS) {
  const p = PRESETS[rule];
  const bytes = Buffer.from(presetBytes(p));
  const deflate = p.needs === 'deflate' ? { serverMaxWindowBits: 15, clientMaxWindowBits: 15, serverNoContextTakeover: false, clientNoContextTakeover: false } : null;
  const { request, response } = handshakeHeads(deflate);
  const d = new ConnectionDecoder(1);
  const events = [...d.receive('client', request, 0)];
  if (p.needs === 'held-handshake') {
    // The frame leaves before the server's 101 arrives (the fault "delay the handshake").
    events.push(...d.receive('client', bytes, 1), ...d.receive('server', response, 2));
  } else {
    events.push(...d.receive('server', response, 1), ...d.receive(p.dir, bytes, 2));
  }
  events.push(...d.end(3, 'client'));
  return events;
}

describe('presets', () => {
  it('has one preset per rule the decoders check, except those no frame can break', () => {
    const covered = new Set<string>([...PRESET_LIST.map((p) => p.rule), ...Object.keys(NO_PRESET)]);
    expect([...covered].sort()).toEqual(Object.keys(RULES).sort());
    expect(PRESET_LIST).toHaveLength(Object.keys(PRESETS).length);
  });

  it.each(PRESET_LIST.map((p) => [p.rule, p] as const))('%s: the wiretap reports the rule it is named after', (rule) => {
    const violations = ofType(judge(rule as keyof typeof PRESETS), 'violation');
    expect(violations.map((v) => v.rule)).toContain(rule as ViolationRule);
    // And nothing the preset did not mean to break (frame-after-close's close frame is legal).
    expect(new Set(violations.map((v) => v.rule))).toEqual(new Set([rule]));
  });

  it('masks client presets with the RFC example key and leaves server presets unmasked, unless masking is the rule', () => {
    const breaksMasking = new Set(['unmasked-client-frame', 'masked-server-frame']);
    for (const p of PRESET_LIST) {
      const b = Buffer.from(presetBytes(p));
      const masked = (b[1]! & 0x80) !== 0;
      expect(masked, p.rule).toBe(breaksMasking.has(p.rule) ? p.dir === 'server' : p.dir === 'client');
      const len7 = b[1]! & 0x7f;
      const at = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
      if (masked) expect(b.subarray(at, at + 4).toString('hex')).toBe(EXAMPLE_KEY);
    }
    expect(toHex(presetBytes(PRESETS['unmasked-client-frame']), '')).toBe('810548656c6c6f');
  });

  it('are the same bytes every time', () => {
    for (const p of PRESET_LIST) expect(toHex(presetBytes(p))).toBe(toHex(presetBytes(p)));
  });
});

describe('fault definitions', () => {
  it('parses the command line form, with a direction', () => {
    expect(parseFaultArg('latency=200')).toEqual({ kind: 'latency', value: 200 });
    expect(parseFaultArg('split=1,dir=server')).toEqual({ kind: 'split', value: 1, dir: 'server' });
    expect(parseFaultArg('delay-handshake=2000')).toEqual({ kind: 'delay-handshake', value: 2000 });
    expect(parseFaultArg('drop-pongs,dir=client')).toEqual({ kind: 'drop-pongs', dir: 'client' });
    expect(parseFaultArg('blackhole')).toEqual({ kind: 'blackhole' });
  });

  it('refuses a fault it does not know, a bad value or a direction that makes no sense', () => {
    expect(() => parseFaultArg('lag=200')).toThrow(/Unknown fault "lag".*latency=MS/);
    expect(() => parseFaultArg('latency=fast')).toThrow(/whole number of milliseconds, e.g. latency=200/);
    expect(() => parseFaultArg('split=0')).toThrow(/from 1 to 65536/);
    expect(() => parseFaultArg('blackhole=5')).toThrow(/takes no value/);
    expect(() => parseFaultArg('blackhole,dir=client')).toThrow(/applies to both directions/);
    expect(() => parseFaultArg('latency=5,up')).toThrow(FaultError);
  });

  it('lets a connection\'s own fault win over the one for all, and a fault replace its twin', () => {
    const t = new FaultTable();
    t.add({ kind: 'latency', value: 100 });
    t.add({ kind: 'latency', value: 300, dir: 'server' }, 2);
    expect(t.effective(1)).toMatchObject({ client: { latency: 100 }, server: { latency: 100 } });
    expect(t.effective(2)).toMatchObject({ client: { latency: 100 }, server: { latency: 300 } });
    t.add({ kind: 'latency', value: 50 });
    expect(t.list().map(describeFault)).toEqual(['latency 300 ms (server → client)', 'latency 50 ms']);
    t.forget(2);
    expect(t.size).toBe(1);
    t.clear();
    expect(t.effective(1)).toBeNull();
  });
});

describe('the frame splitter the faults use', () => {
  const pong = hex('8a8537fa213d7f9f4d5158');
  const text = hex('818537fa213d7f9f4d5158');
  const seg = (s: Segment) => `${s.pong ? 'PONG' : 'pass'}:${s.bytes.toString('hex')}${s.boundary ? '|' : ''}`;

  it('cuts out exactly the bytes of each pong, across any chunking', () => {
    const stream = Buffer.concat([text, pong, text, pong]);
    for (const size of [1, 2, 3, 5, 7, 11, stream.length]) {
      const t = new FrameTracker();
      const out: Segment[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...t.push(stream.subarray(i, i + size), true, false));
      expect(out.filter((s) => s.pong).map((s) => s.bytes.toString('hex'))).toEqual([pong.toString('hex'), pong.toString('hex')]);
      expect(Buffer.concat(out.filter((s) => !s.pong).map((s) => s.bytes)).toString('hex')).toBe(Buffer.concat([text, text]).toString('hex'));
      expect(t.atBoundary).toBe(true);
    }
  });

  it('marks where frames end, so a frame can be inserted between two', () => {
    const t = new FrameTracker();
    expect(t.push(Buffer.concat([text, text.subarray(0, 4)]), false, true).map(seg)).toEqual([`pass:${text.toString('hex')}|`, 'pass:818537fa']);
    expect(t.atBoundary).toBe(false);
    expect(t.push(text.subarray(4), false, true).map(seg)).toEqual(['pass:213d7f9f4d5158|']);
  });

  it('passes a "pong" announcing more than 125 bytes, and continues from a decoder\'s position', () => {
    const t = new FrameTracker();
    const big = Buffer.concat([hex('8a7e00c8'), Buffer.alloc(200)]);
    expect(t.push(big, true, false).every((s) => !s.pong)).toBe(true);
    // Three bytes into a payload of five: the rest of it, then a pong.
    const mid = new FrameTracker({ header: Buffer.alloc(0), remaining: 2 });
    expect(mid.push(Buffer.concat([hex('5158'), pong]), true, false).map(seg)).toEqual(['pass:5158|', `PONG:${pong.toString('hex')}|`]);
  });
});
