// ioredis; every message goes through Redis, even to this process's own clients, with the id of
// the connection that sent it, so that one is skipped wherever it lives.
const { randomUUID } = require('crypto');
const { WebSocketServer, WebSocket } = require('ws');
const Redis = require('ioredis');

const pub = new Redis(process.env.REDIS_URL);
const sub = new Redis(process.env.REDIS_URL);
const ids = new WeakMap();

let wss;
sub.on('message', (channel, raw) => {
  const { sender, binary, data } = JSON.parse(raw);
  for (const client of wss.clients) {
    if (ids.get(client) !== sender && client.readyState === WebSocket.OPEN) {
      client.send(Buffer.from(data, 'base64'), { binary });
    }
  }
});

sub.subscribe('room').then(() => {
  wss = new WebSocketServer({ port: 9900 });
  console.log(`process ${process.env.WSPLAY_INSTANCE}: subscribed, listening`);
  wss.on('connection', (ws) => {
    ids.set(ws, randomUUID());
    ws.on('message', (data, isBinary) => {
      pub.publish('room', JSON.stringify({ sender: ids.get(ws), binary: isBinary, data: data.toString('base64') }));
    });
    ws.send('Hello webSocket');
  });
});
