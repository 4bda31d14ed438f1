/**
 * The target of the application-protocol bench (test/bench/app-protocols.ts), run as its own
 * process like echo-target.ts: a `ws` server that answers each message as a server of the
 * connection's protocol would (app-workloads.ts, by the request path), and sends a workload's
 * greeting (Engine.IO's open packet) as a connection opens. `ws` picks the first subprotocol a
 * client offers, as the bench's clients offer one each.
 *
 * Listens on 127.0.0.1, port 0, and reports the port over IPC: `{ type: 'listening', port }`.
 * Answers `{ type: 'stats' }` with its CPU time, and exits when the parent goes away.
 */
import { WebSocketServer } from 'ws';
import { APP_WORKLOADS, PLAIN } from './app-workloads.ts';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false });

wss.on('connection', (ws, req) => {
  const w = APP_WORKLOADS.find((x) => x.path === req.url) ?? PLAIN;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const out = w.reply(data, isBinary);
    for (const m of Array.isArray(out) ? out : [out]) ws.send(m, { binary: typeof m !== 'string' });
  });
  ws.on('error', () => ws.terminate());
  if (w.greeting !== undefined) ws.send(w.greeting, { binary: typeof w.greeting !== 'string' });
});

wss.on('listening', () => {
  const address = wss.address();
  process.send?.({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
});

process.on('message', (msg: { type?: string }) => {
  if (msg?.type === 'stats') {
    const cpu = process.cpuUsage();
    process.send?.({ type: 'stats', cpuMs: (cpu.user + cpu.system) / 1000, ...process.memoryUsage() });
  }
});

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
