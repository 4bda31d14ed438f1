// A fresh connection every second, to pick up what is new: polling with WebSockets.
function check() {
  const socket = new WebSocket('ws://localhost:9900');
  socket.onmessage = (event) => {
    console.log('notification:', JSON.parse(event.data).text);
  };
  setTimeout(() => socket.close(), 1100);
}

check();
setInterval(check, 1000);
