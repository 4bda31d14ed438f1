import { describe, expect, it } from 'vitest';
import type { Direction, EndEvent, WireEvent } from '../../server/capture/events.ts';
import { ConnectionDecoder } from '../../server/protocol/connection-decoder.ts';
import { ofType } from '../helpers/decode.ts';

type Step = [Direction, Buffer];

const KEY = Buffer.from('37fa213d', 'hex');

/** One final frame with a payload under 126 bytes; masked as a client must. */
function frame(opcode: number, payload: Buffer | string, mask: boolean): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.from([0x80 | opcode, (mask ? 0x80 : 0) | data.length]);
  if (!mask) return Buffer.concat([head, data]);
  return Buffer.concat([head, KEY, Buffer.from(data.map((b, i) => b ^ KEY[i & 3]!))]);
}
const fromClient = (opcode: number, payload: Buffer | string = '') => frame(opcode, payload, true);
const fromServer = (opcode: number, payload: Buffer | string = '') => frame(opcode, payload, false);
const closeBody = (code: number, reason = '') => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
};

const REQUEST = Buffer.from(
  'GET / HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
    'Connection: Upgrade\r\nUpgrade: websocket\r\nHost: 127.0.0.1:9900\r\n\r\n',
);
const RESPONSE = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
);

/** Deterministic chunk sizes, 1 to 9 bytes. */
function* sizes(seed: number): Generator<number> {
  let s = seed;
  for (;;) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    yield 1 + (s % 9);
  }
}

/**
 * Feed a connection: each step is what one side sent at time = step index + 1, delivered as
 * one chunk, byte by byte, or cut at pseudo-random points.
 */
function feed(steps: Step[], cut: 'whole' | 'bytes' | number, by: EndEvent['by'], error?: string): WireEvent[] {
  const d = new ConnectionDecoder(3);
  const out: WireEvent[] = [];
  const gen = typeof cut === 'number' ? sizes(cut) : null;
  steps.forEach(([dir, bytes], i) => {
    let pos = 0;
    while (pos < bytes.length) {
      const n = cut === 'whole' ? bytes.length : cut === 'bytes' ? 1 : gen!.next().value as number;
      out.push(...d.receive(dir, bytes.subarray(pos, pos + n), i + 1));
      pos += n;
    }
  });
  out.push(...d.end(steps.length + 1, by, error));
  return out;
}

/** Events of a connection; the same however TCP cut the bytes. */
function run(steps: Step[], by: EndEvent['by'] = 'client', error?: string): WireEvent[] {
  const whole = feed(steps, 'whole', by, error);
  expect(feed(steps, 'bytes', by, error)).toEqual(whole);
  for (const seed of [1, 2, 3]) expect(feed(steps, seed, by, error)).toEqual(whole);
  return whole;
}

const endOf = (events: WireEvent[]) => {
  const ends = ofType(events, 'end');
  expect(ends).toHaveLength(1);
  expect(events.at(-1)).toBe(ends[0]);
  return ends[0]!;
};

const sum = (steps: Step[], dir: Direction) => steps.filter(([d]) => d === dir).reduce((n, [, b]) => n + b.length, 0);

