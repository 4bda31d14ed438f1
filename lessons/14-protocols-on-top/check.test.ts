import { randomBytes, randomInt } from 'node:crypto';
import type { AppViolationEvent, MessageEvent } from '../../server/capture/events.ts';
import { check, must, useLesson } from '../harness.ts';

// What a hard-coded answer cannot know: numbers, ids and method names picked for this run.
const A = randomInt(100, 1000);
const B = randomInt(100, 1000);
const C = randomInt(-500, 500);
const D = randomInt(1000, 100_000);
const E = randomInt(1, 100);
const F = randomInt(1, 100);
/** A number id, a string id that looks like a number to code that converts it, and others. */
const NUM_ID = randomInt(2, 1_000_000);
const STR_ID = `${randomInt(10, 99)}`;
const UNKNOWN = `${['subtract', 'divide', 'sqrt', 'echo'][randomInt(4)]}_${randomBytes(2).toString('hex')}`;
const UNKNOWN_ID = NUM_ID + randomInt(1, 1000);
/** A name every JavaScript object answers to: `methods[name]` finds it. */
const INHERITED = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'][randomInt(4)]!;
const INHERITED_ID = `call-${randomBytes(3).toString('hex')}`;
const LAST_ID = UNKNOWN_ID + randomInt(1, 1000);
const NOTE = `the check is here ${randomBytes(3).toString('hex')}`;
const NOT_JSON = `{"jsonrpc": "2.0", "method": "add", "id": ${randomInt(1000)}`;

const REQUESTS = [
  { jsonrpc: '2.0', method: 'log', params: [NOTE] },
  { jsonrpc: '2.0', id: NUM_ID, method: 'add', params: [A, B] },
  { jsonrpc: '2.0', id: STR_ID, method: 'add', params: [C, D] },
  { jsonrpc: '2.0', id: UNKNOWN_ID, method: UNKNOWN, params: [] },
  { jsonrpc: '2.0', id: INHERITED_ID, method: INHERITED, params: [] },
];

// The check's own client talks to the learner's server; the learner's client.js is the lesson's demo.
const lesson = useLesson(import.meta.url, { client: false });

/** What crossed the wire, read at the application layer the wiretap decoded. */
async function talk() {
  const lines = [...REQUESTS.map((r) => JSON.stringify(r)), NOT_JSON, JSON.stringify({ jsonrpc: '2.0', id: LAST_ID, method: 'add', params: [E, F] })];
  const probe = await lesson.runScript("the check's client", `const socket = new WebSocket('ws://localhost:9900');\nsocket.onopen = () => { for (const line of ${JSON.stringify(lines)}) socket.send(line); };\n`);
  const mine = (conn: number) => lesson.connectionsOf(probe).includes(conn);
  const sent = await lesson.waitForType('message', (m) => m.dir === 'client' && mine(m.conn), 5000);
  // The last request's answer, or the server's silence, ends the conversation.
  await lesson.waitForType('message', (m) => m.dir === 'server' && mine(m.conn) && m.app?.id === LAST_ID, 3000);
  await lesson.settle(300, 3000);
  const conn = sent?.conn;
  const answers = lesson.wire.messages('server').filter((m) => conn !== undefined && m.conn === conn && !m.injected);
  const broken = lesson.wire.ofType('appViolation').filter((v) => v.conn === conn && v.dir === 'server');
  const crashed = lesson.server?.state.status !== undefined && lesson.server.state.status !== 'running';
  return { conn, sent, answers, broken, crashed, crash: crashed ? lesson.trouble() : '' };
}

let talked: ReturnType<typeof talk> | null = null;
const conversation = () => (talked ??= talk());

/** A message as the inspector shows it: #3 '{"jsonrpc":"2.0",…}'. */
const shown = (m: MessageEvent) => `#${m.conn} '${(m.text ?? `(binary, ${m.length} bytes)`).slice(0, 160)}'`;

/** The answers (responses and errors) carrying this id, compared strictly: 7 and "7" are different ids. */
function answersTo(answers: MessageEvent[], id: string | number): MessageEvent[] {
  return answers.filter((m) => (m.app?.kind === 'response' || m.app?.kind === 'error') && m.app.id === id);
}

/** An answer whose id is the same once both are turned into strings (a server that converted it). */
function looselyTo(answers: MessageEvent[], id: string | number): MessageEvent | undefined {
  return answers.find((m) => m.app?.id !== undefined && m.app.id !== null && m.app.id !== id && String(m.app.id) === String(id));
}

