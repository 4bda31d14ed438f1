const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    // data is a Buffer: the message's bytes. A text message is UTF-8 (RFC 6455 §5.6),
    // so decode the bytes as UTF-8, all at once.
    const msg = isBinary ? `(${data.length} bytes of binary data)` : data.toString('utf8');
    console.log('received %d characters: %s', msg.length, msg.slice(0, 60));

    ws.send(`I heard you say "${msg}"`);
  });

  ws.send('Hello webSocket');
});
