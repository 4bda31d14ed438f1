import { randomBytes, randomInt } from 'node:crypto';
import type { MessageEvent } from '../../server/capture/events.ts';
import { check, must, useLesson, type ClientRun } from '../harness.ts';

/** Bytes in hex, as the inspector shows them: 00 01 02 7f 80 fa ff. */
const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

// What a hard-coded answer cannot know: a name, bytes and a text picked for this run.
const NAME = `${['Grace', 'Alan', 'Edsger', 'Barbara', 'Radia', 'Dennis', 'Frances', 'Ken'][randomInt(8)]}-${randomInt(100, 1000)}`;
/** Bytes that are not UTF-8 (ff, fe, 80) among random ones. */
const BYTES = [0x00, 0xff, ...randomBytes(4), 0xfe, 0x80, ...randomBytes(2)];
const NEWS_BYTES = [...randomBytes(6)];
const NEWS_TEXT = `The check says ${randomBytes(4).toString('hex')}`;
const NOT_JSON = `hello there, ${randomInt(1000)} {not JSON`;

// The check's own clients probe the server first; the learner's client runs after them.
const lesson = useLesson(import.meta.url, { client: false });

const ofProbe = (probe: ClientRun) => (m: MessageEvent) => lesson.connectionsOf(probe).includes(m.conn);

let probed: ReturnType<typeof probeServer> | null = null;

/**
 * One client of the check's: a JSON greeting with a name of this run, text that is not JSON,
 * then a few bytes, one at a time, each once the server had time to answer the one before (its
 * answers are then known to be about that message).
 */
async function probeServer() {
  const probe = await lesson.runScript(
    "the check's client",
    `const socket = new WebSocket('ws://localhost:9900');
socket.binaryType = 'arraybuffer';
const next = [
  () => socket.send(${JSON.stringify(JSON.stringify({ type: 'greet', name: NAME }))}),
  () => socket.send(${JSON.stringify(NOT_JSON)}),
  () => socket.send(new Uint8Array(${JSON.stringify(BYTES)})),
];
socket.onopen = () => next.shift()();
// The check says when to send the next one (it watches the wire), by a message of its own.
socket.onmessage = (event) => { if (event.data === 'next, please' && next.length) next.shift()(); };
`,
  );
  const mine = ofProbe(probe);
  const answersTo = async (said: MessageEvent | undefined) => {
    if (!said) return [];
    await lesson.settle(250, 2000);
    const whole = lesson.wire.endOf(said);
    return lesson.wire.messages('server').filter((m) => mine(m) && m.t > whole && !m.injected);
  };
  const nextPlease = () => {
    const conn = lesson.connectionsOf(probe)[0];
    if (conn === undefined || lesson.server?.state.status !== 'running') return;
    try {
      lesson.tap!.inject(conn, 'server', textFrame('next, please'));
    } catch {
      // The connection is gone (the server closed it): the next message is not sent, and the check says so.
    }
  };
  const greet = await lesson.waitForType('message', (m) => m.dir === 'client' && mine(m) && m.opcode === 1, 3000);
  const afterGreet = await answersTo(greet);
  nextPlease();
  const text = await lesson.waitForType('message', (m) => m.dir === 'client' && mine(m) && m.opcode === 1 && m.text === NOT_JSON, 2000);
  const afterText = await answersTo(text);
  const crashedOnText = lesson.server?.state.status !== 'running';
  // Said before the restart below, which clears it.
  const crash = crashedOnText ? lesson.trouble() : '';
  // The connection ended, or the server began to close it (a close frame), after the text.
  const end = lesson.wire.ofType('end').find((e) => text && e.conn === text.conn);
  const closeFrame = lesson.wire.ofType('close').find((e) => text && e.conn === text.conn && e.dir === 'server' && !e.injected);
  const textEnd = end ? `TCP end by ${end.by}` : closeFrame ? `the server sent a close frame, ${closeFrame.explanation}` : null;
  // A server that fell over on the text is started again, so the bytes are judged on their own.
  if (crashedOnText && lesson.server) await lesson.server.restart();
  const probe2 = crashedOnText || textEnd ? await lesson.runScript("the check's second client", `const socket = new WebSocket('ws://localhost:9900');\nsocket.onopen = () => socket.send(new Uint8Array(${JSON.stringify(BYTES)}));`) : null;
  if (!probe2) nextPlease();
  const bytesFrom = probe2 ? ofProbe(probe2) : mine;
  const bytes = await lesson.waitForType('message', (m) => m.dir === 'client' && bytesFrom(m) && m.opcode === 2, 3000);
  await lesson.settle(250, 2000);
  const afterBytes = bytes ? lesson.wire.messages('server').filter((m) => bytesFrom(m) && m.t > bytes.t && !m.injected) : [];
  return { greet, afterGreet, text, afterText, crashedOnText, crash, textEnd, bytes, afterBytes };
}

