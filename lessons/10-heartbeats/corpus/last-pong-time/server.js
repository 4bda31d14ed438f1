const { WebSocketServer } = require('ws');

const INTERVAL = 300;
const wss = new WebSocketServer({ port: 9900 });
const lastPong = new Map();

wss.on('connection', (ws) => {
  lastPong.set(ws, Date.now());
  ws.on('pong', () => lastPong.set(ws, Date.now()));
  ws.on('close', () => lastPong.delete(ws));
  ws.on('message', (data) => ws.send(`I heard you say "${data.toString()}"`));
  ws.send('Hello webSocket');
});

setInterval(() => {
  const now = Date.now();
  wss.clients.forEach((ws) => {
    // Silent for more than two and a half intervals: gone.
    if (now - lastPong.get(ws) > INTERVAL * 2.5) {
      ws.terminate();
    } else {
      ws.ping();
    }
  });
}, INTERVAL);
