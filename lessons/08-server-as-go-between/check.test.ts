import type { MessageEvent } from '../../server/capture/events.ts';
import { check, must, until, useLesson, type ClientRun } from '../harness.ts';

// The check starts the peers itself: A, B, C, then D.
const lesson = useLesson(import.meta.url, { client: false });

const connOf = (c: ClientRun) => lesson.connectionsOf(c)[0];
/** Messages the client sent on its connection. */
const saidBy = (c: ClientRun): MessageEvent[] => lesson.wire.messages('client').filter((m) => m.conn === connOf(c) && m.text !== undefined);
/** Connections a message reached: server messages carrying its text. */
const reachedBy = (m: MessageEvent) => lesson.wire.reached((s) => s.text !== undefined && s.text.includes(m.text!));
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
  return { a: a!, b: b!, c: c! };
}

const peers = () => (started ??= startPeers());

check('the message from A reached B and C, and not A', { hint: 1 }, async () => {
  const { a, b, c } = await peers();
  const said = saidBy(a);
  must(said.length > 0, () => `Client A sent no message.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const others = [connOf(b)!, connOf(c)!];
  const good = said.find((m) => {
    const r = reachedBy(m);
    return others.every((o) => r.includes(o)) && !r.includes(m.conn);
  });
  if (good) return;
  const last = said.at(-1)!;
  const r = reachedBy(last);
  const back = r.includes(last.conn);
  must(
    false,
    `A said '${last.text}', and it reached ${names(r)}.${back ? ' The server sent it back to its sender.' : ''} It should reach B and C: send it to every other client in wss.clients.`,
  );
});

check('every message goes to the other peers only, never back to the one that sent it', { hint: 2 }, async () => {
  const { a, b, c } = await peers();
  for (const peer of [a, b, c]) {
    for (const m of saidBy(peer)) {
      must(!reachedBy(m).includes(m.conn), `${peer.name} said '${m.text}', and the server sent it back to ${peer.name}: skip the sender (client !== ws).`);
    }
  }
});

let replaced: ReturnType<typeof replaceB> | null = null;

/** B goes away (its process ends: TCP closes without a close frame); D joins and says hello. */
async function replaceB() {
  const { b } = await peers();
  const gone = connOf(b);
  await b.stop();
  await lesson.waitForType('end', (e) => e.conn === gone, 2000);
  const d = await lesson.runClient({ name: 'client D' });
  await until(() => (connOf(d) !== undefined && saidBy(d).length > 0 ? true : undefined), 3000);
  await lesson.settle(300, 2000);
  return d;
}

check('after B left, the hello of a new peer D reached A and C, and the server kept running', { hint: 3 }, async () => {
  const { a, c } = await peers();
  const d = await (replaced ??= replaceB());
  must(lesson.server?.state.status === 'running', () => `Your server stopped when client B left:\n${lesson.trouble()}`);
  const hello = saidBy(d)[0];
  must(hello, () => `Client D could not say hello.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  const r = reachedBy(hello);
  must(
    r.includes(connOf(a)!) && r.includes(connOf(c)!) && !r.includes(hello.conn),
    `D said '${hello.text}' after B left, and it reached ${names(r)}; it should reach A and C.`,
  );
});
