import { randomBytes, randomInt } from 'node:crypto';
import { check, must, useLesson, type ClientRun } from '../harness.ts';

const HELLO = 'héllo 👋';
const BIG = 300 * 1024;

// The check brings its own clients (the learner's client.js is for watching in the inspector).
const lesson = useLesson(import.meta.url, { client: false });

/**
 * Text as the learner would read it in a console: as it is, except the characters a console
 * does not show (control characters, such as the C1 codes 80 to 9f that `fromCharCode` makes of
 * an emoji's bytes), which are named, so "ð" followed by three invisible characters reads
 * "ð<U+009F><U+0091><U+008B>".
 */
function shown(text: string, max = 120): string {
  const cut = [...text];
  const head = cut.length > max ? `${cut.slice(0, max).join('')}… (${cut.length.toLocaleString('en-US')} characters)` : text;
  return head.replace(/[\u0000-\u001f\u007f-\u009f\u200b\ufeff]/gu, (c) => `<U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}>`);
}

/** A character with its UTF-8 bytes, as the inspector shows them: 'é' (c3 a9). */
const withBytes = (c: string) => `'${shown(c)}' (${[...Buffer.from(c)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`;

/**
 * A probe: a browser client that sends `text` once open and compares the server's answer with it
 * itself (the wiretap keeps only a preview of long messages). It prints one line of JSON per
 * answer: whether the text came back whole, and where it first differs.
 */
const probe = (text: string) => `
const sent = ${JSON.stringify(text)};
const socket = new WebSocket('ws://localhost:9900');
socket.onopen = () => socket.send(sent);
let n = 0;
socket.onmessage = (event) => {
  const got = event.data;
  // n: the answer's place among the server's messages on this connection, as on the wire.
  if (typeof got !== 'string') return console.log(JSON.stringify({ n: n++, binary: true }));
  if (got.includes(sent)) return console.log(JSON.stringify({ n: n++, whole: true }));
  // Where the echo of the text starts (its first few characters), then the first character that differs.
  // (the place that matches it longest: 'h' is in 'I heard' too; the later place wins a tie).
  const same = (p) => { let k = 0; while (k < sent.length && got[p + k] === sent[k]) k++; return k; };
  let start = -1, i = 0;
  for (let p = got.indexOf(sent[0]); p >= 0; p = got.indexOf(sent[0], p + 1)) {
    const k = same(p);
    if (k >= i) { start = p; i = k; }
  }
  const at = (s, k) => String.fromCodePoint(s.codePointAt(k) ?? 0);
  // Back to the start of a character, if i is inside a surrogate pair.
  if (i > 0 && /[\\udc00-\\udfff]/.test(sent[i])) i--;
  console.log(JSON.stringify({ n: n++, whole: false, found: start >= 0, index: [...sent.slice(0, i)].length, want: at(sent, i), got: start >= 0 ? got.slice(start + i, start + i + 2) : '', text: got.slice(0, 200), length: got.length }));
};
`;

interface Verdict {
  n: number;
  binary?: boolean;
  whole?: boolean;
  found?: boolean;
  index?: number;
  want?: string;
  got?: string;
  text?: string;
  length?: number;
}

/** What the probe concluded about the `n`th message the server sent it (0-based, as on the wire). */
async function verdictOn(client: ClientRun, n: number, timeoutMs: number): Promise<Verdict | undefined> {
  const read = (text: string): Verdict | undefined => {
    try {
      return JSON.parse(text) as Verdict;
    } catch {
      return undefined;
    }
  };
  const line = await client.waitForConsole((l) => read(l.text)?.n === n, timeoutMs);
  return line ? read(line.text) : undefined;
}

