const { WebSocketServer } = require('ws');

// The pages allowed to open a WebSocket to this server: the playground's dashboard, by either name.
const DASHBOARD_PORT = process.env.WSPLAY_DASHBOARD_PORT ?? '9901';
const ALLOWED_ORIGINS = [`http://localhost:${DASHBOARD_PORT}`, `http://127.0.0.1:${DASHBOARD_PORT}`];

const wss = new WebSocketServer({
  port: 9900,
  // The biggest message this server takes: 64 KiB. A bigger one ends the connection with 1009.
  maxPayload: 64 * 1024,
  // Before the 101: is the page that asks one of ours? If not, refuse with 403 Forbidden.
  verifyClient: (info) => ALLOWED_ORIGINS.includes(info.origin),
});

wss.on('connection', (ws) => {
  // A message over maxPayload (and other protocol errors) arrive as 'error' events:
  // without a listener, one would crash the whole server.
  ws.on('error', (err) => {
    console.log('closed a connection:', err.message);
  });

  ws.on('message', (data) => {
    const msg = data.toString();
    console.log('received %d bytes', data.length);

    ws.send(`I heard you say "${msg}"`);
  });

  ws.send('Hello webSocket');
});
