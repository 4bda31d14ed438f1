import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll } from 'vitest';
import WebSocket from 'ws';
import type { CloseEvent, EndEvent, WireEvent } from '../../server/capture/events.ts';
import { check, must, until, useLesson } from '../harness.ts';

// The check brings three clients of its own through the wiretap: a publisher, a subscriber that
// reads (ws), and a subscriber that stops reading after its handshake (a raw TCP socket,
// paused). It publishes 25 MiB in bursts of 256 KiB, each burst once the reading subscriber has
// the one before, and asks server.js's own process how many bytes it holds to send.
const lesson = useLesson(import.meta.url, { client: false, files: ['slow-reader.js'] });

const SIZE = 64 * 1024;
const COUNT = 400;
const BURST = 4;
/** What the server may hold for its clients, in all: a policy's limit (1 MiB, say) and a message or two. */
const BOUND = 2 * 1024 * 1024;
const AFTER = 4;
const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

interface Run {
  healthy: number[];
  /** The most the server said it held while the feed ran, and at its end. */
  maxBuffered: number;
  lastBuffered: number;
  asked: boolean;
  stalledConn: number;
  healthyConn: number;
  /** Messages published after the stalled subscriber read again, and those it got. */
  afterSeqs: number[];
  error: string | null;
}

const opened: Array<{ close(): void }> = [];
afterAll(() => opened.forEach((s) => s.close()));

let run: Promise<Run> | null = null;

const seqOf = (data: Buffer) => (data.length >= 4 ? data.readUInt32BE(0) : -1);

function message(seq: number): Buffer {
  const b = randomBytes(SIZE);
  b.writeUInt32BE(seq, 0);
  return b;
}

/** A WebSocket client of the `ws` package through the wiretap, open. */
async function wsClient(onMessage?: (data: Buffer) => void): Promise<WebSocket | null> {
  const ws = new WebSocket(`ws://127.0.0.1:${lesson.tapPort}`, { headers: { host: 'localhost:9900' } });
  opened.push({ close: () => ws.terminate() });
  if (onMessage) ws.on('message', (data: Buffer) => onMessage(data));
  ws.on('error', () => {});
  const ok = await new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('error', () => resolve(false));
    ws.once('close', () => resolve(false));
  });
  return ok ? ws : null;
}

