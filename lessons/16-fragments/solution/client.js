const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send('Hello');
  // 100,000 bytes: more than one TCP segment, so the server reads this frame in pieces.
  socket.send('é'.repeat(50000));
};

socket.onmessage = (event) => {
  console.log(`received ${event.data.length} characters: ${event.data.slice(0, 20)}`);
};
