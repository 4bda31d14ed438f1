const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    // Written for a chat of two: the first other client gets it, nobody else.
    const other = [...wss.clients].find((client) => client !== ws);
    if (other) other.send(data, { binary: isBinary });
  });

  ws.send('Hello webSocket');
});
