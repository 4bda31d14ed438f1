/**
 * The ladder's own frame writer and reader (server/conformance/wire.ts): RFC 6455's examples
 * byte for byte, random frames cut at random TCP boundaries, and the reader's bound.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader } from '../../server/conformance/wire.ts';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s/g, ''), 'hex');

describe('FrameReader', () => {
  it('reads RFC 6455 §5.7\'s examples: an unmasked and a masked "Hello", fed one byte at a time', () => {
    const r = new FrameReader(1024);
    const bytes = hex('81 05 48 65 6c 6c 6f  81 85 37 fa 21 3d 7f 9f 4d 51 58');
    const frames = [...bytes].flatMap((b) => r.push(Buffer.from([b])));
    expect(frames.map((f) => [f.opcode, f.fin, f.masked, f.payload.toString()])).toEqual([
      [1, true, false, 'Hello'],
      [1, true, true, 'Hello'],
    ]);
  });

  it('reads back whatever the writer wrote (reserved bits, opcodes, 7/16/64-bit lengths), however TCP cuts it', () => {
    let seed = 7;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let round = 0; round < 100; round++) {
      const frames = Array.from({ length: 1 + (rnd() % 5) }, () => ({
        opcode: rnd() % 16,
        fin: rnd() % 2 === 0,
        rsv: rnd() % 8,
        payload: Buffer.alloc([0, 5, 125, 126, 300, 65535, 65536][rnd() % 7]!, rnd().toString(16)),
      }));
      const mask = rnd() % 2 === 0;
      const bytes = Buffer.concat(frames.map((f) => encodeFrame(f, mask)));
      const reader = new FrameReader(1 << 20);
      const got = [];
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + (rnd() % 5000);
        got.push(...reader.push(bytes.subarray(i, i + n)));
        i += n;
      }
      // Payloads compared with Buffer.equals: a deep equality over 64 KiB is slow and says no more.
      expect(got.map((g) => [g.opcode, g.fin, g.rsv, g.masked, g.payload.length])).toEqual(frames.map((f) => [f.opcode, f.fin, f.rsv, mask, f.payload.length]));
      expect(got.every((g, i) => g.payload.equals(frames[i]!.payload))).toBe(true);
    }
  });

  it('refuses a frame that announces more than its bound, before any payload arrives', () => {
    const r = new FrameReader(1000);
    expect(r.push(hex('82 7f 00 00 00 01 00 00 00 00'))).toEqual([]);
    expect(r.broken).toBe('a frame announcing 4294967296 bytes, more than the 1000 the runner accepts');
    expect(r.push(Buffer.alloc(10))).toEqual([]);
  });
});
