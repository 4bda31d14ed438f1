/**
 * Part 8 of `npm run bench` (issue 15): the wiretap's throughput with application protocols
 * decoded, against the plain relay in the same run. For each workload of app-workloads.ts
 * (plain, Socket.IO, JSON-RPC, GraphQL over graphql-transport-ws, STOMP, MQTT): CONNECTIONS
 * clients open with the workload's path and subprotocol, go through its opening (CONNECT,
 * connection_init ...), then keep IN_FLIGHT messages outstanding each, every answer sending
 * the next; answers counted over SECONDS. The relay and the wiretap (as `npm start` runs it:
 * every event decoded and held in a CaptureStore) each run in their own process, against
 * app-target.ts.
 *
 * Steady, not kind: before its rounds each workload warms both paths, uncounted, WARM_SECONDS
 * each, and the wiretap until its store has turned over (at its bound, holding this workload's
 * events only), the state it keeps for hours; a store that has not by then is said. Then
 * ROUNDS rounds, each a relay run and a wiretap run adjacent in time, in an order that
 * alternates; a round's ratio is its wiretap rate over its relay rate, so load that comes and
 * goes on the machine hits both sides of a ratio alike. Printed: each round's ratio, their
 * median (the target: >= 0.9 each) and their spread (min-max), every round counted.
 *
 * Also printed: the CPU time the relay process spent per round trip (µs; steadier than rates
 * on a busy machine), and the load average while each workload ran.
 *
 * Knobs: BENCH_APP_ROUNDS (7), BENCH_APP_SECONDS (1.5), BENCH_APP_WARM_SECONDS (2), BENCH_APP=a,b.
 */
import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { APP_WORKLOADS, type AppWorkload } from './app-workloads.ts';
import { start, stop } from './children.ts';
import { roundTrips, type RoundTrips } from './round-trips.ts';

const env = process.env;
// Their own knobs, not BENCH_ROUNDS/BENCH_SECONDS: part 1's 3 × 3 s leave a median of paired
// ratios too few rounds to stand on.
const ROUNDS = Number(env.BENCH_APP_ROUNDS ?? 7);
const SECONDS = Number(env.BENCH_APP_SECONDS ?? 1.5);
const WARM_SECONDS = Number(env.BENCH_APP_WARM_SECONDS ?? 2);
/** How long a wiretap's warm-up goes on waiting for its store to wrap before the rounds start anyway. */
const WARM_MAX_SECONDS = 30;
/** From the clients' first messages to the count's start in a round: every connection at IN_FLIGHT. */
const RAMP_MS = 250;
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const IN_FLIGHT = Number(env.BENCH_IN_FLIGHT ?? 64);
/** BENCH_APP=socket.io,mqtt: only these workloads. */
const ONLY_APPS = env.BENCH_APP?.split(',').filter(Boolean) ?? null;

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What relay-process.ts answers to `{ type: 'stats' }` (the store's fields: 0 for the plain relay's empty store). */
interface Stats {
  cpuMs: number;
  events: number;
  held: number;
  heldBytes: number;
  dropped: number;
  maxEvents: number;
  maxBytes: number;
}

/** A child's stats; null if it does not answer within 5 s (the bench reports, never hangs). */
function stats(child: ChildProcess): Promise<Stats | null> {
  return new Promise((resolve) => {
    if (!child.connected) return resolve(null);
    const timer = setTimeout(() => {
      child.off('message', reply);
      resolve(null);
    }, 5000);
    function reply(msg: Partial<Stats> & { type?: string }) {
      if (msg?.type !== 'stats') return;
      clearTimeout(timer);
      child.off('message', reply);
      resolve(msg as Stats);
    }
    child.on('message', reply);
    child.send({ type: 'stats' });
  });
}

const cpuMs = async (child: ChildProcess) => (await stats(child))?.cpuMs ?? NaN;

