import type WebSocket from 'ws';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RoundTrips {
  /** Replies received so far (each one sent the next message while running). */
  received(): number;
  /** Stop sending, then wait (at most 3 s) for the messages still in flight to come back. */
  stop(): Promise<void>;
}

/**
 * The benches' closed loop: each client keeps `inFlight` messages on their way, sending the next
 * (`message(n)`, n counting over all clients) as each reply arrives, so the rate measures round
 * trips and nothing queues without bound. A server that answers each message with `replies`
 * messages (GraphQL's next and complete) ends a round trip with the last of them.
 */
export function roundTrips(clients: WebSocket[], message: (n: number) => string | Buffer, inFlight: number, replies = 1): RoundTrips {
  let received = 0;
  let pending = 0;
  let running = true;
  let sent = 0;
  for (const ws of clients) {
    let heard = 0;
    ws.on('message', () => {
      if (++heard % replies !== 0) return;
      received++;
      if (running) ws.send(message(sent++));
      else pending--;
    });
    for (let i = 0; i < inFlight; i++) ws.send(message(sent++));
    pending += inFlight;
  }
  return {
    received: () => received,
    async stop() {
      running = false;
      for (let waited = 0; pending > 0 && waited < 3000; waited += 10) await sleep(10);
    },
  };
}
