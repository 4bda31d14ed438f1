const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

// No more InvalidStateError: say hello as soon as the socket is open.
socket.onopen = () => {
  socket.send('Hello server, nice to meet you');
};
