const socket = new WebSocket('ws://localhost:9900');
socket.binaryType = 'arraybuffer';

let texts = 0;
socket.onmessage = (event) => {
  if (typeof event.data === 'string') texts++;
  else console.log(`a binary message of ${event.data.byteLength} bytes, after ${texts} text messages`);
};

socket.onopen = () => console.log(`open; extensions: ${socket.extensions || '(none)'}`);
