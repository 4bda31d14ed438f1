const socket = new WebSocket('ws://localhost:9900');
let answered = false;

socket.onmessage = (event) => {
  console.log('received: ', event.data);
  if (!answered && event.data.startsWith('Hello')) {
    answered = true;
    socket.send(`You said: ${event.data}`);
  }
};

socket.send('I am listening');
