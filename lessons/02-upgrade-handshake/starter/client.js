const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

// A browser closes the connection (code 1006) when the handshake does not check out.
socket.onclose = (event) => {
  console.log('closed with code', event.code);
};
