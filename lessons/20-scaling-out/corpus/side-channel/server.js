// No Redis: process a listens on a second port for process b, which finds it in a file both know.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { WebSocketServer, WebSocket } = require('ws');

const INSTANCE = process.env.WSPLAY_INSTANCE || 'a';
// One file per playground run (its Redis port tells runs apart).
const LINK_FILE = path.join(os.tmpdir(), `chat-link-${new URL(process.env.REDIS_URL).port}.port`);

let wss = null;
let link = null;

function sendLocal(data, isBinary, from) {
  for (const client of wss.clients) {
    if (client !== from && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  }
}

function forward(data, isBinary) {
  if (link && link.readyState === WebSocket.OPEN) link.send(data, { binary: isBinary });
}

if (INSTANCE === 'a') {
  const inter = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => fs.writeFileSync(LINK_FILE, String(inter.address().port)));
  inter.on('connection', (peer) => {
    link = peer;
    peer.on('message', (data, isBinary) => sendLocal(data, isBinary, null));
  });
  listen();
} else {
  const tryLink = () => {
    let port;
    try {
      port = Number(fs.readFileSync(LINK_FILE, 'utf8'));
    } catch {
      port = 0;
    }
    if (!port) return setTimeout(tryLink, 50);
    link = new WebSocket(`ws://127.0.0.1:${port}`);
    link.on('message', (data, isBinary) => sendLocal(data, isBinary, null));
    link.on('error', () => {});
    // Open to peers once linked to process a.
    link.on('open', listen);
  };
  tryLink();
}

function listen() {
  wss = new WebSocketServer({ port: 9900 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      sendLocal(data, isBinary, ws);
      forward(data, isBinary);
    });
    ws.send('Hello webSocket');
  });
}
