const { createHash } = require('crypto');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// An arrow function and a template literal, the encoding named.
module.exports = (key) => createHash('sha1').update(`${key}${GUID}`, 'utf8').digest('base64');
