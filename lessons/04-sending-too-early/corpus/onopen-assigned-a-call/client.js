const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

// Looks like "send on open", but calls send now and gives onopen its result.
socket.onopen = socket.send('I am listening');
