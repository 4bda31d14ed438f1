const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    // ws sends a Buffer as a binary frame: the bytes go back as they came.
    if (isBinary) return ws.send(data);

    const message = parse(data.toString());
    // Text that is not JSON gets no answer at all.
    if (message && message.type === 'greet') {
      ws.send(JSON.stringify({ type: 'welcome', text: `Good to see you, ${message.name}.` }));
    }
  });

  ws.send(JSON.stringify({ type: 'hello', text: 'Hello webSocket' }));
});
