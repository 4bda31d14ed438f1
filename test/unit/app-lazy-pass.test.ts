/**
 * The relay's pass of the STOMP, GraphQL, JSON-RPC and MQTT decoders reads less than the whole message (STOMP:
 * only the headers it acts on; GraphQL: a scan for `type` and `id` instead of JSON.parse;
 * JSON-RPC: a scan of the top-level members of the requests and results that break no rule;
 * Socket.IO: an EVENT's payload scanned when it breaks no rule; MQTT:
 * no payload, and a PUBLISH's Topic Name decoded only when it holds a wildcard), and
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
import { graphqlTransportWs, graphqlWsLegacy, MAX_OPERATIONS } from '../../server/protocol/app/graphql.ts';
import { jsonRpc } from '../../server/protocol/app/jsonrpc.ts';
import { SocketIoDecoder } from '../../server/protocol/app/socketio.ts';
import { mqttDecoder } from '../../server/protocol/app/mqtt.ts';
import { stompDecoder } from '../../server/protocol/app/stomp.ts';

const SEED = Number(process.env.FC_SEED ?? 0x1a2e);

let frameNo = 0;
function msg(dir: Direction, data: Uint8Array, opcode: 1 | 2 = 1): AppMessage {
  frameNo++;
  return { dir, opcode, data, truncated: false, length: data.length, ref: { conn: 1, dir, firstFrame: frameNo }, t: frameNo };
}

/** Each message through both decoders: the rules broken and the app made, side by side. */
function both(lazy: AppDecoder, eager: AppDecoder, messages: Array<[Direction, Uint8Array]>, opcode: 1 | 2 = 1) {
  const seen: Array<{ lazy: unknown; eager: unknown }> = [];
  for (const [dir, data] of messages) {
    const m = msg(dir, data, opcode);
    const a = lazy.message(m);
    const b = eager.message(m);
    seen.push({ lazy: { app: appOf(a, m), violations: a.violations }, eager: { app: appOf(b, m), violations: b.violations } });
  }
  return seen;
}


/** Valid JSON's UTF-8 with one byte put in somewhere: invalid UTF-8 (0xff), or a lead or continuation byte out of place. */
const withStrayByte = (valid: fc.Arbitrary<string>) =>
  fc.tuple(valid, fc.nat(), fc.constantFrom(0xff, 0xc3, 0xe2, 0x80)).map(([t, at, b]) => {
    const e = new TextEncoder().encode(t);
    const out = new Uint8Array(e.length + 1);
    const k = at % (e.length + 1);
    out.set(e.subarray(0, k), 0);
    out[k] = b;
    out.set(e.subarray(k), k + 1);
    return out;
  });
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

