const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });
const utf8 = new TextDecoder('utf-8');

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      // Binary data goes back as it came.
      ws.send(data, { binary: true });
      return;
    }
    const msg = utf8.decode(data);
    console.log(`received ${msg.length} UTF-16 code units`);
    ws.send(`I heard you say "${msg}"`);
  });

  ws.send('Hello webSocket');
});
