const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

const PARSE_ERROR = { code: -32700, message: 'Parse error' };

wss.on('connection', (socket) => {
  socket.on('message', (raw) => {
    let msg;
    try {
      msg = JSON.parse(String(raw));
    } catch (err) {
      socket.send(JSON.stringify({ jsonrpc: '2.0', error: PARSE_ERROR, id: null }));
      return;
    }
    const answer = (body) => {
      if (msg.id !== undefined) socket.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, ...body }));
    };
    switch (msg.method) {
      case 'add': {
        const [a, b] = msg.params;
        answer({ result: a + b });
        break;
      }
      case 'log':
        console.log('log:', ...msg.params);
        answer({ result: null });
        break;
      default:
        answer({ error: { code: -32601, message: 'Method not found', data: { method: msg.method } } });
    }
  });
});
