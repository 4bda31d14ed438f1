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

  ws.send('Hello webSocket');
});
