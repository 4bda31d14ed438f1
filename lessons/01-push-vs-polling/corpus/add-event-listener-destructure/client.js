const socket = new WebSocket('ws://localhost:9900');

socket.addEventListener('message', ({ data }) => {
  const { id, text } = JSON.parse(data);
  console.log(`#${id}: ${text}`);
});
