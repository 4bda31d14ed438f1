/**
 * MQTT over WebSocket decoded from real traffic: `mqtt` (mqtt.js) clients against the `aedes`
 * broker (over ws's createWebSocketStream) through a wiretap, in MQTT 3.1.1 and 5.0. What
 * mqtt.js published and what its subscriber's `message` handler got equal the decoded packet
 * type, topic, packetId, qos and payload, though both sides cut packets across messages.
 */
import type net from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { AppUnit, MessageRef } from '../../server/capture/events.ts';
import { DEFAULT_APP_LIMITS } from '../../server/protocol/app/stage.ts';
import { decodedByTap, type Decoded } from '../helpers/app-wire.ts';
import { Cleanup, HOST, startTap, until, type TapHandle } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function aedesBehindTap(): Promise<TapHandle> {
  const broker = await Aedes.createBroker();
  const wss = new WebSocketServer({ host: HOST, port: 0 });
  wss.on('connection', (ws) => broker.handle(createWebSocketStream(ws) as never));
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  cleanup.add(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  });
  const tap = await startTap((wss.address() as net.AddressInfo).port);
  cleanup.add(() => tap.close());
  return tap;
}

async function client(tap: TapHandle, clientId: string, protocolVersion: 3 | 4): Promise<MqttClient> {
  const c = await mqtt.connectAsync(tap.url, { clientId, protocolVersion, reconnectPeriod: 0, keepalive: 0 });
  cleanup.add(() => c.endAsync(true));
  return c;
}

/**
 * Complete packets (not the pieces that continue), each with its direction, and its summary
 * without the " (in 4 messages)" that a packet cut across messages ends with (aedes writes
 * each field as its own message; the second test checks that part).
 */
const packets = (decoded: Decoded[]): Array<AppUnit & { dir: string; ref: MessageRef }> =>
  decoded.flatMap((d) =>
    (d.result.app ? (d.result.app.parts ?? [d.result.app]) : [])
      .filter((u) => u.type !== 'partial')
      .map((u) => ({ ...u, dir: d.msg.dir, ref: d.msg.ref, summary: u.summary.replace(/ \(in \d+ messages\)$/, '') })),
  );

// aedes speaks MQTT 3.1 and 3.1.1 (it refuses 5.0 with "unacceptable protocol version"); MQTT 5.0
// is checked against mqtt-packet, mqtt.js's own encoder and parser (test/unit/app-mqtt5.test.ts).
/** A payload as the decoded `app` holds it: its first DEFAULT_APP_LIMITS.decodeBytes at most (the stage's cut). */
function shown(payload: Buffer): string {
  return payload.subarray(0, DEFAULT_APP_LIMITS.decodeBytes).toString('base64');
}

