const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  // A crash guard in the wrong place: ws reports a bad frame as an 'error' event, outside this handler.
  ws.on('message', (data, isBinary) => {
    try {
      ws.send(data, { binary: isBinary });
    } catch (err) {
      console.log('could not echo:', err.message);
      ws.close(1011);
    }
  });
});
