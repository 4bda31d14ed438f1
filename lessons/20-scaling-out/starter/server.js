// Lesson 08's go-between, now run twice: the playground starts this file as process a and as
// process b, and the wiretap hands new connections to them in turn (a, b, a, b ...).
const { WebSocketServer, WebSocket } = require('ws');

// Which process this is ('a' or 'b'), and where Redis listens (redis://127.0.0.1:PORT).
const INSTANCE = process.env.WSPLAY_INSTANCE || 'a';
const REDIS_URL = process.env.REDIS_URL;

const wss = new WebSocketServer({ port: 9900 });
console.log(`process ${INSTANCE}: listening (Redis at ${REDIS_URL})`);

wss.on('connection', (ws) => {
  console.log(`process ${INSTANCE}: a peer connected (${wss.clients.size} here)`);
  ws.on('message', (data, isBinary) => {
    // Every OTHER client of this process, as it came. The clients of the other process are
    // not in this wss.clients: they never hear it.
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });

  ws.send('Hello webSocket');
});