const violation = (list: AppViolationEvent[], rule: string) => list.find((v) => v.rule === rule);

/** The later checks judge the decoded layer: none when the wiretap could not read the connection as JSON-RPC. */
function mustBeDecoded(answers: MessageEvent[]): void {
  must(answers.some((m) => m.app !== undefined), () => `The wiretap could not read your server's answers as JSON-RPC (see the first check), so this one cannot be judged yet.`);
}

check('your server speaks JSON-RPC 2.0 from its first message: every answer is a JSON object with "jsonrpc": "2.0"', { hint: 1 }, async () => {
  const { sent, answers, broken, crashed, crash } = await conversation();
  must(sent, () => `The check's client could not send its requests.\n${lesson.trouble()}\nThe wiretap saw:\n${lesson.wire.transcript({ max: 20 })}`);
  must(answers.length > 0, () => `The check's client sent ${REQUESTS.length + 2} JSON-RPC messages (#${sent.conn}), and your server answered none of them.${crashed ? `\n${crash}` : ''}\nThe wiretap saw:\n${lesson.wire.transcript({ conn: sent.conn })}`);
  const undecoded = answers.find((m) => m.app === undefined);
  must(
    !undecoded,
    () =>
      `Your server sent ${shown(undecoded!)}: that is no JSON-RPC, and on a JSON-RPC connection every message is JSON-RPC${undecoded === answers[0] ? ' (a greeting too: the wiretap reads a connection as JSON-RPC from its first message, and this one is not)' : ''}. Send only JSON-RPC objects: answers to requests.`,
  );
  const version = violation(broken, 'json-rpc-version');
  must(!version, () => `${version!.message} Your server sent ${shown(answers.find((m) => m.firstFrame === version!.at?.firstFrame) ?? answers[0]!)}: the version is the string "2.0", exactly.`);
});

check('each request gets one answer with its own id, of the same type (a number stays a number, a string a string), and add answers the sum', { hint: 2 }, async () => {
  const { answers } = await conversation();
  mustBeDecoded(answers);
  for (const [id, sum, params] of [
    [NUM_ID, A + B, [A, B]],
    [STR_ID, C + D, [C, D]],
  ] as const) {
    const request = JSON.stringify({ jsonrpc: '2.0', id, method: 'add', params });
    const mine = answersTo(answers, id);
    if (mine.length === 0) {
      const loose = looselyTo(answers, id);
      must(!loose, () => `The check sent ${request}, and your server answered ${shown(loose!)}: its id is ${JSON.stringify(loose!.app!.id)}, not ${JSON.stringify(id)}. The id goes back as it came, its type too: copy request.id, do not convert it.`);
      const other = answers.find((m) => m.app?.kind === 'response' && m.app.result === sum);
      must(!other, () => `The check sent ${request}, and your server answered ${shown(other!)}: the sum is right, but the id is ${JSON.stringify(other!.app!.id)}, not ${JSON.stringify(id)}. An answer carries the id of the request it answers (request.id): that is how the client pairs them.`);
      must(false, () => `The check sent ${request}, and your server sent no answer with the id ${JSON.stringify(id)}.\nIt answered:\n${answers.map(shown).join('\n') || '(nothing)'}`);
    }
    must(mine.length === 1, () => `The check sent ${request} once, and your server answered it ${mine.length} times:\n${mine.map(shown).join('\n')}\nOne request, one answer.`);
    const got = mine[0]!;
    must(got.app!.kind === 'response', () => `The check sent ${request}, and your server answered with an error: ${shown(got)}. add is one of its methods: answer with its result.`);
    must(got.app!.result === sum, () => `The check sent ${request}, and your server answered ${shown(got)}: the result should be ${sum}, the sum of ${params[0]} and ${params[1]}.`);
  }
});

