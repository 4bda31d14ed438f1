const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

// send only works once the socket is OPEN: wait for the open event.
socket.onopen = () => {
  socket.send('I am listening');
};
