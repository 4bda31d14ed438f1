const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('error', console.error);

  // A string is sent as text, a Buffer as binary: each message goes back as it came.
  ws.on('message', (data, isBinary) => ws.send(isBinary ? data : data.toString('utf8')));
});
