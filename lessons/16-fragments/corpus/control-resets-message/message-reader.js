// Turns one connection's bytes, in chunks cut anywhere (by TCP, a proxy, a slow network), into
// its messages and control frames, in the order they end.
const { decodeFrame, frameSize } = require('./decode-frame.js');

const CONTROL = { 0x8: 'close', 0x9: 'ping', 0xa: 'pong' };

module.exports = function createReader() {
  let pending = Buffer.alloc(0); // bytes of a frame that is not whole yet
  let opcode = 0; // the opcode of the message in progress (its first frame's)
  let fragments = []; // its payloads so far

  function push(chunk) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const events = [];
    for (;;) {
      const size = frameSize(pending);
      if (size === null || pending.length < size) break;
      const frame = decodeFrame(pending.subarray(0, size));
      pending = pending.subarray(size);

      // A control frame may come between two fragments: it is whole in itself, and the
      // message around it goes on.
      // Any opcode but 0 starts something new.
      if (frame.opcode !== 0) {
        opcode = frame.opcode;
        fragments = [];
      }
      if (CONTROL[frame.opcode]) {
        events.push({ type: CONTROL[frame.opcode], payload: frame.payload });
        continue;
      }
      fragments.push(frame.payload);
      if (frame.fin) {
        events.push({ type: 'message', opcode, data: Buffer.concat(fragments) });
        fragments = [];
      }
    }
    return events;
  }

  return { push };
};
