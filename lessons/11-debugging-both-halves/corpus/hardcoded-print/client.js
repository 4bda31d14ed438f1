const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send(JSON.stringify({ type: 'join', name: 'Ada' }));
};

socket.onmessage = () => {
  // The welcome is always the same, isn't it?
  console.log('Welcome, Ada!');
};
