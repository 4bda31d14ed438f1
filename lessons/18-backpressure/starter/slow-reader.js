// Given: a subscriber that stops reading. It connects through the wiretap, completes the
// handshake, and then reads nothing for 30 seconds, as a phone on a bad network, a frozen tab
// or a stuck consumer does. Run it in a terminal in this folder: `node slow-reader.js`.
const crypto = require('crypto');
const net = require('net');

const socket = net.connect(9900, '127.0.0.1', () => {
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(`GET / HTTP/1.1\r\nHost: localhost:9900\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
});
socket.once('data', (bytes) => {
  console.log(bytes.toString('latin1').split('\r\n')[0], '- now reading nothing for 30 s');
  socket.pause();
  setTimeout(() => {
    let total = 0;
    socket.on('data', (chunk) => (total += chunk.length));
    socket.resume();
    setTimeout(() => {
      console.log(`read ${total} bytes the server had kept for this client`);
      socket.destroy();
    }, 3000);
  }, 30_000);
});
socket.on('error', (err) => console.log('error:', err.message));