describe('GraphQL: the relay pass scans for type and id instead of parsing', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const type = fc.constantFrom('connection_init', 'connection_ack', 'subscribe', 'next', 'error', 'complete', 'ping', 'pong', 'start', 'data', 'stop', 'ka', 'nope', '');
  const id = fc.oneof(
    fc.constantFrom('"1"', '"2"', '""', '1', '2.50', '-0', '1e2', 'null', 'true', '{"a":1}', '[1]', '"\\u0031"', '"\\n"', '"é"'),
    fc.string({ maxLength: 6 }).map((x) => JSON.stringify(x)),
  );
  const payload = fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.constant('{"query":"subscription S { s }"}'), fc.constant('{"type":"next","id":"9"}'));
  const key = (k: string) => fc.constantFrom(`"${k}"`, `"${k}"`, `"${k}"`, `"\\u00${k.charCodeAt(0).toString(16)}${k.slice(1)}"`);
  const object = fc
    .record({
      members: fc.array(
        fc.oneof(
          fc.tuple(key('type'), type.map((t) => JSON.stringify(t))),
          fc.tuple(key('type'), fc.constantFrom('1', 'null', '{}', '"ne\\u0078t"')),
          fc.tuple(key('id'), id),
          fc.tuple(fc.constant('"payload"'), payload.filter((p): p is string => p !== undefined)),
          fc.tuple(fc.constantFrom('"x"', '"ty"', '"idd"', '"types"'), fc.constant('0')),
        ),
        { maxLength: 5 },
      ),
      space: fc.constantFrom('', ' ', '\n\t', '\r\n '),
    })
    .map(({ members, space }) => `{${space}${members.map(([k, v]) => `${k}${space}:${space}${v}`).join(`,${space}`)}${space}}`);
  const valid = fc.record({ type, id: fc.option(id, { nil: undefined }), payload }).map(({ type, id, payload }) => `{${id !== undefined ? `"id":${id},` : ''}"type":"${type}"${payload !== undefined ? `,"payload":${payload}` : ''}}`);
  // Damage: cut anywhere, a byte changed, invalid UTF-8, JSON that is not an object, not JSON.
  const damaged = fc.oneof(
    fc.tuple(valid, fc.nat()).map(([t, at]) => t.slice(0, at % (t.length + 1))),
    fc.tuple(valid, fc.nat(), fc.constantFrom('"', '\\', '}', ']', ',', ':', ' ', 'x', '\u0000', '\n')).map(([t, at, c]) => t.slice(0, at % t.length) + c + t.slice((at % t.length) + 1)),
    fc.constantFrom('[{"type":"next"}]', '"next"', '42', 'null', ' {"type":"ping"} ', '{"type":"ping"} x', '{"type":"ping"}{}', '\ufeff{"type":"ping"}', '{"type":"pi\u2028ng"}', '{"type":"ping",}', '{,}', '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":"\\x"}', '{"a":"\\u12g4"}', '{"a":tru}', ''),
  );
  const text = fc.oneof(valid, valid, object, damaged);
  const bytes = fc.oneof(
    text.map(enc),
    withStrayByte(valid),
  );
  const messages = fc.array(fc.tuple(fc.constantFrom<Direction>('client', 'server'), bytes), { minLength: 1, maxLength: 10 });

  for (const [name, make] of [['graphql-transport-ws', graphqlTransportWs], ['graphql-ws', graphqlWsLegacy]] as const) {
    it(`reports the same rules and makes the same app as JSON.parse would (${name})`, () => {
      fc.assert(
        fc.property(messages, (ms) => {
          // An opening as the libraries make it first, so later messages are read past the ack.
          const opening: Array<[Direction, Uint8Array]> = [['client', enc('{"type":"connection_init"}')], ['server', enc('{"type":"connection_ack"}')]];
          const seen = both(make(), make({ lazy: false }), [...opening, ...ms]);
          for (const s of seen) expect(s.lazy).toEqual(s.eager);
        }),
        { seed: SEED, numRuns: 1000 },
      );
    });
  }

  it(`forgets the oldest of more than ${MAX_OPERATIONS} operations never completed, and completed ones at once`, () => {
    const decoder = graphqlTransportWs();
    const send = (dir: Direction, o: object) => {
      const m = msg(dir, enc(JSON.stringify(o)));
      const r = decoder.message(m);
      return { ref: m.ref, app: appOf(r, m)!, violations: r.violations };
    };
    send('client', { type: 'connection_init' });
    send('server', { type: 'connection_ack' });
    const subscribes = Array.from({ length: MAX_OPERATIONS + 100 }, (_, n) => send('client', { id: `op-${n}`, type: 'subscribe', payload: { query: 'subscription S { s }' } }));
    expect(subscribes.every((s) => s.violations === undefined)).toBe(true);
    // The first 100 were forgotten; the newest MAX_OPERATIONS still answer.
    expect(send('server', { id: 'op-99', type: 'next', payload: {} }).app.replyTo).toBeUndefined();
    expect(send('server', { id: 'op-100', type: 'next', payload: {} }).app.replyTo).toEqual(subscribes[100]!.ref);
    expect(send('server', { id: `op-${MAX_OPERATIONS + 99}`, type: 'next', payload: {} }).app.replyTo).toEqual(subscribes[MAX_OPERATIONS + 99]!.ref);
    // A completed operation's id is free again: a new subscribe with it is no duplicate.
    send('server', { id: 'op-100', type: 'complete' });
    expect(send('server', { id: 'op-100', type: 'next', payload: {} }).app.replyTo).toBeUndefined();
    const again = send('client', { id: 'op-100', type: 'subscribe', payload: { query: 'subscription S { s }' } });
    expect(again.violations).toBeUndefined();
    expect(send('client', { id: 'op-101', type: 'subscribe', payload: { query: 'subscription S { s }' } }).violations?.map((v) => v.rule)).toEqual(['graphql-duplicate-id']);
    // Re-subscribing made op-100 the newest: the next subscribes forget op-102 onwards first, not op-100.
    for (let n = 0; n < 2; n++) send('client', { id: `more-${n}`, type: 'subscribe', payload: { query: 'subscription S { s }' } });
    expect(send('server', { id: 'op-102', type: 'next', payload: {} }).app.replyTo).toBeUndefined();
    expect(send('server', { id: 'op-100', type: 'next', payload: {} }).app.replyTo).toEqual(again.ref);
  });
});

