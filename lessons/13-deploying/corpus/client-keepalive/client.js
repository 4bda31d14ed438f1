// Your site's public address: the reverse proxy, not the server itself.
const socket = new WebSocket('ws://localhost:9980');

socket.onopen = () => {
  console.log('open');
  socket.send('I am listening');
  // Keep the proxy from cutting us: say something every second.
  setInterval(() => socket.send('{"type":"ping"}'), 1000);
};

socket.onmessage = (event) => {
  console.log('received:', event.data);
};

socket.onclose = (event) => {
  console.log(`closed: code ${event.code}, clean: ${event.wasClean}`);
};
