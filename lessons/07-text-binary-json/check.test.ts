import { check, must, useLesson } from '../harness.ts';

const BYTES = [0, 1, 2, 127, 128, 250, 255];
/** Bytes in hex, as the inspector shows them: 00 01 02 7f 80 fa ff. */
const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

// The check's own clients probe the server first; the learner's client runs after them.
const lesson = useLesson(import.meta.url, { client: false });

let probed: ReturnType<typeof probeServer> | null = null;

/** One client of the check's: a JSON greeting with another name, then a few bytes. */
async function probeServer() {
  const probe = await lesson.runScript(
    "the check's client",
    `const socket = new WebSocket('ws://localhost:9900');
socket.binaryType = 'arraybuffer';
socket.onopen = () => {
  socket.send(JSON.stringify({ type: 'greet', name: 'Grace' }));
  socket.send(new Uint8Array(${JSON.stringify(BYTES)}));
};`,
  );
  const greet = await lesson.waitForType('message', (m) => m.dir === 'client' && lesson.connectionsOf(probe).includes(m.conn) && m.opcode === 1, 3000);
  const bytes = await lesson.waitForType('message', (m) => m.dir === 'client' && lesson.connectionsOf(probe).includes(m.conn) && m.opcode === 2, 1000);
  await lesson.settle(250, 2000);
  const after = (t: number | undefined) => lesson.wire.messages('server').filter((m) => lesson.connectionsOf(probe).includes(m.conn) && t !== undefined && m.t > t);
  return { greet, bytes, afterGreet: after(greet?.t), afterBytes: after(bytes?.t) };
}

const server = () => (probed ??= probeServer());

let ran: ReturnType<typeof runLearnerClient> | null = null;

/** The learner's client.js, once the probe is done, until its conversation is over. */
async function runLearnerClient() {
  await server();
  const client = await lesson.runClient();
  await lesson.waitForType('message', (m) => m.dir === 'server' && m.opcode === 2 && lesson.connectionsOf(client).includes(m.conn), 3000);
  await lesson.settle(300, 2000);
  return client;
}

const learner = () => (ran ??= runLearnerClient());

function parsed(text: string | undefined): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text ?? '') as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

check("the server answers a JSON message with a JSON message: { type: 'welcome', text: 'Welcome, Grace!' }", { hint: 2 }, async () => {
  const { greet, afterGreet } = await server();
  must(greet, () => `The check's client could not send its greeting.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const texts = afterGreet.filter((m) => m.opcode === 1);
  must(texts.length > 0, () => `The server did not answer {"type":"greet","name":"Grace"} with a text message.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: greet.conn })}`);
  const reply = texts.map((m) => parsed(m.text)).find((o) => o !== null);
  must(reply, `The server answered ${JSON.stringify(texts[0]!.text)}: that is not a JSON object. Answer with ws.send(JSON.stringify({ type: 'welcome', text: ... })).`);
  must(reply.type === 'welcome', `The server answered ${JSON.stringify(reply)}: its type should be 'welcome'.`);
  must(typeof reply.text === 'string' && reply.text.includes('Grace'), `The server answered ${JSON.stringify(reply)}: its text should welcome Grace, the name in the greeting.`);
});

check('a binary message is echoed as binary: opcode 2, the same bytes', { hint: 1 }, async () => {
  const { bytes, afterBytes } = await server();
  must(bytes, () => `The check's client could not send its bytes.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  must(afterBytes.length > 0, () => `The server did not answer the binary message.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: bytes.conn })}`);
  const binary = afterBytes.find((m) => m.opcode === 2);
  // The greeting's answer may come after the bytes were sent too: the bytes' answer is the one
  // that is not about the greeting (the last such, as the server answers in order).
  const aboutGreeting = (text: string | undefined) => /greet|Grace|welcome/i.test(text ?? '');
  const answer = afterBytes.filter((m) => !aboutGreeting(m.text)).at(-1) ?? afterBytes.at(-1)!;
  must(
    binary,
    `The server answered the bytes ${hex(BYTES)} with a text message (${JSON.stringify(answer.text)}): binary data must go back as binary. Check isBinary, and send the Buffer with { binary: true }.`,
  );
  const got = [...Buffer.from(binary.base64 ?? '', 'base64')];
  must(JSON.stringify(got) === JSON.stringify(BYTES), `The server sent back the bytes ${hex(got)}, not ${hex(BYTES)}.`);
});

check("the client asked for ArrayBuffers (binaryType 'arraybuffer') and got the echo as one", { hint: 3 }, async () => {
  const client = await learner();
  const binary = client.received.filter((r) => r.dataType !== 'string');
  must(
    binary.length > 0,
    () => `Your client received no binary message. It must send new Uint8Array([1, 2, 3, 250]), and the server must echo it as binary.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: lesson.connectionsOf(client)[0] })}`,
  );
  must(
    binary.some((r) => r.dataType === 'ArrayBuffer'),
    `Your client received the binary echo as a ${binary[0]!.dataType} (binaryType '${binary[0]!.binaryType}'). Set socket.binaryType = 'arraybuffer' right after new WebSocket(...).`,
  );
});

check('the client printed the bytes of the echo and the text of the JSON welcome', { hint: 4 }, async () => {
  const client = await learner();
  const bytes = client.console.find((l) => /\b1\D+2\D+3\D+250\b/.test(l.text));
  must(bytes, `Your client did not print the bytes 1, 2, 3, 250. Print new Uint8Array(event.data).\nIt printed:\n${client.printed() || '(nothing)'}`);
  const welcome = client.console.find((l) => l.text.includes('Welcome, Ada!') && !l.text.includes('"text"'));
  must(welcome, `Your client did not print the welcome's text, Welcome, Ada!, by itself. Parse the message with JSON.parse(event.data) and print message.text.\nIt printed:\n${client.printed() || '(nothing)'}`);
});
