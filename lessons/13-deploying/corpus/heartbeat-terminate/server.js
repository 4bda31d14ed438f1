const { WebSocketServer } = require('ws');

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
  ws.on('pong', () => {
    ws.isAlive = true;
  });

  ws.send('Hello webSocket');
});

// Lesson 10's heartbeat, within the proxy's 2 s: a client that did not answer the last ping is
// gone; the others are pinged again.
const timer = setInterval(() => {
  wss.clients.forEach((ws) => {
    if (!ws.isAlive) return ws.terminate();
    ws.isAlive = false;
    ws.ping();
  });
}, 900);
wss.on('close', () => clearInterval(timer));
