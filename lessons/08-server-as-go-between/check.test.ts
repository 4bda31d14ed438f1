import { randomBytes } from 'node:crypto';
import type { MessageEvent } from '../../server/capture/events.ts';
import { check, compareWithGoal, lessonGoal, must, until, useLesson, type ClientRun } from '../harness.ts';

// The check starts the peers itself: A, B, C, then its own binary peer, then D.
const lesson = useLesson(import.meta.url, { client: false });

/** Step 2's conversation (goal.json): A, B and C's run is compared with it, arrow by arrow. */
const GOAL = lessonGoal(import.meta.url);

const connOf = (c: ClientRun) => lesson.connectionsOf(c)[0];
/** Messages the client sent on its connection. */
const saidBy = (c: ClientRun): MessageEvent[] => lesson.wire.messages('client').filter((m) => m.conn === connOf(c));
/** A message's content as text (a binary message's bytes read as UTF-8), for finding where it went. */
const contentOf = (m: MessageEvent): string => (m.opcode === 1 ? (m.text ?? '') : Buffer.from(m.base64 ?? '', 'base64').toString('utf8'));
/** Server messages that carry what `m` said, in whatever form (wrapped in words, turned into binary). */
const copiesOf = (m: MessageEvent) => lesson.wire.messages('server').filter((s) => s.t > m.t && !s.injected && contentOf(s).includes(contentOf(m)));
/** Connections a message reached. */
const reachedBy = (m: MessageEvent) => [...new Set(copiesOf(m).map((s) => s.conn))];
const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
/** Text as a reader sees it, with the characters nothing shows (control characters) named: <U+0000>. */
const shown = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/gu, (ch) => `<U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}>`);
/** A message as the inspector lists it: #3 TEXT 'hello from peer-ab12', #4 BINARY 01 02. */
const described = (m: MessageEvent) => `#${m.conn} ${m.opcode === 1 ? `TEXT '${shown(m.text ?? '')}'` : `BINARY ${hex(Buffer.from(m.base64 ?? '', 'base64'))}`}`;
/** "B and C", "A only", "nobody". */
function names(conns: number[]): string {
  const n = conns.map((c) => lesson.clientOf(c)?.name.replace(/^client /, '') ?? `#${c}`);
  return n.length === 0 ? 'nobody' : n.length === 1 ? `${n[0]} only` : `${n.slice(0, -1).join(', ')} and ${n.at(-1)}`;
}

let started: ReturnType<typeof startPeers> | null = null;

/** A, B and C, one after the other; then the wire settles (C's hello, the answers). */
async function startPeers() {
  const [a, b, c] = await lesson.peers(3);
  await until(() => (saidBy(c!).length > 0 ? true : undefined), 3000);
  await lesson.settle(300, 2000);
  // The run of A, B and C as it settled (the binary peer and D come later and are not the goal's).
  return { a: a!, b: b!, c: c!, events: lesson.events.slice() };
}

/**
 * A, B and C's run against the goal: the sentence naming the first arrow where the wire differs
 * ('' when it follows the goal), to close a failure message with. The wire had settled when the
 * check read it, so an arrow still missing counts as missing.
 */
function againstGoal(run: Awaited<ReturnType<typeof startPeers>>): string {
  const from = connOf(run.a) ?? 0;
  const sentence = compareWithGoal(GOAL, run.events, `the check's peers A, B and C${connOf(run.a) !== undefined ? `, from #${from}` : ''}`, {
    fromConn: from,
    now: Number.POSITIVE_INFINITY,
  });
  return sentence ? `\n${sentence}` : '';
}

const peers = () => (started ??= startPeers());

check("C's hello reached A and B, the peers already there", { hint: 1 }, async () => {
  const run = await peers();
  const { a, b, c } = run;
  const goal = againstGoal(run);
  const hello = saidBy(c)[0];
  must(hello, () => `Client C sent no message.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const r = reachedBy(hello);
  must(
    r.includes(connOf(a)!) && r.includes(connOf(b)!),
    () => {
      const toC = lesson.wire.messages('server').filter((s) => s.conn === hello.conn && s.t > hello.t && !s.injected);
      const back = toC.length > 0 && r.length === 1 && r[0] === hello.conn ? ` Your server answered C itself (${described(toC[0]!)}).` : '';
      return `C said '${contentOf(hello)}' (${described(hello)}), and it reached ${names(r)}.${back} It should reach A and B: send it on to the other clients in wss.clients.${goal}`;
    },
  );
});

check('no message went back to the peer that sent it', { hint: 2 }, async () => {
  const run = await peers();
  const { a, b, c } = run;
  const goal = againstGoal(run);
  for (const peer of [a, b, c]) {
    for (const m of saidBy(peer)) {
      const back = copiesOf(m).find((s) => s.conn === m.conn);
      must(!back, () => `${peer.name} said '${contentOf(m)}' (#${m.conn}), and your server sent it back to ${peer.name} (${described(back!)}): skip the sender (the ws the message came in on).${goal}`);
    }
  }
});

