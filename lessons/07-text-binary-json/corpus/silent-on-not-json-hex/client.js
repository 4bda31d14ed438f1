const socket = new WebSocket('ws://localhost:9900');
socket.binaryType = 'arraybuffer';

socket.onopen = () => {
  socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));
  socket.send(new Uint8Array([1, 2, 3, 250]));
};

socket.onmessage = ({ data }) => {
  if (data instanceof ArrayBuffer) {
    // The bytes in hex, as the inspector shows them.
    const hex = [...new Uint8Array(data)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    console.log(`binary (${data.byteLength} bytes): ${hex}`);
  } else {
    console.log(JSON.parse(data).text);
  }
};
