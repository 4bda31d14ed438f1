import type { CloseEvent, ControlEvent, EndEvent } from '../../server/capture/events.ts';
import { check, compareWithGoal, lessonGoal, must, until, useLesson, type ClientRun } from '../harness.ts';

const HEARTBEAT_MS = 300;
/** Heartbeats (pings to the healthy client) a server gets to notice a frozen client: a correct one needs two. */
const GRACE_TICKS = 5;

// client.js runs first: that one stays healthy.
const lesson = useLesson(import.meta.url);

/** Step 4's conversation (goal.json): the healthy client's connection is compared with it. */
const GOAL = lessonGoal(import.meta.url);

const connOf = (c: ClientRun) => lesson.connectionsOf(c)[0];
const control = (type: 'ping' | 'pong', dir: 'client' | 'server', conn: number | undefined) =>
  lesson.events.filter((e): e is ControlEvent => e.type === type && e.dir === dir && e.conn === conn);
const pings = (conn: number | undefined) => control('ping', 'server', conn);
const pongs = (conn: number | undefined) => control('pong', 'client', conn);
const endOf = (conn: number | undefined) => lesson.events.find((e): e is EndEvent => e.type === 'end' && e.conn === conn);
const frameRef = (conn: number, frame: number) => `#${conn} frame ${frame}`;

/**
 * Time on the wire is counted in the server's own heartbeats (pings to the healthy client), not
 * in milliseconds: a loaded machine slows the server's timer and the check's clock alike.
 * Resolves when `done()` holds, or when `ticks` more heartbeats passed; a server that pings
 * slowly or not at all gets 1.2 s a tick (and 2 s more).
 */
async function withinTicks<T>(done: () => T | undefined, ticks: number, clock = connOf(lesson.client)): Promise<T | undefined> {
  const start = pings(clock).length;
  const out = await until(() => {
    const v = done();
    if (v !== undefined) return { v };
    return pings(clock).length - start >= ticks ? { v: undefined } : undefined;
  }, ticks * 1200 + 2000);
  return out?.v;
}

// ---- the healthy client ----

let healthy: ReturnType<typeof watchHealthy> | null = null;

/** client.js, answering every ping: six pings (or its end, or 6 s). */
async function watchHealthy() {
  const conn = await until(() => connOf(lesson.client), 10_000);
  if (conn === undefined) return { conn };
  // The frozen client starts now, alongside (started before any check can fail, so that no
  // failure message catches it half-started).
  ghostStarted ??= lesson.runScript('the second client', FROZEN);
  frozen ??= freeze();
  await ghostStarted;
  await until(() => (pings(conn).length >= 6 || endOf(conn) ? true : undefined), 6000);
  return { conn };
}
const watched = () => (healthy ??= watchHealthy());

/**
 * The healthy client's connection against the goal, as the check read it: the sentence naming
 * the first arrow where it differs ('' when it follows the goal), to close a failure message
 * with. Only its own connection (the check's other clients are not the goal's). The check has
 * watched it as long as it watches (six heartbeats, or its end): an arrow still missing then is
 * missing.
 */
function againstGoal(conn: number | undefined): string {
  const events = lesson.events.filter((e) => e.conn === conn);
  const sentence = compareWithGoal(GOAL, events, `the check's healthy client${conn !== undefined ? `, #${conn}` : ''}`, {
    fromConn: conn ?? 0,
    // Ended: the goal says so. Still open: the check is done watching, so what is missing is missing.
    ...(endOf(conn) ? {} : { now: Number.POSITIVE_INFINITY }),
  });
  return sentence ? `\n${sentence}` : '';
}

let secondOpinion: Promise<number | undefined> | null = null;

/** Copies of client.js the check runs after a healthy client was ended though it answered. */
const MORE_OPINIONS = 3;

/**
 * client.js once more, up to MORE_OPINIONS times: the connection of the first copy still open
 * after four pings (or the last copy's). A server stalled by a loaded machine runs its timer
 * before it reads a pong that came in time, and a machine that loaded stalls it more than once;
 * a server that ends healthy clients by its code ends every copy, so more copies never pass it.
 */
async function watchAgain(): Promise<number | undefined> {
  // New connections belong to the client started last: the frozen client's must be known first.
  const ghost = await (ghostStarted ??= lesson.runScript('the second client', FROZEN));
  await until(() => connOf(ghost), 10_000);
  let conn: number | undefined;
  for (let copy = 1; copy <= MORE_OPINIONS; copy++) {
    const again = await lesson.runClient({ name: `client.js (again, ${copy})` });
    conn = await until(() => connOf(again), 10_000);
    if (conn === undefined) return undefined;
    const c = conn;
    await withinTicks(() => (pings(c).length >= 4 || endOf(c) ? true : undefined), 8, c);
    if (!endOf(c) || pongs(c).length < pings(c).length) return c;
  }
  return conn;
}

