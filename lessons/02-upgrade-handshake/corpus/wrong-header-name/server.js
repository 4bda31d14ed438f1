const { WebSocketServer } = require('ws');
const accept = require('./accept.js');

const wss = new WebSocketServer({ port: 9900 });

// Just before the 101 goes out, ws shows us its headers. ws has computed
// Sec-WebSocket-Accept itself; we replace it with the value accept.js computes,
// so that the browser checks YOUR work.
wss.on('headers', (headers, request) => {
  const key = request.headers['Sec-WebSocket-Key'];
  const i = headers.findIndex((h) => h.toLowerCase().startsWith('sec-websocket-accept:'));
  headers[i] = `Sec-WebSocket-Accept: ${accept(key)}`;
});

wss.on('connection', (ws) => {
  ws.send('Hello webSocket');
});
