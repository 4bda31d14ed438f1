const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send('I am listening');
};

socket.onmessage = (event) => {
  console.log('received:', event.data);
};

socket.onclose = (event) => {
  console.log(`closed: code ${event.code}, clean: ${event.wasClean}`);
};
