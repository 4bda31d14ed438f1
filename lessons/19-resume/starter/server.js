const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

// The feed: 200 events, one every 15 ms from the first connection on, whoever is connected,
// then a last one that says it is over. Every event has an id, counting up from 1.
const COUNT = 200;
let nextId = 1;
let timer = null;

function publish(event) {
  const json = JSON.stringify(event);
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN) client.send(json);
  }
}

function tick() {
  if (nextId > COUNT) {
    clearInterval(timer);
    publish({ id: nextId++, done: true });
    return;
  }
  publish({ id: nextId, text: `event ${nextId}` });
  nextId++;
}

wss.on('connection', (ws) => {
  timer ??= setInterval(tick, 15);
  // TODO: a client that comes back says where it stopped; send it what it missed.
});