/** One client through `port`, its opening done (each message answered before the next). */
function open(port: number, w: AppWorkload): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${w.path}`, w.subprotocol ? [w.subprotocol] : [], { perMessageDeflate: false });
    ws.on('error', reject);
    ws.once('close', () => reject(new Error(`${w.name}: closed before its opening was done`)));
    let step = 0;
    const next = () => {
      if (step === w.opening.length) {
        ws.off('message', answered);
        resolve(ws);
        return;
      }
      ws.send(w.opening[step++]!);
    };
    // The greeting (if any) comes first; each answer of the opening sends its next message.
    let greeted = w.greeting === undefined;
    const answered = () => {
      if (!greeted) greeted = true;
      next();
    };
    ws.on('message', answered);
    ws.once('open', () => {
      if (greeted) next();
    });
  });
}

interface Result {
  rate: number;
  /** CPU the relay process spent per round trip, µs. */
  usPerTrip: number;
}

/** CONNECTIONS clients through `port`, their openings done, their round trips under way. */
async function session(port: number, w: AppWorkload): Promise<{ trips: RoundTrips; end: () => Promise<void> }> {
  const opening = await Promise.allSettled(Array.from({ length: CONNECTIONS }, () => open(port, w)));
  const clients = opening.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failed = opening.find((o) => o.status === 'rejected');
  if (failed) {
    for (const ws of clients) ws.terminate();
    throw failed.reason;
  }
  const trips = roundTrips(clients, w.message, IN_FLIGHT, w.replies ?? 1);
  return {
    trips,
    async end() {
      await trips.stop();
      for (const ws of clients) ws.terminate();
    },
  };
}

/** One counted run: round trips a second over SECONDS, and the relay process's CPU per trip. */
async function load(port: number, relay: ChildProcess, w: AppWorkload): Promise<Result> {
  const { trips, end } = await session(port, w);
  await sleep(RAMP_MS);
  const before = { n: trips.received(), t: performance.now(), cpu: await cpuMs(relay) };
  await sleep(SECONDS * 1000);
  const n = trips.received();
  const t = performance.now();
  const cpu = await cpuMs(relay);
  await end();
  const count = n - before.n;
  return { rate: (count * 1000) / (t - before.t), usPerTrip: ((cpu - before.cpu) * 1000) / count };
}

/**
 * The uncounted warm-up of one path with one workload: WARM_SECONDS of its load, and for the
 * wiretap on until its store has turned over (as many events added since the warm-up began as
 * it holds: it is at its bound and holds this workload's events only, as after hours of it), at
 * most WARM_MAX_SECONDS. Returns the store's state at its end, what was added, and how long it ran (s).
 */
async function warm(port: number, child: ChildProcess, w: AppWorkload, untilTurnedOver: boolean): Promise<Warmed> {
  const t0 = performance.now();
  const first = await stats(child);
  const { end } = await session(port, w);
  await sleep(WARM_SECONDS * 1000);
  let store = await stats(child);
  const added = () => (store !== null && first !== null ? store.events - first.events : NaN);
  const turnedOver = () => store !== null && store.dropped > 0 && added() >= store.held;
  while (untilTurnedOver && store !== null && !turnedOver() && performance.now() - t0 < WARM_MAX_SECONDS * 1000) {
    await sleep(250);
    store = await stats(child);
  }
  await end();
  return { store, added: added(), turnedOver: turnedOver(), seconds: (performance.now() - t0) / 1000 };
}

interface Warmed {
  store: Stats | null;
  /** Events added during the warm-up. */
  added: number;
  turnedOver: boolean;
  seconds: number;
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const int = (x: number) => (Number.isNaN(x) ? '-' : Math.round(x).toLocaleString('en-US'));

const num = (x: number, digits = 2) => (Number.isNaN(x) ? '-' : x.toFixed(digits));
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

/** How full the wiretap's store was after a warm-up, in words. */
function storeState(name: string, warmed: Warmed): string {
  const s = warmed.store;
  if (s === null) return `${name}: the wiretap did not answer for its store's state`;
  const state = warmed.turnedOver
    ? 'turned over: at its bound, this workload\'s events only'
    : `NOT turned over (${int(warmed.added)} events added): the rounds measured a store ${s.dropped > 0 ? 'still holding the workload before' : 'still filling'}`;
  return `  ${name.padEnd(10)} ${int(s.held)} of ${int(s.maxEvents)} events, ${mib(s.heldBytes)} of ${mib(s.maxBytes)}, ${state}; ${warmed.seconds.toFixed(1)} s of warm-up`;
}

/**
 * Runs part 8; `out` prints a line, `target` records a target line (run.ts lists them at the end).
 */
