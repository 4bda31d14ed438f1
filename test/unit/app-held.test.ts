/**
 * What the capture store holds for a decoded message, and what it gives back when the event is
 * read: the same `app` as the decoding stage makes at once, replies still pointing at their
 * requests, while a held message keeps no object of its own for its app (issue 15's
 * throughput: a closure per held message cost the wiretap more in garbage collection than the
 * decoding itself). Each protocol's messages are those of the bench (test/bench/app-workloads.ts):
 * its opening, then requests and a server's answers on two interleaved connections.
 */
import { describe, expect, it } from 'vitest';
import type { MessageEvent, WireEvent } from '../../server/capture/events.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { DEFAULT_LIMITS } from '../../server/protocol/message-assembler.ts';
import { AppStage } from '../../server/protocol/app/stage.ts';
import { APP_WORKLOADS, type AppWorkload, type Payload } from '../bench/app-workloads.ts';
import { encodeFrame } from '../helpers/encode.ts';

const MASK = Buffer.from([1, 2, 3, 4]);

function frameOf(p: Payload, fromClient: boolean): Buffer {
  const payload = typeof p === 'string' ? Buffer.from(p) : p;
  return encodeFrame({ fin: true, opcode: typeof p === 'string' ? 1 : 2, mask: fromClient ? MASK : null, payload });
}

/** A server's answer as its frames, back to back (GraphQL answers a mutation with next and complete). */
function answerOf(answer: Payload | Payload[]): Buffer {
  return Array.isArray(answer) ? Buffer.concat(answer.map((p) => frameOf(p, false))) : frameOf(answer, false);
}

/** The workload's conversation on two connections, through a decoder and the stage; every event out. */
function run(w: AppWorkload, lazy: boolean, requests: number): WireEvent[] {
  const out: WireEvent[] = [];
  const stage = new AppStage((events) => out.push(...events));
  const conns = [1, 2].map((id) => new ConnectionDecoder(id, DEFAULT_LIMITS, lazy));
  const proto = w.subprotocol ? `Sec-WebSocket-Protocol: ${w.subprotocol}\r\n` : '';
  const feed = (d: ConnectionDecoder, dir: 'client' | 'server', bytes: Buffer) => stage.push(d.receive(dir, bytes, 0));
  for (const d of conns) {
    feed(d, 'client', Buffer.from(`GET ${w.path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${proto}\r\n`));
    feed(d, 'server', Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n${proto}\r\n`));
    if (w.greeting !== undefined) feed(d, 'server', frameOf(w.greeting, false));
    for (const m of w.opening) {
      feed(d, 'client', frameOf(m, true));
      feed(d, 'server', answerOf(w.reply(typeof m === 'string' ? Buffer.from(m) : m, typeof m !== 'string')));
    }
  }
  // Two requests in flight on each connection, answered in order, the connections interleaved.
  for (let n = 0; n < requests; n += 4) {
    const sent = [n, n + 1, n + 2, n + 3].map((k) => w.message(k));
    feed(conns[0]!, 'client', frameOf(sent[0]!, true));
    feed(conns[1]!, 'client', frameOf(sent[1]!, true));
    feed(conns[0]!, 'client', frameOf(sent[2]!, true));
    feed(conns[1]!, 'client', frameOf(sent[3]!, true));
    for (const [i, d] of [conns[0]!, conns[1]!, conns[0]!, conns[1]!].entries()) {
      const m = sent[i]!;
      feed(d, 'server', answerOf(w.reply(typeof m === 'string' ? Buffer.from(m) : m, typeof m !== 'string')));
    }
  }
  return out;
}

const messages = (events: WireEvent[]) => events.filter((e): e is MessageEvent => e.type === 'message');

describe('a decoded message held by the store', () => {
  for (const w of APP_WORKLOADS.filter((x) => x.name !== 'plain')) {
    it(`${w.name}: reads back with the app the stage makes at once, and holds no object of its own for it`, () => {
      const requests = 400;
      const now = messages(run(w, false, requests));
      const lazy = run(w, true, requests);
      const held = messages(lazy);
      expect(held.length).toBe(now.length);
      // A maker per connection (or per protocol), not a closure per message.
      const makers = new Set(held.map((e) => e._app).filter((f) => f !== undefined));
      expect(held.filter((e) => e._app !== undefined).length).toBeGreaterThan(requests);
      expect(makers.size).toBeLessThanOrEqual(2);

      const store = new CaptureStore({ maxEvents: 10_000, maxBytes: 64 * 1024 * 1024 });
      store.add(lazy);
      const read = messages(store.all());
      expect(read.map((e) => e.app)).toEqual(now.map((e) => e.app));
      expect(read.every((e) => e.app !== undefined)).toBe(true);
      expect(store.counts.appViolation).toBe(0);
    });
  }

  it('a response read back points at its request, on its own connection, however long after', () => {
    const w = APP_WORKLOADS.find((x) => x.name === 'json-rpc')!;
    const store = new CaptureStore({ maxEvents: 10_000, maxBytes: 64 * 1024 * 1024 });
    store.add(run(w, true, 400));
    const read = messages(store.all());
    const requests = new Map(read.filter((e) => e.dir === 'client').map((e) => [`${e.conn} ${String(e.app!.id)}`, e]));
    const answers = read.filter((e) => e.dir === 'server');
    expect(answers.length).toBe(400);
    for (const a of answers) {
      const q = requests.get(`${a.conn} ${String(a.app!.id)}`)!;
      expect(a.app!.replyTo).toEqual({ conn: q.conn, dir: 'client', firstFrame: q.firstFrame });
    }
  });
});
