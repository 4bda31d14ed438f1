import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { ControlEvent, WireEvent } from '../../server/capture/events.ts';
import { bytesArg, bytesOf, callExport, check, must, until, useLesson, type CallResult } from '../harness.ts';

// The check is the client: it sends what browsers rarely send (fragments, a ping between them),
// by hand, through the wiretap, with every byte it sends cut into a TCP chunk of its own (the
// "Split into tiny TCP chunks" fault) so the server meets the cuts a real network makes.
const lesson = useLesson(import.meta.url, {
  client: false,
  files: ['decode-frame.js', 'message-reader.js', 'handshake.js', 'encode-frame.js', 'fragments.js'],
  faults: [{ kind: 'split', value: 1, dir: 'client' }],
});

/** Limits for the learner's code: no single allocation above 16 MiB, a small heap. */
const LIMITS = { maxAllocBytes: 16 * 1024 * 1024, heapMb: 256 };
const OPCODE_NAMES: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

const hexOf = (b: Buffer, max = 12) =>
  [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, '0')).join(' ') + (b.length > max ? ` … (${b.length.toLocaleString('en-US')} bytes)` : '');

/** One frame as a client sends it: masked with a fresh key, the length in its smallest form. */
function frame(fin: boolean, opcode: number, payload: Buffer, masked = true): Buffer {
  const n = payload.length;
  const len = n <= 125 ? Buffer.from([n]) : n <= 0xffff ? Buffer.from([126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([127]), u64(n)]);
  const key = masked ? randomBytes(4) : Buffer.alloc(0);
  if (masked) len[0]! |= 0x80;
  const body = masked ? Buffer.from(payload.map((b, i) => b ^ key[i % 4]!)) : payload;
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode]), len, key, body]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

// ---------------------------------------------------------------------------------------------
// The reader, run in a child process: one reader per call, fed a list of chunks.

type Want = { type: 'message'; opcode: 1 | 2; data: Buffer } | { type: 'ping' | 'pong' | 'close'; payload: Buffer };

let driverDir: string | null = null;
afterAll(() => {
  if (driverDir) rmSync(driverDir, { recursive: true, force: true });
});

/** A module that makes one reader from the learner's message-reader.js and pushes the chunks it is given. */
function driver(): string {
  if (driverDir) return driverDir;
  driverDir = mkdtempSync(join(tmpdir(), 'wsplay-16-'));
  const reader = join(lesson.dir, 'message-reader.js');
  writeFileSync(
    join(driverDir, 'drive.js'),
    `module.exports = function drive(chunks) {
  let mod;
  try { mod = require(${JSON.stringify(reader)}); } catch (e) {
    throw new Error('message-reader.js could not be loaded: ' + String(e && e.stack || e).split('\\n').slice(0, 3).join(' / '));
  }
  const create = typeof mod === 'function' ? mod : mod && (mod.createReader || mod.default);
  if (typeof create !== 'function') throw new Error('message-reader.js exports no function (module.exports = function createReader() {...})');
  const reader = create();
  if (!reader || typeof reader.push !== 'function') throw new Error('createReader() returned no object with a push(chunk) method');
  return chunks.map((chunk) => {
    const events = reader.push(chunk);
    return events === undefined ? [] : events;
  });
};
`,
  );
  return driverDir;
}

/** Each run's chunks pushed into a fresh reader: per run, what each push returned. */
async function runReader(runs: Buffer[][]): Promise<CallResult[]> {
  try {
    return await callExport(driver(), 'drive.js', 'drive', runs.map((chunks) => [chunks.map((c) => bytesArg(c))]), 10_000, LIMITS);
  } catch (err) {
    const msg = (err as Error).message.replace(/drive\.js/g, 'message-reader.js');
    must(false, /did not return/.test(msg) ? `${msg} Does push() loop while waiting for bytes that have not arrived? It should return and wait for the next chunk.` : msg);
    throw err;
  }
}

