const http = require('http');
const { WebSocketServer } = require('ws');

const port = process.env.WSPLAY_DASHBOARD_PORT || '9901';
const allowed = new Set([`http://localhost:${port}`, `http://127.0.0.1:${port}`]);

const server = http.createServer((req, res) => {
  res.writeHead(426).end('WebSocket only\n');
});
// The ws documentation's way: check the handshake on the HTTP server's 'upgrade' event.
const wss = new WebSocketServer({ noServer: true, maxPayload: 65536 });

server.on('upgrade', (req, socket, head) => {
  if (!allowed.has(req.headers.origin)) {
    socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data) => ws.send(`I heard you say "${data}"`));
  ws.send('Hello webSocket');
});

server.listen(9900);
