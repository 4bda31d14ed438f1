import { describe, expect, it } from 'vitest';
import { describeEvent, describeFrame, quoteText } from '../../server/capture/describe.ts';
import { decodeFrames, hex, ofType } from '../helpers/decode.ts';

describe('one-line summaries', () => {
  it('reads like the course: client → TEXT with its length and masking key', () => {
    const [frame] = ofType(decodeFrames('client', hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')), 'frame');
    expect(describeFrame(frame!)).toBe("client → TEXT 'Hello' [5 bytes, masked 37fa213d]");
  });

  it('elides the middle of a long payload', () => {
    const text = 'a'.repeat(50) + 'MIDDLE' + 'z'.repeat(50);
    const q = quoteText(text);
    expect(q).not.toContain('MIDDLE');
    expect(q).toContain('…');
    expect(q.length).toBeLessThan(80);
  });

  it('shows binary that is not text as hex, and a close frame with its code and reason', () => {
    const ev = decodeFrames('server', Buffer.concat([hex('82 03 00 ff 10'), hex('88 05 03 e8 62 79 65')]));
    const lines = ofType(ev, 'frame').map(describeFrame);
    expect(lines[0]).toBe('server → BINARY 00 ff 10 [3 bytes]');
    expect(lines[1]).toBe("server → CLOSE 1000 'bye' [5 bytes]");
    expect(describeEvent(ofType(ev, 'close')[0]!)).toBe("#1 server → close 1000 normal closure 'bye'");
  });

  it('escapes control characters instead of printing them', () => {
    expect(quoteText("a\nb\x01'")).toBe("'a\\nb\\x01\\''");
  });

  it('marks fragments, compression and cut-off frames', () => {
    const [first] = ofType(decodeFrames('server', hex('01 03 48 65 6c')), 'frame');
    expect(describeFrame(first!)).toContain('fin=0, more fragments follow');
    const [cut] = ofType(decodeFrames('server', hex('81 05 48 65')), 'frame');
    expect(describeFrame(cut!)).toContain('incomplete: the connection ended inside it');
  });
});

describe('application layer in the one-line descriptions', () => {
  it('a decoded message says its unit after its bytes, and an appViolation says its protocol, rule and sentence', () => {
    const m = {
      type: 'message', conn: 3, t: 1, dir: 'client', opcode: 1, length: 16, text: '42["chat","hi"]', compressed: false, frames: 1, firstFrame: 0, lastFrame: 0,
      app: { protocol: 'socket.io', type: 'EVENT', summary: 'EVENT "chat" ["hi"]' },
    } as const;
    expect(describeEvent(m as never)).toMatch(/ = socket\.io EVENT "chat" \["hi"\]$/);
    const v = { type: 'appViolation', conn: 3, t: 2, dir: 'server', protocol: 'json-rpc', rule: 'json-rpc-version', section: 'JSON-RPC 2.0, 4 Request object', message: '"jsonrpc" is "2".' } as const;
    expect(describeEvent(v)).toBe('#3 server → JSON-RPC VIOLATION json-rpc-version (JSON-RPC 2.0, 4 Request object): "jsonrpc" is "2".');
  });
});
