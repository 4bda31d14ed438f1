const FIRST_DELAY = 100; // ms
const MAX_DELAY = 3000;
let delay = FIRST_DELAY;

function connect() {
  const socket = new WebSocket('ws://localhost:9900');
  let leaving = false; // set when we close on purpose

  socket.onopen = () => {
    delay = FIRST_DELAY;
  };

  socket.onmessage = (event) => {
    console.log('received:', event.data);
    if (event.data.startsWith('done')) {
      leaving = true;
      socket.close(1000, 'got the answer');
    }
  };

  socket.onclose = (event) => {
    console.log(`closed: code ${event.code}`);
    if (leaving) return; // we said goodbye ourselves
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_DELAY);
  };
}

connect();
