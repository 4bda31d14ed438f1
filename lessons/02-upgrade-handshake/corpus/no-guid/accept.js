const { createHash } = require('crypto');

// RFC 6455 §1.3: every WebSocket server in the world appends this same string.
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// The server's proof that it read the client's Sec-WebSocket-Key:
// base64( SHA-1( key + GUID ) ).
module.exports = function accept(key) {
  return createHash('sha1').update(key).digest('base64');
};
