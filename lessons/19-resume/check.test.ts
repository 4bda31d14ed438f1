import type { MessageEvent } from '../../server/capture/events.ts';
import { check, must, until, useLesson } from '../harness.ts';

// The learner's server.js and client.js behind the wiretap. While the feed runs, the check
// breaks the client's connection twice: a TCP reset in the middle of the burst, then a
// blackhole (nothing passes; only the client's watchdog notices), lifted once the client has
// opened a new connection. Then it compares what the application got with what the server sent.
// What the client sends takes 80 ms to arrive (a phone's network): a resume request is not
// answered before the next live events are due, as it would not be in real use.
const lesson = useLesson(import.meta.url, { faults: [{ kind: 'latency', value: 80, dir: 'client' }] });

const COUNT = 200;
/** The feed's last event (`done`), after the COUNT numbered ones. */
const LAST = COUNT + 1;

interface Outage {
  kind: 'reset' | 'blackhole';
  /** The last id the application had when the connection was cut. */
  at: number;
  /** The connection that was cut, and the one the client opened after. */
  conn: number;
  next: number;
}

interface Run {
  outages: Outage[];
  finished: boolean;
}

/** The ids the application got, in order, from the client's `got N` lines. */
function delivered(): number[] {
  const out: number[] = [];
  for (const line of lesson.client.console) {
    const m = /^got (\d+)$/.exec(line.text.trim());
    if (m) out.push(Number(m[1]));
  }
  return out;
}

const lastDelivered = () => delivered().at(-1) ?? 0;
const opens = () => lesson.wire.ofType('open').map((o) => o.conn);

let run: Promise<Run> | null = null;

function outages(): Promise<Run> {
  run ??= (async () => {
    const r: Run = { outages: [], finished: false };
    const tap = lesson.tap!;
    // A reset in the middle of the burst.
    if (await until(() => (lastDelivered() >= 60 ? true : undefined), 20_000)) {
      const conn = opens().at(-1)!;
      const at = lastDelivered();
      tap.reset(conn);
      const next = await until(() => opens().find((c) => c > conn), 20_000);
      r.outages.push({ kind: 'reset', at, conn, next: next ?? 0 });
    }
    // A blackhole on that connection: TCP stays up, nothing passes either way. Only a watchdog
    // notices; the client's next connection is not touched.
    if (await until(() => (lastDelivered() >= 120 ? true : undefined), 20_000)) {
      const conn = opens().at(-1)!;
      const at = lastDelivered();
      const fault = tap.faults.add({ kind: 'blackhole' }, conn);
      const next = await until(() => opens().find((c) => c > conn), 20_000);
      tap.faults.remove(fault.id);
      r.outages.push({ kind: 'blackhole', at, conn, next: next ?? 0 });
    }
    r.finished = !!(await until(() => (delivered().includes(LAST) ? true : undefined), 30_000));
    await lesson.settle(300, 3000);
    return r;
  })();
  return run;
}

/** The ids of the events the server sent on a connection, in order. */
function sentOn(conn: number): number[] {
  return lesson.wire
    .messages('server', conn)
    .map((m: MessageEvent) => {
      try {
        const v = JSON.parse(m.text ?? '') as { id?: unknown };
        return typeof v.id === 'number' ? v.id : -1;
      } catch {
        return -1;
      }
    })
    .filter((id) => id > 0);
}

/** Every id the server sent the client, on any of its connections. */
function everSent(): Set<number> {
  return new Set(lesson.wire.ofType('open').flatMap((o) => sentOn(o.conn)));
}

function ranges(ids: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    out.push(i === j ? `${ids[i]}` : `${ids[i]}-${ids[j]}`);
    i = j;
  }
  return out.join(', ');
}

check('after each cut (a TCP reset, then a blackhole), the client connected again', { hint: 1 }, async () => {
  const r = await outages();
  must(
    r.outages.length === 2,
    () =>
      `The feed did not get far enough for the check's outages: the application got ${lastDelivered()} events.${
        lastDelivered() === 0 && opens().length > 0 ? ' The client connected, and no event reached the application: does the server wait to hear where the client stopped, and does the client say it when the connection opens?' : ''
      }\n${lesson.trouble()}`,
  );
  for (const o of r.outages) {
    must(o.next > 0, `After the ${o.kind} (the application had event ${o.at}), the client did not open a new connection within 20 s.${o.kind === 'blackhole' ? ' A blackhole sends no close and no reset: only silence says the connection is dead (the watchdog).' : ''}`);
  }
});

check('the application got every event the server published, 1 to 200 and the last, none missing', { hint: 2 }, async () => {
  const r = await outages();
  const got = new Set(delivered());
  const missing = Array.from({ length: LAST }, (_, i) => i + 1).filter((id) => !got.has(id));
  const cuts = r.outages.map((o) => `a ${o.kind} after event ${o.at}`).join(' and ');
  must(
    missing.length === 0,
    `The application never got events ${ranges(missing)} (${missing.length} of ${LAST}), published while the connection was down or lost with it (${cuts}). A client that comes back must say where it stopped, and the server must send it what it missed.`,
  );
});

check('the application got each event once, in order, even where a replay overlapped what it had', { hint: 3 }, async () => {
  await outages();
  const ids = delivered();
  const seen = new Set<number>();
  for (const [i, id] of ids.entries()) {
    must(!seen.has(id), `The application got event ${id} twice (the second time after ${ids.slice(Math.max(0, i - 3), i).join(', ')}): a replay that overlaps must not hand an event to the application again.`);
    must(i === 0 || id > ids[i - 1]!, `The application got event ${id} after event ${ids[i - 1]}: out of order. Events must reach it in the order they were published.`);
    seen.add(id);
  }
});

check('every event the application got was on the wire: it came from the server, on one of the client connections', { hint: 2 }, async () => {
  await outages();
  const sent = everSent();
  const invented = delivered().filter((id) => !sent.has(id));
  must(invented.length === 0, `The application "got" events ${ranges(invented)}, which the server never sent on any connection.`);
});

check('after a reconnect the server sent only what the client had missed, not the feed from the start', { hint: 4 }, async () => {
  const r = await outages();
  for (const o of r.outages) {
    if (!o.next) continue;
    const resent = sentOn(o.next).filter((id) => id <= o.at);
    must(
      resent.length <= 5,
      `After the ${o.kind}, the application had events up to ${o.at}, and the server sent ${resent.length} of those again on the new connection (${ranges(resent.slice(0, 50))}${resent.length > 50 ? '…' : ''}). Send only what comes after the client's last event: a feed of a million events would be sent whole at every reconnect.`,
    );
  }
});
