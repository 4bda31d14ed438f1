const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');

const INSTANCE = process.env.WSPLAY_INSTANCE || 'a';
const ME = `${INSTANCE}-${process.pid}`;
// One connection to Redis, for both publishing and subscribing.
const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', (err) => console.error('redis:', err.message));

function sendLocal(data, isBinary, from) {
  for (const client of wss.clients) {
    if (client !== from && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  }
}

let wss;
(async () => {
  await redis.connect();
  await redis.subscribe('chat', (raw) => {
    const m = JSON.parse(raw);
    if (m.from !== ME) sendLocal(Buffer.from(m.data, 'base64'), m.binary, null);
  });
  wss = new WebSocketServer({ port: 9900 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      sendLocal(data, isBinary, ws);
      redis.publish('chat', JSON.stringify({ from: ME, binary: isBinary, data: data.toString('base64') }));
    });
    ws.send('Hello webSocket');
  });
})();
