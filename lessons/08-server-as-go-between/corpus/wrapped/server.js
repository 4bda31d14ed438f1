const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    // Says who spoke: the peers then no longer see a 'hello from …' to answer.
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(`someone said: ${data}`);
    }
  });

  ws.send('Hello webSocket');
});
