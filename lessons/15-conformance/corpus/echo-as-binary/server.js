const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('error', (err) => {
    console.log('closed a connection:', err.message);
  });

  // data is a Buffer, and ws sends a Buffer as a binary message: a text message comes back as binary.
  ws.on('message', (data) => {
    ws.send(data);
  });
});