/** A learner's event, in words. */
function describeGot(e: unknown): string {
  if (!e || typeof e !== 'object') return JSON.stringify(e) ?? String(e);
  const o = e as Record<string, unknown>;
  const body = o.type === 'message' ? o.data : (o.payload ?? o.data);
  const b = bytesOf(body);
  const shown = typeof body === 'string' ? JSON.stringify(body.length > 40 ? `${body.slice(0, 40)}…` : body) : b ? hexOf(b) : JSON.stringify(body);
  return `${String(o.type)}${o.type === 'message' ? ` (opcode ${JSON.stringify(o.opcode)})` : ''} ${shown}`;
}

function describeWant(w: Want): string {
  if (w.type === 'message') {
    const shown = w.opcode === 1 ? JSON.stringify(w.data.toString('utf8').length > 40 ? `${w.data.toString('utf8').slice(0, 40)}…` : w.data.toString('utf8')) : hexOf(w.data);
    return `message (opcode ${w.opcode}) ${shown}`;
  }
  return `${w.type} ${hexOf(w.payload)}`;
}

/** Why the learner's event is not the one wanted; null when it is. */
function eventDifference(got: unknown, want: Want): string | null {
  if (!got || typeof got !== 'object') return `an event must be an object { type, ... }, not ${JSON.stringify(got)}`;
  const o = got as Record<string, unknown>;
  if (o.type !== want.type) return `it is a ${JSON.stringify(o.type)} where a ${want.type} comes`;
  if (want.type === 'message') {
    if (o.opcode !== want.opcode)
      return `its opcode is ${JSON.stringify(o.opcode)}; a message's opcode is its first frame's (${want.opcode}, ${OPCODE_NAMES[want.opcode]}): continuations carry 0`;
    if (typeof o.data === 'string') {
      if (want.opcode !== 1) return 'a binary message came out as a string: keep its bytes (a Buffer)';
      if (o.data !== want.data.toString('utf8')) return `its text differs: ${JSON.stringify(o.data.slice(0, 40))} instead of ${JSON.stringify(want.data.toString('utf8').slice(0, 40))}`;
      return null;
    }
    const data = bytesOf(o.data);
    if (!data) return `its data is ${JSON.stringify(o.data)?.slice(0, 40)}, not bytes (a Buffer) or text`;
    if (!data.equals(want.data)) return `its data is ${hexOf(data)} instead of ${hexOf(want.data)}`;
    return null;
  }
  const payload = bytesOf(o.payload ?? o.data);
  if (!payload) return `its payload is ${JSON.stringify(o.payload)?.slice(0, 40)}, not bytes (a Buffer)`;
  if (!payload.equals(want.payload)) return `its payload is ${hexOf(payload)} instead of ${hexOf(want.payload)}`;
  return null;
}

/** What a run returned, all pushes together; or a sentence when it is not a list of events per push. */
function flatten(r: CallResult): unknown[] | string {
  if (!r.ok) return `push() threw ${r.error}`;
  const pushes = r.value as unknown[];
  const out: unknown[] = [];
  for (const [i, events] of pushes.entries()) {
    if (!Array.isArray(events)) return `push() #${i + 1} returned ${JSON.stringify(events)?.slice(0, 60)}, not a list of events`;
    out.push(...(events as unknown[]));
  }
  return out;
}

