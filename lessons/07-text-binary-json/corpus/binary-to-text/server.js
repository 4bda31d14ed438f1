const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  // Never looks at isBinary: bytes are read as text, and fail as JSON.
  ws.on('message', (data) => {
    let message;
    try {
      message = JSON.parse(data.toString());
    } catch {
      ws.send(JSON.stringify({ type: 'error', text: `Not JSON: ${data.toString()}` }));
      return;
    }
    if (message.type === 'greet') {
      ws.send(JSON.stringify({ type: 'welcome', text: `Welcome, ${message.name}!` }));
    }
  });

  ws.send(JSON.stringify({ type: 'hello', text: 'Hello webSocket' }));
});
