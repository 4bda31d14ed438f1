const socket = new WebSocket('ws://localhost:9900');

socket.addEventListener('open', () => {
  socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));
  socket.send(new Uint8Array([1, 2, 3, 250]));
});

// binaryType stays 'blob': a binary message is read from its Blob.
socket.addEventListener('message', async (event) => {
  if (event.data instanceof Blob) {
    const bytes = new Uint8Array(await event.data.arrayBuffer());
    console.log('binary:', bytes);
    return;
  }
  const { type, text } = JSON.parse(event.data);
  console.log(`[${type}] ${text}`);
});
