const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    // The old trick: repair the UTF-8 after fromCharCode. Right text, but the spread is still there.
    const msg = decodeURIComponent(escape(String.fromCharCode(...data)));
    console.log('received: %s', msg);

    ws.send(`I heard you say "${msg}"`);
  });

  ws.send('Hello webSocket');
});
