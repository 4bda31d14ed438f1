// The chunks are kept as they came, with a count of their bytes; they are joined only when a
// whole frame is there. Text messages come out as strings, decoded once the message is whole.
const { decodeFrame, frameSize } = require('./decode-frame.js');

const decoder = new TextDecoder();

module.exports = function createReader() {
  const chunks = [];
  let buffered = 0;
  let message = null; // { opcode, parts }

  function peek(n) {
    const joined = Buffer.concat(chunks, buffered);
    chunks.length = 0;
    chunks.push(joined);
    return joined.subarray(0, n);
  }

  function take(n) {
    const joined = Buffer.concat(chunks, buffered);
    chunks.length = 0;
    if (joined.length > n) chunks.push(joined.subarray(n));
    buffered -= n;
    return joined.subarray(0, n);
  }

  return {
    push(chunk) {
      chunks.push(chunk);
      buffered += chunk.length;
      const out = [];
      while (buffered >= 2) {
        const size = frameSize(peek(Math.min(buffered, 14)));
        if (size === null || buffered < size) break;
        const frame = decodeFrame(take(size));
        switch (frame.opcode) {
          case 8:
            out.push({ type: 'close', payload: frame.payload });
            break;
          case 9:
            out.push({ type: 'ping', payload: frame.payload });
            break;
          case 10:
            out.push({ type: 'pong', payload: frame.payload });
            break;
          default:
            if (frame.opcode !== 0) message = { opcode: frame.opcode, parts: [] };
            if (!message) break;
            message.parts.push(frame.payload);
            if (frame.fin) {
              const bytes = Buffer.concat(message.parts);
              out.push({ type: 'message', opcode: message.opcode, data: message.opcode === 1 ? decoder.decode(bytes) : bytes });
              message = null;
            }
        }
      }
      return out;
    },
  };
};