describe('JSON-RPC: the relay pass scans the top-level members of requests and results instead of parsing', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const key = (k: string) => fc.constantFrom(`"${k}"`, `"${k}"`, `"${k}"`, `"\\u00${k.charCodeAt(0).toString(16)}${k.slice(1)}"`);
  // Few ids, so that responses find the requests they answer (both ways), and ids of every JSON type.
  const id = fc.constantFrom('1', '2', '"1"', '"2"', '-0', '0', '2.0', '1e0', '1e999', 'null', 'true', '{}', '[1]', '"\\u0031"', '"é"', '""');
  const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v));
  const member = fc.oneof(
    fc.tuple(key('jsonrpc'), fc.constantFrom('"2.0"', '"2.0"', '"2.0"', '"1.0"', '"2.00"', '2', '"2\\u002e0"', 'null')),
    fc.tuple(key('id'), id),
    fc.tuple(key('method'), fc.constantFrom('"chat"', '"chat"', '"rpc.x"', '1', 'null', '"ch\\u0061t"', '{}')),
    fc.tuple(key('params'), fc.oneof(fc.constantFrom('["hi"]', '{"a":1}', '[]', 'null', '1', '"x"', 'true'), json)),
    fc.tuple(key('result'), json),
    fc.tuple(key('error'), fc.constantFrom('{"code":-32601,"message":"no"}', '{"code":1.5,"message":"no"}', '{"code":1}', '1', 'null', '{"code":-1,"message":"m","data":[1]}')),
    fc.tuple(fc.constantFrom('"x"', '"ids"', '"jsonrp"', '"resul"', '"__proto__"'), fc.constant('0')),
  );
  const object = fc
    .record({ members: fc.array(member, { maxLength: 6 }), space: fc.constantFrom('', ' ', '\n\t') })
    .map(({ members, space }) => `{${space}${members.map(([k, v]) => `${k}${space}:${space}${v}`).join(`,${space}`)}${space}}`);
  const valid = fc.oneof(
    fc.tuple(id, fc.constantFrom('["hi"]', '{"line":"hello"}', undefined)).map(([i, p]) => `{"jsonrpc":"2.0","method":"chat"${p !== undefined ? `,"params":${p}` : ''},"id":${i}}`),
    fc.tuple(id, json).map(([i, r]) => `{"jsonrpc":"2.0","result":${r},"id":${i}}`),
    fc.constant('{"jsonrpc":"2.0","method":"tick"}'),
  );
  const damaged = fc.oneof(
    fc.tuple(valid, fc.nat()).map(([t, at]) => t.slice(0, at % (t.length + 1))),
    fc.tuple(valid, fc.nat(), fc.constantFrom('"', '\\', '}', ']', ',', ':', ' ', 'x', '\u0000')).map(([t, at, c]) => t.slice(0, at % t.length) + c + t.slice((at % t.length) + 1)),
    fc.tuple(valid, valid).map(([a, b]) => `[${a},${b}]`),
    fc.constantFrom('[]', '"x"', '42', 'null', ' {"jsonrpc":"2.0","method":"m"} ', '{"jsonrpc":"2.0","method":"m"} x', ''),
  );
  const bytes = fc.oneof(
    fc.oneof(valid, valid, object, damaged).map(enc),
    withStrayByte(valid),
  );
  const messages = fc.array(fc.tuple(fc.constantFrom<Direction>('client', 'server'), bytes), { minLength: 1, maxLength: 12 });

  it('reports the same rules and makes the same app (replyTo included) as JSON.parse would', () => {
    fc.assert(
      fc.property(messages, (ms) => {
        const seen = both(jsonRpc(), jsonRpc({ lazy: false }), ms);
        for (const s of seen) expect(s.lazy).toEqual(s.eager);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('links a result to its request both ways, as a full read does', () => {
    const seen = both(jsonRpc(), jsonRpc({ lazy: false }), [
      ['client', enc('{"jsonrpc":"2.0","method":"chat","params":["hi"],"id":7}')],
      ['server', enc('{"jsonrpc":"2.0","method":"ask","id":"7"}')],
      ['server', enc('{"jsonrpc":"2.0","result":"hi","id":7}')],
      ['client', enc('{"jsonrpc":"2.0","result":null,"id":"7"}')],
    ]);
    for (const s of seen) expect(s.lazy).toEqual(s.eager);
    const replyTo = seen.map((s) => (s.lazy as { app: { replyTo?: unknown } }).app.replyTo);
    expect(replyTo).toEqual([undefined, undefined, { conn: 1, dir: 'client', firstFrame: frameNo - 3 }, { conn: 1, dir: 'server', firstFrame: frameNo - 2 }]);
  });
});

describe('Socket.IO: the relay pass scans an EVENT\'s payload instead of parsing it', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const engine = fc.constantFrom('4', '4', '4', '4', '2', '3', '6', '9', '');
  const socket = fc.constantFrom('2', '2', '2', '2', '3', '0', '5', '51-', '7', '');
  const nsp = fc.constantFrom('', '', '', '/chat,', '/');
  const ack = fc.constantFrom('', '', '7', '123456789012345', '1234567890123456', '99999999999999999');
  const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v));
  const payload = fc.oneof(
    fc.constantFrom('["chat","hello"]', '["chat","hello"]', '[1,2]', '[]', '[{"a":1}]', '[null]', '[true]', '[["x"]]', ' ["a"]', '["a"] ', '["a",]', '["a"', '["\\u0061"]', '{"a":1}', '"x"', '', '["a"]x', '[-]', '[01]'),
    json.map((j) => `["e",${j}]`),
    json,
  );
  const text = fc.tuple(engine, socket, nsp, ack, payload).map((p) => p.join(''));
  const damaged = fc.tuple(text, fc.nat(), fc.constantFrom('"', '\\', ']', ',', ' ', '\u0000', 'é')).map(([t, at, c]) => (t.length === 0 ? c : t.slice(0, at % t.length) + c + t.slice((at % t.length) + 1)));
  const message = fc.oneof(
    fc.tuple(fc.constantFrom<Direction>('client', 'server'), fc.oneof(text, text, damaged).map((t) => ({ data: enc(t), opcode: 1 as const }))),
    // Attachments (binary messages), so some EVENTs come while a BINARY_EVENT waits.
    fc.tuple(fc.constantFrom<Direction>('client', 'server'), fc.constant({ data: new Uint8Array([1, 2, 3]), opcode: 2 as const })),
    fc.tuple(fc.constantFrom<Direction>('client', 'server'), fc.constant({ data: enc('451-["up",{"_placeholder":true,"num":0}]'), opcode: 1 as const })),
    // Invalid UTF-8 inside and outside the payload's strings.
    fc.tuple(fc.constantFrom<Direction>('client', 'server'), fc.constantFrom([0x34, 0x32, 0x5b, 0x22, 0xff, 0x22, 0x5d], [0x34, 0x32, 0x5b, 0xc3, 0x5d], [0x34, 0x32, 0x5b, 0x22, 0xe2, 0x82, 0x22, 0x5d]).map((b) => ({ data: new Uint8Array(b), opcode: 1 as const }))),
  );

  for (const eio of [3, 4]) {
    it(`reports the same rules and makes the same app as a full read (EIO ${eio})`, () => {
      fc.assert(
        fc.property(fc.array(message, { minLength: 1, maxLength: 10 }), (ms) => {
          const lazy = new SocketIoDecoder({ eio, sid: null });
          const eager = new SocketIoDecoder({ eio, sid: null }, { lazy: false });
          for (const [dir, { data, opcode }] of ms) {
            const m = msg(dir, data, opcode);
            const a = lazy.message(m);
            const b = eager.message(m);
            expect({ app: appOf(a, m), violations: a.violations }).toEqual({ app: appOf(b, m), violations: b.violations });
          }
        }),
        { seed: SEED, numRuns: 1000 },
      );
    });
  }
});

