const { WebSocketServer } = require('ws');

// Lesson 10's heartbeat as it was: 300 ms, well within the proxy's 2 s.
const HEARTBEAT_MS = 300;

// Behind the proxy: clients reach this server through localhost:9980.
const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws, req) => {
  console.log('a client connected, through the proxy for %s', req.headers['x-forwarded-for']);

  ws.on('message', (data) => {
    const msg = data.toString();
    console.log('received: %s', msg);

    ws.send(`I heard you say "${msg}"`);
  });

  ws.on('close', (code) => console.log(`a client left: ${code}`));

  ws.isAlive = true;
  ws.on('pong', () => (ws.isAlive = true));

  ws.send('Hello webSocket');
});

const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, HEARTBEAT_MS);

wss.on('close', () => clearInterval(heartbeat));
