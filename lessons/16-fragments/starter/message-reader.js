// Turns one connection's bytes, in chunks cut anywhere (by TCP, a proxy, a slow network), into
// its messages and control frames, in the order they end.
const { decodeFrame, frameSize } = require('./decode-frame.js');

module.exports = function createReader() {
  // Today: each chunk is taken to be one whole frame, and each frame one whole message.
  function push(chunk) {
    const frame = decodeFrame(chunk);
    if (frame.opcode === 0x9) return [{ type: 'ping', payload: frame.payload }];
    if (frame.opcode === 0xa) return [{ type: 'pong', payload: frame.payload }];
    if (frame.opcode === 0x8) return [{ type: 'close', payload: frame.payload }];
    return [{ type: 'message', opcode: frame.opcode, data: frame.payload }];
  }

  return { push };
};
