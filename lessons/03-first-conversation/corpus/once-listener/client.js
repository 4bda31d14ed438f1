const socket = new WebSocket('ws://localhost:9900');

socket.addEventListener('message', (event) => {
  console.log('received: ', event.data);
});

// The first message is the server's greeting: answer it, once.
socket.addEventListener(
  'message',
  () => {
    socket.send('Nice to meet you too');
  },
  { once: true },
);
