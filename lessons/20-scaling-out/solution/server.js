// Lesson 08's go-between, run as two processes (a and b) joined through Redis pub/sub: each
// message goes to this process's other clients at once, and to Redis for the other process.
const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');

const INSTANCE = process.env.WSPLAY_INSTANCE || 'a';
const CHANNEL = 'chat';
// Which process published a message: its own publishes come back to it, and are skipped (its
// clients had them already). The pid keeps two processes started with one name apart.
const ME = `${INSTANCE}-${process.pid}`;

/** Send to this process's clients, except `from` (the sender). */
function sendLocal(data, isBinary, from) {
  for (const client of wss.clients) {
    if (client !== from && client.readyState === WebSocket.OPEN) {
      client.send(data, { binary: isBinary });
    }
  }
}

// Two Redis connections: one that subscribed may only (un)subscribe; publishing takes another.
const pub = createClient({ url: process.env.REDIS_URL });
const sub = pub.duplicate();
pub.on('error', (err) => console.error('redis (publish):', err.message));
sub.on('error', (err) => console.error('redis (subscribe):', err.message));

let wss;

async function main() {
  await Promise.all([pub.connect(), sub.connect()]);
  await sub.subscribe(CHANNEL, (raw) => {
    const m = JSON.parse(raw);
    if (m.from === ME) return;
    sendLocal(Buffer.from(m.data, 'base64'), m.binary, null);
  });

  // Listen once subscribed: a peer of this process hears the others from its first message on.
  wss = new WebSocketServer({ port: 9900 });
  console.log(`process ${INSTANCE}: listening, subscribed to '${CHANNEL}'`);

  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      sendLocal(data, isBinary, ws);
      // The bytes as base64 in JSON: binary messages survive, and the other side knows which kind.
      pub.publish(CHANNEL, JSON.stringify({ from: ME, binary: isBinary, data: data.toString('base64') }));
    });
    ws.send('Hello webSocket');
  });
}

main().catch((err) => {
  console.error(`process ${INSTANCE}: ${err.message}`);
  process.exit(1);
});
