const { WebSocketServer } = require('ws');
const { updates, acks, photo } = require('./feed.js');

const wss = new WebSocketServer({
  port: 9900,
  perMessageDeflate: {
    // Each message compressed on its own: no window kept per connection between messages,
    // and then ws compresses only messages of at least `threshold` bytes.
    serverNoContextTakeover: true,
    threshold: 64,
  },
});

wss.on('connection', (ws) => {
  updates.forEach((update, i) => {
    ws.send(JSON.stringify(update));
    ws.send(acks[i % acks.length]);
  });
  ws.send(photo, { compress: false }); // a JPEG's bytes: compressed already
});
