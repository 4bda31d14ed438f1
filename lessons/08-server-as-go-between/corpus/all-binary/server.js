const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    // The Buffer as it came... but ws sends a Buffer as a binary frame: text turns into binary.
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data);
    }
  });

  ws.send('Hello webSocket');
});
