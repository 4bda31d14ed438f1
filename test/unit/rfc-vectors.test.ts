import { describe, expect, it } from 'vitest';
import { computeAccept } from '../../server/protocol/handshake.ts';
import { decodeFrames, hex, ofType } from '../helpers/decode.ts';

describe('RFC 6455 §1.3 handshake example', () => {
  it('turns the key dGhlIHNhbXBsZSBub25jZQ== into the accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', () => {
    expect(computeAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});

describe('RFC 6455 §5.7 examples, byte for byte', () => {
  it('decodes a single-frame unmasked text message "Hello" from the server', () => {
    const ev = decodeFrames('server', hex('81 05 48 65 6c 6c 6f'));
    const [frame] = ofType(ev, 'frame');
    expect(frame).toMatchObject({ fin: true, opcode: 1, masked: false, maskKey: null, length: 5, lengthEncoding: 7, headerLength: 2, header: '8105' });
    expect(Buffer.from(frame!.payload, 'base64').toString()).toBe('Hello');
    expect(ofType(ev, 'message')).toMatchObject([{ opcode: 1, text: 'Hello', length: 5, frames: 1 }]);
    expect(ofType(ev, 'violation')).toEqual([]);
  });

  it('unmasks a single-frame masked text message "Hello" from the client with key 37fa213d', () => {
    const ev = decodeFrames('client', hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    const [frame] = ofType(ev, 'frame');
    expect(frame).toMatchObject({ masked: true, maskKey: '37fa213d', length: 5, headerLength: 6 });
    expect(Buffer.from(frame!.payload, 'base64').toString()).toBe('Hello');
    expect(ofType(ev, 'message')[0]!.text).toBe('Hello');
    expect(ofType(ev, 'violation')).toEqual([]);
  });

  it('joins a fragmented unmasked text message "Hel" + "lo"', () => {
    const ev = decodeFrames('server', hex('01 03 48 65 6c 80 02 6c 6f'));
    expect(ofType(ev, 'frame').map((f) => [f.fin, f.opcode])).toEqual([[false, 1], [true, 0]]);
    expect(ofType(ev, 'message')).toMatchObject([{ text: 'Hello', frames: 2, firstFrame: 0, lastFrame: 1 }]);
  });

  it('reads an unmasked ping and a masked pong, both with body "Hello"', () => {
    const ping = decodeFrames('server', hex('89 05 48 65 6c 6c 6f'));
    expect(ofType(ping, 'ping')).toMatchObject([{ payload: Buffer.from('Hello').toString('base64') }]);
    const pong = decodeFrames('client', hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
    expect(ofType(pong, 'pong')).toMatchObject([{ payload: Buffer.from('Hello').toString('base64') }]);
  });

  it('reads a 256-byte binary message with a 16-bit length', () => {
    const body = Buffer.alloc(256, 7);
    const ev = decodeFrames('server', Buffer.concat([hex('82 7e 01 00'), body]));
    expect(ofType(ev, 'frame')[0]).toMatchObject({ length: 256, lengthEncoding: 16, headerLength: 4 });
    expect(ofType(ev, 'message')[0]).toMatchObject({ opcode: 2, length: 256, base64: body.toString('base64') });
  });

  it('reads a 64 KiB binary message with a 64-bit length', () => {
    const body = Buffer.alloc(65536, 9);
    const ev = decodeFrames('server', Buffer.concat([hex('82 7f 00 00 00 00 00 01 00 00'), body]), { chunks: [1000] });
    const [frame] = ofType(ev, 'frame');
    expect(frame).toMatchObject({ length: 65536, lengthEncoding: 64, headerLength: 10 });
    expect(frame!.complete).toBeUndefined();
    expect(ofType(ev, 'message')[0]!.length).toBe(65536);
    expect(ofType(ev, 'violation')).toEqual([]);
  });
});

describe('length encodings at the edges', () => {
  const frameOf = (n: number) => {
    const head = n < 126 ? Buffer.from([0x82, n]) : n < 65536 ? Buffer.from([0x82, 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x82, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
    return Buffer.concat([head, Buffer.alloc(n, 1)]);
  };
  for (const [n, enc, hl] of [[125, 7, 2], [126, 16, 4], [65535, 16, 4], [65536, 64, 10]] as const) {
    it(`encodes ${n} bytes with the ${enc}-bit length and a ${hl}-byte header`, () => {
      const ev = decodeFrames('server', frameOf(n), { chunks: [3, 5000] });
      expect(ofType(ev, 'frame')[0]).toMatchObject({ length: n, lengthEncoding: enc, headerLength: hl });
      expect(ofType(ev, 'message')[0]!.length).toBe(n);
      expect(ofType(ev, 'violation')).toEqual([]);
    });
  }
});
