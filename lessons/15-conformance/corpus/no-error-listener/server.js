const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  // A perfect echo, but no 'error' listener: the first frame that breaks the protocol crashes the server.
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
});
