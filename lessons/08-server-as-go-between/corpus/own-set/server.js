const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });
// The server's own list of peers, kept up to date by hand.
const peers = new Set();

wss.on('connection', (ws) => {
  peers.add(ws);
  ws.on('close', () => peers.delete(ws));

  ws.on('message', function passOn(data, isBinary) {
    for (const peer of peers) {
      if (peer === ws || peer.readyState !== peer.OPEN) continue;
      peer.send(data, { binary: isBinary });
    }
  });

  ws.send('Hello webSocket');
});
