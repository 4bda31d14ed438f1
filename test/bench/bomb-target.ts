/**
 * The bench's target for the deflate bomb (issue 12, item 3), run as its own process: a raw TCP
 * server. An upgrade to /bomb is answered 101 with permessage-deflate, and what follows is
 * counted and thrown away, never inflated: a server that does not inflate, so only the wiretap
 * in front pays for the bombs. Any other connection is passed, bytes as they came, to the echo
 * target on BENCH_TARGET_PORT.
 *
 * IPC as echo-target.ts: `{ type: 'listening', port }`, then `{ type: 'stats' }` answered with
 * its CPU time and `bombBytes`, what the /bomb connections have received. Exits with the parent.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

const echoPort = Number(process.env.BENCH_TARGET_PORT);
let bombBytes = 0;

const server = net.createServer((socket) => {
  socket.on('error', () => socket.destroy());
  let head = Buffer.alloc(0);
  socket.on('data', function onHead(chunk: Buffer) {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > 16 * 1024) socket.destroy();
      return;
    }
    socket.off('data', onHead);
    const text = head.subarray(0, end).toString('latin1');
    if (text.startsWith('GET /bomb ')) {
      const key = /sec-websocket-key:\s*(\S+)/i.exec(text)?.[1] ?? '';
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
      );
      bombBytes += head.length - end - 4;
      socket.on('data', (c: Buffer) => (bombBytes += c.length));
      return;
    }
    const echo = net.connect({ port: echoPort, host: '127.0.0.1', noDelay: true }, () => echo.write(head));
    echo.on('error', () => socket.destroy());
    socket.on('close', () => echo.destroy());
    socket.pipe(echo).pipe(socket);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: (server.address() as net.AddressInfo).port });
});

process.on('message', (msg: { type?: string }) => {
  if (msg?.type === 'stats') {
    const cpu = process.cpuUsage();
    process.send?.({ type: 'stats', cpuMs: (cpu.user + cpu.system) / 1000, bombBytes, ...process.memoryUsage() });
  }
});

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