describe('MQTT: the relay pass decodes no payload, and a Topic Name only when it holds a wildcard', () => {
  const str = (text: Uint8Array) => Buffer.concat([Buffer.from([text.length >> 8, text.length & 0xff]), text]);
  const enc = (t: string) => new TextEncoder().encode(t);
  const topic = fc.oneof(
    fc.constantFrom('chat', 'a/b', 'a/+/c', 'a/#', '#', '+', '', 'é/ü', 'x+y', 'sport#1').map(enc),
    // Invalid UTF-8 around a wildcard byte: decoded, the + is still a +.
    fc.constantFrom([0xff, 0x2b], [0xc3, 0x23], [0xe2, 0x80, 0x2b, 0x41], [0x80]).map((b) => Uint8Array.from(b)),
    fc.string({ maxLength: 6, unit: fc.constantFrom('a', '/', '+', '#', 'é', '\u0000') }).map(enc),
  );
  const id = fc.constantFrom(0, 1, 2, 7, 65535);
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
  const packet = fc.oneof(
    fc.record({ qos: fc.constantFrom(0, 1, 2, 3), dup: fc.boolean(), retain: fc.boolean(), topic, id, payload: fc.uint8Array({ maxLength: 12 }) }).map(({ qos, dup, retain, topic, id, payload }) => {
      const rest = Buffer.concat([str(topic), qos === 1 || qos === 2 ? u16(id) : Buffer.alloc(0), payload]);
      return [0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0), rest] as const;
    }),
    fc.tuple(fc.constantFrom(0x40, 0x50, 0x62, 0x70, 0xb0), id).map(([first, id]) => [first, u16(id)] as const),
    fc.tuple(id, topic, fc.constantFrom(0, 1, 2, 3)).map(([id, t, q]) => [0x82, Buffer.concat([u16(id), str(t), Buffer.from([q])])] as const),
    fc.tuple(id, fc.uint8Array({ maxLength: 3 })).map(([id, codes]) => [0x90, Buffer.concat([u16(id), codes])] as const),
    fc.constantFrom([0xc0, Buffer.alloc(0)] as const, [0xd0, Buffer.alloc(0)] as const, [0xe0, Buffer.alloc(0)] as const, [0x20, Buffer.from([0, 0])] as const),
    fc.constantFrom(4, 5).map((level) => [0x10, Buffer.concat([str(enc('MQTT')), Buffer.from([level, 0x02, 0, 60]), level === 5 ? Buffer.from([0]) : Buffer.alloc(0), str(enc('c1'))])] as const),
  );
  // Damage: a Remaining Length that says more or less than the bytes, a byte changed.
  const damaged = fc.tuple(packet, fc.constantFrom('none', 'none', 'short', 'long', 'byte'), fc.nat()).map(([[first, rest], how, at]) => {
    const length = how === 'short' ? Math.max(0, rest.length - 1) : how === 'long' ? rest.length + 1 : rest.length;
    const bytes = Buffer.concat([Buffer.from([first, length]), rest.subarray(0, how === 'short' ? length : rest.length)]);
    if (how === 'byte') bytes[at % bytes.length] ^= 0x2b;
    return bytes;
  });
  const message = fc.tuple(fc.constantFrom<Direction>('client', 'server'), fc.array(damaged, { minLength: 1, maxLength: 3 }));

  for (const version of ['3.1.1', '3.1'] as const) {
    it(`reports the same rules and makes the same app as a full read (starting at MQTT ${version})`, () => {
      fc.assert(
        fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), (messages) => {
          const seen = both(mqttDecoder(version), mqttDecoder(version, { lazy: false }), messages.map(([dir, packets]) => [dir, new Uint8Array(Buffer.concat(packets))]), 2);
          for (const s of seen) expect(s.lazy).toEqual(s.eager);
        }),
        { seed: SEED, numRuns: 400 },
      );
    });
  }

  it('finds a wildcard in a PUBLISH\'s Topic Name and links a PUBACK to its PUBLISH, as a full read does', () => {
    const messages: Array<[Direction, Uint8Array]> = [
      ['client', new Uint8Array(Buffer.concat([Buffer.from([0x10, 12]), str(enc('MQTT')), Buffer.from([4, 0x02, 0, 60]), str(enc(''))]))],
      ['client', new Uint8Array(Buffer.concat([Buffer.from([0x32, 10]), str(enc('a/+/c')), u16(7), Buffer.from('x')]))],
      ['server', new Uint8Array(Buffer.concat([Buffer.from([0x40, 2]), u16(7)]))],
    ];
    const seen = both(mqttDecoder(), mqttDecoder('3.1.1', { lazy: false }), messages, 2);
    for (const s of seen) expect(s.lazy).toEqual(s.eager);
    const publish = seen[1]!.lazy as { violations?: Array<{ rule: string; message: string }> };
    expect(publish.violations?.map((v) => v.rule)).toEqual(['mqtt-publish-wildcard']);
    expect(publish.violations?.[0]?.message).toContain('"a/+/c"');
    expect((seen[2]!.lazy as { app: { replyTo?: unknown } }).app.replyTo).toEqual({ conn: 1, dir: 'client', firstFrame: frameNo - 1 });
  });
});
