/**
 * The wsplay process's CPU per event with a dashboard page watching, apart from the machine's load
 * (issue 19): `node server/bin/run-ts.js test/bench/stream-cpu.ts`.
 *
 * The dashboard bench (dashboard.ts) reads each process's CPU over its flood, but on a busy machine
 * that number moves with the scheduling: a process that waits for a core reads many frames at a
 * time and spends less per frame. Here the same work is done at a fixed grain, in one process: the
 * bench's frames (`tick N xxxx…` and the echo server's answers, 100 a turn of the event loop) go
 * through the wiretap's decoder (lazy events) into the capture store, and, in the second run, on
 * through the event stream to a page that acknowledges each batch as soon as it is sent, as the
 * dashboard's does once it has applied it. The difference is what the stream costs per event:
 * making the events' strings, serializing the batches, keeping what a page has not been sent. The
 * page's socket is left out (its writes cost what the bytes cost, whatever made them).
 *
 * Each run is a child process of its own (a fresh heap: what the collector does is part of the cost).
 */
import { fileURLToPath } from 'node:url';
import { EventStream } from '../../server/app/event-stream.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { forkTs } from './children.ts';
import { buildFrames } from './dashboard-load.ts';

const FRAMES = Number(process.env.BENCH_STREAM_FRAMES ?? 200_000);

interface Result {
  events: number;
  cpuUs: number;
  bytes: number;
  batches: number;
}

/** One run: FRAMES frames decoded and stored, streamed to a page when `page` is set. */
async function run(page: boolean): Promise<Result> {
  const store = new CaptureStore();
  const stream = page
    ? new EventStream({ store, topology: () => ({ tap: { host: '127.0.0.1', port: 1 }, target: { host: '127.0.0.1', port: 2 }, targetLabel: 'bench' }), connections: () => 1 })
    : null;
  let bytes = 0;
  let batches = 0;
  if (stream) {
    let onMessage: (data: Buffer) => void = () => {};
    const ack = Buffer.from(JSON.stringify({ kind: 'ack', seq: Number.MAX_SAFE_INTEGER }));
    // The page: a socket that takes everything at once and acknowledges each message on the next turn.
    const ws = {
      readyState: 1,
      OPEN: 1,
      bufferedAmount: 0,
      send(data: Uint8Array | string) {
        bytes += data.length;
        batches++;
        setImmediate(() => onMessage(ack));
      },
      on(event: string, fn: (data: Buffer) => void) {
        if (event === 'message') onMessage = fn;
      },
      terminate() {},
    };
    (stream as unknown as { attach(ws: unknown, window: number): void }).attach(ws, 16_000);
  }
  const decoder = new ConnectionDecoder(1, undefined, true, undefined, true);
  store.add(decoder.receive('client', Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'), 0));
  store.add(decoder.receive('server', Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'), 0));
  const half = Math.floor(FRAMES / 2);
  const sent = buildFrames(half);
  const echoes = Array.from({ length: half }, (_, n) => {
    const text = Buffer.from(`I heard you say "tick ${n} ${'x'.repeat(16)}"`);
    return Buffer.concat([Buffer.from([0x81, text.length]), text]);
  });
  const before = process.cpuUsage();
  let n = 0;
  let t = 1;
  await new Promise<void>((resolve) => {
    const turn = () => {
      for (let k = 0; k < 50 && n < half; k++, n++) {
        store.add(decoder.receive('client', sent.bytes.subarray(sent.starts[n]!, sent.starts[n + 1]!), (t += 0.01)));
        store.add(decoder.receive('server', echoes[n]!, (t += 0.01)));
      }
      if (n < half) setImmediate(turn);
      else resolve();
    };
    turn();
  });
  // The stream's last batches go out on its next flush.
  if (stream) await new Promise<void>((resolve) => { const check = () => (stream.serialized.events >= store.nextSeq ? resolve() : setTimeout(check, 10)); check(); });
  const cpu = process.cpuUsage(before);
  stream?.close();
  return { events: store.nextSeq, cpuUs: cpu.user + cpu.system, bytes, batches };
}

function inChild(page: boolean): Promise<Result> {
  const child = forkTs(fileURLToPath(import.meta.url), `stream-cpu-${page ? 'page' : 'none'}`, { BENCH_STREAM_CHILD: page ? 'page' : 'none' });
  return new Promise((resolve, reject) => {
    child.once('message', (r: Result) => resolve(r));
    child.once('exit', (code) => reject(new Error(`the stream-cpu run exited (${code}) without a result`)));
  });
}

export async function runStreamCpuBench(out: (line?: string) => void = (line = '') => console.log(line)): Promise<{ store: number; page: number }> {
  out(`\n== wsplay's CPU per event with a page watching: ${FRAMES.toLocaleString('en-US')} frames of the dashboard bench's traffic, decoded, stored, streamed ==`);
  const none = await inChild(false);
  const page = await inChild(true);
  const per = (r: Result) => r.cpuUs / r.events;
  out(`decode and store: ${per(none).toFixed(2)} µs of CPU per event (${none.events.toLocaleString('en-US')} events)`);
  out(
    `with a page watching: ${per(page).toFixed(2)} µs per event; the stream's part ${(per(page) - per(none)).toFixed(2)} µs ` +
      `(${(page.bytes / page.events).toFixed(0)} bytes of JSON an event, ${page.batches.toLocaleString('en-US')} messages to the page)`,
  );
  return { store: per(none), page: per(page) };
}

if (process.env.BENCH_STREAM_CHILD) {
  run(process.env.BENCH_STREAM_CHILD === 'page').then((r) => {
    process.send?.(r);
    process.exit(0);
  });
} else if (import.meta.url === `file://${process.argv[1]}`) {
  runStreamCpuBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
