import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll } from 'vitest';
import type { MessageEvent, OpenEvent } from '../../server/capture/events.ts';
import { check, compareWithGoal, lessonGoal, must, until, useLesson, type ClientRun } from '../harness.ts';

// lesson.json's `cluster`: server.js runs as process a and process b, beside a redis-server; the
// wiretap hands connections to a and b in turn. The check starts every peer itself.
const lesson = useLesson(import.meta.url, { client: false });
const GOAL = lessonGoal(import.meta.url);

/** Long enough for eight client processes and a restart on a loaded machine; each wait ends when its event comes. */
const LONG = 90_000;

// ---- the wire, in the check's words -------------------------------------------------------------

const connOf = (c: ClientRun) => lesson.connectionsOf(c)[0];
const openOf = (conn: number) => lesson.events.find((e): e is OpenEvent => e.type === 'open' && e.conn === conn);
/** The process a connection went to ('a' or 'b'), as the wiretap's open event says. */
const processOf = (conn: number) => openOf(conn)?.instance ?? '?';
const bytesOf = (m: MessageEvent): Buffer => (m.opcode === 1 ? Buffer.from(m.text ?? '', 'utf8') : Buffer.from(m.base64 ?? '', 'base64'));
const sameMessage = (x: MessageEvent, y: MessageEvent) => x.opcode === y.opcode && bytesOf(x).equals(bytesOf(y));
const hex = (b: Buffer) => [...b.subarray(0, 16)].map((x) => x.toString(16).padStart(2, '0')).join(' ') + (b.length > 16 ? ' …' : '');
/** Text as a reader sees it, with the characters nothing shows named: <U+0000>. */
const shown = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/gu, (ch) => `<U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}>`);
const described = (m: MessageEvent) => (m.opcode === 1 ? `TEXT '${shown(m.text ?? '')}'` : `BINARY ${hex(bytesOf(m))}`);
/** "A (process a, #3)" */
function who(conn: number): string {
  const name = lesson.clientOf(conn)?.name.replace(/^client /, '') ?? `#${conn}`;
  return `${name} (process ${processOf(conn)}, #${conn})`;
}
function list(conns: number[]): string {
  const n = conns.map(who);
  return n.length === 0 ? 'nobody' : n.length === 1 ? n[0]! : `${n.slice(0, -1).join(', ')} and ${n.at(-1)}`;
}

/** Messages the peers received (not the wiretap's own), on `conn`. */
const receivedOn = (conn: number) => lesson.wire.messages('server').filter((s) => s.conn === conn && !s.injected);
/** When a connection's 101 passed the wiretap (undefined: not upgraded). */
function upgradedAt(conn: number): number | undefined {
  const h = lesson.wire.ofType('handshake', conn).find((e) => e.response?.status === 101);
  return h?.response?.t;
}
const endedAt = (conn: number) => lesson.wire.ofType('end', conn)[0]?.t ?? Number.POSITIVE_INFINITY;

/**
 * Who a message from `m.conn` should reach: every other connection of `among` that was upgraded
 * when the message passed the wiretap (each process had it in its wss.clients by then: ws adds a
 * client as it writes the 101) and had not ended.
 */
const audience = (m: MessageEvent, among: number[]) => among.filter((c) => c !== m.conn && (upgradedAt(c) ?? Infinity) < m.t && endedAt(c) > m.t);
/** The copies of `m` that arrived on `conn` after it was sent. */
const copiesOn = (m: MessageEvent, conn: number) => receivedOn(conn).filter((s) => s.t > m.t && sameMessage(s, m));

// ---- Redis, as the check hears it ------------------------------------------------------------------

/** Every pub/sub message Redis carried during the run (the check subscribes to all channels). */
const published: Array<{ channel: string; payload: Buffer }> = [];
let listener: ReturnType<typeof createClient> | null = null;

async function listenOnRedis(): Promise<void> {
  if (!lesson.redis) return;
  const c = createClient({ url: lesson.redis.url });
  c.on('error', () => {});
  await c.connect();
  await c.pSubscribe('*', (payload: Buffer, channel: Buffer) => {
    // Bounded: the run publishes some hundred messages; a loop that publishes forever stops here.
    if (published.length < 10_000) published.push({ channel: channel.toString(), payload: Buffer.from(payload.subarray(0, 64 * 1024)) });
  }, true);
  listener = c;
}

