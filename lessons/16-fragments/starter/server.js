// A WebSocket echo server on plain TCP: the handshake is given (handshake.js), the frames are
// read by your message reader.
const net = require('net');
const acceptUpgrade = require('./handshake.js');
const encodeFrame = require('./encode-frame.js');
const createReader = require('./message-reader.js');

const server = net.createServer((socket) => {
  socket.on('error', (err) => console.log('socket error:', err.message));
  acceptUpgrade(socket, (firstBytes) => {
    const reader = createReader();
    const onData = (chunk) => {
      for (const event of reader.push(chunk)) {
        if (event.type === 'message') {
          console.log(`a ${event.opcode === 1 ? 'text' : 'binary'} message of ${event.data.length} bytes`);
          socket.write(encodeFrame(event.opcode, event.data));
        }
        // TODO step 5: answer a ping with a pong, and a close with a close.
      }
    };
    socket.on('data', onData);
    if (firstBytes.length > 0) onData(firstBytes);
  });
});

server.listen(9900, () => console.log('Echo server on plain TCP, port 9900'));
