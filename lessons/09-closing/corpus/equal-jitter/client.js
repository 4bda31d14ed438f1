// Equal jitter: half of the (doubling) delay for sure, the other half at random.
let delay = 100;

const open = () =>
  new Promise((resolve) => {
    const socket = new WebSocket('ws://localhost:9900');
    socket.onopen = () => {
      delay = 100;
    };
    socket.onmessage = ({ data }) => {
      console.log('got', data);
      if (data === 'done: the answer is 42') socket.close(1000, 'bye');
    };
    socket.onclose = ({ code }) => resolve(code);
  });

async function main() {
  for (;;) {
    const code = await open();
    if (code === 1000) break;
    const wait = delay / 2 + Math.random() * (delay / 2);
    delay = Math.min(delay * 2, 4000);
    await new Promise((r) => setTimeout(r, wait));
  }
}

main();
