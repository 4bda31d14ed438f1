const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (raw) => {
    const { type, name } = JSON.parse(raw);
    if (type === 'join') ws.send(JSON.stringify({ type: 'welcome', text: 'Welcome, ' + name + '!' }));
  });
});
