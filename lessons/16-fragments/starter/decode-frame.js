// RFC 6455 §5.2, lesson 05's decoder: read one frame. `bytes` holds one whole frame.
function decodeFrame(bytes) {
  const fin = (bytes[0] & 0x80) !== 0;
  const opcode = bytes[0] & 0x0f;
  const masked = (bytes[1] & 0x80) !== 0;
  let length = bytes[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  let maskKey = null;
  if (masked) {
    maskKey = bytes.subarray(offset, offset + 4);
    offset += 4;
  }
  const payload = Buffer.from(bytes.subarray(offset, offset + length));
  if (masked) {
    for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i % 4];
  }
  return { fin, opcode, masked, maskKey, length, payload };
}

// Step 3: how many bytes the frame at the start of `bytes` takes, header and payload, as
// soon as its header says so; null while the bytes do not say yet.
function frameSize(bytes) {
  // TODO
  return null;
}

module.exports = { decodeFrame, frameSize };
