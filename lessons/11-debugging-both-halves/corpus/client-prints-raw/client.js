const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send(JSON.stringify({ type: 'join', name: 'Ada' }));
};

socket.onmessage = (event) => {
  // event.data is the message's text: JSON, to be parsed into an object.
  const reply = event.data;
  console.log(reply);
};
