const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);

  if (event.data === 'Hello websocket') {
    socket.send('Hello server, nice to meet you');
  }
};

socket.send('I am listening');