check(`the server pings the client on a timer, and the client answers each ping with a pong`, { hint: 1, timeout: 60_000 }, async () => {
  const { conn } = await watched();
  const goal = againstGoal(conn);
  must(conn !== undefined, () => `Your client made no connection.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const p = pings(conn);
  must(
    p.length > 0,
    `Your server sent no ping to the client in 6 s. Ping every client every ${HEARTBEAT_MS} ms: ws.ping() for each of wss.clients, from one setInterval.${goal}`,
  );
  must(
    pongs(conn).length > 0,
    `Your server pinged (${frameRef(conn, p[0]!.frame)}), and no pong came back: a browser answers every ping by itself, so look at what the server sends.${goal}`,
  );
});

check('the healthy client, answering every ping, stays connected', { hint: 2, timeout: 120_000 }, async () => {
  const { conn } = await watched();
  // Also once the frozen client (below) is gone: two more heartbeats after that.
  if (conn !== undefined && !endOf(conn)) {
    await (frozen ??= freeze());
    await withinTicks(() => endOf(conn), 2);
  }
  must(conn !== undefined && pings(conn).length > 0, 'Your server sends the client no pings (see the first check): with nothing checking on it, staying connected proves nothing yet.');
  let end = endOf(conn);
  // A healthy client ended after it answered every ping: a server stalled by a loaded machine
  // can run its next tick before it reads the pong that came in time. Once is chance; the same
  // again, with every one of more copies of client.js, is the code.
  if (end && pongs(conn).length >= pings(conn).length) {
    const again = await (secondOpinion ??= watchAgain());
    if (again !== undefined && !endOf(again)) end = undefined;
  }
  const goal = end ? againstGoal(conn) : '';
  must(!end, () => {
    const p = pings(conn);
    const last = p.at(-1)!;
    const why =
      end!.t - last.t < HEARTBEAT_MS / 2
        ? `right after pinging it (${frameRef(conn, last.frame)}), before its pong could come back. The answer to a ping arrives later, in ws.on('pong', ...): look at isAlive at the next tick, before you set it to false and ping again.`
        : `though it answered ${pongs(conn).length >= p.length ? 'every one' : 'them'} with a pong${pongs(conn)[0] ? ` (the first: ${frameRef(conn, pongs(conn)[0]!.frame)})` : ''}. A pong must count as "alive": set ws.isAlive = true in ws.on('pong', ...).`;
    return `Your server ended the healthy client's connection (#${conn}, by the ${end!.by}) after ${p.length} ping(s), ${why}${goal}\nThe wiretap saw:\n${lesson.wire.transcript({ conn, types: ['ping', 'pong', 'close', 'end'], max: 10 })}`;
  });
});

check(`the server pings every ${HEARTBEAT_MS} ms or so (a second at most)`, { hint: 1 }, async () => {
  const { conn: first } = await watched();
  // If the healthy client was dropped by a stalled server and another copy was watched instead
  // (the check above), that one's pings tell the interval.
  const again = secondOpinion ? await secondOpinion : undefined;
  const conn = again !== undefined && pings(again).length > pings(first).length ? again : first;
  const p = pings(conn);
  must(p.length >= 2, `Your server sent the client ${p.length} ping(s) in all: ping every client every ${HEARTBEAT_MS} ms, from a setInterval (not once).`);
  const gaps = p.slice(1).map((x, i) => x.t - p[i]!.t).sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)]!;
  // Up to a second passes (and leaves room for a loaded machine, which makes a timer late, not slower).
  must(
    median <= 1200,
    `Your server pings every ${Math.round(median)} ms or so (the healthy client got ${p.length} pings). That is a fine heartbeat for a real server, but this lesson's is ${HEARTBEAT_MS} ms, so that the check (and you, in the inspector) see a dead client dropped within a second: set the interval to ${HEARTBEAT_MS}.`,
  );
});

// ---- the frozen client ----

