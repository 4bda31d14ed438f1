// Given: the opening handshake of RFC 6455 §4.2, by hand (lesson 02 wrote accept()). It reads
// the request head, however the bytes are cut, answers 101, and hands `onOpen` the bytes that
// came after the head: the first frames, if the client sent them at once.
const crypto = require('crypto');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 16 * 1024;

module.exports = function acceptUpgrade(socket, onOpen) {
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (head.length > MAX_HEAD) socket.destroy();
      return;
    }
    socket.off('data', onData);
    const lines = head.subarray(0, end).toString('latin1').split('\r\n');
    const header = (name) => {
      const line = lines.find((l) => l.toLowerCase().startsWith(name + ':'));
      return line ? line.slice(name.length + 1).trim() : '';
    };
    const key = header('sec-websocket-key');
    if (!key || header('upgrade').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    onOpen(head.subarray(end + 4));
  };
  socket.on('data', onData);
};
