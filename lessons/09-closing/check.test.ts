import type { Connection } from '../harness.ts';
import type { WireEvent } from '../../server/capture/events.ts';
import { check, compareWithGoal, lessonGoal, must, sleep, until, useLesson, type ClientRun } from '../harness.ts';

const lesson = useLesson(import.meta.url);
/** Step 2's conversation (goal.json): the first run is compared with it, arrow by arrow. */
const GOAL = lessonGoal(import.meta.url);

/** How long the server stays down in the second run: long enough for backoff to show (several attempts, then longer waits). */
const OUTAGE_MS = 3500;
/** More attempts than this while the server is down is a storm, whatever the delays look like (backoff from 100 ms makes 4 to 10). */
const STORM = 25;

/** The client's WebSocket connections and its failed attempts, in order. */
const connsOf = (c: ClientRun): Connection[] =>
  lesson.connectionsOf(c).map((conn) => lesson.wire.connection(conn)).filter((x): x is Connection => x !== undefined);
const hello = (conn: number, ms = 3000) => lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === conn && m.text === 'Hello webSocket', ms);
/** A new WebSocket connection of the client, after `known` connections. */
const nextWebSocket = (c: ClientRun, after: number, ms: number) =>
  until(() => connsOf(c).find((x) => x.conn > after && x.upgrade !== null), ms);
/** The newest connection id the wiretap has seen (0 before any). */
const lastConn = () => lesson.wire.ofType('open').at(-1)?.conn ?? 0;
const ms = (n: number) => `${Math.round(n)} ms`;

/**
 * Close a connection from the middle (as if the server sent `code`), or reset it. The wiretap
 * refuses a connection that has already ended: say what the client did instead of its RangeError.
 */
function act(what: 'reset' | 'close 1000', conn: number): string | null {
  const ended = lesson.wire.connection(conn)?.end;
  if (ended) return `your client's connection #${conn} had already ended (by the ${ended.by}${ended.code !== null ? `, code ${ended.code}` : ''}) when the check was about to ${what === 'reset' ? 'reset it' : 'close it with 1000'}`;
  try {
    if (what === 'reset') lesson.tap!.reset(conn);
    else lesson.tap!.closeWith(conn, 1000, 'see you tomorrow');
    return null;
  } catch {
    return `your client's connection #${conn} ended just before the check could ${what === 'reset' ? 'reset it' : 'close it with 1000'}`;
  }
}

// ---- the first run: the job gets done, the client closes ----

let first: ReturnType<typeof runToTheEnd> | null = null;

async function runToTheEnd() {
  const c = lesson.client;
  // The first run's events, as the run ended (the second run comes later and is not the goal's).
  const seen = (): WireEvent[] => lesson.events.slice();
  const ws = await nextWebSocket(c, 0, 10_000);
  if (!ws) return { ws: undefined, close: undefined, reply: undefined, later: [] as Connection[], events: seen() };
  const close = await lesson.waitForType('close', (e) => e.conn === ws.conn && e.dir === 'client', 2000);
  if (!close) return { ws, close, reply: undefined, later: [] as Connection[], events: seen() };
  const reply = await lesson.waitForType('close', (e) => e.conn === ws.conn && e.dir === 'server', 1500);
  await lesson.waitForType('end', (e) => e.conn === ws.conn, 1500);
  // Would it come back? Give it the time a first retry takes.
  await sleep(800);
  return { ws, close, reply, later: connsOf(c).filter((x) => x.conn > ws.conn), events: seen() };
}

/**
 * The first run against the goal: the sentence naming the first arrow where the wire differs
 * ('' when it follows the goal), to close a failure message with. The run is over when the check
 * reads it (it waited for what it waits for), so an arrow still missing counts as missing.
 */
function againstGoal(run: Awaited<ReturnType<typeof runToTheEnd>>): string {
  const from = run.ws?.conn ?? 0;
  const sentence = compareWithGoal(GOAL, run.events, `the check's first run of your client${run.ws ? `, #${run.ws.conn}` : ''}`, {
    fromConn: from,
    // Ended: the goal says so. Still open: the check is done waiting, so what is missing is missing.
    ...(run.events.some((e) => e.type === 'end' && e.conn === from) ? {} : { now: Number.POSITIVE_INFINITY }),
  });
  return sentence ? `\n${sentence}` : '';
}

