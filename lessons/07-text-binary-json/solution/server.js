const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      // Binary in, binary out: the same bytes go back in a binary frame (opcode 2).
      ws.send(data, { binary: true });
      return;
    }

    // Text in: this server speaks JSON, one object per message.
    let message;
    try {
      message = JSON.parse(data.toString());
    } catch {
      ws.send(JSON.stringify({ type: 'error', text: 'That was not JSON.' }));
      return;
    }
    if (message.type === 'greet') {
      ws.send(JSON.stringify({ type: 'welcome', text: `Welcome, ${message.name}!` }));
    }
  });

  ws.send(JSON.stringify({ type: 'hello', text: 'Hello webSocket' }));
});
