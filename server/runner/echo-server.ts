import createDebug from 'debug';
import { WebSocketServer, type ServerOptions } from 'ws';

const log = createDebug('wsplay:echo');

/**
 * The tutorial's echo server (shared/seed/websocket-tutorial.md), with its behaviour kept:
 * on connection it sends `Hello webSocket`; on each message it answers `I heard you say "<msg>"`.
 *
 * It keeps the tutorial's `String.fromCharCode(...data)` on purpose: that line mangles
 * non-ASCII text and throws on a large message (a spread of 300 KB of arguments overflows the
 * stack), which is what lesson 6 is about. It runs in its own process, so such a crash never
 * takes the wiretap or the dashboard down.
 */
export function createEchoServer(options: ServerOptions): WebSocketServer {
  const wss = new WebSocketServer(options);
  wss.on('connection', (ws, req) => {
    log('connection from %s:%d', req.socket.remoteAddress, req.socket.remotePort);
    ws.on('message', (data: Buffer) => {
      const msg = String.fromCharCode(...data);
      log('received: %s', msg);
      ws.send(`I heard you say "${msg}"`);
    });
    ws.send('Hello webSocket');
  });
  return wss;
}

// Run as a program: `node --import tsx server/runner/echo-server.ts`, port from WSPLAY_PORT.
if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.WSPLAY_PORT ?? 9900);
  const wss = createEchoServer({ port, host: '127.0.0.1' });
  wss.on('listening', () => {
    const address = wss.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    log('listening on 127.0.0.1:%d', actual);
    process.send?.({ type: 'listening', port: actual });
  });
  // Started by ServerProcess: if wsplay dies without stopping us (SIGKILL), the IPC channel
  // closes; exit rather than hold the port as an orphan.
  process.on('disconnect', () => process.exit(0));
  wss.on('error', (err) => {
    console.error(`Echo server: ${err.message}`);
    process.exit(1);
  });
}
