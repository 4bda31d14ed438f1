/**
 * Part 8 of `npm run bench` (issue 15): the wiretap's throughput with application protocols
 * decoded, against the plain relay in the same run. For each workload of app-workloads.ts
 * (plain, Socket.IO, JSON-RPC, GraphQL over graphql-transport-ws, STOMP, MQTT): CONNECTIONS
 * clients open with the workload's path and subprotocol, go through its opening (CONNECT,
 * connection_init ...), then keep IN_FLIGHT messages outstanding each, every answer sending
 * the next; answers counted over SECONDS after a warm-up. The relay and the wiretap (as
 * `npm start` runs it: every event decoded and held in a CaptureStore) alternate round by
 * round, each in its own process, against app-target.ts. Target: wiretap/relay >= 0.9 each.
 *
 * Also printed: the CPU time the relay process spent per round trip (µs; steadier than rates
 * on a busy machine), and the load average while each workload ran.
 */
import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { APP_WORKLOADS, type AppWorkload } from './app-workloads.ts';
import { start, stop } from './children.ts';
import { roundTrips } from './round-trips.ts';

const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const IN_FLIGHT = Number(env.BENCH_IN_FLIGHT ?? 64);
const WARMUP_MS = 500;
/** BENCH_APP=socket.io,mqtt: only these workloads. */
const ONLY_APPS = env.BENCH_APP?.split(',').filter(Boolean) ?? null;

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** A child's CPU time in ms; NaN if it does not answer within 5 s (the bench reports, never hangs). */
function cpuMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (!child.connected) return resolve(NaN);
    const timer = setTimeout(() => {
      child.off('message', reply);
      resolve(NaN);
    }, 5000);
    function reply(msg: { type?: string; cpuMs?: number }) {
      if (msg?.type !== 'stats') return;
      clearTimeout(timer);
      child.off('message', reply);
      resolve(msg.cpuMs ?? NaN);
    }
    child.on('message', reply);
    child.send({ type: 'stats' });
  });
}

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

async function load(port: number, relay: ChildProcess, w: AppWorkload): Promise<Result> {
  const opening = await Promise.allSettled(Array.from({ length: CONNECTIONS }, () => open(port, w)));
  const clients = opening.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failed = opening.find((o) => o.status === 'rejected');
  if (failed) {
    for (const ws of clients) ws.terminate();
    throw failed.reason;
  }
  const trips = roundTrips(clients, w.message, IN_FLIGHT, w.replies ?? 1);
  await sleep(WARMUP_MS);
  const before = { n: trips.received(), t: performance.now(), cpu: await cpuMs(relay) };
  await sleep(SECONDS * 1000);
  const n = trips.received();
  const t = performance.now();
  const cpu = await cpuMs(relay);
  await trips.stop();
  for (const ws of clients) ws.terminate();
  const count = n - before.n;
  return { rate: (count * 1000) / (t - before.t), usPerTrip: ((cpu - before.cpu) * 1000) / count };
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const int = (x: number) => (Number.isNaN(x) ? '-' : Math.round(x).toLocaleString('en-US'));

/**
 * Runs part 8; `out` prints a line, `target` records a target line (run.ts lists them at the end).
 */
export async function runAppBench(out: (line?: string) => void, target: (label: string, value: number, min: number) => void): Promise<void> {
  const workloads = APP_WORKLOADS.filter((w) => ONLY_APPS === null || ONLY_APPS.includes(w.name));
  out(`Application protocols decoded: round trips per second, ${CONNECTIONS} connections × ${IN_FLIGHT} in flight, through the plain relay and the wiretap`);
  out(`${ROUNDS} rounds × ${SECONDS} s per path and workload, alternating; each server in its own process. µs/trip: the relay process's CPU per round trip.`);
  out();
  const server = await start(here('app-target.ts'), {}, 'app-target');
  const relay = await start(here('relay-process.ts'), { BENCH_MODE: 'plain', BENCH_TARGET_PORT: String(server.port) }, 'relay');
  const tap = await start(here('relay-process.ts'), { BENCH_MODE: 'wiretap', BENCH_TARGET_PORT: String(server.port) }, 'wiretap');
  const head = `${'workload'.padEnd(11)}${'path'.padEnd(9)}${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`.padStart(10)).join('')}${'median'.padStart(10)}${'µs/trip'.padStart(9)}${'wiretap/relay'.padStart(15)}${'load'.padStart(6)}`;
  out(head);
  out('-'.repeat(head.length));
  try {
    for (const w of workloads) {
      const runs: Record<'relay' | 'wiretap', Result[]> = { relay: [], wiretap: [] };
      const loads: number[] = [];
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
      const ratio = median(runs.wiretap.map((x) => x.rate)) / median(runs.relay.map((x) => x.rate));
      for (const name of ['relay', 'wiretap'] as const) {
        const rs = runs[name];
        const last = name === 'wiretap' ? `${ratio.toFixed(2).padStart(15)}${median(loads).toFixed(1).padStart(6)}` : '';
        out(`${w.name.padEnd(11)}${name.padEnd(9)}${rs.map((x) => int(x.rate).padStart(10)).join('')}${int(median(rs.map((x) => x.rate))).padStart(10)}${median(rs.map((x) => x.usPerTrip)).toFixed(1).padStart(9)}${last}`);
      }
      target(`app decoding wiretap/relay, ${w.name} (load ${median(loads).toFixed(1)})`, ratio, 0.9);
    }
  } finally {
    await Promise.all([server, relay, tap].map((c) => stop(c.process)));
  }
  out(`load average ${loadavg()[0]!.toFixed(1)} at the end (${cpus().length} cores)`);
  out();
}
