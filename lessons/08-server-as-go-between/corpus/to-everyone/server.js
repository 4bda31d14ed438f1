const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    // To every client: the sender too.
    wss.clients.forEach((client) => client.send(data, { binary: isBinary }));
  });

  ws.send('Hello webSocket');
});
