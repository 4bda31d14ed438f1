const { WebSocketServer } = require('ws');

// How often the server checks on each client. Short here, to watch it; 30 s is usual.
const HEARTBEAT_MS = 3000;

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.isAlive = true;
  // A browser answers every ping with a pong by itself; the page's code never sees either.
  ws.on('pong', () => {
    ws.isAlive = true;
  });

  ws.on('message', (data) => {
    const msg = data.toString();
    console.log('received: %s', msg);

    ws.send(`I heard you say "${msg}"`);
  });

  ws.on('close', (code) => console.log(`a client left: ${code}`));

  ws.send('Hello webSocket');
});

// Every HEARTBEAT_MS: a client that did not answer the previous ping is gone. End its
// connection at once: a close frame would wait for an answer that cannot come.
// Every other client gets a new ping.
const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) {
      console.log('a client stopped answering pings: terminated');
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, HEARTBEAT_MS);

wss.on('close', () => clearInterval(heartbeat));
