import { check, must, useLesson } from '../harness.ts';

const lesson = useLesson(import.meta.url);

let waited: ReturnType<typeof waitForPush> | null = null;

/** The first notification pushed over a WebSocket (the server has news every second). */
async function waitForPush() {
  const push = await lesson.waitForType('message', (m) => m.dir === 'server' && lesson.wire.connection(m.conn)?.upgrade !== null, 3000);
  // A little more time on the wire, so a polling client shows what it does.
  await lesson.settle(300, 800);
  return push;
}

function firstPush() {
  waited ??= waitForPush();
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

check('the client received a notification pushed over a WebSocket', { hint: 1 }, async () => {
  const push = await firstPush();
  must(
    push,
    () =>
      lesson.wire.websockets().length === 0
        ? `The client opened no WebSocket: the wiretap saw ${pollingSummary()}. Open one with new WebSocket('ws://localhost:9900').`
        : `The WebSocket carried no notification from the server. The wiretap saw:\n${lesson.wire.transcript()}`,
  );
  const text = (JSON.parse(push.text ?? '{}') as { text?: string }).text ?? push.text ?? '';
  const printed = await lesson.client.waitForConsole(text, 1500);
  must(printed, () => `The notification '${text}' reached the client, but client.js did not print it. Print it in socket.onmessage.\nIt printed:\n${lesson.client.printed() || '(nothing)'}`);
});

check('the client waits for the push without polling: no HTTP request reaches the server', { hint: 2 }, async () => {
  await firstPush();
  const requests = lesson.wire.httpRequests();
  must(requests.length === 0, () => `The wiretap saw ${pollingSummary()}: the client is still polling. Remove the fetch calls; the WebSocket brings the news.`);
});

check('the server spoke first: no frame came from the client before the notification', { hint: 3 }, async () => {
  const push = await firstPush();
  must(push, 'No notification arrived over a WebSocket (see the first check).');
  const before = lesson.wire.frames('client', push.conn).filter((f) => f.t < push.t);
  must(
    before.length === 0,
    `The client sent ${before.length} frame(s) before the notification: there is nothing to ask, the server pushes each notification on its own. Remove socket.send.`,
  );
});
