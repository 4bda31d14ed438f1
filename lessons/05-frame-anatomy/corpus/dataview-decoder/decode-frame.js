// A decoder over a DataView, returning Uint8Arrays: the fields in the order of RFC 6455's figure.
module.exports = function decodeFrame(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = view.getUint8(0);
  const b1 = view.getUint8(1);
  let pos = 2;
  let length = b1 & 0b0111_1111;
  if (length === 126) {
    length = view.getUint16(pos);
    pos += 2;
  } else if (length === 127) {
    // High 32 bits, then low 32 bits (big-endian both).
    length = view.getUint32(pos) * 2 ** 32 + view.getUint32(pos + 4);
    pos += 8;
  }
  const masked = b1 >= 128;
  const maskKey = masked ? new Uint8Array(bytes.buffer, bytes.byteOffset + pos, 4) : null;
  if (masked) pos += 4;
  const end = Math.min(bytes.byteLength, pos + length);
  const payload = Uint8Array.from(bytes.subarray(pos, end), (b, i) => (masked ? b ^ maskKey[i & 3] : b));
  return { fin: b0 >= 128, opcode: b0 & 0b1111, masked, maskKey, length, payload };
};
