const http = require('http');
const { WebSocketServer } = require('ws');

const notifications = [];
let next = 1;

// Polling: GET /notifications?after=N answers with what happened after #N
// (most of the time: nothing, []).
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/notifications') {
    res.writeHead(404).end();
    return;
  }
  const after = Number(url.searchParams.get('after') || 0);
  // CORS: lets a page of another origin (the dashboard's) read the answer.
  res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
  res.end(JSON.stringify(notifications.filter((n) => n.id > after)));
});

// The same port serves both: plain HTTP requests, and WebSocket upgrades.
const wss = new WebSocketServer({ server });

// Something happens on the server every second: a build finishes.
setInterval(() => {
  const notification = { id: next, text: `Build #${next} passed` };
  next += 1;
  notifications.push(notification);
  if (notifications.length > 20) notifications.shift();

  // Push: every connected WebSocket hears about it the moment it happens.
  for (const ws of wss.clients) {
    ws.send(JSON.stringify(notification));
  }
}, 1000);

server.listen(9900);
