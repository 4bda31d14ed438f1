const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.send('Hello webSocket');

  // A job in four steps, one every 150 ms. The client stays for the result.
  let step = 0;
  const timer = setInterval(() => {
    step += 1;
    ws.send(step < 4 ? `working: step ${step} of 4` : 'done: the answer is 42');
    if (step === 4) clearInterval(timer);
  }, 150);

  ws.on('close', (code, reason) => {
    clearInterval(timer);
    console.log(`a client left: ${code} ${reason.toString() || '(no reason)'}`);
  });
});

// Stopping (the playground restarts the server on every save): tell every client
// "going away" (1001) first, so that it knows it may come back.
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.close(1001, 'server restarting');
  setTimeout(() => process.exit(0), 100);
});
