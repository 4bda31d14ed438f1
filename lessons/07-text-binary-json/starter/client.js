const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  // A JSON message: an object written as text.
  socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));
  // A binary message: four bytes.
  socket.send(new Uint8Array([1, 2, 3, 250]));
};

socket.onmessage = (event) => {
  console.log('received:', event.data);
};
