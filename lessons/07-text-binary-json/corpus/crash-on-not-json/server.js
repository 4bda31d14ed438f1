const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      ws.send(data, { binary: true });
      return;
    }
    // Trusts the client to send JSON: anything else throws, and nothing catches it.
    const message = JSON.parse(data.toString());
    if (message.type === 'greet') {
      ws.send(JSON.stringify({ type: 'welcome', text: `Welcome, ${message.name}!` }));
    }
  });

  ws.send(JSON.stringify({ type: 'hello', text: 'Hello webSocket' }));
});
