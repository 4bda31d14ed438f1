const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('error', (err) => {
    console.log('closed a connection:', err.message);
  });

  // Every message back as text: a binary message comes back as a text one (its bytes decoded as UTF-8).
  ws.on('message', (data) => {
    ws.send(data.toString());
  });
});
