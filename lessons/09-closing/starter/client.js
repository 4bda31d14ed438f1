const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received:', event.data);
};

socket.onclose = (event) => {
  console.log(`closed: code ${event.code}, reason '${event.reason}', clean: ${event.wasClean}`);
};
