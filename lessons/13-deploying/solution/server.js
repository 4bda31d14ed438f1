const { WebSocketServer } = require('ws');

// The proxy cuts a connection that carried no byte, either way, for 2 s (nginx's
// proxy_read_timeout, a load balancer's idle timeout: 60 s is usual). Ping well within it.
const HEARTBEAT_MS = 800;

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

  ws.send('Hello webSocket');
});

// A ping every HEARTBEAT_MS to every client: bytes on the connection, both ways (the browser
// answers with a pong), that the page's code never sees.
const heartbeat = setInterval(() => {
  for (const ws of wss.clients) ws.ping();
}, HEARTBEAT_MS);

wss.on('close', () => clearInterval(heartbeat));
