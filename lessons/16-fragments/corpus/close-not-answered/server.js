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
        } else if (event.type === 'ping') {
          // A pong carries the ping's payload back (RFC 6455 §5.5.3).
          socket.write(encodeFrame(0xa, event.payload));
        } else if (event.type === 'close') {
          // Answer the close with a close (its code back), then end the TCP connection.
          socket.end();
          socket.off('data', onData);
          return;
        }
      }
    };
    socket.on('data', onData);
    if (firstBytes.length > 0) onData(firstBytes);
  });
});

server.listen(9900, () => console.log('Echo server on plain TCP, port 9900'));
