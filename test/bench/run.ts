/**
 * `npm run bench`: what the wiretap costs, measured against baselines taken in the same run.
 *
 * 1. Echo round trips per second, small text messages, many in flight, over three paths that
 *    alternate round by round: straight to the echo target; through a plain relay that decodes
 *    nothing (the ceiling for any proxy); through the wiretap decoding every chunk and storing
 *    every event in a CaptureStore (as `npm start` runs it). The echo target and each relay run
 *    in their own process; the load generator (ws clients) runs here. Target: wiretap/relay >= 0.9.
 * 2. Memory of the wiretap process before and after the load (its store is bounded: flat).
 * 3. Decoder throughput against `ws`'s Receiver on the same bytes, in a fresh child process
 *    (test/bench/decoder-throughput.ts). Target: ours/ws >= 1.0.
 * 4. The dashboard under 10,000 frames a second (test/bench/dashboard.ts).
 * 5. A deflate bomb (issue 12): while one client sends frames of 15 KB that each inflate to
 *    15 MiB to a target that does not inflate (test/bench/bomb-target.ts), other clients open
 *    through the wiretap one after another: how long each waits for its 101, and for one echo,
 *    as a ratio against the same probes with no bomb. Target: <= 2.
 * 6. Attacks (issue 12): a 64 MiB console line, pages that never read (test/bench/attacks.ts).
 * 7. The warm start (issue 13): `wsplay start` to its Dashboard line, from the bundle and from
 *    the sources through tsx, against `node -e 0` in the same rounds (test/bench/startup.ts).
 * 8. Application protocols (issue 15): the load of 1 as plain text, Socket.IO, JSON-RPC, GraphQL
 *    (graphql-transport-ws), STOMP and MQTT, each with its opening and a server's answers
 *    (test/bench/app-protocols.ts), through the plain relay and through the wiretap decoding
 *    them: each path warmed uncounted (the wiretap until its store has turned over), then rounds of
 *    a relay run and a wiretap run back to back, order alternating. Target: the median of the
 *    rounds' wiretap/relay >= 0.9 each (their spread printed beside it). BENCH_APP=a,b: only those;
 *    BENCH_APP_ROUNDS (7), BENCH_APP_SECONDS (1.5), BENCH_APP_WARM_SECONDS (2, the relay's warm-up).
 *
 * It measures; it never fails: exit code 0 whatever the numbers. Every child binds port 0 on
 * 127.0.0.1 and is ended when the bench exits.
 *
 * Knobs (environment): BENCH_ROUNDS (3), BENCH_SECONDS (3) (part 1), BENCH_CONNECTIONS (32),
 * BENCH_IN_FLIGHT (64), BENCH_DECODER_ROUNDS (7), BENCH_ONLY (echo | decoder | dashboard | bomb | attacks |
 * startup | app), BENCH_BOMB_RATE (bombs a second, 8), BENCH_BOMB_PROBES (10), BENCH_BOMB_ROUNDS (3),
 * BENCH_STARTUP_ROUNDS (5), BENCH_PATHS=decode (also the decoders
 * without the store), BENCH_COMPARE=DIR (also the wiretap of another checkout, e.g. a worktree
 * with a change, A/B in the same run), BENCH_NODE_FLAGS (extra node/V8 flags for the echo
 * target and relays, e.g. "--max-semi-space-size=64"), BENCH_STORE_EVENTS (the wiretap's
 * CaptureStore bound instead of the default), BENCH_PROFILE=DIR (children write
 * --cpu-prof profiles to DIR), DEBUG (as for npm start; slows the wiretap down, of course).
 */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { constants, deflateRawSync } from 'node:zlib';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { runAppBench } from './app-protocols.ts';
import { runStreamCpuBench } from './stream-cpu.ts';
import { endChildren, forkTs, start, stop, type Child } from './children.ts';
import { roundTrips } from './round-trips.ts';
import { runAttacksBench } from './attacks.ts';
import { runDashboardBench } from './dashboard.ts';
import { runStartupBench } from './startup.ts';
import { CONTENDERS, type WorkloadResult } from './decoder-throughput.ts';

