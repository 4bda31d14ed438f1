const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

// No more InvalidStateError: only send when the socket is open.
if (socket.readyState === WebSocket.OPEN) {
  socket.send('I am listening');
}
