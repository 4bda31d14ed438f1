const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });
const decoder = new TextDecoder();

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    // Decodes every message as UTF-8, binary ones too.
    const msg = decoder.decode(data);
    console.log('received %d characters', msg.length);

    ws.send(`I heard you say "${msg}"`);
  });

  ws.send('Hello webSocket');
});
