// RFC 6455 §5.2: read one frame. `bytes` is a Buffer that holds one whole frame,
// from its first byte to its last.
module.exports = function decodeFrame(bytes) {
  // Byte 0: FIN (the top bit), three RSV bits, then the opcode (the low 4 bits).
  const fin = (bytes[0] & 0x80) !== 0;
  const opcode = bytes[0] & 0x0f;

  // Step 4: byte 1 holds the MASK bit (its top bit) and a 7-bit payload length.
  const masked = false;
  const length = 0;

  // Step 5: 126 and 127 in those 7 bits mean "the real length follows, in 2 or 8 bytes".

  // Step 6: the masking key (4 bytes, when MASK is 1), then the payload, unmasked.
  const maskKey = null;
  const payload = Buffer.alloc(0);

  return { fin, opcode, masked, maskKey, length, payload };
};
