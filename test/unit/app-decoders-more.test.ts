/**
 * The GraphQL, STOMP and MQTT decoders without sockets: differential tests against the real
 * implementations' own encoders and parsers (graphql's parser, stompjs's FrameImpl and Parser,
 * mqtt-packet's generate and parser, MQTT 5.0 included, which the aedes broker of the
 * integration tests does not speak), on the same bytes cut into messages at random; their
 * bounds (a peer's length field allocates nothing); and fuzzing: no input makes one fail
 * (`app-decoder-failure`), and what they say always fits the message.
 *
 * Properties run with fixed seeds (override with FC_SEED=<n>).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FrameImpl, Parser, type IRawFrameType } from '@stomp/stompjs';
import fc from 'fast-check';
import { getOperationAST, Kind, parse, type OperationDefinitionNode } from 'graphql';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { AppInfo, AppUnit, Direction } from '../../server/capture/events.ts';
import type { AppDecoder, AppMessage, AppResult } from '../../server/protocol/app/decoder.ts';
import { findOperation, MAX_QUERY_SCAN } from '../../server/protocol/app/graphql-operation.ts';
import { MAX_KEPT, mqttDecoder } from '../../server/protocol/app/mqtt.ts';
import { BY_SUBPROTOCOL } from '../../server/protocol/app/registry.ts';
import { decodeMade } from '../helpers/app-wire.ts';
import { MAX_PENDING_BYTES, stompDecoder } from '../../server/protocol/app/stomp.ts';

const SEED = Number(process.env.FC_SEED ?? 0xa9903);

let frameNo = 0;
function msg(dir: Direction, data: Uint8Array, opcode: 1 | 2 = 1, truncated = false): AppMessage {
  frameNo++;
  return { dir, opcode, data, truncated, ref: { conn: 1, dir, firstFrame: frameNo }, t: frameNo };
}

/** The bytes cut at the given offsets into messages. */
function cutInto(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const bounds = [0, ...[...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b), bytes.length];
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push(bytes.slice(bounds[i], bounds[i + 1]));
  return out;
}

const unitsOf = (r: AppResult): AppUnit[] => (r.app ? (r.app.parts ?? [r.app]) : []);
const complete = (us: AppUnit[]) => us.filter((u) => u.type !== 'partial');
const cutsArb = (max: number) => fc.array(fc.integer({ min: 1, max: Math.max(1, max - 1) }), { maxLength: 16 });

