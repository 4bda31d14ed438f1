const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

// The feed: 200 events, one every 15 ms from the first connection on, whoever is connected,
// then a last one that says it is over. Every event has an id, counting up from 1.
const COUNT = 200;
let nextId = 1;
let timer = null;

// What was sent, kept for clients that come back: the newest events only (a bound in items;
// a real server bounds it in bytes and in time as well).
const LOG_SIZE = 1000;
const log = [];

function publish(event) {
  log.push(event);
  if (log.length > LOG_SIZE) log.shift();
  const json = JSON.stringify(event);
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN && client.resumed) client.send(json);
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
  ws.on('message', (data) => {
    let request;
    try {
      request = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof request.resume !== 'number') return;
    // Everything after the client's last event, in order, then the live feed.
    for (const event of log) {
      ws.send(JSON.stringify(event)); // the client skips what it has
    }
    ws.resumed = true;
  });
});