check(`a method the server does not have gets an error object: code -32601, the request's id, and no result`, { hint: 3 }, async () => {
  const { answers, broken } = await conversation();
  mustBeDecoded(answers);
  for (const [method, id] of [
    [UNKNOWN, UNKNOWN_ID],
    [INHERITED, INHERITED_ID],
  ] as const) {
    const request = JSON.stringify({ jsonrpc: '2.0', id, method, params: [] });
    const mine = answersTo(answers, id);
    const loose = mine.length === 0 ? looselyTo(answers, id) : undefined;
    must(!loose, () => `The check sent ${request}, and your server answered ${shown(loose!)}: its id is ${JSON.stringify(loose!.app!.id)}, not ${JSON.stringify(id)}.`);
    must(mine.length > 0, () => `The check sent ${request}, a method your server does not have, and got no answer with its id: a request always gets an answer, an error when it cannot be carried out.${method === INHERITED ? ` (Did your server call ${method}? Every JavaScript object has one: look the name up with Object.hasOwn.)` : ''}`);
    must(mine.length === 1, () => `The check sent ${request} once, and your server answered it ${mine.length} times:\n${mine.map(shown).join('\n')}`);
    const got = mine[0]!;
    const both = violation(broken, 'json-rpc-result-and-error');
    must(!(both && both.at?.firstFrame === got.firstFrame), () => `The check sent ${request}, and your server answered ${shown(got)}: a "result" and an "error" together. An answer has exactly one of them: leave "result" out of an error.`);
    if (method === INHERITED && got.app!.kind === 'response') {
      must(false, () => `The check sent ${request}, and your server answered ${shown(got)}: it found "${method}" among its methods, but that is a method every JavaScript object inherits (methods["${method}"] is Object.prototype.${method}). A name from the wire is input: look it up with Object.hasOwn(methods, name).`);
    }
    must(got.app!.kind === 'error', () => `The check sent ${request}, a method your server does not have, and your server answered ${shown(got)}: that is a result, and the client takes it for a success. Answer with an "error" object instead.`);
    const code = (got.app as { error?: { code: number } }).error?.code;
    must(code === -32601, () => `The check sent ${request}, and your server answered ${shown(got)}: the error's code should be -32601 (Method not found), the code JSON-RPC reserves for it${code === undefined ? ', and an error is an object with a "code" and a "message"' : ''}.`);
  }
});

check('a notification (a request without an id) gets no answer at all', { hint: 4 }, async () => {
  const { answers } = await conversation();
  mustBeDecoded(answers);
  const notification = JSON.stringify(REQUESTS[0]);
  const sentIds = new Set<unknown>([NUM_ID, STR_ID, UNKNOWN_ID, INHERITED_ID, LAST_ID]);
  // The parse error's answer has id null, with code -32700; any other answer naming no request answers the notification.
  // An answer to a notification often has no id and no result (JSON.stringify leaves out undefined): `{"jsonrpc":"2.0"}` is one.
  const stray = answers.find((m) => {
    const app = m.app;
    if (!app) return false;
    if (app.kind !== 'response' && app.kind !== 'error') return app.kind === undefined && app.type !== 'batch';
    if (app.id !== undefined && app.id !== null && sentIds.has(app.id)) return false;
    const code = (app as { error?: { code: number } }).error?.code;
    return !(app.id === null && code === -32700);
  });
  must(
    !stray,
    () =>
      `The check sent the notification ${notification} (no id: the sender wants no answer), and your server answered it: ${shown(stray!)}. A notification is carried out and never answered, not even with an error: check whether the request has an "id" before answering.`,
  );
});

check('text that is not JSON gets error -32700 with id null, and the connection stays open for the next request', { hint: 5 }, async () => {
  const { answers, crashed, crash, conn } = await conversation();
  must(!crashed, () => `The check sent the text ${NOT_JSON} (broken JSON), and your server crashed: JSON.parse throws on it, and nothing caught it.\n${crash}`);
  const end = lesson.wire.ofType('end').find((e) => e.conn === conn);
  const parseError = answers.find((m) => m.app?.kind === 'error' && (m.app as { error?: { code: number } }).error?.code === -32700);
  must(parseError, () => `The check sent the text ${NOT_JSON} (broken JSON), and your server did not answer it with error -32700 (Parse error).${end ? ` The connection ended (TCP end by ${end.by}).` : ''}\nIt answered:\n${answers.map(shown).join('\n') || '(nothing)'}`);
  must(parseError.app!.id === null, () => `Your server answered the broken JSON with ${shown(parseError)}: its id should be null, as no id could be read from text that is not JSON.`);
  const last = answersTo(answers, LAST_ID);
  must(
    last.length === 1 && last[0]!.app!.kind === 'response' && last[0]!.app!.result === E + F,
    () => `After the broken JSON the check sent ${JSON.stringify({ jsonrpc: '2.0', id: LAST_ID, method: 'add', params: [E, F] })}, and your server did not answer it with the result ${E + F}${end ? ` (the connection ended: TCP end by ${end.by})` : ''}: keep the connection, and go on answering.`,
  );
});