describe('GraphQL: the operation a subscribe runs, against graphql-js', () => {
  const name = fc.stringMatching(/^N[A-Za-z0-9_]{0,6}$/);
  const selection = fc.constantFrom('{ a }', '{ a { b c } }', '{ a(x: "}{ \\" }") }', '{ a(x: """ { \\""" } """) }', '{ a # } a brace in a comment\n }', '{ ...F }', '{ a(o: {k: [1, {z: 2}]}) }');
  const variables = fc.constantFrom('', '($v: In = {x: "{"})', '($a: Int, $b: [S!] = ["(", ")"])');
  const operation = fc
    .record({ kind: fc.constantFrom('query', 'mutation', 'subscription'), name: fc.option(name, { nil: null }), variables, selection })
    .map(({ kind, name, variables, selection }) => ({ text: `${kind}${name ? ` ${name}` : ''}${name ? variables : ''} ${selection}`, kind, name }));
  const fragment = fc.record({ name, selection }).map(({ name, selection }) => ({ text: `fragment ${name} on T ${selection}`, kind: null, name: null }));
  const shorthand = selection.map((s) => ({ text: s, kind: 'query', name: null }));
  const separator = fc.constantFrom('\n', ' ', ',', '\n# c {\n', '\ufeff');
  const document = fc.tuple(fc.array(fc.oneof(operation, fragment, shorthand), { minLength: 1, maxLength: 5 }), separator);

  it('finds the kind and name graphql-js finds, by operationName or first', () => {
    fc.assert(
      fc.property(document, fc.boolean(), ([defs, sep], byName) => {
        const text = defs.map((d) => d.text).join(sep);
        const doc = parse(text);
        const named = defs.find((d) => d.kind !== null && d.name !== null);
        const wanted = byName && named ? named.name : null;
        const expected: OperationDefinitionNode | null | undefined = wanted
          ? getOperationAST(doc, wanted)
          : (doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode | undefined);
        const got = findOperation(text, wanted);
        expect(got).toEqual(expected ? { kind: expected.operation, name: expected.name?.value ?? null } : null);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('stops at its scan bound instead of reading a long query to its end', () => {
    const long = `fragment F on T { ${'a '.repeat(MAX_QUERY_SCAN)} } subscription Late { a }`;
    expect(findOperation(long)).toBeNull();
    expect(findOperation(`subscription Early { ${'a '.repeat(MAX_QUERY_SCAN)} }`)).toEqual({ kind: 'subscription', name: 'Early' });
  });
});

describe('STOMP against stompjs (FrameImpl writes, Parser reads)', () => {
  // No spaces: stompjs trims header values (wsplay shows them as sent); the escapes it writes are compared.
  const headerValue = fc.string({ maxLength: 12, unit: fc.constantFrom('a', 'b', ':', '\n', '\\', '\r', 'é') });
  const frame = fc.record({
    command: fc.constantFrom('SEND', 'SUBSCRIBE', 'ACK', 'BEGIN'),
    headers: fc.dictionary(fc.stringMatching(/^[a-z][a-z-]{0,8}$/), headerValue, { maxKeys: 4 }),
    body: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('')),
    skipContentLengthHeader: fc.boolean(),
  });

  it('reads the command, unescaped headers and body stompjs reads, however the frames are cut into messages', () => {
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 3 }), cutsArb(400), (frames, heartBeats, cuts) => {
        // A body without content-length must not hold a NUL (it would end the frame).
        const wire = frames.map((f) => {
          const headers = { ...f.headers, destination: '/q/a', id: '1', transaction: 't', 'content-length': undefined as unknown as string };
          delete (headers as Record<string, string>)['content-length'];
          const body = f.skipContentLengthHeader ? f.body.replaceAll('\0', '') : f.body;
          return FrameImpl.marshall({ command: f.command, headers, body, escapeHeaderValues: true, skipContentLengthHeader: f.skipContentLengthHeader }) as string;
        });
        const bytes = new TextEncoder().encode(wire.join('\n'.repeat(heartBeats)));

        const theirs: IRawFrameType[] = [];
        new Parser((raw) => theirs.push(raw), () => {}).parseChunk(bytes.slice().buffer);
        const expected = theirs.map((raw) => {
          const f = FrameImpl.fromRawFrame(raw, true);
          return [f.command, Object.fromEntries(raw.headers.map(([k]) => [k, f.headers[k]])), f.body];
        });

        const decoder = stompDecoder('1.2');
        const ours: AppUnit[] = [];
        for (const piece of cutInto(bytes, cuts)) {
          const r = decodeMade(decoder, msg('client', piece));
          expect(r.violations).toBeUndefined();
          ours.push(...complete(unitsOf(r)).filter((u) => u.type !== 'heart-beat'));
        }
        // stompjs keeps the first of repeated headers' values; so does STOMP 1.2 ("Repeated Header Entries").
        expect(ours.map((u) => [u.command, Object.fromEntries([...(u.headers ?? [])].reverse()), u.body])).toEqual(expected);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('gives up joining a frame past its bound, says so, and reads the next frame', () => {
    const decoder = stompDecoder('1.2');
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    decodeMade(decoder, msg('client', new TextEncoder().encode('SEND\ndestination:/q/a\n\n')));
    const summaries: string[] = [];
    for (let sent = 0; sent <= MAX_PENDING_BYTES + chunk.length; sent += chunk.length) summaries.push(decodeMade(decoder, msg('client', chunk)).app!.summary);
    expect(summaries.slice(-3)).toEqual(['SEND: a frame longer than 256 KiB or 64 messages: not joined', 'the rest of a frame too long to join', 'the rest of a frame too long to join']);
    // Its NUL ends it; the next frame in the same message is read.
    const next = decodeMade(decoder, msg('client', new TextEncoder().encode(`xyz\0${FrameImpl.marshall({ command: 'SEND', headers: { destination: '/q/b' }, body: 'ok' }) as string}`)));
    expect(next.violations).toBeUndefined();
    expect(next.app).toMatchObject({ command: 'SEND', body: 'ok' });
  });

  it('reports a frame whose NUL never came when the next frame starts', () => {
    const decoder = stompDecoder('1.2');
    const send = FrameImpl.marshall({ command: 'SEND', headers: { destination: '/q/a' }, body: 'hi', skipContentLengthHeader: true }) as string;
    expect(decodeMade(decoder, msg('client', new TextEncoder().encode(send.slice(0, -1)))).app?.type).toBe('partial');
    const r = decodeMade(decoder, msg('client', new TextEncoder().encode(send)));
    expect(r.violations?.map((v) => [v.rule, v.section])).toEqual([['stomp-missing-nul', 'STOMP 1.2, STOMP Frames']]);
    expect(r.app).toMatchObject({ command: 'SEND', body: 'hi' });
  });
});

describe('MQTT against mqtt-packet (mqtt.js encoder and parser), 3.1.1 and 5.0', () => {
  const topic = fc.stringMatching(/^[a-z0-9]{1,6}(\/[a-z0-9]{1,6}){0,3}$/);
  const publish = (v: 4 | 5) =>
    fc.record({ topic, payload: fc.uint8Array({ maxLength: 200 }), qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>, id: fc.integer({ min: 1, max: 65535 }), retain: fc.boolean() }).map(
      (p): Packet =>
        ({
          cmd: 'publish',
          topic: p.topic,
          payload: Buffer.from(p.payload),
          qos: p.qos,
          ...(p.qos > 0 ? { messageId: p.id } : {}),
          retain: p.retain,
          dup: false,
          ...(v === 5 ? { properties: { contentType: 'text/plain', userProperties: { k: 'v' }, messageExpiryInterval: 60 } } : {}),
        }) as Packet,
    );
  const clientStream = (v: 4 | 5) =>
    fc.tuple(fc.array(publish(v), { maxLength: 6 }), topic).map(([pubs, filter]): Packet[] => [
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clean: true, clientId: 'c-1', keepalive: 30, ...(v === 5 ? { properties: { sessionExpiryInterval: 10 } } : {}) } as Packet,
      { cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: `${filter}/#`, qos: 1 }], ...(v === 5 ? { properties: { subscriptionIdentifier: 3 } } : {}) } as Packet,
      ...pubs,
      { cmd: 'pingreq' } as Packet,
      { cmd: 'disconnect', ...(v === 5 ? { reasonCode: 0 } : {}) } as Packet,
    ]);

  for (const v of [4, 5] as const) {
    it(`reads type, topic, packetId, qos and payload as mqtt-packet's parser does (protocol level ${v}), however cut`, () => {
      fc.assert(
        fc.property(clientStream(v), cutsArb(2000), (packets, cuts) => {
          const bytes = Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: v })));
          const theirs: Packet[] = [];
          const parser = mqttPacket.parser({ protocolVersion: v });
          parser.on('packet', (p) => theirs.push(p));
          parser.parse(bytes);
          const expected = theirs.map((p) => {
            const q = p as Packet & { topic?: string; messageId?: number; qos?: number; payload?: Buffer; subscriptions?: Array<{ topic: string; qos: number }> };
            return {
              type: p.cmd.toUpperCase(),
              topic: q.topic ?? q.subscriptions?.[0]?.topic,
              packetId: q.messageId,
              qos: p.cmd === 'publish' ? q.qos : q.subscriptions?.[0]?.qos,
              payload: p.cmd === 'publish' ? Buffer.from(q.payload ?? []).toString('base64') : undefined,
            };
          });

          const decoder = mqttDecoder('3.1.1');
          const ours: AppUnit[] = [];
          for (const piece of cutInto(new Uint8Array(bytes), cuts)) {
            const r = decodeMade(decoder, msg('client', piece, 2));
            expect(r.violations).toBeUndefined();
            ours.push(...complete(unitsOf(r)));
          }
          expect(ours.map((u) => ({ type: u.type, topic: u.topic, packetId: u.packetId, qos: u.qos, payload: u.payload }))).toEqual(expected);
        }),
        { seed: SEED, numRuns: 200 },
      );
    });
  }

  it('reads MQTT 5.0 acks with reason codes from the server side', () => {
    const server: Packet[] = [
      { cmd: 'connack', sessionPresent: true, reasonCode: 0, properties: { assignedClientIdentifier: 'x' } } as Packet,
      { cmd: 'suback', messageId: 7, granted: [1, 0x87], properties: {} } as Packet,
      { cmd: 'puback', messageId: 9, reasonCode: 0x10 } as Packet,
      { cmd: 'disconnect', reasonCode: 0x8b } as Packet,
    ];
    const decoder = mqttDecoder('3.1.1');
    decodeMade(decoder, msg('client', new Uint8Array(mqttPacket.generate({ cmd: 'connect', protocolVersion: 5, clientId: 'c', protocolId: 'MQTT', clean: true, keepalive: 0 } as Packet, { protocolVersion: 5 })), 2));
    const r = decodeMade(decoder, msg('server', new Uint8Array(Buffer.concat(server.map((p) => mqttPacket.generate(p, { protocolVersion: 5 })))), 2));
    expect(r.violations).toBeUndefined();
    expect(r.app!.parts!.map((u) => u.summary)).toEqual(['CONNACK success, session present', 'SUBACK id 7 granted qos 1, not authorized', 'PUBACK id 9 reason 0x10', 'DISCONNECT reason 0x8b']);
  });

  it("keeps a PUBLISH's first bytes only, whatever its Remaining Length says, and reports it when it ends", () => {
    const payload = Buffer.alloc(600_000, 0x61);
    const bytes = mqttPacket.generate({ cmd: 'publish', topic: 'big', payload, qos: 0, retain: false, dup: false } as Packet);
    const decoder = mqttDecoder();
    decodeMade(decoder, msg('client', new Uint8Array(mqttPacket.generate({ cmd: 'connect', protocolVersion: 4, clientId: 'c', protocolId: 'MQTT', clean: true, keepalive: 0 } as Packet)), 2));
    const pieces = cutInto(new Uint8Array(bytes), Array.from({ length: 40 }, (_, i) => (i + 1) * 15_000));
    const results = pieces.map((p) => decodeMade(decoder, msg('client', p, 2)));
    for (const r of results.slice(0, -1)) expect(r.app?.type).toBe('partial');
    const done = results.at(-1)!.app!;
    expect(done).toMatchObject({ type: 'PUBLISH', topic: 'big' });
    expect(Buffer.from(done.payload!, 'base64').length).toBe(MAX_KEPT - (2 + 3));
    expect(done.summary).toBe(`PUBLISH big qos 0 "${'a'.repeat(60)}"… (600000 bytes) (in ${pieces.length} messages)`);
    expect(done.spans).toHaveLength(pieces.length - 1);
  });

  it('reports a Remaining Length of five bytes, packet types 0 and 15 (before 5.0), QoS 3, and a text message', () => {
    // Real packets from mqtt-packet, damaged in the one place each rule looks at.
    const ping = mqttPacket.generate({ cmd: 'pingreq' } as Packet);
    const connect = mqttPacket.generate({ cmd: 'connect', protocolVersion: 4, clientId: 'c', protocolId: 'MQTT', clean: true, keepalive: 0 } as Packet);
    const pub = mqttPacket.generate({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false } as Packet);
    const rules = (d: AppDecoder, data: Uint8Array, opcode: 1 | 2 = 2) => (decodeMade(d, msg('client', data, opcode)).violations ?? []).map((v) => `${v.rule} (${v.section})`);
    const fresh = () => {
      const d = mqttDecoder();
      decodeMade(d, msg('client', new Uint8Array(connect), 2));
      return d;
    };
    expect(rules(fresh(), new Uint8Array([ping[0]!, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual(['mqtt-bad-remaining-length (MQTT 3.1.1, 2.2.3 Remaining Length)']);
    expect(rules(fresh(), new Uint8Array([0x00, 0x00]))).toEqual(['mqtt-reserved-packet-type (MQTT 3.1.1, 2.2.1 MQTT Control Packet type)']);
    expect(rules(fresh(), new Uint8Array([0xf0, 0x00]))).toEqual(['mqtt-reserved-packet-type (MQTT 3.1.1, 2.2.1 MQTT Control Packet type)']);
    expect(rules(fresh(), new Uint8Array([pub[0]! | 0b0110, ...pub.subarray(1)]))).toEqual(['mqtt-bad-qos (MQTT 3.1.1, 3.3.1.2 QoS)']);
    expect(rules(fresh(), new Uint8Array(ping), 1)).toEqual(['mqtt-text-message (MQTT 3.1.1, 6 Using WebSocket as a network transport)']);
    expect(rules(mqttDecoder(), new Uint8Array(ping))).toEqual(['mqtt-first-packet-not-connect (MQTT 3.1.1, 3.1 CONNECT)']);
    expect(rules(fresh(), new Uint8Array(connect))).toEqual(['mqtt-second-connect (MQTT 3.1.1, 3.1 CONNECT)']);
    const wildcard = mqttPacket.generate({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false } as Packet);
    expect(rules(fresh(), new Uint8Array(wildcard))).toEqual(['mqtt-publish-wildcard (MQTT 3.1.1, 3.3.2.1 Topic Name)']);
  });
});

// Full collections before and after a measurement, so what is left is what the decoders hold.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
}

describe('bounded memory: what a peer claims allocates nothing', () => {
  it('holds well under a megabyte per connection after 64 MB of a never-ending STOMP frame and MQTT packet', async () => {
    const stomp = Array.from({ length: 20 }, () => stompDecoder('1.2'));
    const mqtt = Array.from({ length: 20 }, () => mqttDecoder());
    await settle();
    const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    for (const d of stomp) decodeMade(d, msg('client', new TextEncoder().encode('SEND\ndestination:/q\n\n')));
    // A PUBLISH whose Remaining Length says 268,435,455 (the most four bytes can say).
    for (const d of mqtt) decodeMade(d, msg('client', new Uint8Array([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 0x61]), 2));
    for (let i = 0; i < 50; i++) {
      for (const d of stomp) decodeMade(d, msg('client', chunk));
      for (const d of mqtt) decodeMade(d, msg('client', chunk, 2));
    }
    await settle();
    const grown = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - before;
    // 40 connections: STOMP drops a frame past 256 KiB, MQTT keeps 64 KiB of a packet.
    expect(grown / 40).toBeLessThan(512 * 1024);
  });
});

describe('fuzz: no input makes a decoder fail, and what it says fits the message', () => {
  const factories: Array<[string, () => AppDecoder]> = [...BY_SUBPROTOCOL.entries()].filter(([k]) => /graphql|stomp|mqtt/.test(k));
  const jsonish = fc.oneof(
    fc.record({ type: fc.constantFrom('connection_init', 'connection_ack', 'subscribe', 'next', 'error', 'complete', 'ping', 'start', 'data', 'stop', 'ka', 'x'), id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), payload: fc.jsonValue() }, { requiredKeys: ['type'] }).map((o) => JSON.stringify(o)),
    fc.record({ type: fc.constant('subscribe'), id: fc.string(), payload: fc.record({ query: fc.string(), operationName: fc.option(fc.string()) }) }).map((o) => JSON.stringify(o)),
    fc.jsonValue().map((v) => JSON.stringify(v)),
  );
  const stompish = fc.tuple(fc.constantFrom('SEND', 'MESSAGE', 'CONNECTED', 'X', 'send', ''), fc.array(fc.tuple(fc.string(), fc.string())), fc.string(), fc.constantFrom('\0', '', '\n', '\0\n\n')).map(
    ([c, hs, body, end]) => `${c}\n${hs.map(([k, v]) => `${k}:${v}`).join('\n')}\n\n${body}${end}`,
  );
  const message = fc.record({
    dir: fc.constantFrom('client', 'server') as fc.Arbitrary<Direction>,
    opcode: fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>,
    truncated: fc.boolean(),
    data: fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      jsonish.map((s) => new TextEncoder().encode(s)),
      stompish.map((s) => new TextEncoder().encode(s)),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }).map((a) => new Uint8Array([0x30, ...a])),
    ),
  });

  for (const [subprotocol, factory] of factories) {
    it(`${subprotocol}: any sequence of messages`, () => {
      fc.assert(
        fc.property(fc.array(message, { maxLength: 25 }), (messages) => {
          const d = factory();
          for (const m of messages) {
            const r = decodeMade(d, msg(m.dir, m.data, m.opcode, m.truncated));
            expect(r.violations?.filter((v) => v.rule === 'app-decoder-failure') ?? []).toEqual([]);
            if (r.app) checkFits(r.app, m.data.length);
          }
        }),
        { seed: SEED, numRuns: 400 },
      );
    });
  }
});

function checkFits(app: AppInfo, length: number): void {
  expect(app.summary.length).toBeLessThan(2000);
  expect(app.parts?.length ?? 0).toBeLessThanOrEqual(64);
  for (const u of [app, ...(app.parts ?? [])]) {
    expect(typeof u.type).toBe('string');
    expect(u.summary.length).toBeLessThan(1000);
    for (const l of u.layers ?? []) {
      expect(l.start).toBeGreaterThanOrEqual(0);
      expect(l.end).toBeGreaterThanOrEqual(l.start);
      expect(l.end).toBeLessThanOrEqual(length);
    }
  }
}
