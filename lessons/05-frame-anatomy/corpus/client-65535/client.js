const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send('a'.repeat(125));
  socket.send('b'.repeat(126));
  // 65,535 is the largest length the 16-bit field holds: still 16-bit, not 64.
  socket.send('c'.repeat(65535));
};

socket.onmessage = (event) => {
  console.log(`received ${event.data.length} bytes`);
};