/** Whether a publish carried `m`: its bytes as they are, in base64, or in a payload that is base64. */
function carried(m: MessageEvent): { channel: string } | undefined {
  const bytes = bytesOf(m);
  const b64 = bytes.toString('base64');
  const json = m.opcode === 1 ? JSON.stringify(m.text ?? '').slice(1, -1) : null;
  return published.find(({ payload }) => {
    if (payload.includes(bytes) || payload.includes(b64) || (json !== null && payload.includes(json))) return true;
    const text = payload.toString('latin1');
    return /^[A-Za-z0-9+/=\s]+$/.test(text) && Buffer.from(text, 'base64').includes(bytes);
  });
}

/** What server.js said about a Redis connection in subscriber mode (node-redis and ioredis words). */
const subscriberMode = () => lesson.serverOutput.find((l) => /only \(P\|S\)SUBSCRIBE|subscriber mode/i.test(l))?.replace(/^\[\w+\] /, '');

// ---- the run --------------------------------------------------------------------------------------

const N_SEQ = 20;

/** A peer of the check's: on open, N_SEQ numbered text messages, then random bytes as a binary message. */
function sequenceScript(name: string, bytes: Buffer): string {
  return [
    "const socket = new WebSocket('ws://localhost:9900');",
    'socket.onopen = () => {',
    `  for (let i = 1; i <= ${N_SEQ}; i++) socket.send('${name} says ' + i + ' of ${N_SEQ}');`,
    `  socket.send(new Uint8Array(${JSON.stringify([...bytes])}));`,
    '};',
  ].join('\n');
}

interface FirstRun {
  a: ClientRun;
  b: ClientRun;
  c: ClientRun;
  d: ClientRun;
  p: ClientRun;
  q: ClientRun;
  /** The connections of the run: A, B, C, D, P, Q. */
  conns: number[];
  /** Everything the peers sent, in order. */
  said: MessageEvent[];
  /** A, B, C and D's part of the wire, for the goal. */
  goalEvents: typeof lesson.events;
}

/**
 * A, B, C and D (client.js, four copies: processes a, b, a, b), each greeting the ones after it;
 * then the check's peers P (process a) and Q (process b) each send numbered messages and bytes.
 */
async function firstRun(): Promise<FirstRun> {
  await listenOnRedis();
  const [a, b, c, d] = await lesson.peers(4);
  await until(() => (connOf(d!) !== undefined && lesson.wire.messages('client', connOf(d!)).length > 0 ? true : undefined), 10_000);
  await lesson.settle(400, 4000);
  const goalEvents = lesson.events.slice();
  // ff 00 first: bytes that are no text, whatever the random rest.
  const p = await lesson.runScript('the check\'s peer P', sequenceScript('P', Buffer.concat([Buffer.from([0xff, 0x00]), randomBytes(10)])));
  await until(() => (connOf(p) !== undefined ? true : undefined), 10_000);
  const q = await lesson.runScript('the check\'s peer Q', sequenceScript('Q', Buffer.concat([Buffer.from([0xff, 0x00]), randomBytes(10)])));
  await until(() => (connOf(q) !== undefined && lesson.wire.messages('client', connOf(q)).some((m) => m.opcode === 2) ? true : undefined), 10_000);
  const peers = [a!, b!, c!, d!, p, q];
  const conns = peers.map(connOf).filter((x): x is number => x !== undefined);
  const saidNow = () => lesson.wire.messages('client').filter((m) => conns.includes(m.conn));
  // Until every message reached every peer it should, and Redis carried those that crossed: on
  // a loaded machine a hop through Redis can take longer than any quiet period. A solution
  // that loses messages waits the whole time, then the checks say which.
  await until(() => (saidNow().every((m) => audience(m, conns).every((c) => copiesOn(m, c).length > 0 && (processOf(c) === processOf(m.conn) || carried(m)))) ? true : undefined), 8000);
  await lesson.settle(300, 3000);
  return { a: a!, b: b!, c: c!, d: d!, p, q, conns, said: saidNow(), goalEvents };
}

let first: Promise<FirstRun> | null = null;
const run = () => (first ??= firstRun());

/** The first message (in wire order) that `bad` finds fault with, and the fault, in words. */
function firstFault(r: FirstRun, bad: (m: MessageEvent, to: number[]) => string | null): string | null {
  for (const m of r.said) {
    const why = bad(m, audience(m, r.conns));
    if (why) return why;
  }
  return null;
}

function againstGoal(r: FirstRun): string {
  const from = connOf(r.a) ?? 0;
  const sentence = compareWithGoal(GOAL, r.goalEvents, `the check's peers A, B, C and D, from #${from}`, { fromConn: from, now: Number.POSITIVE_INFINITY });
  return sentence ? `\n${sentence}` : '';
}

// ---- the checks -----------------------------------------------------------------------------------

