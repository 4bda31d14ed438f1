const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

// The methods this server offers: each takes the request's params and returns its result.
const methods = {
  add: (params) => params[0] + params[1],
  log: (params) => console.log('log:', ...params),
};

function send(ws, answer) {
  ws.send(JSON.stringify({ jsonrpc: '2.0', ...answer }));
}

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    let request;
    try {
      request = JSON.parse(data.toString());
    } catch {
      // Not JSON: there is no id to read, so the error answers with id null.
      send(ws, { id: null, error: { code: -32700, message: 'Parse error' } });
      return;
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      // JSON, but no request object (this server takes no batches).
      send(ws, { id: null, error: { code: -32600, message: 'Invalid Request' } });
      return;
    }
    // No id: a notification. It is carried out, and never answered, not even with an error.
    const notification = !('id' in request);
    // A method name comes from the wire: only the server's own methods, not those every object inherits.
    if (!Object.hasOwn(methods, request.method)) {
      if (!notification) send(ws, { id: request.id, result: `no method ${request.method}` });
      return;
    }
    const result = methods[request.method](request.params);
    if (!notification) send(ws, { id: request.id, result });
  });
});
