const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');

const pub = createClient({ url: process.env.REDIS_URL });
const sub = pub.duplicate();

let wss;
(async () => {
  await Promise.all([pub.connect(), sub.connect()]);
  // Redis is the one way a message travels: every process, this one too, sends what comes from it.
  await sub.subscribe('chat', (raw) => {
    const m = JSON.parse(raw);
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(Buffer.from(m.data, 'base64'), { binary: m.binary });
    }
  });
  wss = new WebSocketServer({ port: 9900 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      pub.publish('chat', JSON.stringify({ binary: isBinary, data: data.toString('base64') }));
    });
    ws.send('Hello webSocket');
  });
})();