check('every message a peer got is one a peer sent, as it was sent: text as text, bytes unchanged', { hint: 4, timeout: LONG }, async () => {
  const r = await run();
  const greeting = 'Hello webSocket';
  for (const conn of r.conns) {
    for (const s of receivedOn(conn)) {
      if (s.opcode === 1 && s.text === greeting) continue;
      const sent = r.said.filter((m) => m.t < s.t);
      if (sent.some((m) => sameMessage(m, s))) continue;
      const sameBytes = sent.find((m) => bytesOf(m).equals(bytesOf(s)));
      const textOfBytes = sent.find((m) => m.opcode === 2 && s.opcode === 1 && Buffer.from(s.text ?? '', 'utf8').equals(Buffer.from(bytesOf(m).toString('utf8'), 'utf8')));
      const why =
        s.opcode === 1 && /\[object \w+\]/.test(s.text ?? '')
          ? `an object went through String() on its way: Redis carries strings and bytes, and publish(channel, object) sends '[object Object]'. Publish JSON.stringify(...) of it and JSON.parse what the subscriber gets.`
          : sameBytes
            ? `${who(sameBytes.conn)} sent it as ${sameBytes.opcode === 1 ? 'text' : 'binary'}, and it arrived as ${s.opcode === 1 ? 'text' : 'binary'}: carry isBinary along with the bytes, and send with { binary: isBinary } on the other side.`
            : textOfBytes
              ? `${who(textOfBytes.conn)} sent the bytes ${hex(bytesOf(textOfBytes))} as a binary message, and they arrived as text: bytes that are no UTF-8 became U+FFFD on the way (data.toString()). Carry the bytes themselves (base64 in JSON, or a Buffer) and isBinary.`
              : `no peer sent that. Pass each message on as it came.`;
      must(false, `${who(conn)} got ${described(s)}: ${why}\nWhat the peers sent:\n${r.said.slice(0, 8).map((m) => `  ${who(m.conn)}: ${described(m)}`).join('\n')}${r.said.length > 8 ? '\n  …' : ''}`);
    }
  }
});

/** Why a Redis connection refused a publish, when server.js printed it, in the learner's words ('' otherwise). */
function subscriberModeWhy(): string {
  const line = subscriberMode();
  return line
    ? `Your server.js said: '${line.trim()}'. A Redis connection that has subscribed is in subscriber mode: it may only subscribe, unsubscribe and ping, so a publish on it is refused. Publish on a second connection (node-redis: client.duplicate(); ioredis: new Redis(url)).`
    : '';
}

check('a message reached the peers on the other process too', { hint: 1, timeout: LONG }, async () => {
  const r = await run();
  const goal = againstGoal(r);
  // Every peer of the run connected, got its 101 and spoke: a run where the processes died
  // early would otherwise have nothing to judge.
  for (const peer of [r.a, r.b, r.c, r.d, r.p, r.q]) {
    const conn = connOf(peer);
    const problem =
      conn === undefined ? 'could not connect' : upgradedAt(conn) === undefined ? `got no 101 from process ${processOf(conn)}` : lesson.wire.messages('client', conn).length === 0 ? 'said nothing' : null;
    must(!problem, () => `${conn === undefined ? peer.name : who(conn)} ${problem}. ${subscriberModeWhy()}\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  }
  const fault = firstFault(r, (m, to) => {
    const missed = to.filter((c) => copiesOn(m, c).length === 0);
    if (missed.length === 0) return null;
    const got = to.filter((c) => !missed.includes(c));
    const other = missed.filter((c) => processOf(c) !== processOf(m.conn));
    const onRedis = carried(m);
    const why = subscriberMode()
      ? subscriberModeWhy()
      : onRedis
        ? `It was published on Redis (channel '${onRedis.channel}'), and process ${[...new Set(other.map(processOf))].join(' and ') || '?'} did not send it on: does every process subscribe to that channel, and send what arrives to its own clients?`
        : other.length > 0
          ? `The peers of process ${processOf(m.conn)} are in its wss.clients; those of the other process are not, and nothing told that process. Publish each message on a Redis channel, and have every process subscribe to it and send what arrives to its clients.`
          : `Even peers of the same process missed it: send each message to this process's other clients, as in lesson 08.`;
    return `${who(m.conn)} said ${described(m)}, and it reached ${list(got)}; not ${list(missed)}. ${why}`;
  });
  must(!fault, () => `${fault}${goal}`);
});

check('the messages crossed between the processes through Redis', { hint: 5, timeout: LONG }, async () => {
  const r = await run();
  const fault = firstFault(r, (m, to) => {
    const across = to.filter((c) => processOf(c) !== processOf(m.conn) && copiesOn(m, c).length > 0);
    if (across.length === 0 || carried(m)) return null;
    return `${who(m.conn)} said ${described(m)}, and it reached ${list(across)} on the other process, but no message on Redis carried it (the check listens to every channel: ${published.length} publishes seen). The processes must not know each other's ports or addresses: in production they come and go, and Redis is the one place each knows. Publish each message on a Redis channel (its bytes, or JSON with them in base64).`;
  });
  must(!fault, () => fault!);
});

