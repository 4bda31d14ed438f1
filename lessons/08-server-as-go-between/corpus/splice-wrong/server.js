const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });
const peers = [];

wss.on('connection', (ws) => {
  peers.push(ws);
  // splice without a count removes every peer from this one to the end, not just this one.
  ws.on('close', () => peers.splice(peers.indexOf(ws)));

  ws.on('message', (data, isBinary) => {
    for (const peer of peers) {
      if (peer !== ws && peer.readyState === WebSocket.OPEN) peer.send(data, { binary: isBinary });
    }
  });

  ws.send('Hello webSocket');
});
