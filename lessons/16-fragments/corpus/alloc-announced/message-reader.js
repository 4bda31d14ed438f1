// Turns one connection's bytes, in chunks cut anywhere (by TCP, a proxy, a slow network), into
// its messages and control frames, in the order they end.
const { decodeFrame, frameSize } = require('./decode-frame.js');

const CONTROL = { 0x8: 'close', 0x9: 'ping', 0xa: 'pong' };

module.exports = function createReader() {
  let pending = Buffer.alloc(0); // bytes before a frame's size is known
  let frameBytes = null; // the frame being filled, made as big as its header says
  let filled = 0;
  let opcode = 0; // the opcode of the message in progress (its first frame's)
  let fragments = []; // its payloads so far

  function push(chunk) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const events = [];
    for (;;) {
      if (frameBytes === null) {
        const size = frameSize(pending);
        if (size === null) break;
        frameBytes = Buffer.alloc(size);
        filled = 0;
      }
      const take = Math.min(frameBytes.length - filled, pending.length);
      pending.copy(frameBytes, filled, 0, take);
      filled += take;
      pending = pending.subarray(take);
      if (filled < frameBytes.length) break;
      const frame = decodeFrame(frameBytes);
      frameBytes = null;

      // A control frame may come between two fragments: it is whole in itself, and the
      // message around it goes on.
      if (CONTROL[frame.opcode]) {
        events.push({ type: CONTROL[frame.opcode], payload: frame.payload });
        continue;
      }
      // Opcode 1 or 2 starts a message; 0 continues it.
      if (frame.opcode !== 0) {
        opcode = frame.opcode;
        fragments = [];
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