/** Send `text` from a probe of the check's; the server's answer on the wire, and the probe's verdict on it. */
async function echoOf(name: string, text: string, timeoutMs: number) {
  // Each check judges the server on its own: one that crashed on an earlier check's message is
  // started again, as a save would.
  if (lesson.server && lesson.server.state.status !== 'running') await lesson.server.restart();
  const client = await lesson.runScript(name, probe(text));
  const conn = () => lesson.connectionsOf(client)[0];
  const said = await lesson.waitForType('message', (m) => m.dir === 'client' && m.conn === conn(), 3000);
  if (!said) return { client, said, echo: undefined, verdict: undefined };
  const whole = lesson.wire.endOf(said);
  const echo = await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === said.conn && m.t > whole, timeoutMs);
  const n = echo ? lesson.wire.messages('server').filter((m) => m.conn === said.conn).indexOf(echo) : -1;
  const verdict = echo ? await verdictOn(client, n, 2000) : undefined;
  return { client, said, echo, verdict };
}

/** A word the server cannot have been written for: accents from another language, another emoji, a number. */
function randomWord(): string {
  const words = ['naïve', 'façade', 'crème brûlée', 'Zürich', 'señor', 'Ærøskøbing', 'Ελλάδα', 'Привет', '日本語', 'ça va'];
  const emoji = ['🎉', '🚀', '🦊', '🌍', '🍕', '🎸', '🐙', '💡'];
  return `${words[randomInt(words.length)]} ${emoji[randomInt(emoji.length)]} ${randomInt(1000, 10000)}`;
}