/** The first way the events differ from the wanted ones, in words; null when they do not. */
function listDifference(got: unknown[], want: Want[]): string | null {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (i >= got.length) return `the reader gave ${got.length} event(s) and stopped; next should come the ${describeWant(want[i]!)}`;
    if (i >= want.length) return `after the ${want.length} event(s) the stream holds, the reader gave one more: ${describeGot(got[i])}`;
    const d = eventDifference(got[i], want[i]!);
    if (d) return `event ${i + 1} should be the ${describeWant(want[i]!)}, and ${d}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// frameSize

interface SizeCase {
  bytes: Buffer;
  /** Bytes needed before the length is known (2, 4 or 10). */
  lengthEnd: number;
  headerLength: number;
  total: number;
  masked: boolean;
  payload: number;
}

function sizeCases(): SizeCase[] {
  const lengths = [0, randomInt(1, 125), 125, 126, randomInt(127, 65535), 65535, 65536, randomInt(65537, 1 << 20)];
  const out: SizeCase[] = [];
  for (const n of lengths) {
    for (const masked of [false, true]) {
      const lengthEnd = n <= 125 ? 2 : n <= 0xffff ? 4 : 10;
      const headerLength = lengthEnd + (masked ? 4 : 0);
      // Only the header and a few payload bytes: frameSize must answer from the header alone.
      const header = frame(true, randomInt(2) ? 1 : 2, Buffer.alloc(0), masked).subarray(0, 1);
      const len = n <= 125 ? Buffer.from([n]) : n <= 0xffff ? Buffer.from([126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([127]), u64(n)]);
      if (masked) len[0]! |= 0x80;
      const full = Buffer.concat([header, len, masked ? randomBytes(4) : Buffer.alloc(0), randomBytes(Math.min(n, 3))]);
      for (let k = 0; k <= full.length; k++) out.push({ bytes: full.subarray(0, k), lengthEnd, headerLength, total: headerLength + n, masked, payload: n });
    }
  }
  return out;
}

check('frameSize(bytes) says how many bytes a frame takes from its header alone, at every length encoding, masked or not, and null until the length is all there', { hint: 1 }, async () => {
  const cases = sizeCases();
  let results: CallResult[];
  try {
    results = await lesson.callExport('decode-frame.js', 'frameSize', cases.map((c) => [bytesArg(c.bytes)]), 8000, LIMITS);
  } catch (err) {
    must(false, `decode-frame.js: ${(err as Error).message} It should export { decodeFrame, frameSize }.`);
    return;
  }
  for (const [i, c] of cases.entries()) {
    const r = results[i];
    const call = `frameSize(${c.bytes.length === 0 ? 'an empty Buffer' : hexOf(c.bytes, 14)})`;
    must(r?.ok, `${call} threw ${r && !r.ok ? r.error : 'nothing came back'}: return null while the bytes do not say yet.`);
    const v = r.value;
    const unknown = v === null || v === undefined;
    const key = c.masked && v === c.total - 4 ? ' A masked frame has its 4-byte masking key between the length and the payload.' : '';
    if (c.bytes.length < c.lengthEnd) {
      must(
        unknown,
        `${call} returned ${JSON.stringify(v)}, but its first ${c.bytes.length} byte(s) do not hold the whole length yet (it needs ${c.lengthEnd}): return null and wait for more.`,
      );
    } else if (c.bytes.length < c.headerLength) {
      // The masking key is not all there; the length is. Either answer is right.
      must(unknown || v === c.total, `${call} returned ${JSON.stringify(v)}; the frame takes ${c.total.toLocaleString('en-US')} bytes (or say null until its masking key is there too).${key}`);
    } else {
      must(
        v === c.total,
        `${call} returned ${JSON.stringify(v)}; this frame takes ${c.total.toLocaleString('en-US')} bytes: ${c.lengthEnd} of header${c.masked ? ', 4 of masking key' : ''} and ${c.payload.toLocaleString('en-US')} of payload.${key}`,
      );
    }
  }
});

// ---------------------------------------------------------------------------------------------
// The reader

const text = (s: string): Want => ({ type: 'message', opcode: 1, data: Buffer.from(s) });

check("the reader joins a message's fragments: RFC 6455 §5.7's 'Hel' + 'lo' is one text message 'Hello', and a binary message in fragments keeps opcode 2", { hint: 2 }, async () => {
  const bin = randomBytes(randomInt(10, 100));
  const cut = randomInt(1, bin.length);
  const runs = [
    // §5.7's example as it is (unmasked), then the same masked, as a client sends it.
    [Buffer.from('010348656c80026c6f', 'hex')],
    [Buffer.concat([frame(false, 1, Buffer.from('Hel')), frame(true, 0, Buffer.from('lo'))])],
    [Buffer.concat([frame(false, 2, bin.subarray(0, cut)), frame(false, 0, Buffer.alloc(0)), frame(true, 0, bin.subarray(cut))])],
  ];
  const wants: Want[][] = [[text('Hello')], [text('Hello')], [{ type: 'message', opcode: 2, data: bin }]];
  const results = await runReader(runs);
  for (const [i, r] of results.entries()) {
    const got = flatten(r);
    const what = ["§5.7's unmasked 'Hel' + 'lo'", "a masked 'Hel' + 'lo'", `a binary message of ${bin.length} bytes in three fragments (the middle one empty)`][i];
    must(typeof got !== 'string', `Pushing ${what} in one chunk: ${got as string}.`);
    const d = listDifference(got, wants[i]!);
    must(d === null, `Pushing ${what} in one chunk: ${d}.`);
  }
});

check('a character whose UTF-8 bytes are split between two fragments comes out whole', { hint: 2 }, async () => {
  const words = ['héllo', 'wörld', 'ça va', 'naïve', '✓ done', '👋 hi'];
  const s = `${words[randomInt(words.length)]} ${words[randomInt(words.length)]} ${randomInt(1000)}`;
  const bytes = Buffer.from(s);
  // Cut right after the first byte of a multibyte character.
  const lead = [...bytes].findIndex((b) => b >= 0xc0);
  const cut = lead + 1;
  const results = await runReader([[Buffer.concat([frame(false, 1, bytes.subarray(0, cut)), frame(true, 0, bytes.subarray(cut))])]]);
  const got = flatten(results[0]!);
  must(typeof got !== 'string', `Pushing ${JSON.stringify(s)} in two fragments: ${got as string}.`);
  const d = listDifference(got, [text(s)]);
  must(
    d === null,
    `Pushing ${JSON.stringify(s)} in two fragments, cut inside a character (after byte ${cut}, ${hexOf(bytes.subarray(cut - 1, cut + 1))}): ${d}. A fragment is bytes, not text: a character may start in one and end in the next. Join the bytes first; text is what the whole message decodes to.`,
  );
});

check('a ping between two fragments comes out as soon as it is whole, before the message ends, and the message around it stays whole', { hint: 3 }, async () => {
  const first = `part one ${randomInt(1000)}, `;
  const second = `part two ${randomInt(1000)}`;
  const ping = randomBytes(randomInt(1, 16));
  const results = await runReader([[frame(false, 1, Buffer.from(first)), frame(true, 9, ping), frame(true, 0, Buffer.from(second))]]);
  const r = results[0]!;
  must(r.ok, `push() threw ${!r.ok ? r.error : ''}.`);
  const pushes = r.value as unknown[][];
  must(Array.isArray(pushes) && pushes.every(Array.isArray), `push() should return a list of events each time (an empty list when nothing is whole yet).`);
  const [a, b, c] = pushes as unknown[][];
  must(a!.length === 0, `After the first fragment alone (FIN 0), push() returned ${a!.map(describeGot).join(', ')}: the message is not over until a frame with FIN 1 ends it.`);
  must(
    b!.length === 1 && eventDifference(b![0], { type: 'ping', payload: ping }) === null,
    b!.length === 0
      ? 'After the ping frame, push() returned nothing: the ping was held back until the message ends. A control frame is whole in itself; it must come out at once (the peer may be waiting for its pong before it sends the rest).'
      : `After the ping frame, push() returned ${b!.map(describeGot).join(', ')}; it should return the ping (payload ${hexOf(ping)}) and nothing else.`,
  );
  const d = listDifference(c!, [text(first + second)]);
  must(d === null, `After the last fragment (FIN 1), push() should return the whole message; ${d}. A ping between fragments neither ends the message nor starts a new one.`);
});

interface Piece {
  bytes: Buffer;
  what: string;
}

/** A stream of client frames (masked), random each run, and the events it holds. */
function stream(): { pieces: Piece[]; bytes: Buffer; want: Want[] } {
  const a = Buffer.from(`fragment one ${randomBytes(randomInt(4, 20)).toString('hex')} `);
  const b = Buffer.from(`fragment two, long enough for a 16-bit length: ${'x'.repeat(randomInt(90, 160))} `);
  const c = Buffer.from(`three ${randomInt(1000)}`);
  const ping = randomBytes(randomInt(0, 20));
  const bin = randomBytes(randomInt(130, 300));
  const pong = randomBytes(randomInt(1, 8));
  const close = Buffer.from([0x03, 0xe8]);
  const pieces: Piece[] = [
    { bytes: frame(false, 1, a), what: 'the first fragment of a text message' },
    { bytes: frame(true, 9, ping), what: 'a ping between fragments' },
    { bytes: frame(false, 0, b), what: 'a continuation (16-bit length)' },
    { bytes: frame(true, 0, c), what: 'the last continuation (FIN 1)' },
    { bytes: frame(true, 2, bin), what: 'a binary message in one frame' },
    { bytes: frame(true, 10, pong), what: 'a pong' },
    { bytes: frame(true, 1, Buffer.from('ok')), what: "a text message 'ok'" },
    { bytes: frame(true, 8, close), what: 'a close frame (1000)' },
  ];
  const want: Want[] = [
    { type: 'ping', payload: ping },
    text(`${a}${b}${c}`),
    { type: 'message', opcode: 2, data: bin },
    { type: 'pong', payload: pong },
    text('ok'),
    { type: 'close', payload: close },
  ];
  return { pieces, bytes: Buffer.concat(pieces.map((p) => p.bytes)), want };
}

/** Where byte `at` of the stream is, in words: "in the header of frame 3 (a continuation)". */
function whereIn(pieces: Piece[], at: number): string {
  let start = 0;
  for (const [i, p] of pieces.entries()) {
    if (at < start + p.bytes.length) {
      const off = at - start;
      const headerLength = 2 + ((p.bytes[1]! & 0x7f) === 126 ? 2 : (p.bytes[1]! & 0x7f) === 127 ? 8 : 0) + 4;
      return `${off === 0 ? 'at the start' : off < headerLength ? 'in the header' : 'in the payload'} of frame ${i + 1}, ${p.what}`;
    }
    start += p.bytes.length;
  }
  return 'at the end';
}

check('the reader reads a stream cut at every byte: frames split across chunks, several frames in one chunk, one byte at a time', { hint: 4 }, async () => {
  const s = stream();
  const runs: Buffer[][] = [];
  const labels: string[] = [];
  runs.push([s.bytes]);
  labels.push('the whole stream in one chunk');
  for (let i = 1; i < s.bytes.length; i++) {
    runs.push([s.bytes.subarray(0, i), s.bytes.subarray(i)]);
    labels.push(`two chunks, cut after byte ${i} (${whereIn(s.pieces, i)})`);
  }
  runs.push([...s.bytes].map((x) => Buffer.from([x])));
  labels.push('one byte per chunk');
  const results = await runReader(runs);
  for (const [i, r] of results.entries()) {
    const got = flatten(r);
    const where = `Stream of ${s.pieces.length} frames (${s.bytes.length} bytes), pushed as ${labels[i]}`;
    must(typeof got !== 'string', `${where}: ${got as string}.`);
    const d = listDifference(got, s.want);
    must(d === null, `${where}: ${d}. TCP delivers bytes, not frames: keep what is left of a chunk for the next one, and read every whole frame a chunk holds.`);
  }
});

check('the reader does not trust a length: a header announcing 2^31 bytes, then a little data, is waited for without allocating them', { hint: 5 }, async () => {
  const lie = Buffer.concat([Buffer.from([0x82, 0xff]), u64(2 ** 31), randomBytes(4)]);
  const runs = [[lie, randomBytes(4096), randomBytes(4096)]];
  let results: CallResult[];
  try {
    results = await callExport(driver(), 'drive.js', 'drive', runs.map((chunks) => [chunks.map((c) => bytesArg(c))]), 10_000, LIMITS);
  } catch (err) {
    must(false, `Pushing a header that announces 2,147,483,648 bytes brought the reader down: ${(err as Error).message.replace(/drive\.js/g, 'message-reader.js')}`);
    return;
  }
  const r = results[0]!;
  if (!r.ok) {
    must(
      !r.error.startsWith('AllocationRefused'),
      `Pushing a header that announces 2,147,483,648 bytes: the reader asked for that much memory at once (${r.error.replace(/^AllocationRefused: /, '')}). The length is what the sender claims; keep only the bytes that arrived, until the frame is whole.`,
    );
    must(false, `Pushing a header that announces 2,147,483,648 bytes, then 8 KiB: push() threw ${r.error}. The frame is not whole yet: return no events and wait.`);
  }
  const got = flatten(r);
  must(Array.isArray(got) && got.length === 0, `Pushing a header that announces 2,147,483,648 bytes, then 8 KiB: the reader returned ${Array.isArray(got) ? got.map(describeGot).join(', ') : got}; the frame is not whole yet: no event.`);
});

// ---------------------------------------------------------------------------------------------
// On the wire: the check's own client, through the wiretap, every byte in a TCP chunk of its own.

interface Conversation {
  conn: number;
  status: number | null;
  ping: Buffer;
  /** The server's pong came before the rest of the message was sent. */
  pongInTime: boolean;
  /** A pong came at all (perhaps only after the message ended). */
  pongLate: boolean;
  text: string;
  binary: Buffer;
  error: string | null;
}

let conversation: Promise<Conversation> | null = null;

const serverPong = (e: WireEvent, conn: number): e is ControlEvent => e.type === 'pong' && e.conn === conn && e.dir === 'server';

function converse(): Promise<Conversation> {
  conversation ??= (async () => {
    const c: Conversation = {
      conn: 0,
      status: null,
      ping: randomBytes(8),
      pongInTime: false,
      pongLate: false,
      text: `Hello in fragments ${randomInt(10_000)}, `,
      binary: randomBytes(randomInt(3000, 5000)),
      error: null,
    };
    const tail = `and the end of it ${randomInt(10_000)}`;
    c.text += tail;
    const head = c.text.slice(0, c.text.length - tail.length);
    const socket = net.connect(lesson.tapPort, '127.0.0.1');
    socket.on('error', (err) => (c.error ??= err.message));
    let response = '';
    socket.on('data', (chunk: Buffer) => {
      if (c.status === null) response = (response + chunk.toString('latin1')).slice(0, 8192);
    });
    await new Promise<void>((resolve) => {
      socket.once('connect', resolve);
      socket.once('error', () => resolve());
    });
    const local = socket.localPort;
    socket.write(
      `GET / HTTP/1.1\r\nHost: localhost:9900\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
    );
    const status = await until(() => {
      const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n/.exec(response);
      return m ? Number(m[1]) : c.error ? null : undefined;
    }, 20_000);
    c.status = status ?? null;
    const open = await lesson.waitForType('open', (o) => o.client.endsWith(`:${local}`), 10_000);
    c.conn = open?.conn ?? 0;
    if (c.status !== 101) {
      socket.destroy();
      return c;
    }
    const onConn = (e: { conn: number }) => e.conn === c.conn;
    // The first fragment and a ping; the rest waits for the pong (a server that answers the
    // ping only when the message ends never gets to).
    socket.write(Buffer.concat([frame(false, 1, Buffer.from(head)), frame(true, 9, c.ping)]));
    c.pongInTime = !!(await lesson.waitFor((e) => serverPong(e, c.conn), 8000));
    socket.write(frame(true, 0, Buffer.from(tail)));
    const cut = randomInt(1, c.binary.length);
    socket.write(Buffer.concat([frame(false, 2, c.binary.subarray(0, cut)), frame(true, 0, c.binary.subarray(cut))]));
    await until(() => (lesson.wire.ofType('message').filter((m) => onConn(m) && m.dir === 'server').length >= 2 ? true : undefined), 10_000);
    c.pongLate = c.pongInTime || lesson.events.some((e) => e.type === 'pong' && onConn(e) && e.dir === 'server');
    socket.write(frame(true, 8, Buffer.from([0x03, 0xe8])));
    await lesson.waitForType('end', onConn, 5000);
    socket.destroy();
    return c;
  })();
  return conversation;
}

