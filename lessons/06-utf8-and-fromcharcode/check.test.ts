import { check, must, useLesson } from '../harness.ts';

const HELLO = 'héllo 👋';
const BIG = 300 * 1024;

// The check brings its own clients (the learner's client.js is for watching in the inspector).
const lesson = useLesson(import.meta.url, { client: false });

/** A probe: a browser client that sends `expr` (a JavaScript expression) once open. */
const probe = (expr: string) => `
const socket = new WebSocket('ws://localhost:9900');
socket.onopen = () => socket.send(${expr});
socket.onmessage = (event) => console.log('received', event.data.length, 'characters:', String(event.data).slice(0, 40));
`;

/** What the server answered to `text` (the first server message after it), on the probe's connection. */
async function echoOf(name: string, expr: string, sent: (text: string) => boolean, timeoutMs: number) {
  const client = await lesson.runScript(name, probe(expr));
  const said = await lesson.waitForType('message', (m) => m.dir === 'client' && sent(m.text ?? ''), 3000);
  if (!said) return { client, said, echo: undefined };
  const echo = await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === said.conn && m.t > said.t, timeoutMs);
  return { client, said, echo };
}

check(`the echo of '${HELLO}' came back intact, in a text frame of valid UTF-8`, { hint: 1 }, async () => {
  const { said, echo } = await echoOf('the check\'s héllo client', JSON.stringify(HELLO), (t) => t === HELLO, 3000);
  must(said, () => `The check's client could not send '${HELLO}'.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(echo, () => `The server did not answer '${HELLO}'.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: said.conn })}`);
  must(echo.opcode === 1, `The server answered with a binary frame (opcode 2), not text: send a string, not the Buffer.`);
  must(echo.utf8Valid !== false, `The server's answer is not valid UTF-8: a text frame must be (RFC 6455 §8.1), and a browser closes the connection with 1007.`);
  must(
    (echo.text ?? '').includes(HELLO),
    `The server answered ${JSON.stringify(echo.text)}: the '${HELLO}' in it is mangled. Each byte of a character became a character of its own: decode data as UTF-8 with data.toString().`,
  );
});

check('a 300 KB message was echoed, and the server kept running', { hint: 3 }, async () => {
  const { said, echo } = await echoOf("the check's 300 KB client", `'x'.repeat(${BIG})`, (t) => t.startsWith('xxxx'), 4000);
  must(said, () => `The check's client could not send its 300 KB message.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const state = lesson.server?.state;
  must(
    echo && echo.length >= BIG,
    () =>
      state?.status === 'crashed'
        ? `The server crashed on the 300 KB message, and its connections ended with 1006:\n${lesson.trouble()}\nString.fromCharCode(...data) passes every byte as an argument: ${BIG.toLocaleString('en-US')} arguments overflow the stack.`
        : `The server did not echo the 300 KB message${echo ? ` whole (its answer had ${echo.length} bytes)` : ''}.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: said.conn })}`,
  );
  // Still there: a new client is greeted.
  const after = await lesson.runScript("the check's last client", probe("'still there?'"));
  const greeted = await lesson.waitForType('message', (m) => m.dir === 'server' && lesson.connectionsOf(after).includes(m.conn), 3000);
  must(greeted && lesson.server?.state.status === 'running', () => `After the big message, the server no longer greets a new client.\n${lesson.trouble()}`);
});
