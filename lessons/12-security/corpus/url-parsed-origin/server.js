const { WebSocketServer } = require('ws');

const DASHBOARD = Number(process.env.WSPLAY_DASHBOARD_PORT || 9901);

/** True for the dashboard's own page: http, host localhost or 127.0.0.1, the dashboard's port. */
function ours(origin) {
  let url;
  try {
    url = new URL(origin);
  } catch {
    return false; // no Origin, or "null"
  }
  return url.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(url.hostname) && Number(url.port) === DASHBOARD;
}

const wss = new WebSocketServer({
  port: 9900,
  maxPayload: 64 * 1024,
  verifyClient({ origin }, callback) {
    if (ours(origin)) callback(true);
    else callback(false, 403, 'Forbidden');
  },
});

wss.on('connection', (ws) => {
  ws.on('error', (err) => console.log(err.message));
  ws.on('message', (data) => {
    ws.send(`I heard you say "${data.toString()}"`);
  });
  ws.send('Hello webSocket');
});