for (const protocolVersion of [3, 4] as const) {
  const name = protocolVersion === 4 ? 'MQTT 3.1.1' : 'MQTT 3.1 (mqttv3.1)';
  describe(`${name} (mqtt.js against aedes)`, () => {
    it('decodes CONNECT, SUBSCRIBE, PUBLISH and their acks as the clients sent and received them', async () => {
      const tap = await aedesBehindTap();
      const sub = await client(tap, 'sub-1', protocolVersion);
      const received: IPublishPacket[] = [];
      sub.on('message', (_topic, _payload, packet) => received.push(packet));
      const granted = await sub.subscribeAsync('sensors/+/temp', { qos: 1 });
      expect(granted[0]!.qos).toBe(1);

      const pub = await client(tap, 'pub-1', protocolVersion);
      const sent: Array<{ topic: string; payload: Buffer; qos: 0 | 1 | 2 }> = [
        { topic: 'sensors/1/temp', payload: Buffer.from('21.5'), qos: 0 },
        { topic: 'sensors/2/temp', payload: Buffer.from([0, 1, 2, 255]), qos: 1 },
        { topic: 'sensors/3/temp', payload: Buffer.from('x'.repeat(20_000)), qos: 2 },
      ];
      for (const s of sent) await pub.publishAsync(s.topic, s.payload, { qos: s.qos });
      await until(() => (received.length === sent.length ? true : undefined), 5000, () => `${sent.length} messages (have ${received.length})`);
      await pub.endAsync();
      await sub.endAsync();
      const ends = await tap.waitForCount('end', 2);
      const [subConn, pubConn] = ends.map((e) => e.conn).sort((a, b) => a - b);

      const subDecoded = decodedByTap(tap, subConn!);
      const pubDecoded = decodedByTap(tap, pubConn!);
      expect([...subDecoded, ...pubDecoded].flatMap((d) => d.result.violations ?? [])).toEqual([]);
      const subPackets = packets(subDecoded);
      const pubPackets = packets(pubDecoded);

      expect(subPackets[0]).toMatchObject({ dir: 'client', type: 'CONNECT' });
      expect(subPackets[0]!.summary).toMatch(new RegExp(`^CONNECT "sub-1" MQTT level ${protocolVersion} `));
      expect(subPackets[1]).toMatchObject({ dir: 'server', type: 'CONNACK', summary: 'CONNACK accepted' });
      const subscribe = subPackets.find((u) => u.type === 'SUBSCRIBE')!;
      expect(subscribe).toMatchObject({ dir: 'client', topic: 'sensors/+/temp', qos: 1 });
      expect(subPackets.find((u) => u.type === 'SUBACK')).toMatchObject({ dir: 'server', packetId: subscribe.packetId, replyTo: subscribe.ref, summary: `SUBACK id ${subscribe.packetId} granted qos 1` });

      // What the subscriber's handler got is what the server's PUBLISH packets carried.
      const delivered = subPackets.filter((u) => u.type === 'PUBLISH');
      expect(delivered.map((u) => ({ dir: u.dir, topic: u.topic, qos: u.qos, packetId: u.packetId, payload: u.payload }))).toEqual(
        received.map((p) => ({ dir: 'server', topic: p.topic, qos: p.qos, packetId: p.qos > 0 ? p.messageId : undefined, payload: shown(Buffer.from(p.payload)) })),
      );
      expect(delivered[0]!.summary).toBe('PUBLISH sensors/1/temp qos 0 "21.5"');

      // What the publisher sent, and the broker's acknowledgements by packetId.
      const published = pubPackets.filter((u) => u.type === 'PUBLISH');
      expect(published.map((u) => ({ topic: u.topic, qos: u.qos, payload: u.payload }))).toEqual(sent.map((s) => ({ topic: s.topic, qos: s.qos, payload: shown(s.payload) })));
      // The 20,000-byte payload came in a message longer than the stage decodes: its start is
      // shown, its size said, and the packets after it are still read in step (PUBREL, PUBCOMP).
      expect(published[2]!.summary).toBe(`PUBLISH sensors/3/temp qos 2 id ${published[2]!.packetId} "${'x'.repeat(60)}"… (20000 bytes)`);
      expect(published[1]!.summary).toBe(`PUBLISH sensors/2/temp qos 1 id ${published[1]!.packetId} <4 bytes: 00 01 02 ff>`);
      expect(pubPackets.find((u) => u.type === 'PUBACK')).toMatchObject({ dir: 'server', packetId: published[1]!.packetId, replyTo: published[1]!.ref });
      // QoS 2's four packets, each answering the one before it.
      const flow = pubPackets.filter((u) => u.packetId === published[2]!.packetId);
      expect(flow.map((u) => `${u.dir} ${u.type}`)).toEqual(['client PUBLISH', 'server PUBREC', 'client PUBREL', 'server PUBCOMP']);
      expect(flow.map((u) => u.replyTo)).toEqual([undefined, flow[0]!.ref, flow[1]!.ref, flow[2]!.ref]);
      expect(pubPackets.at(-1)).toMatchObject({ dir: 'client', type: 'DISCONNECT' });
    });

    it('reports a packet cut across messages on the message that completes it, naming the others', async () => {
      const tap = await aedesBehindTap();
      const pub = await client(tap, 'pub-2', protocolVersion);
      await pub.publishAsync('big/one', Buffer.from('y'.repeat(5000)), { qos: 1 });
      await pub.endAsync();
      const end = await tap.waitFor('end');
      const decoded = decodedByTap(tap, end.conn).filter((d) => d.msg.dir === 'client');
      const complete = decoded.find((d) => (d.result.app?.parts ?? [d.result.app]).some((u) => u?.type === 'PUBLISH'))!;
      const publish = (complete.result.app!.parts ?? [complete.result.app!]).find((u) => u.type === 'PUBLISH')!;
      expect(Buffer.from(publish.payload!, 'base64').toString()).toBe('y'.repeat(5000));
      // mqtt.js writes the fixed header, the topic and the payload separately: the packet spans them.
      const spans = complete.result.app!.spans ?? [];
      const before = decoded.slice(0, decoded.indexOf(complete)).filter((d) => d.result.app?.type === 'partial');
      expect(spans).toEqual(before.slice(-spans.length).map((d) => d.msg.ref));
      if (spans.length > 0) expect(publish.summary).toMatch(/\(in \d+ messages\)$/);
    });
  });
}