async function upgraded(): Promise<Conversation> {
  const c = await converse();
  must(
    c.status === 101,
    `The check's handshake got ${c.status === null ? `no answer${c.error ? ` (${c.error})` : ''}` : `a ${c.status}`} instead of 101 Switching Protocols. Is server.js running and listening on 9900? ${lesson.trouble()}`,
  );
  return c;
}

check('your server answers a ping that comes between two fragments at once, with its payload, before the message ends', { hint: 6 }, async () => {
  const c = await upgraded();
  const pongs = lesson.events.filter((e) => serverPong(e, c.conn));
  must(
    c.pongInTime,
    c.pongLate
      ? 'Your server answered the ping only after the last fragment came: a peer that waits for the pong before it goes on would wait forever. Answer a ping as soon as the reader gives it.'
      : `Your server sent no pong for the ping (payload ${hexOf(c.ping)}) that came between two fragments.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: c.conn })}`,
  );
  const payload = Buffer.from(pongs[0]!.payload, 'base64');
  must(payload.equals(c.ping), `Your server's pong carried ${payload.length ? hexOf(payload) : 'no payload'}; a pong carries the ping's payload back (${hexOf(c.ping)}), RFC 6455 §5.5.3.`);
});

check('your server echoes each fragmented message whole: the text, then the binary, each as one message with its own opcode', { hint: 6 }, async () => {
  const c = await upgraded();
  const echoes = lesson.wire.ofType('message').filter((m) => m.conn === c.conn && m.dir === 'server');
  must(echoes.length >= 1, `Your server sent no message back.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: c.conn })}`);
  const [t, b] = echoes;
  must(t!.opcode === 1 && t!.text === c.text, `The first message back should be the text, whole: ${JSON.stringify(c.text)}; it was ${t!.opcode === 1 ? JSON.stringify(t!.text) : 'a binary message'}.`);
  must(b !== undefined, `The binary message (${c.binary.length.toLocaleString('en-US')} bytes, in two fragments) did not come back.\nThe wiretap saw:\n${lesson.wire.transcript({ conn: c.conn })}`);
  must(b.opcode === 2, `The binary message came back as text (opcode 1): a message's opcode is its first frame's (2 here).`);
  must(
    !b.truncated && Buffer.from(b.base64 ?? '', 'base64').equals(c.binary),
    `The binary message came back as ${b.length.toLocaleString('en-US')} bytes that differ from the ${c.binary.length.toLocaleString('en-US')} sent.`,
  );
});

check('your server answers the close frame with a close frame, and the connection ends', { hint: 6 }, async () => {
  const c = await upgraded();
  const close = lesson.wire.ofType('close').find((e) => e.conn === c.conn && e.dir === 'server');
  must(close, `Your server sent no close frame after the client's close (1000).\nThe wiretap saw:\n${lesson.wire.transcript({ conn: c.conn })}`);
  must(close.code === 1000, `Your server's close frame says ${close.code}; send the client's code back (1000).`);
  const end = lesson.wire.ofType('end').find((e) => e.conn === c.conn);
  must(end, 'The TCP connection did not end after the close frames: end it (socket.end) once the close is answered.');
});
