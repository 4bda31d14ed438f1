// A publisher: 64 KiB every 20 ms (3.2 MB/s), each numbered in its first 4 bytes.
const socket = new WebSocket('ws://localhost:9900');
socket.binaryType = 'arraybuffer';

let sent = 0;
socket.onopen = () => {
  const timer = setInterval(() => {
    if (socket.readyState !== WebSocket.OPEN || sent === 500) return clearInterval(timer);
    const message = new Uint8Array(64 * 1024);
    new DataView(message.buffer).setUint32(0, ++sent);
    socket.send(message);
    if (sent % 50 === 0) console.log(`sent ${sent}, bufferedAmount ${socket.bufferedAmount}`);
  }, 20);
};