/** A subscriber that completes its handshake and then reads nothing (paused), with its local port. */
async function stalledClient(): Promise<{ socket: net.Socket; local: number } | null> {
  const socket = net.connect(lesson.tapPort, '127.0.0.1');
  opened.push({ close: () => socket.destroy() });
  socket.on('error', () => {});
  const head = await new Promise<string | null>((resolve) => {
    let text = '';
    socket.once('connect', () =>
      socket.write(
        `GET / HTTP/1.1\r\nHost: localhost:9900\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
      ),
    );
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        socket.pause();
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(null));
  });
  return head?.startsWith('HTTP/1.1 101') ? { socket, local: socket.localPort ?? 0 } : null;
}

async function connOf(local: number): Promise<number> {
  const open = await lesson.waitForType('open', (o) => o.client.endsWith(`:${local}`), 10_000);
  return open?.conn ?? 0;
}

function feed(): Promise<Run> {
  run ??= (async () => {
    const r: Run = { healthy: [], maxBuffered: 0, lastBuffered: 0, asked: false, stalledConn: 0, healthyConn: 0, afterSeqs: [], error: null };
    const healthy = await wsClient((data) => r.healthy.push(seqOf(data)));
    const stalled = await stalledClient();
    const publisher = await wsClient();
    if (!healthy || !stalled || !publisher) {
      r.error = `The check's clients could not all connect (a WebSocket handshake through the wiretap failed). ${lesson.trouble()}`;
      return r;
    }
    r.healthyConn = await connOf((healthy as unknown as { _socket: net.Socket })._socket.localPort ?? 0);
    r.stalledConn = await connOf(stalled.local);
    const ask = async () => {
      const b = await lesson.server?.bufferedBytes();
      if (!b) return;
      r.asked = true;
      r.lastBuffered = b.bytes;
      r.maxBuffered = Math.max(r.maxBuffered, b.bytes);
    };
    for (let seq = 1; seq <= COUNT; seq += BURST) {
      for (let k = seq; k < seq + BURST && k <= COUNT; k++) publisher.send(message(k));
      const last = Math.min(seq + BURST - 1, COUNT);
      // The next burst waits for the reading subscriber to have this one.
      const got = await until(() => (r.healthy.includes(last) ? true : undefined), 20_000);
      if (!got) break;
      if ((seq - 1) % (BURST * 10) === 0) await ask();
    }
    await ask();
    // The stalled subscriber reads again: what the server kept for it arrives, or its close.
    stalled.socket.on('data', () => {});
    stalled.socket.resume();
    await lesson.settle(500, 10_000);
    // Then a few more messages: a subscriber that was not closed must get them.
    for (let k = 0; k < AFTER; k++) {
      const seq = 100_000 + k;
      r.afterSeqs.push(seq);
      publisher.send(message(seq));
    }
    await until(() => (r.healthy.includes(r.afterSeqs.at(-1)!) ? true : undefined), 20_000);
    await lesson.settle(300, 5000);
    return r;
  })();
  return run;
}

async function fed(): Promise<Run> {
  const r = await feed();
  must(r.error === null, r.error!);
  return r;
}

const isClose = (e: WireEvent, conn: number): e is CloseEvent => e.type === 'close' && e.conn === conn && e.dir === 'server';
const isEnd = (e: WireEvent, conn: number): e is EndEvent => e.type === 'end' && e.conn === conn;

check('the subscriber that reads got every message, in order, whole, while another stopped reading', { hint: 1 }, async () => {
  const r = await fed();
  const want = Array.from({ length: COUNT }, (_, i) => i + 1);
  const got = r.healthy.filter((s) => s <= COUNT);
  const missing = want.filter((s) => !got.includes(s));
  must(
    missing.length === 0,
    `The subscriber that reads got ${got.length} of the ${COUNT} messages; it missed ${missing.length}, from #${missing[0]}. A slow client's problem must stay that client's: the others get everything. (The check sends bursts of ${BURST} messages of 64 KiB and waits for this subscriber between them, so it never has more than ${BURST * 64} KiB on its way.)`,
  );
  must(
    got.every((s, i) => s === want[i]),
    `The subscriber that reads got the messages out of order: ${got.slice(0, 12).join(', ')}…`,
  );
});

check(`while a subscriber read nothing, your server held at most ${MiB(BOUND)} to send, whatever was published`, { hint: 2 }, async () => {
  const r = await fed();
  must(r.asked, `server.js did not say how many bytes it holds (is it running? ${lesson.trouble()})`);
  must(
    r.maxBuffered <= BOUND,
    `While one subscriber read nothing, your server's sockets held up to ${MiB(r.maxBuffered)} waiting to be sent (${MiB(r.lastBuffered)} at the end of the feed of ${MiB(COUNT * SIZE)}): every message published for a client that does not read stays in memory, queued behind the one before. The client's bufferedAmount says how much waits for it; decide what to do when it is too much.`,
  );
});

check('if your server closed the slow subscriber, it said why with a close frame: 1008 (policy violation) or 1013 (try again later)', { hint: 3 }, async () => {
  const r = await fed();
  const close = lesson.events.find((e) => isClose(e, r.stalledConn));
  const end = lesson.events.find((e) => isEnd(e, r.stalledConn));
  if (close) {
    must(
      close.code === 1008 || close.code === 1013,
      `Your server closed the slow subscriber with ${close.code}${close.reason ? ` "${close.reason}"` : ''}. Its application sees that code: 1000 says all went well; say what happened, with 1008 (policy violation: too slow for this server) or 1013 (try again later).`,
    );
  } else {
    must(
      !end || end.by !== 'server',
      `Your server ended the slow subscriber's TCP connection without a close frame (terminate): its application sees 1006, abnormal closure, as if the network broke. Close it with a code that says why (1008 or 1013).`,
    );
  }
});

check('a subscriber that reads again, and was not closed, gets the messages published after', { hint: 4 }, async () => {
  const r = await fed();
  must(r.afterSeqs.every((s) => r.healthy.includes(s)), `The subscriber that reads did not get the ${AFTER} messages published at the end.`);
  const closed = lesson.events.some((e) => isClose(e, r.stalledConn) || (isEnd(e, r.stalledConn) && e.by === 'server'));
  if (closed) return;
  const got = lesson.wire
    .messages('server', r.stalledConn)
    .map((m) => (m.base64 ? seqOf(Buffer.from(m.base64.slice(0, 8), 'base64')) : -1))
    .filter((s) => r.afterSeqs.includes(s));
  must(
    got.length === r.afterSeqs.length,
    `The subscriber read again and was still connected, but got ${got.length} of the ${r.afterSeqs.length} messages published after: your server stopped sending to it for good. A client that catches up should get messages again (or be closed, so it knows to reconnect).`,
  );
});