const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const IN_FLIGHT = Number(env.BENCH_IN_FLIGHT ?? 64);
const WARMUP_MS = 500;
const ONLY = env.BENCH_ONLY;
/** ~20 bytes of text, as a chat message or a small JSON update. */
const MESSAGE = 'hello wiretap 012345';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));


interface Stats {
  cpuMs: number;
  rss: number;
  heapUsed: number;
  events?: number;
  held?: number;
  heldBytes?: number;
  dropped?: number;
}

const NO_STATS: Stats = { cpuMs: NaN, rss: NaN, heapUsed: NaN };

/** Ask a child for its CPU time and memory; NaNs if it has gone (the bench reports, never hangs). */
function stats(child: ChildProcess, gc = false): Promise<Stats> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('message', reply);
      resolve(NO_STATS);
    }, 5000);
    function reply(msg: Stats & { type?: string }) {
      if (msg?.type !== 'stats') return;
      clearTimeout(timer);
      child.off('message', reply);
      resolve(msg);
    }
    if (!child.connected) {
      clearTimeout(timer);
      return resolve(NO_STATS);
    }
    child.on('message', reply);
    child.send({ type: 'stats', gc });
  });
}

// ---------------------------------------------------------------------------------------------
// Load

interface LoadResult {
  rate: number;
  /** CPU used during the measured window, in % of one core. */
  cpu: { load: number; relay: number | null; server: number };
  /** CPU time the relay process spent per round trip, in µs (steadier than rates on a busy machine). */
  relayUsPerTrip: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the load's clients send: on which path, which messages (the nth of the run). */
interface Workload {
  name: string;
  path: string;
  message: (n: number) => string;
}
const PLAIN: Workload = { name: 'plain', path: '/', message: () => MESSAGE };

/**
 * CONNECTIONS clients, each keeping IN_FLIGHT messages outstanding: every echo that comes back
 * sends the next message. Counts echoes over SECONDS after a warm-up.
 */
async function echoLoad(port: number, server: ChildProcess, relay: ChildProcess | null, workload: Workload = PLAIN): Promise<LoadResult> {
  const opening = await Promise.allSettled(
    Array.from({ length: CONNECTIONS }, () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${workload.path}`, { perMessageDeflate: false });
      return new Promise<WebSocket>((resolve, reject) => {
        // Before open: the path is down, the bench says so. After: a reset ends that client only.
        ws.on('error', reject);
        ws.once('open', () => resolve(ws));
        ws.once('close', () => reject(new Error('closed before it opened')));
      });
    }),
  );
  const clients = opening.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failed = opening.find((o) => o.status === 'rejected');
  if (failed) {
    for (const ws of clients) ws.terminate();
    throw failed.reason;
  }
  const loop = roundTrips(clients, workload.message, IN_FLIGHT);
  await sleep(WARMUP_MS);

  const before = { n: loop.received(), t: performance.now(), load: process.cpuUsage(), server: await stats(server), relay: relay && (await stats(relay)) };
  await sleep(SECONDS * 1000);
  const n = loop.received();
  const t = performance.now();
  const load = process.cpuUsage(before.load);
  const [serverAfter, relayAfter] = await Promise.all([stats(server), relay && stats(relay)]);

  await loop.stop();
  await Promise.all(
    clients.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close(1000);
          setTimeout(() => {
            ws.terminate();
            resolve();
          }, 2000).unref();
        }),
    ),
  );

  const ms = t - before.t;
  const pct = (cpuMs: number) => (100 * cpuMs) / ms;
  const trips = n - before.n;
  return {
    rate: (trips * 1000) / ms,
    relayUsPerTrip: relayAfter && before.relay ? ((relayAfter.cpuMs - before.relay.cpuMs) * 1000) / trips : null,
    cpu: {
      load: pct((load.user + load.system) / 1000),
      server: pct(serverAfter.cpuMs - before.server.cpuMs),
      relay: relayAfter && before.relay ? pct(relayAfter.cpuMs - before.relay.cpuMs) : null,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const pad = (s: string, n: number) => s.padStart(n);
const padEnd = (s: string, n: number) => s.padEnd(n);
const out = (line = '') => process.stdout.write(`${line}\n`);

const targetLines: string[] = [];
function target(label: string, value: number, min: number): void {
  targetLines.push(`${label}: ${value.toFixed(2)} (target >= ${min.toFixed(1)}) ${value >= min ? 'OK' : 'BELOW TARGET'}`);
}
function targetAtMost(label: string, value: number, max: number): void {
  targetLines.push(`${label}: ${value.toFixed(2)} (target <= ${max.toFixed(1)}) ${value <= max ? 'OK' : 'ABOVE TARGET'}`);
}

// ---------------------------------------------------------------------------------------------
// 1 + 2: echo round trips, memory

/**
 * The paths a round visits. `direct`, `relay` and `wiretap` always; `decode` (BENCH_PATHS) is the
 * wiretap's decoders with the events dropped, to tell their cost from the store's; `compare`
 * (BENCH_COMPARE=DIR) is the wiretap of another checkout of this project (its
 * test/bench/relay-process.ts), for an A/B of a change in the same run.
 */
interface PathSpec {
  name: string;
  /** The relay program and its mode; null: straight to the echo target. */
  relay: { script: string; mode: 'plain' | 'wiretap' | 'decode' } | null;
}
const COMPARE = env.BENCH_COMPARE ? resolve(env.BENCH_COMPARE, 'test/bench/relay-process.ts') : null;
const PATH_SPECS: PathSpec[] = [
  { name: 'direct', relay: null },
  { name: 'relay', relay: { script: here('relay-process.ts'), mode: 'plain' } },
  { name: 'wiretap', relay: { script: here('relay-process.ts'), mode: 'wiretap' } },
  ...((env.BENCH_PATHS ?? '').split(',').includes('decode') ? [{ name: 'decode', relay: { script: here('relay-process.ts'), mode: 'decode' as const } }] : []),
  ...(COMPARE ? [{ name: 'compare', relay: { script: COMPARE, mode: 'wiretap' as const } }] : []),
];

async function echoBench(): Promise<void> {
  out(`Echo round trips per second: ${CONNECTIONS} connections × ${IN_FLIGHT} in flight, ${Buffer.byteLength(MESSAGE)}-byte text`);
  out(`${ROUNDS} rounds × ${SECONDS} s per path (after ${WARMUP_MS} ms warm-up), paths alternating; each server in its own process.`);
  if (COMPARE) out(`compare = the wiretap of ${COMPARE}`);
  out();
  const server = await start(here('echo-target.ts'), {}, 'echo-target');
  const via = new Map<string, Child | null>();
  for (const p of PATH_SPECS) {
    via.set(p.name, p.relay && (await start(p.relay.script, { BENCH_MODE: p.relay.mode, BENCH_TARGET_PORT: String(server.port) }, p.name)));
  }
  const tap = via.get('wiretap')!;

  const memory: Array<{ when: string; s: Stats }> = [{ when: 'before load', s: await stats(tap.process, true) }];
  const results = new Map<string, LoadResult[]>(PATH_SPECS.map((p) => [p.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order, so no path always runs first (or right after another's GC debt).
    for (let k = 0; k < PATH_SPECS.length; k++) {
      const { name } = PATH_SPECS[(r + k) % PATH_SPECS.length]!;
      const relay = via.get(name) ?? null;
      try {
        results.get(name)!.push(await echoLoad(relay?.port ?? server.port, server.process, relay?.process ?? null));
      } catch (err) {
        // A path that is down (its process crashed) is reported as such; the others carry on.
        out(`round ${r + 1}, ${name}: ${(err as Error).message}`);
        results.get(name)!.push({ rate: NaN, cpu: { load: NaN, relay: null, server: NaN }, relayUsPerTrip: null });
      }
    }
    memory.push({ when: `after round ${r + 1}`, s: await stats(tap.process, true) });
  }

  const head = `${padEnd('path', 9)}${Array.from({ length: ROUNDS }, (_, i) => pad(`round ${i + 1}`, 10)).join('')}${pad('median', 10)}   CPU % of a core: load  relay  server   relay CPU µs/trip`;
  out(head);
  out('-'.repeat(head.length));
  const med = new Map<string, number>();
  const usPerTrip = new Map<string, number>();
  for (const { name } of PATH_SPECS) {
    const rs = results.get(name)!;
    med.set(name, median(rs.map((x) => x.rate)));
    const cpu = (pick: (c: LoadResult['cpu']) => number | null) => {
      const xs = rs.map((x) => pick(x.cpu)).filter((x): x is number => x !== null);
      return xs.length ? `${Math.round(median(xs))}` : '-';
    };
    if (name !== 'direct') usPerTrip.set(name, median(rs.map((x) => x.relayUsPerTrip ?? NaN)));
    out(
      `${padEnd(name, 9)}${rs.map((x) => pad(int(x.rate), 10)).join('')}${pad(int(med.get(name)!), 10)}` +
        `${pad(cpu((c) => c.load), 25)}${pad(cpu((c) => c.relay), 7)}${pad(cpu((c) => c.server), 8)}` +
        `${pad(usPerTrip.has(name) ? usPerTrip.get(name)!.toFixed(1) : '-', 20)}`,
    );
  }
  out();
  const ratio = (a: string, b: string) => med.get(a)! / med.get(b)!;
  const extra = PATH_SPECS.filter((p) => p.name === 'decode' || p.name === 'compare').map((p) => `   ${p.name}/relay: ${ratio(p.name, 'relay').toFixed(2)}`);
  out(`relay/direct: ${ratio('relay', 'direct').toFixed(2)}   wiretap/direct: ${ratio('wiretap', 'direct').toFixed(2)}   wiretap/relay: ${ratio('wiretap', 'relay').toFixed(2)}${extra.join('')}`);
  const overhead = (name: string) => (usPerTrip.get(name)! - usPerTrip.get('relay')!).toFixed(1);
  out(
    `CPU the wiretap process adds per round trip (2 frames, 4 events) to the plain relay's ${usPerTrip.get('relay')!.toFixed(1)} µs: ` +
      PATH_SPECS.filter((p) => p.name !== 'direct' && p.name !== 'relay').map((p) => `${p.name} +${overhead(p.name)} µs`).join(', '),
  );
  target('wiretap/relay', ratio('wiretap', 'relay'), 0.9);
  out();

  out('Wiretap process memory (after a full GC); its CaptureStore is bounded');
  const mhead = `${padEnd('', 16)}${pad('rss', 10)}${pad('heapUsed', 11)}${pad('events seen', 13)}${pad('held', 9)}${pad('held size', 11)}${pad('dropped', 11)}`;
  out(mhead);
  out('-'.repeat(mhead.length));
  for (const { when, s } of memory) {
    out(
      `${padEnd(when, 16)}${pad(mb(s.rss), 10)}${pad(mb(s.heapUsed), 11)}${pad(int(s.events ?? 0), 13)}${pad(int(s.held ?? 0), 9)}` +
        `${pad(mb(s.heldBytes ?? 0), 11)}${pad(int(s.dropped ?? 0), 11)}`,
    );
  }
  if (memory.length > 2) {
    const first = memory[1]!.s;
    const last = memory[memory.length - 1]!.s;
    out(`From round 1 to round ${ROUNDS}: heapUsed ${mb(first.heapUsed)} → ${mb(last.heapUsed)}, rss ${mb(first.rss)} → ${mb(last.rss)}`);
  }
  out();
  await Promise.all([server, ...via.values()].map((c) => (c ? stop(c.process) : undefined)));
}

// ---------------------------------------------------------------------------------------------
// 3: decoder throughput

/** Run a checkout's decoder-throughput.ts in a fresh process (clean JIT and heap). */
function decoderBench(script: string, profileName: string): Promise<WorkloadResult[]> {
  return new Promise((resolve, reject) => {
    const child = forkTs(script, profileName);
    let results: WorkloadResult[] | null = null;
    child.on('message', (msg: { type?: string; results?: WorkloadResult[] }) => {
      if (msg?.type === 'decoder-results' && msg.results) results = msg.results;
    });
    child.on('exit', (code) => {
      if (!results) reject(new Error(`the decoder bench exited with code ${code} before reporting`));
      else resolve(results);
    });
  });
}

async function decoderBenches(): Promise<void> {
  const ours = await decoderBench(here('decoder-throughput.ts'), 'decoder');
  const compare = COMPARE ? await decoderBench(resolve(COMPARE, '../decoder-throughput.ts'), 'decoder-compare') : [];
  const rounds = ours[0]?.rounds ?? 0;
  out(`Decoder throughput, MB/s, on the same masked client frames in 64 KiB chunks (${rounds} rounds after warm-up, medians)`);
  out('  ws = ws Receiver (isServer), which hands out Buffers; frames = FrameDecoder + MessageAssembler;');
  out('  connection = ConnectionDecoder as the wiretap runs it: lazy events, strings made when read (target: >= ws);');
  out('  made = the same with every string made at once (base64, hex, text), as with a dashboard watching');
  out();
  const head = `${padEnd('workload', 32)}${pad('size', 9)}${pad('messages', 10)}${CONTENDERS.map((c) => pad(c, 12)).join('')}${pad('frames/ws', 11)}${pad('connection/ws', 15)}${pad('made/ws', 9)}`;
  out(head);
  out('-'.repeat(head.length));
  const row = (r: WorkloadResult, label: string) =>
    out(
      `${padEnd(label, 32)}${pad(`${(r.bytes / 1e6).toFixed(1)} MB`, 9)}${pad(int(r.messages), 10)}` +
        `${CONTENDERS.map((c) => pad(r.mbps[c]?.toFixed(1) ?? '-', 12)).join('')}` +
        `${pad((r.mbps.frames / r.mbps.ws).toFixed(2), 11)}${pad((r.mbps.connection / r.mbps.ws).toFixed(2), 15)}` +
        // A checkout from before `made` existed reports no such column.
        `${pad(r.mbps.made === undefined ? '-' : (r.mbps.made / r.mbps.ws).toFixed(2), 9)}`,
    );
  for (const r of ours) row(r, r.name);
  for (const r of compare) row(r, `${r.name} (compare)`);
  out();
  for (const r of ours) target(`decoder ours/ws, ${r.name}`, r.mbps.connection / r.mbps.ws, 1.0);
}

// ---------------------------------------------------------------------------------------------
// 5: a deflate bomb next to ordinary connections

const BOMB_RATE = Number(env.BENCH_BOMB_RATE ?? 8);
const BOMB_PROBES = Number(env.BENCH_BOMB_PROBES ?? 10);
const BOMB_ROUNDS = Number(env.BENCH_BOMB_ROUNDS ?? 3);
const PROBE_TIMEOUT_MS = 60_000;

interface Probe {
  /** From `new WebSocket` to its 'open' (the 101 read), ms. */
  open: number;
  /** One message there and back, ms. */
  echo: number;
}

/** One client through `port`: how long until its 101, then one echo round trip. */
function probe(port: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let opened = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no 101 and echo within ${PROBE_TIMEOUT_MS} ms`));
    }, PROBE_TIMEOUT_MS);
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once('open', () => {
      opened = performance.now();
      ws.send(MESSAGE);
    });
    ws.once('message', () => {
      const now = performance.now();
      clearTimeout(timer);
      ws.close(1000);
      resolve({ open: opened - t0, echo: now - opened });
    });
  });
}

/** `n` probes one after another; one with no 101 and echo in PROBE_TIMEOUT_MS counts as that long, and ends the series. */
async function probes(port: number, n: number): Promise<Probe[]> {
  const out: Probe[] = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push(await probe(port));
    } catch (err) {
      out.push({ open: PROBE_TIMEOUT_MS, echo: PROBE_TIMEOUT_MS });
      if (!/within/.test((err as Error).message)) throw err;
      break;
    }
    await sleep(50);
  }
  return out;
}

/** A masked client text frame with RSV1 set (a compressed message), RFC 6455 §5.2. */
function compressedFrame(payload: Buffer): Buffer {
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const head = Buffer.alloc(payload.length < 65536 ? 4 : 10);
  head[0] = 0x80 | 0x40 | 0x1;
  if (payload.length < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, key, body]);
}

/** A client that upgrades to /bomb with permessage-deflate, then sends BOMB_RATE bombs a second until stopped. */
function startBombing(port: number, bombFrame: Buffer): Promise<{ stop: () => number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let head = '';
    let sent = 0;
    socket.on('error', reject);
    socket.on('data', function onData(c: Buffer) {
      head += c.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!/permessage-deflate/i.test(head)) return reject(new Error(`the bomb target did not agree to permessage-deflate: ${head}`));
      const timer = setInterval(() => {
        // Never queue more than a second of bombs in this process: the bench measures the relay.
        if (socket.writableLength < bombFrame.length * BOMB_RATE) {
          socket.write(bombFrame);
          sent++;
        }
      }, 1000 / BOMB_RATE);
      resolve({
        stop: () => {
          clearInterval(timer);
          socket.destroy();
          return sent;
        },
      });
    });
    socket.write(
      'GET /bomb HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
    );
  });
}

async function bombBench(): Promise<void> {
  const raw = deflateRawSync(Buffer.alloc(15 * 1024 * 1024, 0x61), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  const bombFrame = compressedFrame(raw.subarray(0, raw.length - 4));
  out(`Deflate bomb: ${BOMB_RATE} frames a second of ${(bombFrame.length / 1000).toFixed(1)} KB that each inflate to 15 MiB, to a target that does not inflate;`);
  out(`meanwhile ${BOMB_PROBES} clients, one after another, each wait for their 101 and one echo (ms; median and worst), against the same with no bomb.`);
  out(`A client that has neither in ${PROBE_TIMEOUT_MS / 1000} s counts as ${PROBE_TIMEOUT_MS} ms and ends the series. ${BOMB_ROUNDS} rounds, a fresh relay process each.`);
  out();
  const server = await start(here('echo-target.ts'), {}, 'echo-target');
  const bombTarget = await start(here('bomb-target.ts'), { BENCH_TARGET_PORT: String(server.port) }, 'bomb-target');
  const paths = [{ name: 'wiretap', script: here('relay-process.ts') }, ...(COMPARE ? [{ name: 'compare', script: COMPARE }] : [])];
  const head = `${padEnd('path', 9)}${padEnd('', 18)}${pad('101 median', 12)}${pad('101 worst', 11)}${pad('echo median', 13)}${pad('echo worst', 12)}`;
  out(head);
  out('-'.repeat(head.length));
  const row = (name: string, label: string, ps: Probe[]) => {
    const worst = (xs: number[]) => Math.max(...xs);
    out(
      `${padEnd(name, 9)}${padEnd(label, 18)}${pad(median(ps.map((p) => p.open)).toFixed(1), 12)}${pad(worst(ps.map((p) => p.open)).toFixed(1), 11)}` +
        `${pad(median(ps.map((p) => p.echo)).toFixed(1), 13)}${pad(worst(ps.map((p) => p.echo)).toFixed(1), 12)}`,
    );
  };
  const ratios = new Map<string, { open: number[]; echo: number[] }>(paths.map((p) => [p.name, { open: [], echo: [] }]));
  for (let round = 1; round <= BOMB_ROUNDS; round++) {
    for (const p of paths) {
      const relay = await start(p.script, { BENCH_MODE: 'wiretap', BENCH_TARGET_PORT: String(bombTarget.port) }, `${p.name}-bomb`);
      try {
        await probes(relay.port, 3);
        const quiet = await probes(relay.port, BOMB_PROBES);
        row(p.name, `round ${round} no bomb`, quiet);
        const bomber = await startBombing(relay.port, bombFrame);
        await sleep(1000);
        let bombed: Probe[];
        let sent = 0;
        try {
          bombed = await probes(relay.port, BOMB_PROBES);
        } finally {
          sent = bomber.stop();
        }
        row(p.name, `round ${round} bomb`, bombed);
        const r = ratios.get(p.name)!;
        const ratio = (pick: (x: Probe) => number) => median(bombed.map(pick)) / median(quiet.map(pick));
        r.open.push(ratio((x) => x.open));
        r.echo.push(ratio((x) => x.echo));
        out(`${padEnd('', 9)}bomb/no bomb: 101 ${r.open.at(-1)!.toFixed(2)}, echo ${r.echo.at(-1)!.toFixed(2)} (${sent} bombs sent)`);
      } catch (err) {
        out(`${p.name}, round ${round}: ${(err as Error).message}`);
      } finally {
        // SIGKILL: a relay still inflating on its only thread would not hear a SIGTERM for seconds.
        relay.process.kill('SIGKILL');
      }
    }
  }
  out();
  for (const p of paths) {
    const r = ratios.get(p.name)!;
    out(`${padEnd(p.name, 9)}median over rounds, bomb/no bomb: wait for the 101 ${median(r.open).toFixed(2)}, echo ${median(r.echo).toFixed(2)}`);
  }
  const w = ratios.get('wiretap')!;
  targetAtMost('bomb/no bomb, median wait for the 101', median(w.open), 2);
  targetAtMost('bomb/no bomb, median echo', median(w.echo), 2);
  out();
  await Promise.all([stop(server.process), stop(bombTarget.process)]);
}

// ---------------------------------------------------------------------------------------------

const t0 = performance.now();
const load1 = () => loadavg()[0]!.toFixed(1);
const loadAtStart = load1();
for (const [part, run] of [
  ['echo', echoBench],
  ['decoder', decoderBenches],
  // 4. The dashboard under 10,000 frames a second (test/bench/dashboard.ts).
  ['dashboard', async () => {
    await runDashboardBench(out, targetAtMost, target);
    // wsplay's CPU per event with a page watching, at a fixed grain: steadier than the flood's per-process shares.
    await runStreamCpuBench(out);
  }],
  // 5. Issue 12: a deflate bomb on one connection, another connection's 101 and echo.
  ['bomb', bombBench],
  // 6. Issue 12: a 64 MiB console line, 40 pages that never read (test/bench/attacks.ts).
  ['attacks', runAttacksBench],
  // 7. Issue 13: the warm start, bundle and sources, against `node -e 0` (test/bench/startup.ts).
  ['startup', () => runStartupBench(out, targetAtMost)],
  // 8. Issue 15: each application protocol decoded, against the plain relay (test/bench/app-protocols.ts).
  ['app', () => runAppBench(out, target)],
] as const) {
  if (ONLY && ONLY !== part) continue;
  try {
    await run();
  } catch (err) {
    out(`bench (${part}): ${(err as Error).stack ?? err}`);
    out();
  }
}
out(`Ran in ${((performance.now() - t0) / 1000).toFixed(0)} s on ${cpus().length} cores, Node ${process.version}; load average ${loadAtStart} at the start, ${load1()} at the end.`);
if (Math.max(Number(loadAtStart), Number(load1())) > cpus().length) {
  out('Other processes were competing for the CPUs: the rates are noisy (the ratios, taken round by round, less so).');
}
out();
for (const line of targetLines) out(line);
endChildren();
process.exit(0);
