// Push, with polling kept as a fallback "just in case".
let seen = 0;

const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  const notification = JSON.parse(event.data);
  console.log('notification:', notification.text);
  seen = notification.id;
};

setInterval(async () => {
  const response = await fetch(`http://localhost:9900/notifications?after=${seen}`);
  for (const notification of await response.json()) {
    console.log('notification:', notification.text);
    seen = notification.id;
  }
}, 1000);