check('when its job was done, the client closed with 1000 and a reason, and the server answered: both halves on the wire', { hint: 1, timeout: 60_000 }, async () => {
  const run = await (first ??= runToTheEnd());
  const { ws, close, reply } = run;
  const goal = againstGoal(run);
  must(ws, () => `Your client opened no WebSocket.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(
    close,
    () => `Your client never sent a close frame: after 'done: the answer is 42' the connection stayed open. Call socket.close(1000, 'a reason') when the answer arrives.${goal}\nThe wiretap saw:\n${lesson.wire.transcript({ conn: ws.conn })}`,
  );
  must(
    close.code === 1000,
    (close.code === 1005
      ? `Your client's close frame #${ws.conn} carried no code at all (the inspector shows 1005, "no status"): socket.close() without arguments. A job that is done closes with 1000 and a reason: socket.close(1000, 'got the answer').`
      : `Your client closed with ${close.code}${close.reason ? ` '${close.reason}'` : ''}; a job that is done closes with 1000 (normal closure).`) + goal,
  );
  must(close.reason.length > 0, `Your client's close frame has code 1000 but no reason: give one, socket.close(1000, 'got the answer').${goal}`);
  must(reply, `The server did not answer your client's close frame.${goal}`);
  must(reply.code === 1000, `The server answered with ${reply.code}, not 1000.${goal}`);
});

check('after closing with 1000, the client stays away: its job is done', { hint: 4 }, async () => {
  const run = await (first ??= runToTheEnd());
  const { close, later } = run;
  const goal = againstGoal(run);
  must(close, 'Your client did not close the connection (see the first check).');
  must(
    later.length === 0,
    `Your client closed with 1000 itself, and then opened ${later.length} new connection(s) (#${later.map((x) => x.conn).join(', #')}): it ended the conversation on purpose, so it should stay away. In onclose, return before reconnecting when event.code is 1000.${goal}`,
  );
});

// ---- the second run: a reset, the server down for a while, then a 1000 from the server ----

interface Story {
  client: ClientRun;
  /** A WebSocket of the second run's, before anything happened. */
  start?: Connection;
  /** Why the check could not go on, in the learner's words (a connection that had ended ...). */
  stuck?: string;
  /** Its connection after the reset. */
  afterReset?: Connection;
  /** The server's 1001 reached the client (its close frame on the wire). */
  wentAway?: boolean;
  /** Attempts while the server was down (connections opened after it exited, never upgraded). */
  failed: Connection[];
  /** The wait before each failed attempt (ms): from the end of the connection before it to its open. */
  waits: number[];
  /** From the end of the last failed attempt to the server's return (a wait still running). */
  tail: number;
  /** How long the server was down (ms). */
  downFor: number;
  /** Its connection once the server was back. */
  back?: Connection;
  /** Connections opened after the server's 1000. */
  afterServer1000: Connection[];
}

let second: Promise<Story> | null = null;

async function interrupt(): Promise<Story> {
  await (first ??= runToTheEnd());
  // The first run is over: a client that came back despite its 1000 must not be taken for the second.
  await lesson.client.stop();
  const client = await lesson.runClient({ name: 'client.js (second run)' });
  const story: Story = { client, failed: [], waits: [], tail: 0, downFor: 0, afterServer1000: [] };
  story.start = await nextWebSocket(client, 0, 10_000);
  if (!story.start || !(await hello(story.start.conn))) return story;

  // 1. The connection breaks: TCP reset in the middle (1006 on both sides).
  story.stuck = act('reset', story.start.conn) ?? undefined;
  if (story.stuck) return story;
  story.afterReset = await nextWebSocket(client, story.start.conn, 4000);
  if (!story.afterReset || !(await hello(story.afterReset.conn))) return story;

  // 2. The server stops (1001 first, then it exits) and stays down while the client retries.
  // It still accepts for a moment after its 1001: attempts count from its exit on.
  const goingAway = story.afterReset.conn;
  await lesson.server!.stop(false);
  story.wentAway = lesson.wire.frames('server', goingAway).some((f) => f.opcode === 8);
  const downSince = lastConn();
  const downAt = lesson.tap!.now();
  const attempts = () => connsOf(client).filter((x) => x.conn > downSince && x.upgrade === null && x.end !== null);
  // The server stays down for OUTAGE_MS, or until the client has stormed it.
  await until(() => (attempts().length > STORM || lesson.tap!.now() - downAt >= OUTAGE_MS ? true : undefined), OUTAGE_MS + 500);
  const upSince = lastConn();
  const upAt = lesson.tap!.now();
  story.downFor = upAt - downAt;
  story.failed = attempts().filter((x) => x.conn <= upSince);
  await lesson.server!.start();
  const mine = connsOf(client).filter((x) => x.conn >= goingAway);
  for (const f of story.failed) {
    const before = mine.filter((x) => x.conn < f.conn).at(-1);
    const open = f.events.find((e) => e.type === 'open');
    if (before?.end && open) story.waits.push(open.t - before.end.t);
  }
  const lastEnd = mine.filter((x) => x.conn <= upSince).at(-1)?.end;
  story.tail = lastEnd ? upAt - lastEnd.t : 0;
  story.back = await nextWebSocket(client, upSince, 4000);
  if (!story.back || !(await hello(story.back.conn))) return story;

  // 3. The server ends the conversation on purpose: a close frame with 1000 (from the wiretap, as if from the server).
  story.stuck = act('close 1000', story.back.conn) ?? undefined;
  if (story.stuck) return story;
  await lesson.waitForType('end', (e) => e.conn === story.back!.conn, 1500);
  await sleep(1000);
  story.afterServer1000 = connsOf(client).filter((x) => x.conn > story.back!.conn);
  return story;
}