const server = () => (probed ??= probeServer());

/** An unmasked text frame from the server (FIN, opcode 1), as the wiretap injects it. */
function textFrame(text: string): Buffer {
  return frame(1, Buffer.from(text));
}

function frame(opcode: number, payload: Buffer): Buffer {
  // Both payloads here are short: the 7-bit length is enough.
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

function parsed(text: string | undefined): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text ?? '') as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Text as the learner would read it in the inspector: as it is, quotes unescaped, with the
 * characters nothing shows (control characters) named: <U+0000>.
 */
const shown = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/gu, (c) => `<U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}>`);

/** A message as the inspector lists it: #3 TEXT 'I heard you say "…"', #3 BINARY 00 ff. */
const described = (m: MessageEvent) => `#${m.conn} ${m.opcode === 1 ? `TEXT '${shown(m.text ?? '')}'` : `BINARY ${hex([...Buffer.from(m.base64 ?? '', 'base64')])}`}`;

check(`your server answers a JSON greeting with a JSON welcome that names the one who greeted`, { hint: 2 }, async () => {
  const { greet, afterGreet } = await server();
  const greeting = JSON.stringify({ type: 'greet', name: NAME });
  must(greet, () => `The check's client could not send its greeting ${greeting}.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const texts = afterGreet.filter((m) => m.opcode === 1);
  must(texts.length > 0, () => `Your server did not answer ${greeting} (#${greet.conn}) with a text message.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: greet.conn })}`);
  const reply = texts.map((m) => parsed(m.text)).find((o) => o !== null);
  must(reply, `Your server answered ${greeting} with ${described(texts[0]!)}: that is not a JSON object. Answer with JSON.stringify of an object { type: 'welcome', text: ... }.`);
  must(reply.type === 'welcome', `Your server answered ${greeting} with ${JSON.stringify(reply)}: its type should be 'welcome'.`);
  must(
    typeof reply.text === 'string' && reply.text.includes(NAME),
    `Your server answered ${greeting} with ${JSON.stringify(reply)}: its text should name ${NAME}, the name in this greeting (read message.name; the check picks a new name each run).`,
  );
});

check('your server answers text that is not JSON without falling over: the connection stays open, any answer is JSON', { hint: 3 }, async () => {
  const { text, afterText, crashedOnText, crash, textEnd } = await server();
  must(text, () => `The check's client could not send its text ${JSON.stringify(NOT_JSON)}: the connection had ended.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  must(
    !crashedOnText,
    () => `The check's client sent the text ${JSON.stringify(NOT_JSON)} (#${text.conn}), and your server crashed: JSON.parse throws on text that is not JSON, and nothing caught it.\n${crash || 'server.js stopped.'}\nCatch the error and answer with a JSON error message instead.`,
  );
  must(!textEnd, () => `The check's client sent the text ${JSON.stringify(NOT_JSON)} (#${text.conn}), and the connection ended (${textEnd}). Keep the connection: catch JSON.parse's error and answer with a JSON error message instead.`);
  const notJson = afterText.find((m) => m.opcode !== 1 || parsed(m.text) === null);
  must(!notJson, () => `Your server answered the text ${JSON.stringify(NOT_JSON)} with ${described(notJson!)}: every message of this protocol is a JSON object, an error too ({ type: 'error', ... }).`);
});

check('your server echoes a binary message as binary: opcode 2, the same bytes', { hint: 1 }, async () => {
  const { bytes, afterBytes } = await server();
  must(bytes, () => `The check's client could not send its bytes ${hex(BYTES)}.\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  must(afterBytes.length > 0, () => `Your server did not answer the binary message ${hex(BYTES)} (#${bytes.conn}).\nThe wiretap saw:\n${lesson.wire.transcript({ conn: bytes.conn })}`);
  const binary = afterBytes.find((m) => m.opcode === 2);
  must(
    binary,
    `Your server answered the binary message ${hex(BYTES)} (#${bytes.conn}) with ${described(afterBytes[0]!)}: binary data must go back as binary. Check isBinary, and send the Buffer back as it came.`,
  );
  const got = [...Buffer.from(binary.base64 ?? '', 'base64')];
  must(hex(got) === hex(BYTES), `Your server sent back the bytes ${hex(got)} (#${binary.conn}), not ${hex(BYTES)}: send the Buffer it received, not a decoding of it.`);
});

let ran: ReturnType<typeof runLearnerClient> | null = null;

/**
 * The learner's client.js, once the probe is done. When its conversation with the server is
 * over, the wiretap sends it two messages as if from the server, made up for this run: a binary
 * one and a JSON one. What it prints of them is its own reading, whatever the server says.
 */
async function runLearnerClient() {
  await server();
  if (lesson.server && lesson.server.state.status !== 'running') await lesson.server.restart();
  const client = await lesson.runClient();
  const upgraded = await lesson.waitForType('handshake', (h) => lesson.connectionsOf(client).includes(h.conn) && h.response?.status === 101, 3000);
  await lesson.settle(300, 2000);
  const conn = upgraded?.conn;
  let injected = false;
  let gone = '';
  if (conn !== undefined) {
    const end = lesson.wire.ofType('end').find((e) => e.conn === conn);
    if (end) gone = `the connection #${conn} had ended (TCP end by ${end.by})`;
    else {
      try {
        lesson.tap!.inject(conn, 'server', frame(2, Buffer.from(NEWS_BYTES)));
        lesson.tap!.inject(conn, 'server', textFrame(JSON.stringify({ type: 'news', text: NEWS_TEXT })));
        injected = true;
      } catch {
        gone = `the connection #${conn} had closed`;
      }
    }
  } else gone = 'your client made no WebSocket connection';
  if (injected) await lesson.waitForType('message', (m) => m.conn === conn && m.injected === true && m.opcode === 1, 3000);
  return { client, conn, injected, gone };
}

const learner = () => (ran ??= runLearnerClient());

/** Why the check could not send the client its messages, in words. */
function notSent(gone: string): string {
  const crashed = lesson.server && lesson.server.state.status !== 'running';
  return `The check could not send your client its messages: ${gone}${crashed ? ', because your server crashed (see the checks above)' : ''}.\n${lesson.trouble()}`;
}

/** The bytes in a line a program printed: in decimal (Uint8Array(6) [ 12, 200, … ]) or in hex. */
function printsBytes(text: string, bytes: number[]): boolean {
  const dec = new RegExp(`(^|\\D)${bytes.join('\\D+')}(\\D|$)`);
  const hx = new RegExp(bytes.map((b) => b.toString(16).padStart(2, '0')).join('[\\s,:]*'), 'i');
  return dec.test(text) || hx.test(text);
}

check('your client printed the bytes of a binary message (read from an ArrayBuffer, or from the Blob)', { hint: 4 }, async () => {
  const { client, conn, injected, gone } = await learner();
  must(injected, () => notSent(gone));
  const line = await client.waitForConsole((l) => printsBytes(l.text, NEWS_BYTES), 3000);
  if (line) return;
  const got = client.received.find((r) => r.dataType !== 'string' && r.size === NEWS_BYTES.length);
  const as = got ? ` It received them as ${got.dataType === 'Blob' ? 'a Blob' : 'an ArrayBuffer'} (binaryType '${got.binaryType}').` : '';
  const blobHint =
    got?.dataType === 'Blob'
      ? ' A Blob is a handle on the bytes, not the bytes: new Uint8Array(blob) is empty. Read it first (await event.data.arrayBuffer()), or set binaryType to get ArrayBuffers.'
      : ' Look at them through a Uint8Array and print that.';
  must(
    false,
    `The check sent your client a binary message, ${hex(NEWS_BYTES)} (#${conn}, marked as sent by the wiretap), and your client did not print those bytes.${as}${blobHint}\nIt printed:\n${client.printed() || '(nothing)'}`,
  );
});

check('your client printed the text of a JSON message, read from the parsed object', { hint: 5 }, async () => {
  const { client, conn, injected, gone } = await learner();
  must(injected, () => notSent(gone));
  const news = JSON.stringify({ type: 'news', text: NEWS_TEXT });
  const line = await client.waitForConsole((l) => l.text.includes(NEWS_TEXT) && !l.text.includes('"text"'), 3000);
  if (line) return;
  const raw = client.console.find((l) => l.text.includes(NEWS_TEXT));
  must(
    false,
    raw
      ? `The check sent your client the text message ${news} (#${conn}), and your client printed it as it came, JSON and all: ${raw.text}. Parse it with JSON.parse and print its text.`
      : `The check sent your client the text message ${news} (#${conn}), and your client did not print its text, ${NEWS_TEXT}. Parse it with JSON.parse and print its text.\nIt printed:\n${client.printed() || '(nothing)'}`,
  );
});
