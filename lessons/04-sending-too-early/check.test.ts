import { check, must, useLesson } from '../harness.ts';

const DELAY_MS = 500;
const SAID = 'I am listening';

// The server's 101 is held back, as on a slow network: code that sends "a little later"
// meets CONNECTING here, as it would on a phone.
const lesson = useLesson(import.meta.url, { handshakeDelayMs: DELAY_MS });

let waited: ReturnType<typeof waitForConversation> | null = null;

/** Wait for the whole conversation (or the time it would take), so late errors are in. */
async function waitForConversation() {
  const echo = await lesson.waitForType('message', (m) => m.dir === 'server' && m.text === `I heard you say "${SAID}"`, DELAY_MS + 3000);
  await lesson.settle(200, 1000);
  return echo;
}

/** The conversation, waited for once for all the checks. */
function conversation() {
  waited ??= waitForConversation();
  return waited;
}

check('the client sends only once the socket is OPEN, never while CONNECTING (no InvalidStateError)', { hint: 1 }, async () => {
  await conversation();
  const err = lesson.client.errors.find((e) => e.name === 'InvalidStateError');
  must(
    !err,
    () =>
      `${lesson.client.describeError(err!)}\nsend ran while the socket was still CONNECTING (the server's 101 came ${DELAY_MS} ms after the request). Send from socket.onopen.`,
  );
});

check("the client's first frame came after the 101", { hint: 2 }, async () => {
  await conversation();
  const ws = lesson.wire.websockets()[0];
  must(ws, () => `No WebSocket connection was made: client.js must create new WebSocket('ws://localhost:9900').\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const first = lesson.wire.firstClientFrame(ws.conn);
  must(first, 'The client sent no frame at all: its message never left the browser. Call socket.send from socket.onopen.');
  must(first.gapMs !== null && first.gapMs >= 0, `The client's first frame reached the wire ${Math.abs(first.gapMs ?? 0).toFixed(1)} ms before the server's 101.`);
});

check(`the server heard "${SAID}" and answered it`, { hint: 2 }, async () => {
  const echo = await conversation();
  const said = lesson.wire.messages('client').map((m) => m.text);
  must(
    said.includes(SAID),
    said.length === 0 ? `The client sent no message. Send '${SAID}' from socket.onopen.` : `The client sent ${said.map((t) => `'${t}'`).join(', ')}, not '${SAID}'.`,
  );
  must(echo, () => `The server did not answer. The wiretap saw:\n${lesson.wire.transcript()}`);
});

check('the client printed the server\'s greeting too', { hint: 3 }, async () => {
  const line = await lesson.client.waitForConsole('Hello webSocket', DELAY_MS + 3000);
  must(line, () => `client.js did not print 'Hello webSocket'. Keep console.log in socket.onmessage.\nIt printed:\n${lesson.client.printed() || '(nothing)'}`);
});
