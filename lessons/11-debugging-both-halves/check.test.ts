import { randomInt } from 'node:crypto';
import { buildFrame } from '../../server/tap/crafter.ts';
import { check, must, useLesson } from '../harness.ts';

// The check's own client joins first, with a name of its own; then the learner's client runs.
const lesson = useLesson(import.meta.url, { client: false });

/** Names the check joins with, and welcomes the learner's client with: no program can know them beforehand. */
const NAMES = ['Grace', 'Alan', 'Barbara', 'Edsger', 'Frances', 'Donald', 'Radia', 'Margaret', 'Niklaus', 'Sophie'];
const someone = () => `${NAMES[randomInt(NAMES.length)]} ${String.fromCharCode(65 + randomInt(26))}${randomInt(100, 1000)}`;
const GUEST = someone();

function json(text: string | undefined): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text ?? '') as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

check(`the server welcomes a newcomer by the name it sent (the check joins as someone new each run)`, { hint: 2, timeout: 60_000 }, async () => {
  const probe = await lesson.runScript(
    "the check's client",
    `const socket = new WebSocket('ws://localhost:9900');
socket.onopen = () => socket.send(JSON.stringify({ type: 'join', name: ${JSON.stringify(GUEST)} }));`,
  );
  const join = await lesson.waitForType('message', (m) => m.dir === 'client' && lesson.connectionsOf(probe).includes(m.conn), 10_000);
  must(join, () => `The check's client could not join.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const answer = await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === join.conn && m.t > join.t, 2000);
  must(answer, () => `Your server did not answer ${join.text}.\n${lesson.trouble() || `The wiretap saw:\n${lesson.wire.transcript({ conn: join.conn })}`}`);
  const welcome = json(answer.text);
  must(welcome, `Your server answered ${join.text} with ${JSON.stringify(answer.text)}, which is not JSON: the client parses the welcome as JSON.`);
  must(
    welcome.text === `Welcome, ${GUEST}!`,
    `The check joined as ${GUEST} (#${join.conn}: ${join.text}), and your server answered ${answer.text}: its text should be 'Welcome, ${GUEST}!'. Stop on the line that builds it and look at what the message holds.`,
  );
});

check("your client printed the text of each welcome it got, as the welcome said it (the check sends it a second one)", { hint: 3, timeout: 60_000 }, async () => {
  const client = await lesson.runClient();
  const conn = await lesson.waitForType('message', (m) => m.dir === 'client' && lesson.connectionsOf(client).includes(m.conn), 10_000);
  must(conn, () => `Your client sent no message.\n${lesson.trouble() || `The wiretap saw:\n${lesson.wire.transcript()}`}`);
  const first = await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === conn.conn, 2000);
  must(first, () => `Your client joined (#${conn.conn}: ${conn.text}), and the server did not answer.\n${lesson.trouble()}`);
  const firstText = json(first.text)?.text;
  // The first welcome is the server's. Then a second one, as if from the server, with a name
  // picked now: the client can print it only by reading it off the wire.
  const other = someone();
  const second = JSON.stringify({ type: 'welcome', text: `Welcome, ${other}!` });
  let injected = true;
  try {
    lesson.tap!.inject(conn.conn, 'server', buildFrame({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 1, mask: false, payload: { kind: 'text', text: second } }).bytes);
  } catch {
    injected = false;
  }
  must(injected, () => `Your client's connection #${conn.conn} ended right after the welcome; it should stay open and print it.\n${lesson.wire.transcript({ conn: conn.conn })}`);
  const line = await client.waitForConsole((l) => l.text.trim() === `Welcome, ${other}!`, 3000);
  const printed = client.printed();
  const said = `It printed:\n${printed || '(nothing)'}`;
  must(
    line,
    () =>
      printed.includes('undefined')
        ? `Your client got ${first.text} and printed ${JSON.stringify(printed.split('\n')[0])}. Stop on its console.log line: what is event.data, a string or an object?${printed.includes('Welcome, undefined!') ? " (And the server's half: it says undefined instead of the name.)" : ''}`
        : printed.includes('{')
          ? `Your client printed the whole message, not its text: a welcome is {"type":"welcome","text":…}, print only its text.\n${said}`
          : typeof firstText === 'string' && printed.includes(firstText)
            ? `Your client printed ${JSON.stringify(firstText)} for its first welcome, but not the text of the second (${second}, sent by the check as if from the server): does it print what it received, or a text of its own?\n${said}`
            : `Your client got two welcomes (${first.text}, then ${second}) and did not print the text of the second, 'Welcome, ${other}!', by itself on a line.\n${said}`,
  );
});
