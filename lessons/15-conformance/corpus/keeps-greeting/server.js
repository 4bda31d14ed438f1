const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('error', (err) => {
    console.log('closed a connection:', err.message);
  });

  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });

  // The course's greeting stays: every case gets a message it never sent.
  ws.send('Hello webSocket');
});
