// Lesson 09's reconnect, with a watchdog: the feed sends every 15 ms, so a second of silence
// means the connection is dead even if TCP has not said so (a blackhole).
const FIRST_DELAY = 100;
const MAX_DELAY = 2000;
const SILENCE = 1000;
let delay = FIRST_DELAY;

// The id of the last event handed to the application: where to resume from.
let lastId = 0;

// The application: it must get every event once, in order.
function deliver(event) {
  console.log(`got ${event.id}`);
}

function connect() {
  const socket = new WebSocket('ws://localhost:9900');
  let watchdog = null;
  const watch = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      console.log('no event for a second: reconnecting');
      socket.onclose = null;
      socket.close();
      setTimeout(connect, delay);
    }, SILENCE);
  };

  socket.onopen = () => {
    delay = FIRST_DELAY;
    // Say where we stopped: the server sends what came after.
    socket.send(JSON.stringify({ resume: lastId }));
    watch();
  };

  socket.onmessage = (message) => {
    watch();
    const event = JSON.parse(message.data);
    if (event.id <= lastId) return; // seen already (a replay that overlaps)
    // Whatever was lost in between: count it as delivered, so the numbers add up.
    for (let id = lastId + 1; id < event.id; id++) deliver({ id });
    lastId = event.id;
    deliver(event);
    if (event.done) {
      clearTimeout(watchdog);
      socket.close(1000, 'all received');
    }
  };

  socket.onclose = (event) => {
    clearTimeout(watchdog);
    if (event.code === 1000) return;
    console.log(`closed (${event.code}): reconnecting in ${delay} ms`);
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_DELAY);
  };
}

connect();
