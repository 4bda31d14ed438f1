// Short delays, to watch them in the inspector; a real app starts nearer a second.
const FIRST_DELAY = 100; // ms
const MAX_DELAY = 3000;
let delay = FIRST_DELAY;

function connect() {
  const socket = new WebSocket('ws://localhost:9900');

  socket.onopen = () => {
    console.log('connected');
    delay = FIRST_DELAY; // connected again: the next outage starts with a short wait
  };

  socket.onmessage = (event) => {
    console.log('received:', event.data);
    // The job is done: leave, and say so.
    if (event.data.startsWith('done')) {
      socket.close(1000, 'got the answer');
    }
  };

  socket.onclose = (event) => {
    console.log(`closed: code ${event.code}, reason '${event.reason}', clean: ${event.wasClean}`);
    // 1000: someone ended the conversation on purpose (we did, or the server did). Stay away.
    // 1001 (going away), 1006 (the connection broke) ...: come back, a little later each time.
    console.log(`reconnecting in ${delay} ms`);
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_DELAY);
  };
}

connect();
