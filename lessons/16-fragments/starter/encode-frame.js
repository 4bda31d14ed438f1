// Given: one frame as a server sends it: FIN set, not masked, the length in its smallest form.
module.exports = function encodeFrame(opcode, payload) {
  const n = payload.length;
  let header;
  if (n <= 125) {
    header = Buffer.from([0x80 | opcode, n]);
  } else if (n <= 0xffff) {
    header = Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff]);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
};
