const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');

const ME = `${process.env.WSPLAY_INSTANCE}-${process.pid}`;
const pub = createClient({ url: process.env.REDIS_URL });
const sub = pub.duplicate();

function sendLocal(data, isBinary, from) {
  for (const client of wss.clients) {
    if (client !== from && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  }
}

let wss;
(async () => {
  await Promise.all([pub.connect(), sub.connect()]);
  await sub.subscribe('chat', (raw) => {
    const m = JSON.parse(raw);
    if (m.from !== ME) sendLocal(m.text, false, null);
  });
  wss = new WebSocketServer({ port: 9900 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      sendLocal(data, isBinary, ws);
      // A chat is text.
      pub.publish('chat', JSON.stringify({ from: ME, text: data.toString() }));
    });
    ws.send('Hello webSocket');
  });
})();