describe('from the upgrade into frames', () => {
  // The tutorial's conversation: the echo server greets, the client speaks, both close with 1000.
  const hello = fromServer(1, 'Hello webSocket');
  const said = fromClient(1, 'I am listening');
  const echoed = fromServer(1, 'I heard you say "I am listening"');
  const tutorial: Step[] = [
    ['client', REQUEST],
    ['server', Buffer.concat([RESPONSE, hello])],
    ['client', said],
    ['server', echoed],
    ['client', fromClient(8, closeBody(1000))],
    ['server', fromServer(8, closeBody(1000))],
  ];

  it('decodes the 101 and the first server frame arriving in the same chunk', () => {
    const ev = run(tutorial, 'server');
    expect(ev.map((e) => e.type)).toEqual(['handshake', 'frame', 'message', 'frame', 'message', 'frame', 'message', 'frame', 'close', 'frame', 'close', 'end']);
    expect(ofType(ev, 'message').map((m) => [m.dir, m.text])).toEqual([
      ['server', 'Hello webSocket'],
      ['client', 'I am listening'],
      ['server', 'I heard you say "I am listening"'],
    ]);
    expect(ofType(ev, 'violation')).toEqual([]);
  });

  it('counts the handshake bytes in frame offsets: the first frame starts where the HTTP head ends', () => {
    const frames = ofType(run(tutorial, 'server'), 'frame');
    const client = frames.filter((f) => f.dir === 'client');
    const server = frames.filter((f) => f.dir === 'server');
    expect(client.map((f) => [f.seq, f.offset])).toEqual([
      [0, REQUEST.length],
      [1, REQUEST.length + said.length],
    ]);
    expect(server.map((f) => [f.seq, f.offset])).toEqual([
      [0, RESPONSE.length],
      [1, RESPONSE.length + hello.length],
      [2, RESPONSE.length + hello.length + echoed.length],
    ]);
    expect(client[0]).toMatchObject({ masked: true, maskKey: '37fa213d', t: 3, tEnd: 3 });
    expect(server[0]).toMatchObject({ masked: false, t: 2, header: '810f' });
  });

  it('decodes the request and the client first frame sent in the same chunk, once the 101 arrives', () => {
    const early = fromClient(1, 'too soon');
    const ev = run([['client', Buffer.concat([REQUEST, early])], ['server', RESPONSE]]);
    const [f] = ofType(ev, 'frame');
    expect(f).toMatchObject({ dir: 'client', seq: 0, offset: REQUEST.length, t: 1, length: 8 });
    expect(ofType(ev, 'message')).toMatchObject([{ dir: 'client', text: 'too soon', t: 1 }]);
    // The client did not wait for the 101 (§4.1); the handshake still comes first in the events.
    expect(ofType(ev, 'violation').map((v) => v.rule)).toEqual(['data-before-handshake']);
    expect(ev[0]!.type).toBe('handshake');
  });

  it('reads client frames that arrive before the 101 and after it in order', () => {
    const ev = run([
      ['client', Buffer.concat([REQUEST, fromClient(1, 'one')])],
      ['client', fromClient(1, 'two')],
      ['server', RESPONSE],
      ['client', fromClient(1, 'three')],
    ]);
    expect(ofType(ev, 'message').map((m) => [m.text, m.t, m.firstFrame])).toEqual([
      ['one', 1, 0],
      ['two', 2, 1],
      ['three', 4, 2],
    ]);
  });

  it('applies the negotiated permessage-deflate to both directions', () => {
    // "Hi" as a stored deflate block, then the header byte of the sync-flush block whose last
    // four bytes (00 00 ff ff) the sender strips (RFC 7692 §7.2.1): RSV1 legal, inflated to the text.
    const stored = Buffer.from('00 02 00 fd ff 48 69 00'.replace(/ /g, ''), 'hex');
    const compressed = (mask: boolean) => {
      const f = frame(1, stored, mask);
      f[0] = f[0]! | 0x40;
      return f;
    };
    const req = Buffer.from(REQUEST.toString().replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n'));
    const res = Buffer.from(RESPONSE.toString().replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n'));
    const ev = run([['client', req], ['server', Buffer.concat([res, compressed(false)])], ['client', compressed(true)]]);
    expect(ofType(ev, 'message').map((m) => [m.dir, m.text, m.compressed, m.wireLength])).toEqual([
      ['server', 'Hi', true, 8],
      ['client', 'Hi', true, 8],
    ]);
    expect(ofType(ev, 'violation')).toEqual([]);
  });

  it('decodes many frames in one chunk and a frame cut across chunks', () => {
    const burst = Buffer.concat(Array.from({ length: 20 }, (_, i) => fromServer(1, `m${i}`)));
    const ev = run([['client', REQUEST], ['server', Buffer.concat([RESPONSE, burst.subarray(0, 31)])], ['server', burst.subarray(31)]]);
    expect(ofType(ev, 'message').map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });
});

describe('the end event', () => {
  it('reports a clean close with 1000 from the client, with bytes and frames counted per direction', () => {
    const steps: Step[] = [
      ['client', REQUEST],
      ['server', RESPONSE],
      ['client', fromClient(1, 'hi')],
      ['server', fromServer(1, 'hi')],
      ['client', fromClient(8, closeBody(1000, 'done'))],
      ['server', fromServer(8, closeBody(1000))],
    ];
    const end = endOf(run(steps, 'server'));
    expect(end).toEqual({
      type: 'end',
      conn: 3,
      t: 7,
      by: 'server',
      clean: true,
      code: 1000,
      serverCode: 1000,
      explanation: '1000 normal closure',
      bytes: { client: sum(steps, 'client'), server: sum(steps, 'server') },
      frames: { client: 2, server: 2 },
    });
  });

  it('reports a clean close started by the server with 1001, each side seeing the other\'s code', () => {
    const ev = run(
      [
        ['client', REQUEST],
        ['server', RESPONSE],
        ['server', fromServer(8, closeBody(1001, 'shutting down'))],
        ['client', fromClient(8, closeBody(1000))],
      ],
      'server',
    );
    expect(ofType(ev, 'close').map((c) => [c.dir, c.code, c.reason, c.explanation])).toEqual([
      ['server', 1001, 'shutting down', '1001 going away (page closed or server shutting down)'],
      ['client', 1000, '', '1000 normal closure'],
    ]);
    expect(endOf(ev)).toMatchObject({ clean: true, code: 1001, serverCode: 1000, explanation: '1001 going away (page closed or server shutting down)' });
  });

  it('reports 1005 to the client when the server close frame has no code', () => {
    const ev = run([['client', REQUEST], ['server', RESPONSE], ['server', fromServer(8)], ['client', fromClient(8)]], 'server');
    expect(endOf(ev)).toMatchObject({ clean: true, code: 1005, serverCode: 1005 });
  });

  it('reports 1006 both ways when TCP ends without a close frame', () => {
    const steps: Step[] = [['client', REQUEST], ['server', RESPONSE], ['client', fromClient(1, 'anyone?')]];
    const end = endOf(run(steps, 'server', 'ECONNRESET'));
    expect(end).toMatchObject({
      by: 'server',
      clean: false,
      code: 1006,
      serverCode: 1006,
      explanation: '1006 abnormal closure (the connection dropped without a close frame)',
      error: 'ECONNRESET',
      bytes: { client: REQUEST.length + 13, server: RESPONSE.length },
      frames: { client: 1, server: 0 },
    });
  });

  it('reports 1006 to the server when only the server sent a close frame', () => {
    const end = endOf(run([['client', REQUEST], ['server', RESPONSE], ['server', fromServer(8, closeBody(4000, 'bye'))]], 'server'));
    expect(end).toMatchObject({ clean: false, code: 4000, serverCode: 1006 });
  });

  it('reports a frame cut off by the end of TCP as incomplete, and counts it', () => {
    const cut = fromServer(2, Buffer.alloc(100, 1)).subarray(0, 50);
    const ev = run([['client', REQUEST], ['server', Buffer.concat([RESPONSE, cut])]], 'server');
    expect(ofType(ev, 'frame')).toMatchObject([{ dir: 'server', complete: false, length: 100, offset: RESPONSE.length }]);
    expect(Buffer.from(ofType(ev, 'frame')[0]!.payload, 'base64')).toHaveLength(48);
    expect(ofType(ev, 'message')).toEqual([]);
    expect(endOf(ev)).toMatchObject({ code: 1006, frames: { client: 0, server: 1 }, bytes: { server: RESPONSE.length + 50 } });
  });

  it('reports a null code when no WebSocket was established', () => {
    const plain = Buffer.from('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 16\r\n\r\nUpgrade Required');
    const get = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1:9900\r\n\r\n');
    const end = endOf(run([['client', get], ['server', plain]], 'client'));
    expect(end).toEqual({
      type: 'end',
      conn: 3,
      t: 3,
      by: 'client',
      clean: false,
      code: null,
      serverCode: null,
      explanation: 'no WebSocket was established',
      bytes: { client: get.length, server: plain.length },
      frames: { client: 0, server: 0 },
    });
  });

  it('reports the wiretap as the one that ended a connection to an unreachable target', () => {
    const end = endOf(run([['client', REQUEST]], 'wiretap', 'ECONNREFUSED'));
    expect(end).toMatchObject({ by: 'wiretap', error: 'ECONNREFUSED', code: null });
  });

  it('ends only once and ignores bytes after the end', () => {
    const d = new ConnectionDecoder(1);
    d.receive('client', REQUEST, 1);
    expect(ofType(d.end(2, 'client'), 'end')).toHaveLength(1);
    expect(d.end(3, 'server')).toEqual([]);
    expect(d.receive('server', RESPONSE, 4)).toEqual([]);
  });
});

describe('a server that answers a request cut short', () => {
  it('shows one refused handshake with the part of the request that arrived, not a second "incomplete" one', () => {
    const d = new ConnectionDecoder(1);
    const events = [
      ...d.receive('client', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'), 1),
      ...d.receive('server', Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'), 2),
      ...d.end(3, 'server'),
    ];
    const handshakes = events.filter((e) => e.type === 'handshake');
    expect(handshakes).toHaveLength(1);
    expect(handshakes[0]).toMatchObject({ outcome: 'refused', request: { method: 'GET', path: '/' }, response: { status: 400 } });
    expect((handshakes[0] as { problems: string[] }).problems[0]).toMatch(/before the request head was complete/);
  });
});

describe('a kept-alive plain-HTTP connection (a polling client)', () => {
  const poll = (i: number) => Buffer.from(`GET /notifications?n=${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
  const answer = (i: number) =>
    i % 2 === 0
      ? Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${String(i).length + 2}\r\n\r\n[${i}]`)
      : Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(String(i).length + 2).toString(16)}\r\n[${i}]\r\n0\r\n\r\n`);

  it('reports one plain-http handshake event per request/response exchange, in order', () => {
    const steps: Step[] = [];
    for (let i = 0; i < 5; i++) steps.push(['client', poll(i)], ['server', answer(i)]);
    const events = run(steps);
    const hs = ofType(events, 'handshake');
    expect(hs).toHaveLength(5);
    expect(hs.map((h) => h.outcome)).toEqual(Array(5).fill('plain-http'));
    expect(hs.map((h) => h.request?.path)).toEqual([0, 1, 2, 3, 4].map((i) => `/notifications?n=${i}`));
    expect(hs.map((h) => h.response?.body)).toEqual(['[0]', '[1]', '[2]', '[3]', '[4]']);
    expect(hs.map((h) => h.exchange)).toEqual([1, 2, 3, 4, 5]);
    expect(hs.every((h) => h.problems.length === 0)).toBe(true);
    const end = endOf(events);
    expect(end).toMatchObject({ code: null, httpExchanges: 5 });
    expect(end.httpExchangesOmitted).toBeUndefined();
  });

  it('pairs pipelined requests with their responses', () => {
    const events = run([
      ['client', Buffer.concat([poll(1), poll(2), poll(3)])],
      ['server', Buffer.concat([answer(1), answer(2)])],
      ['server', answer(3)],
    ]);
    const hs = ofType(events, 'handshake');
    expect(hs.map((h) => [h.exchange, h.request?.path, h.response?.body])).toEqual([
      [1, '/notifications?n=1', '[1]'],
      [2, '/notifications?n=2', '[2]'],
      [3, '/notifications?n=3', '[3]'],
    ]);
  });

  it('reports a bounded number of exchanges in full and counts the rest', () => {
    const d = new ConnectionDecoder(1, undefined, false, 3);
    const out: WireEvent[] = [];
    for (let i = 0; i < 8; i++) {
      out.push(...d.receive('client', poll(i), 2 * i));
      out.push(...d.receive('server', answer(i), 2 * i + 1));
    }
    out.push(...d.end(20, 'client'));
    const hs = ofType(out, 'handshake');
    expect(hs.map((h) => h.exchange)).toEqual([1, 2, 3]);
    expect(endOf(out)).toMatchObject({ httpExchanges: 8, httpExchangesOmitted: 5 });
  });

  it('says nothing extra about a connection with a single exchange or an upgrade', () => {
    const one = endOf(run([['client', poll(1)], ['server', answer(2)]]));
    expect(one.httpExchanges).toBeUndefined();
    const ws = run([['client', REQUEST], ['server', RESPONSE]]);
    expect(ofType(ws, 'handshake')[0]!.exchange).toBe(1);
    expect(endOf(ws).httpExchanges).toBeUndefined();
  });
});
