const { WebSocketServer } = require('ws');
const { updates, acks, photo } = require('./feed.js');

const wss = new WebSocketServer({
  port: 9900,
  perMessageDeflate: {
    // A 1 KiB window and a small memLevel: less memory per connection, a little less saving.
    serverMaxWindowBits: 10,
    zlibDeflateOptions: { memLevel: 4 },
  },
});

wss.on('connection', (ws) => {
  updates.forEach((update, i) => {
    for (const text of [JSON.stringify(update), acks[i % acks.length]]) {
      ws.send(text, { compress: text.length > 64 });
    }
  });
  ws.send(photo, { compress: false });
});
