// Reads the header field by field, and refuses a frame whose payload is not all there.
function readLength(bytes) {
  const seven = bytes[1] & 0x7f;
  if (seven < 126) return { length: seven, next: 2 };
  if (seven === 126) return { length: bytes.readUInt16BE(2), next: 4 };
  const big = bytes.readBigUInt64BE(2);
  return { length: Number(big), next: 10 };
}

module.exports = function decodeFrame(bytes) {
  const { length, next } = readLength(bytes);
  const masked = bytes[1] >> 7 === 1;
  const maskKey = masked ? Buffer.from(bytes.subarray(next, next + 4)) : null;
  const start = masked ? next + 4 : next;
  if (bytes.length - start < length) {
    throw new RangeError(`incomplete frame: ${length} bytes announced, ${bytes.length - start} present`);
  }
  const payload = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    payload[i] = masked ? bytes[start + i] ^ maskKey[i % 4] : bytes[start + i];
  }
  return { fin: bytes[0] >> 7 === 1, opcode: bytes[0] & 15, masked, maskKey, length, payload };
};
