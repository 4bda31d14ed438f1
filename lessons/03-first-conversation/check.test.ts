import { check, must, useLesson } from '../harness.ts';

const GREETING = 'Hello webSocket';
const ECHO = /^I heard you say "(.*)"$/s;

// The course's early send (line 7) throws InvalidStateError in this lesson on purpose: lesson 4
// is about it, so it is not repeated under every failed check.
const lesson = useLesson(import.meta.url, { expectedErrors: ['InvalidStateError'] });

/** The first WebSocket connection through the wiretap (waiting for it a little). */
async function firstWebSocket() {
  const hs = await lesson.waitForType('handshake', (h) => h.outcome === 'upgraded', 4000);
  return hs ? lesson.wire.connection(hs.conn) : undefined;
}

check('the client opened a WebSocket, and the server answered 101 Switching Protocols', { hint: 1 }, async () => {
  const ws = await firstWebSocket();
  must(ws, () => `No WebSocket connection was made. client.js must create new WebSocket('ws://localhost:9900'), and server.js must listen on port 9900.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
});

check(`the server's greeting '${GREETING}' came before any frame from the client`, { hint: 1 }, async () => {
  const ws = await firstWebSocket();
  must(ws, 'There is no WebSocket connection to look at (see the first check).');
  const greeting = await lesson.waitForType('message', (m) => m.conn === ws.conn && m.dir === 'server' && m.text === GREETING, 3000);
  must(greeting, () => `The server never sent '${GREETING}'. Keep ws.send('${GREETING}') in its connection handler.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: ws.conn })}`);
  const earlier = lesson.wire.frames('client', ws.conn).filter((f) => f.t < greeting.t);
  must(earlier.length === 0, `The client sent ${earlier.length} frame(s) before the server's greeting: in this conversation the server speaks first.`);
});

check('the client printed the greeting it received', { hint: 1 }, async () => {
  const line = await lesson.client.waitForConsole(GREETING, 3000);
  must(line, () => `client.js printed nothing with '${GREETING}' in it. Keep console.log('received: ', event.data) in socket.onmessage.\nIt printed:\n${lesson.client.printed() || '(nothing)'}`);
});

check('the client answered the greeting, from the message that brought it', { hint: 2 }, async () => {
  const greeting = await lesson.waitForType('message', (m) => m.dir === 'server' && m.text === GREETING, 3000);
  must(greeting, `The server's greeting never came, so there was nothing to answer.`);
  const answer = await lesson.waitForType('message', (m) => m.dir === 'client' && m.conn === greeting.conn, 2500);
  must(answer, () => {
    const early = lesson.client.sends.filter((s) => s.readyState === 0);
    const got = lesson.client.received.length > 0;
    return `The client never sent a message on the wire.${got ? ' The greeting reached the page, but no send ran after it: does your test of event.data match exactly \'' + GREETING + "' (the case counts)?" : ''}${early.length ? ` Its send at line ${early[0]!.line} ran while the socket was CONNECTING, so the browser refused it.` : ''} Send your answer from inside socket.onmessage, when the greeting arrives.`;
  });
  must(answer.t > greeting.t, 'The client spoke before the greeting arrived: answer it from socket.onmessage.');
  // On the wire the greeting comes with the 101, so a client that sends as soon as the socket
  // opens looks like one that answers. The page knows better: an answer is sent after the
  // greeting was delivered to it (the runner reports each message event before the page's
  // handlers run, on the same clock as each send).
  const delivered = await lesson.client.waitForReceive((r) => r.dataType === 'string' && r.size === GREETING.length, 1000);
  const sent = lesson.client.sends.find((s) => s.readyState === 1);
  must(
    sent && delivered && sent.t >= delivered.t,
    () =>
      `The client sent '${answer.text}'${sent?.line ? ` (line ${sent.line})` : ''} as soon as the socket opened, before the greeting reached it: it spoke first, it did not answer. Send from socket.onmessage, once event.data is the greeting.`,
  );
});

check('the server echoed the answer: I heard you say "…"', { hint: 2 }, async () => {
  const answer = await lesson.waitForType('message', (m) => m.dir === 'client', 1500);
  must(answer, 'The client sent no message, so the server had nothing to echo.');
  const echo = await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === answer.conn && ECHO.test(m.text ?? ''), 3000);
  must(echo, () => `The server did not answer "${answer.text}". Keep its ws.on('message') handler with ws.send(\`I heard you say "\${msg}"\`).\nThe wiretap saw:\n${lesson.wire.transcript({ conn: answer.conn })}`);
  must(echo.t > answer.t, 'The echo came before the answer it echoes.');
});

check('the conversation stops: the client answers the greeting, not every echo', { hint: 3 }, async () => {
  await lesson.settle(400, 3000);
  const sent = lesson.wire.messages('client');
  must(sent.length > 0, 'The client sent no message at all (see the checks above).');
  must(
    sent.length <= 3,
    `The client sent ${sent.length} messages in a row: it answers every echo, and the server echoes every answer. Answer the greeting only: test event.data against its text before you send.`,
  );
});
