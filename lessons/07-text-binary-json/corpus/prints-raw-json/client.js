const socket = new WebSocket('ws://localhost:9900');
socket.binaryType = 'arraybuffer';

socket.onopen = () => {
  socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));
  socket.send(new Uint8Array([1, 2, 3, 250]));
};

socket.onmessage = (event) => {
  if (event.data instanceof ArrayBuffer) {
    console.log('binary:', new Uint8Array(event.data));
  } else {
    // The text as it came: JSON, not read.
    console.log('text:', event.data);
  }
};
