const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);

  // The server spoke first. Answer its greeting, and only its greeting:
  // answering every message would start an endless echo.
  if (event.data === 'Hello webSocket') {
    socket.send('Hello server, nice to meet you');
  }
};

// Still too early (an InvalidStateError in the console): lesson 4 is about this line.
socket.send('I am listening');
