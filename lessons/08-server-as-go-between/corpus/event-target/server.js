const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  // The browser-style API: event.data is a string for a text message and a Buffer for a
  // binary one, and send() sends a string as text and a Buffer as binary: as it came.
  ws.addEventListener('message', (event) => {
    [...wss.clients]
      .filter((client) => client !== ws && client.readyState === WebSocket.OPEN)
      .forEach((client) => client.send(event.data));
  });

  ws.send('Hello webSocket');
});
