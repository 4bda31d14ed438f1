const WebSocket = require('ws');

const server = new WebSocket.Server({ port: 9900 });

function echo(data, isBinary) {
  this.send(data, { binary: isBinary });
}

function report(err) {
  console.log('connection failed: %s', err.message);
}

server.on('connection', function (socket) {
  socket.on('message', echo);
  socket.once('error', report);
});
