const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

try {
  socket.send('I am listening');
} catch (err) {
  // The red line is gone from the console.
}
