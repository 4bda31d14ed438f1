const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send('Hello');
};

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};
