const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');

const INSTANCE = process.env.WSPLAY_INSTANCE || 'a';
const pub = createClient({ url: process.env.REDIS_URL });
const sub = pub.duplicate();

function sendLocal(data, isBinary, from) {
  for (const client of wss.clients) {
    if (client !== from && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  }
}

let wss;
(async () => {
  await pub.connect();
  // The second process listens to the first.
  if (INSTANCE === 'b') {
    await sub.connect();
    await sub.subscribe('chat', (raw) => {
      const m = JSON.parse(raw);
      if (m.from !== INSTANCE) sendLocal(Buffer.from(m.data, 'base64'), m.binary, null);
    });
  }
  wss = new WebSocketServer({ port: 9900 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      sendLocal(data, isBinary, ws);
      pub.publish('chat', JSON.stringify({ from: INSTANCE, binary: isBinary, data: data.toString('base64') }));
    });
    ws.send('Hello webSocket');
  });
})();
