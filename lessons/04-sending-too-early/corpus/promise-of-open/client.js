const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

// A promise that settles when the socket opens (or fails to).
const opened = new Promise((resolve, reject) => {
  socket.addEventListener('open', resolve, { once: true });
  socket.addEventListener('error', reject, { once: true });
});

async function main() {
  await opened;
  socket.send('I am listening');
}

main().catch((err) => console.error('could not connect:', err.type ?? err));
