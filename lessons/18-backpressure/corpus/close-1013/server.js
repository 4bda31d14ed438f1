const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

// What one client may have waiting on the server, in bytes: past this, it is not reading fast
// enough, and what would be queued for it is dropped (it misses those messages).
const LIMIT = 1024 * 1024;

// The go-between of lesson 08: every message a client sends goes to every other client.
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client === ws || client.readyState !== WebSocket.OPEN) continue;
      if (client.bufferedAmount > LIMIT) {
        // Too far behind: tell it so, and let it come back later (1013: try again later).
        client.close(1013, 'too slow, try again later');
        continue;
      }
      client.send(data, { binary: isBinary });
    }
  });
});
