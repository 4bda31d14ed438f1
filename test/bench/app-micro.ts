/**
 * The wiretap's decoding pipeline in one process, without sockets: for each workload of
 * app-workloads.ts, the same frames fed to ConnectionDecoder → InflationStage → AppStage →
 * InsightEngine → CaptureStore as Wiretap wires them, and the CPU time per round trip (a client
 * message and its answer) measured. Tells what each stage costs, steadier than the echo bench
 * on a busy machine. `node server/bin/run-ts.js test/bench/app-micro.ts [workload...]`;
 * MICRO_TRIPS (200,000), MICRO_STAGES (all | decode | app: stop after that stage; noapp: all but the application-protocol stage).
 */
import { CaptureStore } from '../../server/capture/store.ts';
import type { WireEvent } from '../../server/capture/events.ts';
import { InsightEngine } from '../../server/insights/engine.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { DEFAULT_LIMITS } from '../../server/protocol/message-assembler.ts';
import { AppStage } from '../../server/protocol/app/stage.ts';
import { InflationStage } from '../../server/tap/inflation.ts';
import { APP_WORKLOADS, type AppWorkload, type Payload } from './app-workloads.ts';

const TRIPS = Number(process.env.MICRO_TRIPS ?? 200_000);
const STAGES = process.env.MICRO_STAGES ?? 'all';

/** A WebSocket frame (RFC 6455 §5.2), FIN set, masked when the client sends it. */
function frame(p: Payload, masked: boolean): Buffer {
  const data = typeof p === 'string' ? Buffer.from(p) : p;
  const opcode = typeof p === 'string' ? 1 : 2;
  const len = data.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | len]) : Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  if (!masked) return Buffer.concat([head, data]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, key, body]);
}

/** The server's answer as its frames, back to back (one read, as they often arrive). */
function frames(answer: Payload | Payload[]): Buffer {
  return Array.isArray(answer) ? Buffer.concat(answer.map((p) => frame(p, false))) : frame(answer, false);
}

function pipeline(): { push: (conn: ConnectionDecoder, events: WireEvent[]) => void; store: CaptureStore } {
  const store = new CaptureStore();
  const insights = new InsightEngine();
  const sink = STAGES === 'app' ? () => {} : (events: WireEvent[]) => store.add(insights.push(events));
  const app = new AppStage(sink);
  const inflation = new InflationStage(STAGES === 'decode' ? () => {} : STAGES === 'noapp' ? sink : (events) => app.push(events), {}, true);
  return { push: (conn, events) => inflation.push(conn.conn, events, conn.takeInflations()), store };
}

function run(w: AppWorkload, conns = 32): number {
  const { push, store } = pipeline();
  const decoders: ConnectionDecoder[] = [];
  let t = 0;
  for (let c = 1; c <= conns; c++) {
    const d = new ConnectionDecoder(c, DEFAULT_LIMITS, true, undefined, true);
    decoders.push(d);
    const proto = w.subprotocol ? `Sec-WebSocket-Protocol: ${w.subprotocol}\r\n` : '';
    push(d, [{ type: 'open', conn: c, t, client: '127.0.0.1:1', target: '127.0.0.1:2' }]);
    push(d, d.receive('client', Buffer.from(`GET ${w.path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${proto}\r\n`), t));
    push(d, d.receive('server', Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n${proto}\r\n`), t));
    if (w.greeting !== undefined) push(d, d.receive('server', frame(w.greeting, false), t));
    for (const m of w.opening) {
      push(d, d.receive('client', frame(m, true), t));
      push(d, d.receive('server', frames(w.reply(typeof m === 'string' ? Buffer.from(m) : m, typeof m !== 'string')), t));
    }
  }
  // Frames made beforehand (a different id per message where the protocol has one).
  const N = 512 * conns;
  const pairs = Array.from({ length: N }, (_, n) => {
    const m = w.message(n);
    return [frame(m, true), frames(w.reply(typeof m === 'string' ? Buffer.from(m) : m, typeof m !== 'string'))] as const;
  });
  const trip = (i: number) => {
    const d = decoders[i % conns]!;
    const [c, s] = pairs[i % N]!;
    t += 0.001;
    push(d, d.receive('client', c, t));
    push(d, d.receive('server', s, t));
  };
  // One count through warm-up and measure: an id comes back only after 512 others on its connection.
  let i = 0;
  while (i < TRIPS / 4) trip(i++);
  const before = process.cpuUsage();
  for (const end = i + TRIPS; i < end; ) trip(i++);
  const used = process.cpuUsage(before);
  if (STAGES === 'all' && (store.counts.appViolation > 0 || store.counts.insight > 0 || store.counts.violation > 0)) {
    const odd = store.all().find((e) => e.type === 'appViolation' || e.type === 'insight' || e.type === 'violation');
    process.stdout.write(`${w.name}: ${store.counts.appViolation} appViolation, ${store.counts.insight} insight, ${store.counts.violation} violation events, e.g. ${JSON.stringify(odd)}\n`);
  }
  return (used.user + used.system) / TRIPS;
}

const only = process.argv.slice(2);
for (const w of APP_WORKLOADS) {
  if (only.length > 0 && !only.includes(w.name)) continue;
  const us = [run(w), run(w), run(w)].sort((a, b) => a - b)[1]!;
  process.stdout.write(`${w.name.padEnd(10)} ${us.toFixed(2)} µs/trip (stages: ${STAGES})\n`);
}
