// A reader that never joins chunks: it walks each one byte by byte through a small state
// machine (header, extended length, masking key, payload), unmasking as it goes.
const NAMES = { 8: 'close', 9: 'ping', 10: 'pong' };

module.exports = function createReader() {
  let state = 'b0';
  let fin = false;
  let opcode = 0;
  let masked = false;
  let lengthBytes = 0; // extended length bytes still to read
  let length = 0;
  const key = new Uint8Array(4);
  let keyRead = 0;
  let payload = null; // Uint8Array being filled (only once its bytes arrive: see below)
  let parts = [];
  let got = 0;
  let messageOpcode = 0;
  let fragments = [];

  function frameDone(events) {
    const data = Uint8Array.from(parts.flatMap((p) => [...p]));
    parts = [];
    if (opcode >= 8) events.push({ type: NAMES[opcode], payload: data });
    else {
      if (opcode !== 0) {
        messageOpcode = opcode;
        fragments = [];
      }
      fragments.push(data);
      if (fin) {
        const total = fragments.reduce((n, f) => n + f.length, 0);
        const all = new Uint8Array(total);
        let at = 0;
        for (const f of fragments) {
          all.set(f, at);
          at += f.length;
        }
        events.push({ type: 'message', opcode: messageOpcode, data: all });
        fragments = [];
      }
    }
    state = 'b0';
  }

  function startPayload(events) {
    got = 0;
    state = 'payload';
    if (length === 0) frameDone(events);
  }

  return {
    push(chunk) {
      const events = [];
      let i = 0;
      while (i < chunk.length) {
        const b = chunk[i];
        if (state === 'b0') {
          fin = (b & 0x80) !== 0;
          opcode = b & 0x0f;
          state = 'b1';
          i++;
        } else if (state === 'b1') {
          masked = (b & 0x80) !== 0;
          length = b & 0x7f;
          keyRead = 0;
          i++;
          if (length === 126 || length === 127) {
            lengthBytes = length === 126 ? 2 : 8;
            length = 0;
            state = 'len';
          } else if (masked) state = 'key';
          else startPayload(events);
        } else if (state === 'len') {
          length = length * 256 + b;
          i++;
          if (--lengthBytes === 0) {
            if (masked) state = 'key';
            else startPayload(events);
          }
        } else if (state === 'key') {
          key[keyRead++] = b;
          i++;
          if (keyRead === 4) startPayload(events);
        } else {
          // Only the bytes that are here: never a buffer of the announced length.
          const n = Math.min(length - got, chunk.length - i);
          const piece = Uint8Array.from(chunk.subarray(i, i + n));
          if (masked) for (let k = 0; k < n; k++) piece[k] ^= key[(got + k) % 4];
          parts.push(piece);
          got += n;
          i += n;
          if (got === length) frameDone(events);
        }
      }
      return events;
    },
  };
};
