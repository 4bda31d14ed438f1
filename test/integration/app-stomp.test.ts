/**
 * STOMP decoded from real traffic: `@stomp/stompjs` clients against `stomp-broker-js` (a STOMP
 * 1.1 broker) through a wiretap. What stompjs's API published and handed to its subscriber
 * equals the decoded command, headers and body; a frame stompjs splits across messages
 * (`splitLargeFrames`) is joined; the same bytes cut anywhere decode to the same frames.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type net from 'node:net';
import { Client, Versions, type IMessage } from '@stomp/stompjs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { AppUnit } from '../../server/capture/events.ts';
import type { AppMessage } from '../../server/protocol/app/decoder.ts';
import { DEFAULT_APP_LIMITS } from '../../server/protocol/app/stage.ts';
import { stompDecoder } from '../../server/protocol/app/stomp.ts';
import { decodeMade, decodedByTap, type Decoded } from '../helpers/app-wire.ts';
import { Cleanup, HOST, startTap, until, type TapHandle } from '../helpers/net.ts';

const StompServer = createRequire(import.meta.url)('stomp-broker-js') as new (config: { server: http.Server; path: string }) => NodeJS.EventEmitter;

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** stomp-broker-js on port 0 (path /stomp) with a wiretap in front. */
async function brokerBehindTap(): Promise<{ tap: TapHandle; broker: NodeJS.EventEmitter }> {
  const server = http.createServer();
  const broker = new StompServer({ server, path: '/stomp' });
  broker.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  cleanup.add(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const tap = await startTap((server.address() as net.AddressInfo).port);
  cleanup.add(() => tap.close());
  return { tap, broker };
}

/** A connected stompjs client through the tap, offering v12.stomp, v11.stomp and v10.stomp. */
async function stompClient(tap: TapHandle, options: Partial<Client> = {}): Promise<Client> {
  const versions = new Versions(['1.2', '1.1', '1.0']);
  const client = new Client({
    webSocketFactory: () => new WebSocket(`${tap.url}/stomp`, versions.protocolVersions()),
    stompVersions: versions,
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  Object.assign(client, options);
  const connected = new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (f) => reject(new Error(`STOMP ERROR ${f.headers.message}`));
    client.onWebSocketError = () => reject(new Error('WebSocket error'));
  });
  client.activate();
  cleanup.add(() => client.deactivate({ force: true }));
  await connected;
  return client;
}

const units = (decoded: Decoded[]): AppUnit[] => decoded.flatMap((d) => (d.result.app ? (d.result.app.parts ?? [d.result.app]) : []));
const headersOf = (u: AppUnit) => Object.fromEntries(u.headers ?? []);

describe('STOMP (stompjs against stomp-broker-js)', () => {
  it('decodes CONNECT, CONNECTED, SUBSCRIBE, SEND and MESSAGE as stompjs sent and received them', async () => {
    const { tap, broker } = await brokerBehindTap();
    const subscriber = await stompClient(tap);
    const received: IMessage[] = [];
    const subscribed = new Promise((resolve) => broker.once('subscribe', resolve));
    const sub = subscriber.subscribe('/topic/chat', (m) => received.push(m));
    await subscribed;

    const publisher = await stompClient(tap);
    // stompjs escapes header values only once STOMP 1.2 is agreed; this broker speaks 1.1, so a
    // value stays as is on the wire (a colon after the first is still read as part of the value).
    const sent: Array<{ destination: string; body: string; headers: Record<string, string> }> = [
      { destination: '/topic/chat', body: 'hello, world', headers: { 'x-note': 'a:b' } },
      { destination: '/topic/chat', body: '{"n":2}', headers: { 'content-type': 'application/json' } },
    ];
    for (const p of sent) publisher.publish(p);
    await until(() => (received.length === sent.length ? true : undefined), 5000, () => `${sent.length} messages (have ${received.length})`);
    await subscriber.deactivate();
    await publisher.deactivate();
    const ends = await tap.waitForCount('end', 2);

    const [subConn, pubConn] = ends.map((e) => e.conn).sort((a, b) => a - b);
    const subUnits = units(decodedByTap(tap, subConn!));
    const pubDecoded = decodedByTap(tap, pubConn!);
    const pubUnits = units(pubDecoded);

    expect(subUnits.map((u) => u.command)).toEqual(['CONNECT', 'CONNECTED', 'SUBSCRIBE', 'MESSAGE', 'MESSAGE', 'DISCONNECT', 'RECEIPT']);
    // A MESSAGE points at the SUBSCRIBE it was delivered for, the RECEIPT at the DISCONNECT that asked for it.
    const subMsgs = decodedByTap(tap, subConn!).filter((d) => d.result.app?.command !== undefined);
    const refOf = (command: string) => subMsgs.find((d) => d.result.app!.command === command)!.msg.ref;
    expect(subUnits.map((u) => u.replyTo)).toEqual([undefined, undefined, undefined, refOf('SUBSCRIBE'), refOf('SUBSCRIBE'), undefined, refOf('DISCONNECT')]);
    expect(headersOf(subUnits[0]!)).toMatchObject({ 'accept-version': '1.2,1.1,1.0' });
    expect(headersOf(subUnits[1]!)).toMatchObject({ version: '1.1' });
    expect(headersOf(subUnits[2]!)).toMatchObject({ destination: '/topic/chat', id: sub.id });
    // What the subscriber's callback got is what the MESSAGE frames carried.
    received.forEach((m, i) => {
      const u = subUnits[3 + i]!;
      expect(u.body).toBe(m.body);
      expect(headersOf(u)).toEqual(m.headers);
      expect(u.summary.startsWith(`MESSAGE /topic/chat`)).toBe(true);
    });
    expect(received[0]!.headers['x-note']).toBe('a:b');

    expect(pubUnits.map((u) => u.command)).toEqual(['CONNECT', 'CONNECTED', 'SEND', 'SEND', 'DISCONNECT', 'RECEIPT']);
    sent.forEach((p, i) => {
      const u = pubUnits[2 + i]!;
      expect(u.body).toBe(p.body);
      expect(headersOf(u)).toMatchObject({ destination: p.destination, ...p.headers, 'content-length': String(Buffer.byteLength(p.body)) });
    });
    expect(pubUnits[2]!.summary).toBe('SEND /topic/chat "hello, world"');

    // The layers: the whole frame, its command line, headers and body, as byte ranges.
    const sendMsg = pubDecoded.find((d) => d.result.app?.command === 'SEND')!;
    const body = sendMsg.result.app!.layers!.find((l) => l.name === 'body')!;
    expect(Buffer.from(sendMsg.msg.data.subarray(body.start, body.end)).toString()).toBe(sent[0]!.body);
    expect(sendMsg.result.app!.layers![0]).toMatchObject({ name: 'STOMP frame', start: 0, end: sendMsg.msg.data.length });

    // The one rule broken: stomp-broker-js sends MESSAGE frames without the message-id header
    // STOMP 1.1 requires ("MESSAGE"); everything stompjs sent is clean.
    const broken = [...decodedByTap(tap, subConn!), ...pubDecoded].flatMap((d) =>
      (d.result.violations ?? []).map((v) => `${d.msg.dir} ${d.result.app?.command} ${v.rule} (${v.section})`),
    );
    expect(broken).toEqual(received.map(() => 'server MESSAGE stomp-missing-header (STOMP 1.1, MESSAGE)'));
  });

  it("reports the broker's MESSAGE whose content-length counts characters, not octets (stomp-broker-js 1.3)", async () => {
    const { tap, broker } = await brokerBehindTap();
    const subscriber = await stompClient(tap);
    const subscribed = new Promise((resolve) => broker.once('subscribe', resolve));
    subscriber.subscribe('/topic/chat', () => {});
    await subscribed;
    const publisher = await stompClient(tap);
    const body = 'ünïcode';
    publisher.publish({ destination: '/topic/chat', body });
    const message = await tap.waitFor('message', (e) => e.dir === 'server' && e.text?.startsWith('MESSAGE') === true);
    // The subscriber's parser is lost in that frame (it waits for a NUL that is not there): no
    // DISCONNECT handshake with it, just close the socket.
    await subscriber.deactivate({ force: true });
    await publisher.deactivate();
    await tap.waitForCount('end', 2);

    const decoded = [...decodedByTap(tap, message.conn), ...decodedByTap(tap, message.conn + 1)];
    const send = decoded.find((d) => d.result.app?.command === 'SEND')!;
    // stompjs counts octets: its SEND is fine.
    expect(headersOf(send.result.app!)['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(send.result.violations).toBeUndefined();
    const forwarded = decoded.find((d) => d.result.app?.command === 'MESSAGE')!;
    expect(headersOf(forwarded.result.app!)['content-length']).toBe(String(body.length));
    expect(forwarded.result.violations).toEqual([
      expect.objectContaining({ rule: 'stomp-missing-nul', section: 'STOMP 1.1, Body' }),
      expect.objectContaining({ rule: 'stomp-missing-header', section: 'STOMP 1.1, MESSAGE' }),
    ]);
    expect(forwarded.result.violations![0]!.message).toBe(`content-length says the body has ${body.length} octets, but no NUL follows them: the frame is malformed (its length or its NUL is wrong).`);
  });

  it('shows a SEND longer than the stage decodes with its command, headers and the start of its body, and reads the next frame', async () => {
    const { tap } = await brokerBehindTap();
    const publisher = await stompClient(tap);
    const body = 'z'.repeat(DEFAULT_APP_LIMITS.decodeBytes * 2);
    publisher.publish({ destination: '/queue/big', body });
    publisher.publish({ destination: '/queue/small', body: 'after' });
    await publisher.deactivate();
    const end = await tap.waitFor('end');
    const sends = decodedByTap(tap, end.conn).filter((d) => d.result.app?.command === 'SEND');
    expect(sends.map((d) => d.result.violations)).toEqual([undefined, undefined]);
    const big = sends[0]!.result.app!;
    expect(headersOf(big)).toMatchObject({ destination: '/queue/big', 'content-length': String(body.length) });
    expect(body.startsWith(big.body!)).toBe(true);
    expect(big.summary).toMatch(/^SEND \/queue\/big "z+…" \(message cut after \d+ bytes: the body is shown in part\)$/);
    expect(sends[1]!.result.app).toMatchObject({ body: 'after', summary: 'SEND /queue/small "after"' });
  });

  it('joins a SEND that stompjs split across messages and reports it on the last one, with spans', async () => {
    const { tap } = await brokerBehindTap();
    const publisher = await stompClient(tap, { splitLargeFrames: true, maxWebSocketChunkSize: 1000 });
    const body = 'x'.repeat(2500) + '-the end';
    publisher.publish({ destination: '/queue/big', body });
    await publisher.deactivate();
    const end = await tap.waitFor('end');

    const decoded = decodedByTap(tap, end.conn);
    const client = decoded.filter((d) => d.msg.dir === 'client');
    const pieces = client.filter((d) => d.result.app?.type === 'partial');
    const complete = client.find((d) => d.result.app?.command === 'SEND' && d.result.app.type === 'SEND')!;
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(complete.result.app!.body).toBe(body);
    expect(complete.result.app!.spans).toEqual(pieces.map((d) => d.msg.ref));
    expect(complete.result.app!.summary).toMatch(/^SEND \/queue\/big "x+…" \(joined from \d+ messages\)$/);
    expect(pieces[0]!.result.app!.summary).toBe('SEND: the frame continues in the next message');
    expect(client.flatMap((d) => d.result.violations ?? [])).toEqual([]);
  });

  it('reads the same frames from the same bytes however they are cut into messages', async () => {
    const { tap, broker } = await brokerBehindTap();
    const subscriber = await stompClient(tap);
    const subscribed = new Promise((resolve) => broker.once('subscribe', resolve));
    subscriber.subscribe('/topic/a', () => {});
    await subscribed;
    subscriber.publish({ destination: '/topic/a', body: 'one\ntwo', headers: { k: 'v=w' } });
    subscriber.publish({ destination: '/topic/a', body: 'bin\u0000ary', headers: {} });
    await subscriber.deactivate();
    const end = await tap.waitFor('end');
    const real = decodedByTap(tap, end.conn).filter((d) => d.msg.dir === 'client');
    const expected = units(real).map((u) => [u.command, u.headers, u.body]);
    expect(expected.map((e) => e[0])).toEqual(['CONNECT', 'SUBSCRIBE', 'SEND', 'SEND', 'DISCONNECT']);
    const stream = Buffer.concat(real.map((d) => d.msg.data));

    // All of them in one message: one app with the frames in `parts`, each with its own layers.
    const whole = decodeMade(stompDecoder('1.2'), { dir: 'client', opcode: 1, data: new Uint8Array(stream), truncated: false, ref: { conn: 1, dir: 'client', firstFrame: 0 }, t: 0 });
    expect(whole.app!.parts!.map((u) => [u.command, u.headers, u.body])).toEqual(expected);
    expect(whole.app!.summary).toMatch(/^5 frames: CONNECT accept-version 1\.2,1\.1,1\.0; SUBSCRIBE \/topic\/a id sub-0; SEND \/topic\/a "one\\ntwo"; SEND \/topic\/a "bin\\u0000ary"; …$/);
    const lastFrame = whole.app!.parts!.at(-1)!.layers![0]!;
    expect(lastFrame).toMatchObject({ name: 'STOMP frame', end: stream.length });
    expect(Buffer.from(stream.subarray(lastFrame.start, lastFrame.end)).toString()).toMatch(/^DISCONNECT\n/);

    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
        const bounds = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const decoder = stompDecoder('1.2');
        const got: AppUnit[] = [];
        for (let i = 0; i + 1 < bounds.length; i++) {
          const data = new Uint8Array(stream.subarray(bounds[i], bounds[i + 1]));
          const msg: AppMessage = { dir: 'client', opcode: 1, data, truncated: false, ref: { conn: 1, dir: 'client', firstFrame: i }, t: i };
          const r = decodeMade(decoder, msg);
          expect(r.violations).toBeUndefined();
          for (const u of r.app?.parts ?? (r.app ? [r.app] : [])) if (u.type !== 'partial') got.push(u);
        }
        expect(got.map((u) => [u.command, u.headers, u.body])).toEqual(expected);
      }),
      { seed: 0x5702, numRuns: 200 },
    );
  });
});
