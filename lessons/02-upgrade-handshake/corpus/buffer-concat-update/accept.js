const crypto = require('crypto');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// Hash the key's text and then the GUID's, in two updates: the same as hashing key + GUID.
function accept(key) {
  const hash = crypto.createHash('sha1');
  hash.update(key, 'latin1');
  hash.update(GUID, 'latin1');
  return hash.digest().toString('base64');
}

module.exports = accept;
