import type { Connection } from '../harness.ts';
import { check, must, sleep, until, useLesson, type ClientRun } from '../harness.ts';

const lesson = useLesson(import.meta.url);

/** The client's WebSocket connections and its failed attempts, in order. */
const connsOf = (c: ClientRun): Connection[] =>
  lesson.connectionsOf(c).map((conn) => lesson.wire.connection(conn)).filter((x): x is Connection => x !== undefined);
const hello = (conn: number, ms = 3000) => lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === conn && m.text === 'Hello webSocket', ms);
/** A new WebSocket connection of the client, after `known` connections. */
const nextWebSocket = (c: ClientRun, after: number, ms: number) =>
  until(() => connsOf(c).find((x) => x.conn > after && x.upgrade !== null), ms);

// ---- the first run: the job gets done, the client closes ----

let first: ReturnType<typeof runToTheEnd> | null = null;

async function runToTheEnd() {
  const c = lesson.client;
  const ws = await nextWebSocket(c, 0, 3000);
  if (!ws) return { ws: undefined, close: undefined, reply: undefined, later: [] as Connection[] };
  const close = await lesson.waitForType('close', (e) => e.conn === ws.conn && e.dir === 'client', 2000);
  if (!close) return { ws, close, reply: undefined, later: [] as Connection[] };
  const reply = await lesson.waitForType('close', (e) => e.conn === ws.conn && e.dir === 'server', 1500);
  await lesson.waitForType('end', (e) => e.conn === ws.conn, 1500);
  // Would it come back? Give it the time a first retry takes.
  await sleep(800);
  return { ws, close, reply, later: connsOf(c).filter((x) => x.conn > ws.conn) };
}

check('when its job was done, the client closed with 1000 and a reason, and the server answered: both halves on the wire', { hint: 1 }, async () => {
  const { ws, close, reply } = await (first ??= runToTheEnd());
  must(ws, () => `Your client opened no WebSocket.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(
    close,
    () => `Your client never sent a close frame: after 'done: the answer is 42' the connection stayed open. Call socket.close(1000, 'a reason') when the answer arrives.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: ws.conn })}`,
  );
  must(close.code === 1000, `Your client closed with ${close.code}${close.reason ? ` '${close.reason}'` : ''}; a job that is done closes with 1000 (normal closure).`);
  must(close.reason.length > 0, "Your client's close frame has code 1000 but no reason: give one, socket.close(1000, 'got the answer').");
  must(reply, "The server did not answer your client's close frame.");
  must(reply.code === 1000, `The server answered with ${reply.code}, not 1000.`);
});

check('after closing with 1000, the client stays away: its job is done', { hint: 4 }, async () => {
  const { close, later } = await (first ??= runToTheEnd());
  must(close, 'Your client did not close the connection (see the first check).');
  must(later.length === 0, `Your client opened ${later.length} new connection(s) after its own 1000: it ended the conversation on purpose, so it should stay away.`);
});

// ---- the second run: a reset, the server down for a while, then a 1000 from the server ----

interface Story {
  client: ClientRun;
  /** A WebSocket of the second run's, before anything happened. */
  start?: Connection;
  /** Its connection after the reset. */
  afterReset?: Connection;
  /** Failed attempts while the server was down, and the waits before each (ms). */
  failed: Connection[];
  waits: number[];
  /** Its connection once the server was back. */
  back?: Connection;
  /** Connections opened after the server's 1000. */
  afterServer1000: Connection[];
  serverClosedAt?: number;
}

let second: Promise<Story> | null = null;

async function interrupt(): Promise<Story> {
  await (first ??= runToTheEnd());
  const client = await lesson.runClient({ name: 'client.js (second run)' });
  const story: Story = { client, failed: [], waits: [], afterServer1000: [] };
  story.start = await nextWebSocket(client, 0, 3000);
  if (!story.start || !(await hello(story.start.conn))) return story;

  // 1. The connection breaks: TCP reset in the middle (1006 on both sides).
  lesson.tap!.reset(story.start.conn);
  story.afterReset = await nextWebSocket(client, story.start.conn, 2500);
  if (!story.afterReset || !(await hello(story.afterReset.conn))) return story;

  // 2. The server stops (1001 first) and stays down while the client retries.
  await lesson.server!.stop(false);
  const downSince = story.afterReset.conn;
  const attempts = () => connsOf(client).filter((x) => x.conn > downSince && x.upgrade === null && x.end !== null);
  await until(() => (attempts().length >= 3 ? true : undefined), 4000);
  story.failed = attempts();
  await lesson.server!.start();
  story.back = await nextWebSocket(client, downSince, 4000);
  // The wait before each failed attempt: from the end of the connection before it to its open.
  const all = connsOf(client).filter((x) => x.conn >= downSince);
  for (const f of story.failed) {
    const before = all.filter((x) => x.conn < f.conn).at(-1);
    const open = f.events.find((e) => e.type === 'open');
    if (before?.end && open) story.waits.push(open.t - before.end.t);
  }
  if (!story.back || !(await hello(story.back.conn))) return story;

  // 3. The server ends the conversation on purpose: a close frame with 1000 (from the wiretap, as if from the server).
  lesson.tap!.closeWith(story.back.conn, 1000, 'see you tomorrow');
  story.serverClosedAt = story.back.conn;
  await lesson.waitForType('end', (e) => e.conn === story.back!.conn, 1500);
  await sleep(1000);
  story.afterServer1000 = connsOf(client).filter((x) => x.conn > story.back!.conn);
  return story;
}

const story = () => (second ??= interrupt());

check('after the connection was reset (1006), the client came back', { hint: 2 }, async () => {
  const s = await story();
  must(s.start, () => `The second run of your client opened no WebSocket.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  must(
    s.afterReset,
    () => `The check reset your client's connection (its onclose got 1006), and your client did not open a new one within 2.5 s. Create a new WebSocket from onclose, after a short delay.\nYour client printed:\n${s.client.printed() || '(nothing)'}`,
  );
});

check('while the server was down, the client retried with growing delays, and came back when it was up', { hint: 3 }, async () => {
  const s = await story();
  must(s.afterReset, 'Your client did not come back after a reset (see the check above), so it could not be tested with the server down.');
  must(
    s.failed.length >= 3,
    `The server stopped (its close frame said 1001, going away), and your client tried ${s.failed.length} time(s) in 4 s while it was down. It should keep trying, with delays that start short (100 ms) and double.`,
  );
  const [w1, , w3] = s.waits;
  must(
    w1 !== undefined && w3 !== undefined && w3 >= 2 * w1 && w1 >= 30,
    `Your client waited ${s.waits.map((w) => `${Math.round(w)} ms`).join(', ')} before its attempts while the server was down: each wait should be longer than the one before (double it after each failure), and not 0.`,
  );
  must(s.back, 'When the server was up again, your client did not come back within 4 s: keep retrying (up to a maximum delay, not forever longer).');
});

check('after the server closes with 1000, the client stays away', { hint: 4 }, async () => {
  const s = await story();
  must(s.back, 'Your client was not connected when the server was to close with 1000 (see the checks above).');
  must(
    s.afterServer1000.length === 0,
    `The server closed with 1000 ('see you tomorrow'), and your client opened ${s.afterServer1000.length} new connection(s). 1000 means the conversation was ended on purpose: in onclose, do not reconnect when event.code is 1000.`,
  );
});