const story = () => (second ??= interrupt());

check('after the connection was reset (1006), the client came back', { hint: 2, timeout: 60_000 }, async () => {
  const s = await story();
  must(s.start, () => `The second run of your client opened no WebSocket.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  must(!s.stuck || s.afterReset, () => `The check could not reset the connection: ${s.stuck}.`);
  must(
    s.afterReset,
    () => `The check reset your client's connection #${s.start!.conn} (its onclose got 1006), and your client did not open a new one within 4 s. Create a new WebSocket from onclose, after a short delay.\nYour client printed:\n${s.client.printed() || '(nothing)'}`,
  );
});

check('after the server went away (1001), the client tried again', { hint: 4 }, async () => {
  const s = await story();
  must(s.afterReset, 'Your client did not come back after a reset (see the check above), so it could not be tested with the server going away.');
  must(
    s.failed.length > 0,
    `The server stopped and said so (close frame 1001, going away, on #${s.afterReset.conn}${s.wentAway ? '' : ', or tried to'}), then stayed down for ${OUTAGE_MS / 1000} s: your client did not try once. 1001 is a break to come back from, like 1006, even though the closing handshake was clean (wasClean is true): only 1000 means stay away.`,
  );
});

check('while the server was down, the client retried with growing delays, and came back when it was up', { hint: 3 }, async () => {
  const s = await story();
  must(s.failed.length > 0, 'Your client did not retry while the server was down (see the check above).');
  const n = s.failed.length;
  const said = () => `Its waits before each attempt: ${s.waits.slice(0, 12).map(ms).join(', ')}${s.waits.length > 12 ? ', …' : ''}.`;
  must(
    n <= STORM,
    () => `While the server was down, your client tried ${n} times in ${(s.downFor / 1000).toFixed(1)} s${n > STORM ? ' (then the check stopped counting)' : ''}: a storm of connections, which every client of a restarting server would add to. ${said()} Wait before each attempt, and make the wait grow.`,
  );
  must(
    n >= 3,
    () => `While the server was down (${OUTAGE_MS / 1000} s), your client tried only ${n} time(s). ${said()} Start with a short delay (100 ms) and let it grow from there.`,
  );
  // Growth, judged on the envelope, not pair by pair: with jitter (a random part of each delay)
  // any one wait may be short. What growing delays always show is a long wait, later, next to
  // the early ones: the longest of the later waits (or the one still running when the server
  // came back) against the shorter of the first two. 200 ms of margin for a loaded machine.
  const ref = Math.min(s.waits[0] ?? Infinity, s.waits[1] ?? Infinity);
  const longest = Math.max(...s.waits.slice(2), s.tail);
  must(
    s.waits.length >= 2 && longest >= 3 * ref + 200,
    () => `While the server was down, your client tried ${n} times. ${said()} The waits do not grow: the longest later one (${ms(longest)}) is not much longer than the first ones. Double the delay after each failed attempt (up to a maximum), so that retries thin out while the server stays down.`,
  );
  must(
    s.back,
    () => `When the server was up again, your client did not come back within 4 s${s.failed.at(-1) ? ` (its last attempt was #${s.failed.at(-1)!.conn})` : ''}: keep retrying, up to a maximum delay of a few seconds, not forever longer.`,
  );
});

check('after the server closes with 1000, the client stays away', { hint: 4 }, async () => {
  const s = await story();
  must(s.back, 'Your client was not connected when the server was to close with 1000 (see the checks above).');
  must(!s.stuck, () => `The check could not close with 1000: ${s.stuck}.`);
  must(
    s.afterServer1000.length === 0,
    `The server closed #${s.back.conn} with 1000 ('see you tomorrow'), and your client opened ${s.afterServer1000.length} new connection(s). 1000 means the conversation was ended on purpose, by either side: in onclose, do not reconnect when event.code is 1000, whoever closed.`,
  );
});
