const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));
  socket.send(new Uint8Array([1, 2, 3, 250]));
};

socket.onmessage = (event) => {
  if (typeof event.data === 'string') {
    const message = JSON.parse(event.data);
    console.log(`${message.type}: ${message.text}`);
  } else {
    // No binaryType: event.data is a Blob, and a Uint8Array of a Blob is empty.
    console.log('binary:', new Uint8Array(event.data));
  }
};
