const { WebSocketServer, WebSocket } = require('ws');
const Redis = require('ioredis');

const ME = `${process.env.WSPLAY_INSTANCE}-${process.pid}`;
const pub = new Redis(process.env.REDIS_URL);
const sub = new Redis(process.env.REDIS_URL);

function sendLocal(data, isBinary, from) {
  for (const client of wss.clients) {
    if (client !== from && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  }
}

let wss;
sub.on('message', (channel, m) => {
  if (m.from !== ME) sendLocal(m.data, m.binary, null);
});
sub.subscribe('chat').then(() => {
  wss = new WebSocketServer({ port: 9900 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      sendLocal(data, isBinary, ws);
      pub.publish('chat', { from: ME, binary: isBinary, data });
    });
    ws.send('Hello webSocket');
  });
});
