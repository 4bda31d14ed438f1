// RFC 6455 §5.2: read one frame. `bytes` is a Buffer that holds one whole frame,
// from its first byte to its last.
module.exports = function decodeFrame(bytes) {
  // Byte 0: FIN (the top bit), three RSV bits, then the opcode (the low 4 bits).
  const fin = (bytes[0] & 0x80) !== 0;
  const opcode = bytes[0] & 0x0f;

  // Byte 1: the MASK bit (its top bit) and a 7-bit payload length.
  const masked = (bytes[1] & 0x80) !== 0;
  let length = bytes[1] & 0x7f;
  let offset = 2;

  // 126: the length is in the next 2 bytes; 127: in the next 8. Both big-endian.
  if (length === 126) {
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }

  // A masked frame carries its 4-byte masking key right before the payload.
  let maskKey = null;
  if (masked) {
    maskKey = bytes.subarray(offset, offset + 4);
    offset += 4;
  }

  // Unmask (§5.3): payload byte i was XORed with key byte i % 4; XOR again to undo it.
  // Room for the whole payload, as the header announces it, then the bytes copied in.
  const payload = Buffer.alloc(length);
  bytes.copy(payload, 0, offset, offset + length);
  if (masked) {
    for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i % 4];
  }

  return { fin, opcode, masked, maskKey, length, payload };
};
