import { createHash, randomBytes } from 'node:crypto';
import { computeAccept } from '../../server/protocol/handshake.ts';
import { bytesOf, check, must, until, useLesson, type CallResult, type ClientRun } from '../harness.ts';

/** RFC 6455 §1.3's example, byte for byte. */
const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const BROWSERS = 3;

// The clients are started by the checks: three browsers, one after the other, each with its own key.
const lesson = useLesson(import.meta.url, { client: false, files: ['accept.js'] });

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function shown(r: CallResult | undefined): string {
  if (!r) return 'nothing';
  if (!r.ok) return `an error (${r.error})`;
  const bytes = bytesOf(r.value);
  if (bytes) return `${bytes.length} bytes (a Buffer)`;
  return r.value === undefined ? 'undefined' : JSON.stringify(r.value);
}

const sha1 = (data: string | Buffer) => createHash('sha1').update(data);

/**
 * What a wrong answer for `key` most likely is, in the recipe's words: the usual slips give
 * these exact values. Empty when it is none of them.
 */
function diagnose(key: string, r: CallResult | undefined): string {
  if (!r?.ok) return '';
  const bytes = bytesOf(r.value);
  if (bytes && bytes.equals(sha1(key + GUID).digest())) return ' Those are the right 20 bytes: encode them in base64 (a string of 28 characters).';
  if (typeof r.value !== 'string') return ' accept() must return a string: the header line holds text.';
  const v = r.value;
  if (v === RFC_ACCEPT && key !== RFC_KEY) return " That is the RFC example's answer, for the RFC's key: every key has its own answer, computed from it.";
  const slips: Array<[string, string]> = [
    [sha1(key).digest('base64'), 'That is base64(SHA-1(key)): the GUID is missing. Append it to the key before hashing.'],
    [sha1(key + GUID).digest('hex'), 'That is the hash in hex (40 characters). The header carries it in base64: 28 characters.'],
    [Buffer.from(sha1(key + GUID).digest('hex')).toString('base64'), 'That is the base64 of the hex text of the hash: encode the 20 bytes of the hash themselves in base64, not their hex spelling.'],
    [sha1(Buffer.concat([Buffer.from(key, 'base64'), Buffer.from(GUID)])).digest('base64'), "That hashes the key's 16 decoded bytes: use the key as the client sent it, the 24 characters of text."],
    [sha1(GUID + key).digest('base64'), 'That hashes GUID + key: the key comes first, then the GUID.'],
    [sha1(`${key} ${GUID}`).digest('base64'), 'There is a space between the key and the GUID: nothing goes between them.'],
  ];
  const slip = slips.find(([value]) => value === v);
  return slip ? ` ${slip[1]}` : '';
}

/** 20 keys made up for this check, that no accept.js can know in advance. */
const KEYS = Array.from({ length: 20 }, () => randomBytes(16).toString('base64'));
let answers: Promise<CallResult[]> | null = null;

/** accept() of the RFC's key, then of KEYS, in one child process (a process takes seconds to start on a busy machine). */
function accepted(): Promise<CallResult[]> {
  answers ??= lesson.callExport('accept.js', 'accept', [[RFC_KEY], ...KEYS.map((k) => [k])]);
  return answers;
}

check("accept() gives the RFC's answer for the RFC's example key", { hint: 1 }, async () => {
  const [r] = await accepted();
  must(
    r?.ok && r.value === RFC_ACCEPT,
    () => `accept('${RFC_KEY}') returned ${shown(r)}; RFC 6455 §1.3 says '${RFC_ACCEPT}'.${diagnose(RFC_KEY, r) || ' Hash key + GUID with SHA-1, then base64 the 20 bytes.'}`,
  );
});

check('accept() computes the answer for any key: 20 random keys, new on every check', { hint: 2 }, async () => {
  const results = (await accepted()).slice(1);
  const wrong = KEYS.findIndex((k, i) => !(results[i]?.ok && results[i].value === computeAccept(k)));
  must(wrong === -1, () => `accept('${KEYS[wrong]}') returned ${shown(results[wrong])}; the right answer is '${computeAccept(KEYS[wrong]!)}'.${diagnose(KEYS[wrong]!, results[wrong])}`);
});

let browsers: Promise<void> | null = null;

/**
 * Three browsers connect: three handshakes, three random keys. Started together (a client
 * process takes seconds to start on a busy machine); no check here needs to know which
 * connection is whose, each client's own console says whether it got the greeting.
 */
function connectBrowsers(): Promise<void> {
  browsers ??= (async () => {
    const clients = await Promise.all(Array.from({ length: BROWSERS }, (_, i) => lesson.runClient({ name: `client ${String.fromCharCode(65 + i)}` })));
    // Each either gets the greeting or is closed by its browser (a bad Accept).
    const settled = (c: ClientRun) => (c.sockets.some((s) => s.event === 'close') || c.console.some((l) => l.text.includes('Hello webSocket')) ? true : undefined);
    await Promise.all(clients.map((c) => until(() => settled(c), 6000)));
    await lesson.settle(250, 2000);
  })();
  return browsers;
}

check(`the browser accepted your 101 on ${BROWSERS} connections, each with its own key`, { hint: 3 }, async () => {
  await connectBrowsers();
  const upgrades = lesson.wire.ofType('handshake').filter((h) => h.outcome === 'upgraded');
  must(upgrades.length >= BROWSERS, () => `The server answered ${upgrades.length} of ${BROWSERS} upgrade requests with a 101.\nThe wiretap saw:\n${lesson.wire.transcript()}`);
  for (const h of upgrades) {
    must(
      h.acceptValid,
      () =>
        `For the key ${h.key} the server sent Sec-WebSocket-Accept: '${h.accept ?? ''}', but the browser expects '${h.expectedAccept}'. The browser closed the connection (1006).${
          h.accept === computeAccept('undefined')
            ? " That is accept(undefined): server.js found no key in request.headers (Node gives header names in lower case)."
            : diagnose(h.key ?? '', { ok: true, value: h.accept ?? '' })
        }`,
    );
  }
  must(new Set(upgrades.map((h) => h.key)).size === upgrades.length, 'Two connections had the same key: every browser connection should bring a fresh one.');
});

check("the greeting reached every browser: the connection stayed open after the 101", { hint: 3 }, async () => {
  await connectBrowsers();
  for (const c of lesson.clients) {
    const line = await c.waitForConsole('Hello webSocket', 1500);
    const closed = c.sockets.find((s) => s.event === 'close');
    must(
      line,
      `${c.name} never received 'Hello webSocket'${closed ? `: the browser closed the connection with code ${closed.code} right after the handshake` : ''}.`,
    );
  }
});

check('a plain GET to port 9900 is answered 426 Upgrade Required', { hint: 3 }, async () => {
  const res = await lesson.httpGet('/').catch((err: Error) => ({ status: 0, body: err.message }));
  const seen = await lesson.waitForType('handshake', (h) => h.outcome === 'plain-http', 2000);
  must(seen, () => `The wiretap saw no plain HTTP exchange for GET / (the answer was: ${res.status || res.body}).`);
  must(
    seen.response?.status === 426,
    `GET / was answered ${seen.response ? `${seen.response.status} ${seen.response.reason}` : 'with nothing'}, not 426 Upgrade Required.`,
  );
});