/**
 * A client that says something and then freezes: its process stops (SIGSTOP, as a laptop whose
 * lid closes), its TCP connection stays open, its kernel takes in whatever comes, and it answers
 * nothing any more, neither a ping nor a close frame. Unlike the wiretap's blackhole, all the
 * server sends still crosses the wiretap, so the check sees its pings and, if one comes, its
 * close frame. After a few heartbeats the check kills the frozen process: the wiretap's `end`
 * then says who ended TCP first, the server (while the client was frozen) or the client.
 */
const FROZEN = `
const socket = new WebSocket('ws://localhost:9900');
let frozen = false;
const freeze = () => {
  if (frozen) return;
  frozen = true;
  console.log('frozen', process.pid);
  setTimeout(() => process.kill(process.pid, 'SIGSTOP'), 20);
};
socket.onopen = () => {
  socket.send('I am about to vanish');
  setTimeout(freeze, 500);
};
socket.onmessage = (event) => {
  if (String(event.data).includes('about to vanish')) freeze();
};
`;

interface Frozen {
  ghost: ClientRun;
  conn?: number;
  /** The ghost's last frame on the wire: it answers nothing after it. */
  lastWord?: number;
  /** The server's close frame to it, if any. */
  close?: CloseEvent;
  end?: EndEvent;
}

let frozen: Promise<Frozen> | null = null;

let ghostStarted: Promise<ClientRun> | null = null;

async function freeze(): Promise<Frozen> {
  const ghost = await (ghostStarted ??= lesson.runScript('the second client', FROZEN));
  const f: Frozen = { ghost };
  const said = await ghost.waitForConsole(/^frozen \d+$/, 10_000);
  const conn = connOf(ghost);
  if (!said || conn === undefined) return f;
  f.conn = conn;
  // Let it stop (the 20 ms in the script), then give the server GRACE_TICKS heartbeats; after
  // a close frame, a few more, for the end of TCP that should follow at once.
  const closeOf = () => lesson.events.find((e): e is CloseEvent => e.type === 'close' && e.dir === 'server' && e.conn === conn);
  // The server's clock: its pings to the healthy client, or to this one if that one is gone.
  const clock = endOf(connOf(lesson.client)) ? conn : connOf(lesson.client);
  await withinTicks(() => closeOf(), GRACE_TICKS, clock);
  if (closeOf()) await withinTicks(() => undefined, 3, clock);
  f.close = closeOf();
  f.lastWord = lesson.events.filter((e) => e.conn === conn && e.type === 'frame' && e.dir === 'client').at(-1)?.t;
  // The client's process dies: its kernel ends TCP. If the server had ended it first, `end.by` says so.
  await ghost.stop();
  f.end = await lesson.waitForType('end', (e) => e.conn === conn, 3000);
  return f;
}

const gaveUp = (f: Frozen) => f.close !== undefined || f.end?.by === 'server';

check('a client that froze (no more pongs, TCP still open) was given up within a few heartbeats', { hint: 2, timeout: 60_000 }, async () => {
  await watched();
  const f = await (frozen ??= freeze());
  must(f.conn !== undefined, () => `The check's second client could not connect and say something.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const unanswered = pings(f.conn).filter((p) => f.lastWord === undefined || p.t > f.lastWord);
  must(
    gaveUp(f),
    pings(f.conn).length === 0
      ? 'Your server never noticed that the second client froze: it sent it no ping, so it cannot tell a silent client from a gone one. Ping every client in wss.clients.'
      : `The second client froze and stopped answering: in ${GRACE_TICKS} heartbeats your server sent it ${unanswered.length} ping(s) with no pong back${unanswered[0] ? ` (from ${frameRef(f.conn, unanswered[0].frame)} on)` : ''}, and kept its connection. At each tick, a client whose isAlive is still false did not answer the previous ping: end it.`,
  );
});

check('the frozen client was terminated: its TCP connection ended by the server, no closing handshake to wait for', { hint: 3, timeout: 60_000 }, async () => {
  const f = await (frozen ??= freeze());
  must(f.conn !== undefined && gaveUp(f), 'Your server did not give up on the frozen client (see the check above).');
  must(
    f.end?.by === 'server',
    () =>
      f.close
        ? `Your server sent the frozen client a close frame (${frameRef(f.conn!, f.close.frame)}: CLOSE ${f.close.code}${f.close.reason ? ` '${f.close.reason}'` : ''}) and then waited for its answer, which never comes: ws.close() starts the closing handshake, and ws keeps the connection up to 30 s for the other half. Meanwhile the socket lingers in wss.clients. A gone peer answers nothing: end it with ws.terminate(), which ends TCP at once.`
        : `The frozen client's connection did not end from your server's side.`,
  );
});
