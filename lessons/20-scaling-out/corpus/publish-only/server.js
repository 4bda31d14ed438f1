const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');

const INSTANCE = process.env.WSPLAY_INSTANCE || 'a';
const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', (err) => console.error('redis:', err.message));
redis.connect();

const wss = new WebSocketServer({ port: 9900 });
console.log(`process ${INSTANCE}: listening`);

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
    // Tell the other process.
    redis.publish('chat', JSON.stringify({ from: INSTANCE, binary: isBinary, data: data.toString('base64') }));
  });
  ws.send('Hello webSocket');
});
