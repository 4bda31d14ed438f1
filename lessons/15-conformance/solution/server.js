const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  // A frame that breaks the protocol (a reserved opcode, invalid UTF-8, a bad close code) makes
  // ws close the connection with the right close code, then report it as an 'error' event:
  // without a listener, that event would crash the whole server, every other client with it.
  ws.on('error', (err) => {
    console.log('closed a connection:', err.message);
  });

  // An echo: the same bytes back, text as text and binary as binary, nothing added.
  ws.on('message', (data, isBinary) => {
    console.log('received %d bytes (%s)', data.length, isBinary ? 'binary' : 'text');
    ws.send(data, { binary: isBinary });
  });
});
