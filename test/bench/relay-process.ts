/**
 * A relay for the bench, run as its own process (forked through server/bin/run-ts.js, as
 * `npm start` runs the wiretap). BENCH_MODE picks what it is:
 * - `plain`: `Wiretap` with `decode: false`: bytes relayed, nothing decoded (the proxy ceiling);
 * - `wiretap`: the wiretap as `npm start` runs it: every chunk decoded, every event added to a
 *   bounded CaptureStore and offered to the debug log (off unless DEBUG is set);
 * - `decode`: every chunk decoded, the events dropped (to tell the decoders' cost from the store's).
 * BENCH_TARGET_PORT is the echo target's port on 127.0.0.1.
 *
 * IPC: sends `{ type: 'listening', port }` once it listens (port 0: the system picks one);
 * answers `{ type: 'stats', gc?: boolean }` with CPU time, memory (after a full GC when asked and
 * --expose-gc is on) and the store's counts and bounds. Exits when the parent goes away.
 */
import { logEvents } from '../../server/capture/log.ts';
import { CaptureStore, DEFAULT_STORE_LIMITS } from '../../server/capture/store.ts';
import { Wiretap } from '../../server/tap/wiretap.ts';

const mode = process.env.BENCH_MODE === 'plain' || process.env.BENCH_MODE === 'decode' ? process.env.BENCH_MODE : 'wiretap';
const targetPort = Number(process.env.BENCH_TARGET_PORT);
// BENCH_STORE_EVENTS: another bound than the default (to see what holding events costs).
const store = new CaptureStore(
  process.env.BENCH_STORE_EVENTS ? { ...DEFAULT_STORE_LIMITS, maxEvents: Number(process.env.BENCH_STORE_EVENTS) } : DEFAULT_STORE_LIMITS,
);

const tap = new Wiretap({
  port: 0,
  target: { host: '127.0.0.1', port: targetPort },
  decode: mode !== 'plain',
  lazyEvents: true,
  onEvents:
    mode === 'decode'
      ? () => {}
      : (events) => {
          store.add(events);
          logEvents(events);
        },
});

const port = await tap.listen();
process.send?.({ type: 'listening', port });

process.on('message', (msg: { type?: string; gc?: boolean }) => {
  if (msg?.type !== 'stats') return;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (msg.gc && gc) gc();
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  process.send?.({
    type: 'stats',
    cpuMs: (cpu.user + cpu.system) / 1000,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    events: store.nextSeq,
    held: store.size,
    heldBytes: store.bytes,
    dropped: store.dropped,
    maxEvents: store.limits.maxEvents,
    maxBytes: store.limits.maxBytes,
    connections: tap.connections,
  });
});

const exit = () => {
  void tap.close();
  process.exit(0);
};
process.on('disconnect', exit);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
