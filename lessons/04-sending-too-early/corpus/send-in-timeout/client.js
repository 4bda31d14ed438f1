const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

// Give the handshake a moment: 1.5 s is plenty on this machine.
setTimeout(() => {
  socket.send('I am listening');
}, 1500);
