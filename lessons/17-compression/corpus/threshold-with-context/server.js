const { WebSocketServer } = require('ws');
const { updates, acks, photo } = require('./feed.js');

const wss = new WebSocketServer({
  port: 9900,
  // Only messages of 100 bytes or more get compressed.
  perMessageDeflate: { threshold: 100 },
});

wss.on('connection', (ws) => {
  updates.forEach((update, i) => {
    ws.send(JSON.stringify(update));
    ws.send(acks[i % acks.length]);
  });
  ws.send(photo, { compress: false });
});
