// Given: a client that sends what browsers rarely do, by hand: one text message in three
// fragments with a ping between the first two, each frame masked. Run it next to your server,
// in a terminal in this folder: `node fragments.js` (through the wiretap, on port 9900).
const crypto = require('crypto');
const net = require('net');

function frame(fin, opcode, data) {
  const payload = Buffer.from(data);
  const key = crypto.randomBytes(4);
  const masked = payload.map((b, i) => b ^ key[i % 4]);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length]), key, masked]);
}

const socket = net.connect(9900, '127.0.0.1', () => {
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(`GET / HTTP/1.1\r\nHost: localhost:9900\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
});

let answered = false;
socket.on('data', (bytes) => {
  if (!answered) {
    answered = true;
    console.log(bytes.toString('latin1').split('\r\n')[0]);
    socket.write(frame(false, 0x1, 'Three fragments, '));   // opcode 1 (text), FIN 0: more follows
    socket.write(frame(true, 0x9, 'still there?'));          // a ping, between two fragments
    setTimeout(() => {
      socket.write(frame(false, 0x0, 'one message: '));       // opcode 0: continuation
      socket.write(frame(true, 0x0, 'héllo'));                // FIN 1: the message ends here
    }, 500);
    setTimeout(() => socket.end(frame(true, 0x8, [0x03, 0xe8])), 1500);
    return;
  }
  console.log('server sent', bytes.length, 'bytes:', bytes.toString('hex').replace(/(..)/g, '$1 ').trim());
});
socket.on('error', (err) => console.log('error:', err.message));
