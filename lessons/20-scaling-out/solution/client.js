// A chat peer: it picks a name, says hello, and greets whoever says hello after it.
const me = `peer-${Math.random().toString(36).slice(2, 6)}`;
const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  console.log(`I am ${me}`);
  socket.send(`hello from ${me}`);
};

socket.onmessage = (event) => {
  console.log('received:', event.data);

  // Someone else said hello: greet them back. Only a hello gets an answer,
  // so two peers never answer each other forever.
  const hello = /^hello from (\S+)$/.exec(event.data);
  if (hello && hello[1] !== me) {
    socket.send(`hi ${hello[1]}, ${me} here`);
  }
};
