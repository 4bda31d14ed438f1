const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    // Decode 4 KB at a time, to stay off the stack: a character whose bytes straddle two
    // pieces is cut in two.
    let msg = '';
    for (let i = 0; i < data.length; i += 4096) {
      msg += data.subarray(i, i + 4096).toString('utf8');
    }
    console.log('received %d characters', msg.length);

    ws.send(`I heard you say "${msg}"`);
  });

  ws.send('Hello webSocket');
});
