const socket = new WebSocket('ws://localhost:9900');

socket.addEventListener('message', (event) => {
  console.log('received: ', event.data);
});

socket.addEventListener('open', () => {
  socket.send('I am listening');
});
