// node-redis with Buffers: what is published is one byte (1: binary, 0: text), the publishing
// process's id, a newline, then the message's bytes as they came. No JSON, no base64.
const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');

const ME = Buffer.from(`${process.env.WSPLAY_INSTANCE}:${process.pid}\n`);

const publisher = createClient({ url: process.env.REDIS_URL });
const subscriber = createClient({ url: process.env.REDIS_URL });
for (const c of [publisher, subscriber]) c.on('error', (err) => console.error('redis:', err.message));

function broadcast(data, isBinary, except) {
  wss.clients.forEach((client) => {
    if (client !== except && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  });
}

let wss;
async function start() {
  await publisher.connect();
  await subscriber.connect();
  // The third argument, true: the listener gets Buffers, not strings.
  await subscriber.subscribe(
    'chat',
    (msg) => {
      const from = msg.subarray(1, 1 + ME.length);
      if (from.equals(ME)) return;
      const nl = msg.indexOf(10, 1);
      broadcast(msg.subarray(nl + 1), msg[0] === 1, null);
    },
    true,
  );
  wss = new WebSocketServer({ port: 9900 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      broadcast(data, isBinary, ws);
      publisher.publish('chat', Buffer.concat([Buffer.from([isBinary ? 1 : 0]), ME, data]));
    });
    ws.send('Hello webSocket');
  });
}
start();
