import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageEvent } from '../../server/capture/events.ts';
import { check, must, useLesson } from '../harness.ts';

// The learner's server.js behind the wiretap, and the lesson's client.js (which offers
// permessage-deflate, as browsers do). What the server sends is fixed (feed.js): the wiretap
// measures every message on the wire and after inflation.
const lesson = useLesson(import.meta.url, { files: ['feed.js', 'ratio.json'] });

/** Messages of 32 bytes or less are the acknowledgements; the price updates are JSON of ~350. */
const SMALL = 32;
const TOLERANCE = 0.02;

let settled: Promise<void> | null = null;

/** The server's messages to the first client, once they are all there (the photo comes last). */
async function serverMessages(): Promise<MessageEvent[]> {
  settled ??= (async () => {
    await lesson.waitForType('message', (m) => m.dir === 'server' && m.opcode === 2, 20_000);
    await lesson.settle(300, 5000);
  })();
  await settled;
  const conn = lesson.wire.ofType('handshake').find((h) => h.outcome === 'upgraded')?.conn;
  must(conn !== undefined, () => `No WebSocket connection was made: is server.js listening on 9900?\n${lesson.trouble()}`);
  return lesson.wire.messages('server', conn);
}

const isUpdate = (m: MessageEvent) => m.opcode === 1 && (m.text ?? '').startsWith('{"type":"update"');
const pct = (n: number) => `${Math.round(n * 100)}%`;

check('the handshake negotiated permessage-deflate: the client offered it and your server accepted it', { hint: 1 }, async () => {
  await serverMessages();
  const h = lesson.wire.ofType('handshake').find((e) => e.outcome === 'upgraded')!;
  must(h.offeredExtensions.some((e) => e.name === 'permessage-deflate'), 'The client did not offer permessage-deflate (this lesson needs the client.js it came with).');
  const accepted = h.response?.headers.find(([name]) => name.toLowerCase() === 'sec-websocket-extensions')?.[1];
  must(
    h.deflate !== null,
    `The client offered permessage-deflate and your server's 101 ${accepted ? `accepted only "${accepted}"` : 'has no Sec-WebSocket-Extensions header'}: nothing on this connection can be compressed. ws's WebSocketServer turns it on with its perMessageDeflate option (off by default on a server).`,
  );
});

check('the price updates went compressed (RSV1), and smaller on the wire than inflated', { hint: 2 }, async () => {
  const messages = await serverMessages();
  const updates = messages.filter(isUpdate);
  must(updates.length >= 30, `Only ${updates.length} of the 30 price updates reached the client.\n${lesson.wire.transcript()}`);
  const plain = updates.filter((m) => !m.compressed);
  must(
    plain.length === 0,
    `${plain.length} of ${updates.length} price updates went uncompressed (the first: ${plain[0]?.length} bytes). A server compresses only the messages its settings let through: ws's perMessageDeflate.threshold (1,024 bytes unless you say otherwise) leaves every shorter message as it is.`,
  );
  const grown = updates.filter((m) => (m.wireLength ?? m.length) >= m.length);
  must(grown.length === 0, `${grown.length} compressed update(s) were not smaller on the wire than inflated.`);
});

check('the photo, already compressed, went uncompressed: deflate cannot shrink it and spends CPU trying', { hint: 3 }, async () => {
  const messages = await serverMessages();
  const photo = messages.find((m) => m.opcode === 2);
  must(photo, `The photo (a binary message of 16,384 bytes) did not reach the client.\n${lesson.wire.transcript()}`);
  must(
    !photo.compressed,
    `The photo went compressed: ${photo.length.toLocaleString('en-US')} bytes became ${photo.wireLength?.toLocaleString('en-US')} on the wire (${pct((photo.wireLength ?? 0) / photo.length)}). Its bytes are compressed already, like a JPEG's; a threshold cannot tell it from a long text message. Decide for this one message when it is sent.`,
  );
});

check('no message went compressed and came out larger: a message of a few bytes takes more room deflated than as it is', { hint: 2 }, async () => {
  const messages = await serverMessages();
  const small = messages.filter((m) => m.opcode === 1 && m.length <= SMALL);
  must(small.length > 0, `None of the short acknowledgements (ok, {"ack":true} ...) reached the client.\n${lesson.wire.transcript()}`);
  const grown = messages.filter((m) => m.compressed && (m.wireLength ?? 0) > m.length);
  const example = grown[0];
  must(
    grown.length === 0,
    example
      ? `${grown.length} message(s) went compressed and came out larger: ${example.opcode === 1 ? JSON.stringify(example.text) : 'a binary message'} is ${example.length} bytes and took ${example.wireLength} on the wire. Deflate needs 3 repeated bytes to save any; a message this short only gets its overhead. Send the short ones as they are.`
      : '',
  );
});

check("ratio.json gives the first and the last update's wire size as a share of its inflated size, as the inspector measures them (±0.02)", { hint: 4 }, async () => {
  const messages = await serverMessages();
  const updates = messages.filter(isUpdate);
  must(updates.length > 0 && updates.every((m) => m.compressed && m.wireLength !== undefined), 'The updates must go compressed first (see the checks above): there is no ratio to measure yet.');
  let answer: { first?: unknown; last?: unknown };
  try {
    answer = JSON.parse(readFileSync(join(lesson.dir, 'ratio.json'), 'utf8')) as typeof answer;
  } catch (err) {
    must(false, `ratio.json is not JSON: ${(err as Error).message}. It should read { "first": 0.NN, "last": 0.NN }.`);
    return;
  }
  const first = updates[0]!;
  const last = updates[updates.length - 1]!;
  const want = { first: first.wireLength! / first.length, last: last.wireLength! / last.length };
  for (const key of ['first', 'last'] as const) {
    const got = answer[key];
    const m = key === 'first' ? first : last;
    must(typeof got === 'number', `ratio.json's "${key}" is ${JSON.stringify(got)}: write the ${key} update's wire bytes divided by its inflated bytes, a number like 0.42 (open the message in the inspector: "N bytes on the wire → M bytes inflated").`);
    const inverted = got > 1 && Math.abs(1 / got - want[key]) <= TOLERANCE;
    must(
      Math.abs(got - want[key]) <= TOLERANCE,
      inverted
        ? `ratio.json's "${key}" is ${got}: that is inflated ÷ wire. The share is wire ÷ inflated: ${m.wireLength} ÷ ${m.length}.`
        : `ratio.json's "${key}" is ${got}; your server sent the ${key} update as ${m.wireLength} bytes on the wire for ${m.length} inflated: ${(m.wireLength! / m.length).toFixed(2)}.`,
    );
  }
});
