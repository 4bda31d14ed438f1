const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  // Send every message back as it came: same bytes, same kind (text or binary).
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });

  ws.send('Hello webSocket');
});
