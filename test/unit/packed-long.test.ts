/**
 * The capture store packs a frame and its one-frame message with payloads up to PACKED_PAYLOAD
 * bytes (server/capture/packed.ts); a payload past the first arena's 128 bytes is split across
 * two arenas. Read back, every event equals the one that went in, whatever its length, as the
 * ring wraps and slots once holding long payloads take short ones and back.
 */
import { describe, expect, it } from 'vitest';
import type { MessageEvent, WireEvent } from '../../server/capture/events.ts';
import { isLazy, materializeAll } from '../../server/capture/materialize.ts';
import { PACKED_PAYLOAD } from '../../server/capture/packed.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { DEFAULT_LIMITS } from '../../server/protocol/message-assembler.ts';
import { encodeFrame, handshakeHeads, Op } from '../helpers/encode.ts';

/** Text messages of these lengths (bytes), masked from the client and plain from the server, decoded lazily as the wiretap does. */
function traffic(lengths: number[]): WireEvent[] {
  const { request, response } = handshakeHeads(null);
  const decoder = new ConnectionDecoder(3, DEFAULT_LIMITS, true);
  const events = [...decoder.receive('client', request, 0), ...decoder.receive('server', response, 1)];
  lengths.forEach((n, i) => {
    // Each byte tells its place and its message (a shifted or stale byte shows).
    const text = Array.from({ length: n }, (_, k) => String.fromCharCode(0x21 + ((k * 7 + i) % 90))).join('');
    const fromClient = i % 2 === 0;
    const frame = encodeFrame({ opcode: fromClient ? Op.Text : Op.Binary, payload: Buffer.from(text), mask: fromClient ? Buffer.from('a1b2c3d4', 'hex') : null });
    events.push(...decoder.receive(fromClient ? 'client' : 'server', frame, 2 + i));
  });
  return events;
}

describe('packed slots of every payload length', () => {
  it(`give back each frame and message as it went in, up to ${PACKED_PAYLOAD} bytes and past it, as the ring wraps`, () => {
    const lengths = [0, 1, 32, 33, 127, 128, 129, 160, 161, 200, 255, 256, 257, 300, 5, 250, 129, 3];
    // Twice over, in orders that put long payloads where short ones were and the reverse.
    const all = [...lengths, ...[...lengths].reverse(), ...lengths];
    const lazy = traffic(all);
    const messages = lazy.filter((e): e is MessageEvent => e.type === 'message');
    expect(messages.length).toBe(all.length);
    expect(messages.every(isLazy)).toBe(true);
    const expected = materializeAll(traffic(all));
    for (const maxEvents of [7, 16, 1000]) {
      const store = new CaptureStore({ maxEvents, maxBytes: Infinity });
      const events = traffic(all);
      for (let i = 0; i < events.length; i += 3) store.add(events.slice(i, i + 3));
      expect(store.all()).toEqual(expected.slice(-maxEvents));
    }
    // What the user reads: the text of the longest packed message, byte for byte.
    const longest = expected.filter((e): e is MessageEvent => e.type === 'message' && e.length === PACKED_PAYLOAD)[0]!;
    const bytes = longest.text !== undefined ? Buffer.from(longest.text) : Buffer.from(longest.base64 ?? '', 'base64');
    expect(bytes.toString('latin1')).toBe(Array.from({ length: PACKED_PAYLOAD }, (_, k) => String.fromCharCode(0x21 + ((k * 7 + all.indexOf(PACKED_PAYLOAD)) % 90))).join(''));
  });
});
