// Full jitter: each wait is random, between 0 and a ceiling that doubles after each failure.
const BASE = 100;
const CAP = 3000;
let attempt = 0;

function connect() {
  const socket = new WebSocket('ws://localhost:9900');

  socket.addEventListener('open', () => {
    attempt = 0;
  });

  socket.addEventListener('message', (event) => {
    console.log(event.data);
    if (event.data.startsWith('done')) socket.close(1000, 'finished');
  });

  socket.addEventListener('close', (event) => {
    if (event.code === 1000) return;
    const ceiling = Math.min(CAP, BASE * 2 ** attempt);
    attempt += 1;
    const wait = Math.random() * ceiling;
    console.log(`closed ${event.code}, retry in ${Math.round(wait)} ms`);
    setTimeout(connect, wait);
  });
}

connect();
