// Your site's public address: the reverse proxy, not the server itself.
const socket = new WebSocket('ws://localhost:9980');

socket.onopen = () => {
  console.log('open');
  socket.send('I am listening');
};

socket.onmessage = (event) => {
  console.log('received:', event.data);
};

socket.onerror = () => {
  console.log('error: the handshake failed (the browser says no more than that)');
};

socket.onclose = (event) => {
  console.log(`closed: code ${event.code}, clean: ${event.wasClean}`);
};
