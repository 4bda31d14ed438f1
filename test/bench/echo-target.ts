/**
 * The bench's echo target, run as its own process (forked through server/bin/run-ts.js): a
 * plain `ws` server that sends every message straight back, as text or binary as it came. It
 * does the least work a WebSocket server can, so what the bench measures is the path in front
 * of it.
 *
 * Listens on 127.0.0.1, port 0, and reports the port over IPC: `{ type: 'listening', port }`.
 * Answers `{ type: 'stats' }` with its CPU time, and exits when the parent goes away.
 */
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false });

wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
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

// Exit with the parent, however it ends (a clean exit also lets --cpu-prof write its profile).
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
