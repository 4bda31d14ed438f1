import { check, must, useLesson } from '../harness.ts';

const lesson = useLesson(import.meta.url);

/** Notifications to see pushed (the server has news every second): two tell a print from a guess. */
const PUSHES = 2;

let waited: ReturnType<typeof waitForPushes> | null = null;

/** Server messages on WebSocket connections (the pushes), in order. */
function pushes() {
  return lesson.wire.messages('server').filter((m) => lesson.wire.connection(m.conn)?.upgrade);
}

/** The first PUSHES notifications pushed over a WebSocket, or as many as came. */
async function waitForPushes() {
  await lesson.waitFor((e) => e.type === 'message' && pushes().length >= PUSHES, 1000 * PUSHES + 2000);
  // A little more time on the wire, so a polling client shows what it does.
  await lesson.settle(300, 800);
  return pushes().slice(0, PUSHES);
}

function firstPushes() {
  waited ??= waitForPushes();
  return waited;
}

/** "9 HTTP requests (GET /notifications?after=0 ...), 2,511 bytes, 7 answered []" */
function pollingSummary(): string {
  const requests = lesson.wire.httpRequests();
  const empty = requests.filter((h) => h.response?.body === '[]').length;
  const { bytes } = lesson.wire.stats().http;
  const first = requests[0]?.request;
  return `${requests.length} HTTP request${requests.length === 1 ? '' : 's'}${first ? ` (${first.method} ${first.path} ...)` : ''}, ${bytes.toLocaleString('en-US')} bytes, ${empty} answered []`;
}

/** The notification's text ("Build #3 passed"), from the JSON the server pushes. */
function textOf(json: string | undefined): string {
  try {
    const text = (JSON.parse(json ?? '') as { text?: unknown }).text;
    if (typeof text === 'string') return text;
  } catch {
    // Not JSON: the learner's server pushes something else; look for it as it is.
  }
  return json ?? '';
}

check('the client received a notification pushed over a WebSocket', { hint: 1 }, async () => {
  const [push] = await firstPushes();
  must(
    push,
    () =>
      lesson.wire.websockets().length === 0
        ? `The client opened no WebSocket: the wiretap saw ${pollingSummary()}. Polling, however fast, only asks; open a WebSocket to port 9900 and the server pushes the news on it.`
        : `The WebSocket carried no notification from the server. The wiretap saw:\n${lesson.wire.transcript()}`,
  );
});

check('the client printed each notification as it arrived', { hint: 1 }, async () => {
  const got = await firstPushes();
  must(got.length > 0, 'No notification arrived over a WebSocket (see the first check).');
  // The page's own clock: a line printed before the first message event is a guess, not news.
  const arrived = await lesson.client.waitForReceive(() => true, 1000);
  must(arrived, 'The notification was pushed, but the page never got a message event: is the socket still open?');
  for (const push of got) {
    const text = textOf(push.text);
    const printed = await lesson.client.waitForConsole((c) => c.text.includes(text) && c.t >= arrived.t, 1500);
    must(
      printed,
      () =>
        `The server pushed '${text}' (#${push.conn}), but client.js did not print it once it arrived. Print each notification's text from the socket's message handler.\nIt printed:\n${lesson.client.printed() || '(nothing)'}`,
    );
  }
});

check('the client waits for the push without polling: no HTTP request reaches the server', { hint: 2 }, async () => {
  await firstPushes();
  const requests = lesson.wire.httpRequests();
  must(requests.length === 0, () => `The wiretap saw ${pollingSummary()}: the client is still polling. Remove the fetch calls; the WebSocket brings the news.`);
});

check('the server speaks on its own: the client sends no message on the WebSocket', { hint: 3 }, async () => {
  const [push] = await firstPushes();
  must(push, 'No notification arrived over a WebSocket (see the first check).');
  // Data frames only: a close frame is the client leaving, not asking (the next check is about that).
  const asked = lesson.wire.dataFrames('client').filter((f) => lesson.wire.connection(f.conn)?.upgrade);
  must(
    asked.length === 0,
    () =>
      `The client sent ${asked.length} frame${asked.length === 1 ? '' : 's'} on the WebSocket (the first: #${asked[0]!.conn}, its frame ${asked[0]!.seq + 1} from the client): there is nothing to ask, the server pushes each notification on its own. Remove socket.send.`,
  );
});

check('one WebSocket, kept open: every notification came on the same connection', { hint: 3 }, async () => {
  await firstPushes();
  const sockets = lesson.wire.websockets();
  must(sockets.length > 0, 'No WebSocket connection was made (see the first check).');
  must(
    sockets.length === 1,
    () =>
      `The client opened ${sockets.length} WebSockets (${sockets.map((c) => `#${c.conn}`).join(', ')}): a new connection each time is polling again, with a handshake for a request. Open one, keep it open, and let the server push on it.`,
  );
});
