const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    // The server is the go-between: pass the message on to every OTHER client,
    // as it came, and only to those whose connection is OPEN right now.
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });

  ws.send('Hello webSocket');
});