let binaryRun: ReturnType<typeof sendBinary> | null = null;

/** A peer of the check's own joins A, B and C and sends random bytes, as a binary message. */
async function sendBinary() {
  const { a, b, c } = await peers();
  const bytes = randomBytes(8);
  // ff and 00 first: bytes that are not text, whatever the random rest.
  const payload = Buffer.concat([Buffer.from([0xff, 0x00]), bytes]);
  const probe = await lesson.runScript('the check\'s binary peer', `const socket = new WebSocket('ws://localhost:9900');\nsocket.onopen = () => socket.send(new Uint8Array(${JSON.stringify([...payload])}));`);
  const sent = await lesson.waitForType('message', (m) => m.dir === 'client' && lesson.connectionsOf(probe).includes(m.conn) && m.opcode === 2, 3000);
  await lesson.settle(300, 2000);
  return { a, b, c, payload, sent };
}

check('messages are passed on as they came: the same text, and bytes as binary', { hint: 3 }, async () => {
  const { a, b, c } = await peers();
  // Text: C's hello, as C sent it, to A and B.
  const hello = saidBy(c)[0];
  must(hello, 'Client C sent no message (see the first check).');
  for (const peer of [a, b]) {
    const copy = copiesOf(hello).find((s) => s.conn === connOf(peer));
    if (!copy) continue;
    must(copy.opcode === 1, `C said '${hello.text}' in a text frame, and ${peer.name} got it as ${described(copy)}, a binary frame: its page gets a Blob. Pass on isBinary as it came.`);
    must(copy.text === hello.text, `C said '${hello.text}', and ${peer.name} got '${copy.text}' (${described(copy)}): pass the message on as it came, not in other words (the peers look for 'hello from …').`);
  }
  // Binary: the check's peer sends bytes; A, B and C get them, as binary, unchanged.
  const { payload, sent } = await (binaryRun ??= sendBinary());
  must(sent, () => `The check's binary peer could not send its bytes.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  const whole = lesson.wire.endOf(sent);
  for (const peer of [a, b, c]) {
    const got = lesson.wire.messages('server').filter((s) => s.conn === connOf(peer) && s.t > whole && !s.injected);
    const same = got.find((s) => s.opcode === 2 && Buffer.from(s.base64 ?? '', 'base64').equals(payload));
    if (same) continue;
    const text = got.find((s) => s.opcode === 1);
    must(
      false,
      text
        ? `The check's peer sent the bytes ${hex(payload)} as a binary message (#${sent.conn}), and ${peer.name} got ${described(text)}: your server turned the bytes into text. Pass the message on as it came, with isBinary.`
        : `The check's peer sent the bytes ${hex(payload)} as a binary message (#${sent.conn}), and ${peer.name} did not get them${got[0] ? ` (it got ${described(got[0])})` : ''}. Pass binary messages on too.`,
    );
  }
});

let replaced: ReturnType<typeof replaceB> | null = null;

/** B goes away (its process ends: TCP closes without a close frame); D joins and says hello. */
async function replaceB() {
  const { b } = await peers();
  await (binaryRun ??= sendBinary());
  const gone = connOf(b);
  await b.stop();
  await lesson.waitForType('end', (e) => e.conn === gone, 2000);
  const d = await lesson.runClient({ name: 'client D' });
  await until(() => (connOf(d) !== undefined && saidBy(d).length > 0 ? true : undefined), 3000);
  await lesson.settle(300, 2000);
  return d;
}

check('after B left, the hello of a new peer D reached A and C, and the server kept running', { hint: 4 }, async () => {
  const { a, c } = await peers();
  const d = await (replaced ??= replaceB());
  must(lesson.server?.state.status === 'running', () => `Your server stopped when client B left:\n${lesson.trouble()}`);
  const hello = saidBy(d)[0];
  must(hello, () => `Client D could not say hello.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  const r = reachedBy(hello);
  must(
    r.includes(connOf(a)!) && r.includes(connOf(c)!),
    `D said '${contentOf(hello)}' (#${hello.conn}) after B left, and it reached ${names(r)}; it should reach A and C. Does your server still know every peer that is there (and only those)?`,
  );
});
