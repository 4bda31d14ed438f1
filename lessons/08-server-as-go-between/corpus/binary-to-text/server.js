const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    // Read as text to log it, and passed on as that text: binary data becomes a text frame.
    const msg = data.toString();
    console.log('passing on: %s', msg);
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(msg);
    }
  });

  ws.send('Hello webSocket');
});
