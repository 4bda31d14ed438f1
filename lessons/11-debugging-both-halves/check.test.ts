import { check, must, useLesson } from '../harness.ts';

// The check's own client joins first, with a name of its own; then the learner's client runs.
const lesson = useLesson(import.meta.url, { client: false });

function json(text: string | undefined): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text ?? '') as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

check("the server welcomes a newcomer by the name it sent: 'Welcome, Grace!'", { hint: 2 }, async () => {
  const probe = await lesson.runScript(
    "the check's client",
    `const socket = new WebSocket('ws://localhost:9900');
socket.onopen = () => socket.send(JSON.stringify({ type: 'join', name: 'Grace' }));`,
  );
  const join = await lesson.waitForType('message', (m) => m.dir === 'client' && lesson.connectionsOf(probe).includes(m.conn), 3000);
  must(join, () => `The check's client could not join.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  const answer = await lesson.waitForType('message', (m) => m.dir === 'server' && m.conn === join.conn && m.t > join.t, 2000);
  must(answer, () => `Your server did not answer {"type":"join","name":"Grace"}.\n${lesson.trouble() || `The wiretap saw:\n${lesson.wire.transcript({ conn: join.conn })}`}`);
  const welcome = json(answer.text);
  must(welcome, `Your server answered ${JSON.stringify(answer.text)}, which is not JSON.`);
  must(
    welcome.text === 'Welcome, Grace!',
    `Your server answered the join of Grace with ${answer.text}: its text should be 'Welcome, Grace!'. Stop on the line that builds it and look at what the message holds.`,
  );
});

check("your client printed the text of its welcome: 'Welcome, Ada!'", { hint: 3 }, async () => {
  const client = await lesson.runClient();
  const line = await client.waitForConsole((l) => l.text.trim() === 'Welcome, Ada!', 3000);
  const printed = client.printed();
  must(
    line,
    () =>
      printed.includes('undefined')
        ? `Your client printed ${JSON.stringify(printed)}. Stop on its console.log line: what is event.data, a string or an object?${printed.includes('Welcome, undefined!') ? " (And the server's half: it says undefined instead of the name.)" : ''}`
        : `Your client did not print 'Welcome, Ada!' by itself on a line.\nIt printed:\n${printed || '(nothing)'}`,
  );
});
