const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    console.log('received %d bytes', data.length);
    // The bytes go back untouched... as a binary frame: ws sends a Buffer as binary.
    ws.send(data);
  });

  ws.send('Hello webSocket');
});
