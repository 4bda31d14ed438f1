// The server pushes JSON; print it as it comes.
const ws = new WebSocket('ws://localhost:9900');
ws.onmessage = (e) => console.log('news', e.data);
ws.onclose = (e) => console.log('closed', e.code);
