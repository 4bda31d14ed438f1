const socket = new WebSocket('ws://localhost:9900');
socket.binaryType = 'arraybuffer';

socket.onopen = () => {
  socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));
  socket.send(new Uint8Array([1, 2, 3, 250]));
};

socket.onmessage = (event) => {
  // Every message is taken for JSON, binary ones too: JSON.parse throws on an ArrayBuffer.
  const message = JSON.parse(event.data);
  if (message.type) console.log(`${message.type}: ${message.text}`);
  else console.log('binary:', new Uint8Array(event.data));
};
