const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

const methods = new Map([
  ['add', async ([a, b]) => a + b],
  ['log', async (params) => { console.log('log:', ...params); }],
]);

function errorAnswer(id, code, message) {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } });
}

async function handle(text) {
  let req;
  try {
    req = JSON.parse(text);
  } catch {
    return errorAnswer(null, -32700, 'Parse error');
  }
  const wantsAnswer = Object.prototype.hasOwnProperty.call(req, 'id');
  const fn = methods.get(req.method);
  if (!fn) return wantsAnswer ? errorAnswer(req.id, -32601, `Method not found: ${req.method}`) : null;
  const result = await fn(req.params);
  return wantsAnswer ? JSON.stringify({ jsonrpc: '2.0', result, id: req.id }) : null;
}

wss.on('connection', (ws) => {
  ws.on('message', async (data) => {
    const out = await handle(data.toString());
    if (out !== null) ws.send(out);
  });
});
