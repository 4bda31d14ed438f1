const { WebSocketServer } = require('ws');
const { updates, acks, photo } = require('./feed.js');

const wss = new WebSocketServer({
  port: 9900,
  // No context kept between messages: less memory per connection.
  perMessageDeflate: { serverNoContextTakeover: true },
});

wss.on('connection', (ws) => {
  updates.forEach((update, i) => {
    ws.send(JSON.stringify(update));
    ws.send(acks[i % acks.length]);
  });
  ws.send(photo, { compress: false });
});