check('each peer got each message once', { hint: 2, timeout: LONG }, async () => {
  const r = await run();
  const fault = firstFault(r, (m, to) => {
    const twice = to.find((c) => copiesOn(m, c).length > 1);
    if (twice === undefined) return null;
    const n = copiesOn(m, twice).length;
    const same = processOf(twice) === processOf(m.conn);
    return `${who(m.conn)} said ${described(m)}, and ${who(twice)} got it ${n} times.${same ? ` They are on the same process: it sent the message to its own clients at once, and again when its own publish came back from Redis (a subscriber gets every message on the channel, its own process's too). Send it once: skip what your own process published (put the process's id in what you publish), or send to local clients only from the subscriber.` : ' Publish each message once, and subscribe once per process.'}`;
  });
  must(!fault, () => fault!);
});

check('no message came back to the peer that sent it', { hint: 3, timeout: LONG }, async () => {
  const r = await run();
  const goal = againstGoal(r);
  const fault = firstFault(r, (m) => {
    const back = copiesOn(m, m.conn)[0];
    if (!back) return null;
    return `${who(m.conn)} said ${described(m)}, and got it back. Its own process published it and, subscribed to the same channel, received it again from Redis and sent it to all its clients: the sender is among them. Skip the sender: when the process that published it is this one, its clients have had it already (or publish with the sender's id and skip that connection).`;
  });
  must(!fault, () => `${fault}${goal}`);
});

check("each sender's messages arrived in the order it sent them", { hint: 4, timeout: LONG }, async () => {
  const r = await run();
  for (const sender of r.conns) {
    const mine = r.said.filter((m) => m.conn === sender);
    for (const to of r.conns) {
      if (to === sender) continue;
      // The index in the sender's order of each copy `to` got, in the order it got them.
      const order = receivedOn(to)
        .map((s) => mine.findIndex((m) => m.t < s.t && sameMessage(m, s)))
        .filter((i) => i >= 0);
      const back = order.findIndex((i, k) => k > 0 && i < order[k - 1]!);
      must(
        back < 0,
        () => `${who(sender)} sent ${described(mine[order[back - 1]!]!)} before ${described(mine[order[back]!]!)}, and ${who(to)} got them the other way round. One channel, one publishing connection per process, and a send for each message as it arrives keeps the order: Redis delivers a connection's publishes in order.`,
      );
    }
  }
});

check('after process a restarted, the peers of both processes still hear each other', { hint: 5, timeout: LONG }, async () => {
  const r = await run();
  // Process a goes away with its peers (A, C, P) and comes back on a new port; B, D and Q stay on b.
  await lesson.restartServer('a');
  const stay = [r.b, r.d, r.q].map(connOf).filter((x): x is number => x !== undefined);
  // One after the other, each once its connection is known (they go to a, then b, in turn).
  const e = await lesson.runClient({ name: 'client E' });
  await until(() => connOf(e), 10_000);
  const f = await lesson.runClient({ name: 'client F' });
  await until(() => connOf(f), 10_000);
  const ce = connOf(e);
  const cf = connOf(f);
  must(ce !== undefined && cf !== undefined, 'The peers started after the restart could not connect.');
  await until(() => (lesson.wire.messages('client', cf).length > 0 && lesson.wire.messages('client', ce).length > 0 ? true : undefined), 10_000);
  const hellos = () => [ce, cf].map((c) => lesson.wire.messages('client', c)[0]).filter((m): m is MessageEvent => m !== undefined);
  await until(() => (hellos().every((m) => audience(m, [...stay, ce, cf]).every((c) => copiesOn(m, c).length > 0)) ? true : undefined), 8000);
  await lesson.settle(300, 3000);
  for (const conn of [ce, cf]) {
    const hello = lesson.wire.messages('client', conn)[0];
    must(hello, `${who(conn)} sent nothing after the restart.`);
    const to = audience(hello, [...stay, ce, cf]);
    const missed = to.filter((c) => copiesOn(hello, c).length === 0);
    must(
      missed.length === 0,
      () =>
        `After process a restarted (on a new port), ${who(conn)} said ${described(hello)}, and ${list(missed)} did not get it. A process that starts again must subscribe again, and the other must not depend on where it was: join them through Redis only.\n${lesson.trouble()}`,
    );
  }
});

// Not a check: the listener on Redis goes with the run.
afterAll(async () => {
  await listener?.quit().catch(() => {});
});
