const socket = new WebSocket('ws://localhost:9900');

// Binary messages arrive as ArrayBuffers instead of Blobs: their bytes can be read at once.
socket.binaryType = 'arraybuffer';

socket.onopen = () => {
  // A JSON message: an object written as text.
  socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));
  // A binary message: four bytes.
  socket.send(new Uint8Array([1, 2, 3, 250]));
};

socket.onmessage = (event) => {
  if (typeof event.data === 'string') {
    // A text message: JSON, from this server.
    const message = JSON.parse(event.data);
    console.log(`${message.type}: ${message.text}`);
  } else {
    // A binary message: an ArrayBuffer. Look at its bytes through a Uint8Array.
    const bytes = new Uint8Array(event.data);
    console.log('binary:', bytes);
  }
};
