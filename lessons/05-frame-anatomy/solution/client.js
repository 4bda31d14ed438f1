const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  // Three messages, three ways to write the payload length in the frame header:
  socket.send('a'.repeat(125)); // up to 125: in the 7 bits of byte 1
  socket.send('b'.repeat(126)); // 126 to 65535: byte 1 says 126, 2 more bytes say the length
  socket.send('c'.repeat(65536)); // more: byte 1 says 127, 8 more bytes say the length
};

socket.onmessage = (event) => {
  console.log(`received ${event.data.length} bytes: ${event.data.slice(0, 20)}…`);
};
