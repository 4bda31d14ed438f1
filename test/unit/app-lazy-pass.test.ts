/**
 * The relay's pass of the STOMP and GraphQL decoders reads less than the whole message (STOMP:
 * only the headers it acts on; GraphQL: a scan for `type` and `id` instead of JSON.parse), and
 * `app` is made later from the message. What a user sees must not depend on it: on the same
 * messages, a decoder that reads everything at once (`lazy: false`) reports the same broken rules
 * and, once made, the same `app` (replyTo included). Inputs are shaped like each protocol and
 * damaged at random: escapes good and bad, repeated and missing headers, wrong content-length,
 * JSON that breaks late, duplicate keys, escaped keys, ids of every JSON type.
 *
 * Properties run with a fixed seed (override with FC_SEED=<n>).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../server/capture/events.ts';
import { appOf, type AppDecoder, type AppMessage } from '../../server/protocol/app/decoder.ts';
import { stompDecoder } from '../../server/protocol/app/stomp.ts';

const SEED = Number(process.env.FC_SEED ?? 0x1a2e);

let frameNo = 0;
function msg(dir: Direction, data: Uint8Array): AppMessage {
  frameNo++;
  return { dir, opcode: 1, data, truncated: false, length: data.length, ref: { conn: 1, dir, firstFrame: frameNo }, t: frameNo };
}

/** Each message through both decoders: the rules broken and the app made, side by side. */
function both(lazy: AppDecoder, eager: AppDecoder, messages: Array<[Direction, Uint8Array]>) {
  const seen: Array<{ lazy: unknown; eager: unknown }> = [];
  for (const [dir, data] of messages) {
    const m = msg(dir, data);
    const a = lazy.message(m);
    const b = eager.message(m);
    seen.push({ lazy: { app: appOf(a, m), violations: a.violations }, eager: { app: appOf(b, m), violations: b.violations } });
  }
  return seen;
}

describe('STOMP: the relay pass reads only the headers it acts on', () => {
  const name = fc.constantFrom(
    'destination', 'id', 'receipt', 'receipt-id', 'subscription', 'message-id', 'transaction', 'content-length', 'version',
    'content-type', 'ack', 'x', '', 'i\\d', 'id\\c', 'ID', 'destinatio', 'destinationn', 'déstination', 'receipt\\n',
  );
  const value = fc.string({ maxLength: 8, unit: fc.constantFrom('a', '1', '0', ':', '\\', '\\n', '\\c', '\\r', '\\x', 'é', ' ', 'sub-0', 'r-1') });
  const command = fc.constantFrom('SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'CONNECT', 'STOMP', 'MESSAGE', 'RECEIPT', 'ERROR', 'CONNECTED', 'DISCONNECT', 'FOO', 'send', 'SEND\r');
  const body = fc.string({ maxLength: 12, unit: fc.constantFrom('a', 'é', '\n', ':') });
  const frame = fc
    .record({
      command,
      headers: fc.array(fc.tuple(name, value), { maxLength: 6 }),
      body,
      length: fc.constantFrom('none', 'right', 'wrong', 'junk'),
      colonless: fc.boolean(),
      eol: fc.constantFrom('\n', '\r\n'),
    })
    .map((f) => {
      const lines = f.headers.map(([n, v]) => `${n}:${v}`);
      const bytes = Buffer.byteLength(f.body);
      if (f.length === 'right') lines.push(`content-length:${bytes}`);
      if (f.length === 'wrong') lines.push(`content-length:${bytes + 1}`);
      if (f.length === 'junk') lines.push('content-length:12x');
      if (f.colonless) lines.push('no colon here');
      return `${f.command}${f.eol}${lines.map((l) => l + f.eol).join('')}${f.eol}${f.body}\0`;
    });
  const message = fc.tuple(fc.constantFrom<Direction>('client', 'server'), fc.array(frame, { minLength: 1, maxLength: 3 }), fc.constantFrom('', '\n'));

  for (const version of ['1.0', '1.1', '1.2'] as const) {
    it(`reports the same rules and makes the same app as a full read (STOMP ${version})`, () => {
      fc.assert(
        fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), (messages) => {
          const seen = both(
            stompDecoder(version),
            stompDecoder(version, { lazy: false }),
            messages.map(([dir, frames, gap]) => [dir, new TextEncoder().encode(frames.join(gap))]),
          );
          for (const s of seen) expect(s.lazy).toEqual(s.eager);
        }),
        { seed: SEED, numRuns: 400 },
      );
    });
  }

  it('links a MESSAGE to its SUBSCRIBE and a RECEIPT to the frame that asked for it, as a full read does', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const messages: Array<[Direction, Uint8Array]> = [
      ['client', enc('SUBSCRIBE\nid:sub-0\ndestination:/topic/chat\nreceipt:r-0\n\n\0')],
      ['server', enc('RECEIPT\nreceipt-id:r-0\n\n\0')],
      ['server', enc('MESSAGE\ndestination:/topic/chat\nmessage-id:m-1\nsubscription:sub-0\ncontent-type:text/plain\ncontent-length:2\n\nhi\0')],
    ];
    const seen = both(stompDecoder('1.2'), stompDecoder('1.2', { lazy: false }), messages);
    for (const s of seen) expect(s.lazy).toEqual(s.eager);
    expect(seen.map((s) => (s.lazy as { app: { replyTo?: unknown } }).app.replyTo)).toEqual([
      undefined,
      { conn: 1, dir: 'client', firstFrame: frameNo - 2 },
      { conn: 1, dir: 'client', firstFrame: frameNo - 2 },
    ]);
  });
});
