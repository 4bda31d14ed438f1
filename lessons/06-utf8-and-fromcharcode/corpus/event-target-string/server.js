const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  // The browser-style API of ws: event.data is already a string for a text message,
  // and a Buffer for a binary one.
  ws.addEventListener('message', (event) => {
    if (typeof event.data !== 'string') {
      ws.send(`That was ${event.data.length} bytes of binary data.`);
      return;
    }
    ws.send(`I heard you say "${event.data}"`);
  });

  ws.send('Hello webSocket');
});