export async function runAppBench(out: (line?: string) => void, target: (label: string, value: number, min: number) => void): Promise<void> {
  const workloads = APP_WORKLOADS.filter((w) => ONLY_APPS === null || ONLY_APPS.includes(w.name));
  out(`Application protocols decoded: round trips per second, ${CONNECTIONS} connections × ${IN_FLIGHT} in flight, through the plain relay and the wiretap`);
  out(`Per workload: each path warmed ${WARM_SECONDS} s uncounted (the wiretap until its store has turned over), then ${ROUNDS} rounds × ${SECONDS} s,`);
  out(`a round a relay run and a wiretap run side by side, their order alternating; each server in its own process.`);
  out(`ratio: a round's wiretap/relay; wiretap/relay: the median of those, spread: their lowest-highest. µs/trip: the relay process's CPU per round trip.`);
  out();
  const server = await start(here('app-target.ts'), {}, 'app-target');
  const relay = await start(here('relay-process.ts'), { BENCH_MODE: 'plain', BENCH_TARGET_PORT: String(server.port) }, 'relay');
  const tap = await start(here('relay-process.ts'), { BENCH_MODE: 'wiretap', BENCH_TARGET_PORT: String(server.port) }, 'wiretap');
  const head = `${'workload'.padEnd(11)}${'path'.padEnd(9)}${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`.padStart(9)).join('')}${'median'.padStart(9)}${'µs/trip'.padStart(9)}${'wiretap/relay'.padStart(15)}${'spread'.padStart(11)}${'load'.padStart(6)}`;
  out(head);
  out('-'.repeat(head.length));
  const stores: string[] = [];
  try {
    for (const w of workloads) {
      const runs: Record<'relay' | 'wiretap', Result[]> = { relay: [], wiretap: [] };
      const loads: number[] = [];
      try {
        await warm(relay.port, relay.process, w, false);
        stores.push(storeState(w.name, await warm(tap.port, tap.process, w, true)));
      } catch (err) {
        out(`warm-up, ${w.name}: ${(err as Error).message}`);
      }
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate which path goes first, so neither always follows the other's garbage.
        for (const name of r % 2 === 0 ? (['relay', 'wiretap'] as const) : (['wiretap', 'relay'] as const)) {
          const child = name === 'relay' ? relay : tap;
          try {
            runs[name].push(await load(child.port, child.process, w));
          } catch (err) {
            out(`round ${r + 1}, ${w.name} ${name}: ${(err as Error).message}`);
            runs[name].push({ rate: NaN, usPerTrip: NaN });
          }
          loads.push(loadavg()[0]!);
        }
      }
      // Every round's ratio counts; a round whose run failed (NaN, said above) has none.
      const ratios = runs.wiretap.map((x, i) => x.rate / runs.relay[i]!.rate);
      const valid = ratios.filter((x) => Number.isFinite(x));
      const ratio = median(valid);
      const spread = valid.length > 0 ? `${num(Math.min(...valid))}-${num(Math.max(...valid))}` : '-';
      for (const name of ['relay', 'wiretap'] as const) {
        const rs = runs[name];
        const last = name === 'wiretap' ? `${num(ratio).padStart(15)}${spread.padStart(11)}${median(loads).toFixed(1).padStart(6)}` : '';
        out(`${w.name.padEnd(11)}${name.padEnd(9)}${rs.map((x) => int(x.rate).padStart(9)).join('')}${int(median(rs.map((x) => x.rate))).padStart(9)}${num(median(rs.map((x) => x.usPerTrip)), 1).padStart(9)}${last}`);
      }
      out(`${w.name.padEnd(11)}${'ratio'.padEnd(9)}${ratios.map((x) => num(x).padStart(9)).join('')}`);
      target(`app decoding wiretap/relay, ${w.name} (rounds ${spread}, load ${median(loads).toFixed(1)})`, ratio, 0.9);
    }
  } finally {
    await Promise.all([server, relay, tap].map((c) => stop(c.process)));
  }
  out("The wiretap's store after each warm-up (the rounds that followed added to it, at its bound):");
  for (const line of stores) out(line);
  out(`load average ${loadavg()[0]!.toFixed(1)} at the end (${cpus().length} cores)`);
  out();
}
