// Push: open one connection, and let the server speak when something happens.
const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  const notification = JSON.parse(event.data);
  console.log('notification:', notification.text);
};
