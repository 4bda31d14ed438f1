const { WebSocketServer } = require('ws');
const { updates, acks, photo } = require('./feed.js');

const wss = new WebSocketServer({
  port: 9900,
  // permessage-deflate (RFC 7692): offered by the client, accepted here. The compressor keeps
  // its window from one message to the next (context takeover): later updates refer back.
  perMessageDeflate: true,
});

// Deflate pays on text long enough to repeat itself; below that it only adds its overhead.
const worthCompressing = (text) => Buffer.byteLength(text) >= 100;

wss.on('connection', (ws) => {
  updates.forEach((update, i) => {
    const json = JSON.stringify(update);
    ws.send(json, { compress: worthCompressing(json) });
    const ack = acks[i % acks.length];
    ws.send(ack, { compress: worthCompressing(ack) });
  });
  // Already compressed: deflating it again costs CPU and saves nothing.
  ws.send(photo);
});
