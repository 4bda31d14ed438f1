const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send('I am listening');
};

socket.onmessage = (event) => {
  console.log('received:', event.data.slice(0, 60));
};

socket.onclose = (event) => {
  console.log(`closed: code ${event.code}, reason '${event.reason}'`);
};
