import type { ControlEvent } from '../../server/capture/events.ts';
import { check, must, until, useLesson, type ClientRun } from '../harness.ts';

const HEARTBEAT_MS = 300;

// client.js runs first: that one stays healthy.
const lesson = useLesson(import.meta.url);

const connOf = (c: ClientRun) => lesson.connectionsOf(c)[0];
const control = (type: 'ping' | 'pong', dir: 'client' | 'server', conn: number | undefined) =>
  lesson.events.filter((e): e is ControlEvent => e.type === type && e.dir === dir && e.conn === conn);
const pings = (conn: number | undefined) => control('ping', 'server', conn);
const pongs = (conn: number | undefined) => control('pong', 'client', conn);

let dead: ReturnType<typeof vanish> | null = null;

/** A second client says hello, then vanishes: its connection is blackholed. */
async function vanish() {
  // A new connection belongs to the client started last: let client.js's own appear first.
  await until(() => connOf(lesson.client), 3000);
  const ghost = await lesson.runClient({ name: 'the second client' });
  const said = await lesson.waitForType('message', (m) => m.dir === 'client' && m.conn === connOf(ghost), 3000);
  if (!said) return { ghost, conn: undefined, from: 0, end: undefined };
  const conn = said.conn;
  lesson.tap!.faults.add({ kind: 'blackhole' }, conn);
  const from = lesson.tap!.now();
  const end = await lesson.waitForType('end', (e) => e.conn === conn, 2500);
  return { ghost, conn, from, end };
}

const vanished = () => (dead ??= vanish());

check(`the server pings each client every ${HEARTBEAT_MS} ms or so, and the client answers each ping`, { hint: 1 }, async () => {
  const conn = await until(() => connOf(lesson.client), 3000);
  must(conn !== undefined, () => `Your client made no connection.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const enough = await until(() => (pings(conn).length >= 4 ? true : undefined), 2500);
  const n = pings(conn).length;
  must(
    enough,
    n === 0
      ? `In 2.5 s your server sent no ping to the client. Ping every client every ${HEARTBEAT_MS} ms: ws.ping() for each of wss.clients, from a setInterval.`
      : `In 2.5 s your server sent ${n} ping(s) to the client: ping every ${HEARTBEAT_MS} ms.`,
  );
  await until(() => (pongs(conn).length >= 4 ? true : undefined), 1000);
  must(pongs(conn).length >= 3, `The client answered ${pongs(conn).length} of ${n} pings with a pong.`);
});

check('a client that vanished (its connection blackholed) was terminated within two heartbeats: TCP ended by the server', { hint: 2 }, async () => {
  const { conn, end } = await vanished();
  must(conn !== undefined, () => `The second client did not connect and say hello.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(
    end,
    pings(conn).length === 0
      ? 'Your server never noticed that the second client was gone: it sends no pings, so it cannot tell a silent client from a gone one.'
      : `The second client has been blackholed for 2.5 s, about ${Math.round(2500 / HEARTBEAT_MS)} heartbeats, and your server still keeps its connection. If it did not answer the previous ping, end it with ws.terminate() (ws.close() waits for an answer that will never come).`,
  );
  must(end.by === 'server', `The connection ended, but not by your server (by the ${end.by}).`);
});

check('the healthy client, answering every ping, stays connected the whole time', { hint: 2 }, async () => {
  await vanished();
  const conn = connOf(lesson.client);
  must(conn !== undefined, 'Your client made no connection.');
  const before = pings(conn).length;
  must(before > 0, 'Your server sends the healthy client no pings (see the first check): with nothing checking on it, staying connected proves nothing yet. Ping every client on a timer.');
  // A few more heartbeats after the other client was dropped.
  await until(() => (pings(conn).length >= before + 2 ? true : undefined), 1500);
  const end = lesson.wire.connection(conn)?.end;
  must(
    !end,
    () => `The healthy client's connection ended (by the ${end!.by}, the client saw ${end!.code}): a client that answers every ping must stay.\nThe wiretap saw:\n${lesson.wire.transcript({ conn, types: ['message', 'ping', 'pong', 'close', 'end'] })}`,
  );
  must(pings(conn).length >= before + 2, `Your server stopped pinging the healthy client after the other one was dropped.`);
});
