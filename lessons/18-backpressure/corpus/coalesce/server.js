const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });
const LIMIT = 512 * 1024;

// A client that falls behind gets only the newest message once it catches up: the ones in
// between are replaced (a live chart needs the latest state, not the history).
function deliver(client, data, isBinary) {
  if (client.bufferedAmount > LIMIT) {
    client.pending = { data, isBinary };
    return;
  }
  client.send(data, { binary: isBinary }, () => {
    const next = client.pending;
    if (next && client.readyState === WebSocket.OPEN && client.bufferedAmount <= LIMIT) {
      client.pending = null;
      deliver(client, next.data, next.isBinary);
    }
  });
}

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) deliver(client, data, isBinary);
    }
  });
});
