const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => socket.send(JSON.stringify({ type: 'join', name: 'Ada' }));

socket.onmessage = (event) => console.log(JSON.parse(event.data).text);
