// Your site's public address: the reverse proxy, not the server itself.
// The connection drops now and then in production: open a new one whenever it closes.
function connect() {
  const socket = new WebSocket('ws://localhost:9980');

  socket.onopen = () => {
    console.log('open');
    socket.send('I am listening');
  };

  socket.onmessage = (event) => {
    console.log('received:', event.data);
  };

  socket.onclose = (event) => {
    console.log(`closed: code ${event.code}, reconnecting`);
    setTimeout(connect, 200);
  };
}

connect();
