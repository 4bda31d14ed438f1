const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send(JSON.stringify({ type: 'join', name: 'Ada' }));
};

socket.onmessage = (event) => {
  const reply = event.data;
  console.log(reply.text);
};
