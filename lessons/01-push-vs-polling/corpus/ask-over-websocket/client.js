// A WebSocket, but still asking: "anything new?" four times a second.
const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  setInterval(() => socket.send('any news?'), 250);
};

socket.onmessage = (event) => {
  const notification = JSON.parse(event.data);
  console.log('notification:', notification.text);
};