check(`the echo of a word with accents and an emoji ('${HELLO}', and another) came back intact, as text`, { hint: 1 }, async () => {
  for (const [i, word] of [HELLO, randomWord()].entries()) {
    const { said, echo, verdict } = await echoOf(`the check's client ${i + 1}`, word, 3000);
    must(said, () => `The check's client could not send '${word}'.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
    const where = `(#${said.conn} in the inspector)`;
    must(echo, () => `The server did not answer '${word}' ${where}.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: said.conn })}`);
    must(echo.opcode === 1, `The server answered '${word}' with a binary frame (opcode 2) ${where}, not text: the browser hands the page a Blob. Send a string.`);
    must(echo.utf8Valid !== false, `The server's answer to '${word}' is not valid UTF-8 ${where}: a text frame must be (RFC 6455 §8.1), and a browser closes the connection with 1007.`);
    if (verdict?.whole) continue;
    const answer = verdict?.text ?? echo.text ?? '';
    const detail =
      verdict?.found && verdict.want && verdict.got
        ? ` Its character ${verdict.index! + 1}, ${withBytes(verdict.want)}, came back as '${shown(verdict.got)}'.`
        : '';
    must(
      false,
      `The check's client sent '${word}' ${where}, and the server answered:\n  ${shown(answer)}\nThe text in it is mangled.${detail} Each byte of a character became a character of its own: decode the bytes as UTF-8, not one byte at a time.`,
    );
  }
});

check('a 300 KB message was echoed, and the server kept running', { hint: 3 }, async () => {
  const { said, echo } = await echoOf("the check's 300 KB client", 'x'.repeat(BIG), 4000);
  must(said, () => `The check's client could not send its 300 KB message.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const state = lesson.server?.state;
  must(
    echo && echo.length >= BIG,
    () =>
      state?.status === 'crashed'
        ? `The server crashed on the 300 KB message (#${said.conn}), and its connections ended with 1006:\n${lesson.trouble()}\nA spread (...data) passes every byte as an argument: ${BIG.toLocaleString('en-US')} arguments overflow the stack.`
        : `The server did not echo the 300 KB message (#${said.conn})${echo ? ` whole (its answer had ${echo.length} bytes)` : ''}.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: said.conn })}`,
  );
  await stillRunning('the big message');
});

/** About 100,000 characters of 1, 2, 3 and 4 bytes in UTF-8, in random order (about 260 KB). */
function manyBytesPerCharacter(): string {
  const pool = ['a', 'z', ' ', 'é', 'ß', 'Ω', 'ж', '€', '中', '한', '✓', '👋', '🎉', '𝄞'];
  const seed = randomBytes(100_000);
  return Array.from(seed, (b) => pool[b % pool.length]!).join('');
}

check('a long message full of characters of 2, 3 and 4 bytes came back character for character', { hint: 4 }, async () => {
  const text = manyBytesPerCharacter();
  const bytes = Buffer.byteLength(text);
  const { said, echo, verdict } = await echoOf("the check's long-text client", text, 4000);
  must(said, () => `The check's client could not send its long message.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const where = `#${said.conn}, ${bytes.toLocaleString('en-US')} bytes`;
  must(
    echo,
    () =>
      lesson.server?.state.status === 'crashed'
        ? `The server crashed on a long message of many-byte characters (${where}):\n${lesson.trouble()}`
        : `The server did not answer a long message of many-byte characters (${where}).\nThe wiretap saw:\n${lesson.wire.transcript({ conn: said.conn })}`,
  );
  must(echo.opcode === 1 && echo.utf8Valid !== false, `The server answered the long message (${where}) with ${echo.opcode === 2 ? 'a binary frame' : 'text that is not valid UTF-8'}: answer with a string.`);
  must(verdict, `The check's client got no answer it could read to its long message (${where}).`);
  must(
    verdict.whole,
    verdict.found && verdict.want
      ? `The check's client sent ${[...text].length.toLocaleString('en-US')} characters (${where}); the echo is right up to character ${verdict.index!.toLocaleString('en-US')}, then ${withBytes(verdict.want)} came back as '${shown(verdict.got ?? '')}'. A character's bytes were split: the message was decoded in pieces, and a piece ended in the middle of a character. Decode the whole Buffer at once.`
      : `The server's answer to the long message (${where}) does not contain it: it starts ${shown(verdict.text ?? '', 60)}`,
  );
});

/** A new client is still greeted: the server did not fall over. */
async function stillRunning(after: string): Promise<void> {
  const client = await lesson.runScript("the check's last client", "const socket = new WebSocket('ws://localhost:9900');");
  const greeted = await lesson.waitForType('message', (m) => m.dir === 'server' && lesson.connectionsOf(client).includes(m.conn), 3000);
  must(greeted && lesson.server?.state.status === 'running', () => `After ${after}, the server no longer greets a new client.\n${lesson.trouble()}`);
}

check('a binary message is not read as text: no U+FFFD in the answer, and the server kept running', { hint: 5 }, async () => {
  // Bytes that are not UTF-8 at all (ff, fe, a lone 80), and random ones.
  const bytes = [...Buffer.concat([Buffer.from([0xff, 0xfe, 0x80]), randomBytes(13)])];
  if (lesson.server && lesson.server.state.status !== 'running') await lesson.server.restart();
  const client = await lesson.runScript("the check's binary client", `const socket = new WebSocket('ws://localhost:9900');\nsocket.onopen = () => socket.send(new Uint8Array(${JSON.stringify(bytes)}));`);
  const said = await lesson.waitForType('message', (m) => m.dir === 'client' && m.opcode === 2 && lesson.connectionsOf(client).includes(m.conn), 3000);
  must(said, () => `The check's client could not send its bytes.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  // Any answer comes quickly; none at all is fine too (the server may ignore binary data).
  await lesson.settle(300, 2000);
  must(lesson.server?.state.status === 'running', () => `The server crashed on a binary message (#${said.conn}, ${bytes.length} bytes):\n${lesson.trouble()}\nBinary data is not text: check isBinary before decoding.`);
  const whole = lesson.wire.endOf(said);
  const answers = lesson.wire.messages('server').filter((m) => m.conn === said.conn && m.t > whole && m.opcode === 1);
  const bad = answers.find((m) => (m.text ?? '').includes('\ufffd'));
  must(
    !bad,
    () =>
      `The check's client sent the binary message ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')} (#${said.conn}), and the server answered:\n  ${shown(bad!.text ?? '')}\nEach � (U+FFFD, the replacement character) stands for bytes that are not UTF-8: the server decoded binary data as text. Use isBinary: binary data is not text.`,
  );
  await stillRunning('the binary message');
});
