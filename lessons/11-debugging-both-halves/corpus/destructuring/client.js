const socket = new WebSocket('ws://localhost:9900');

socket.addEventListener('open', () => {
  socket.send(JSON.stringify({ type: 'join', name: 'Ada' }));
});

socket.addEventListener('message', ({ data }) => {
  const { type, text } = JSON.parse(data);
  if (type === 'welcome') console.log(text);
});
