const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  let answered = true;
  ws.on('pong', () => {
    answered = true;
  });

  // One timer per connection, cleared when it ends.
  const timer = setInterval(() => {
    if (!answered) {
      ws.terminate();
      return;
    }
    answered = false;
    ws.ping('still there?');
  }, 250);

  ws.on('close', (code) => {
    clearInterval(timer);
    console.log(`a client left: ${code}`);
  });

  ws.on('message', (data) => {
    ws.send(`I heard you say "${data}"`);
  });

  ws.send('Hello webSocket');
});
