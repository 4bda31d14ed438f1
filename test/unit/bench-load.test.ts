// The dashboard bench's load generator (test/bench/dashboard-load.ts) builds its frames by hand to
// be cheap: what it puts on the wire must still be what the `ws` client it replaced sent, and its
// count of echoes must be a real count, or the bench measures something else.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { buildFrames, flood, MessageCounter, tickText } from '../bench/dashboard-load.ts';

let wss: WebSocketServer | null = null;
afterEach(async () => {
  for (const c of wss?.clients ?? []) c.terminate();
  await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
  wss = null;
});

describe('dashboard bench load generator', () => {
  it('sends the messages a ws client would, masked, each a text frame of its own, to a ws server that checks them', async () => {
    // ws's server rejects an unmasked client frame or a wrong length by closing with 1002.
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const port = (wss.address() as { port: number }).port;
    const got: string[] = [];
    const closes: number[] = [];
    let allClosed: () => void = () => {};
    const closed = new Promise<void>((r) => (allClosed = r));
    let handshake: Record<string, string | string[] | undefined> = {};
    wss.on('connection', (ws: WebSocket, req) => {
      handshake = req.headers;
      ws.send('Hello webSocket');
      ws.on('message', (data: Buffer, isBinary) => {
        expect(isBinary).toBe(false);
        got.push(data.toString());
        ws.send(`I heard you say "${data.toString()}"`);
      });
      ws.on('close', (code) => {
        if (closes.push(code) === 10) allClosed();
      });
    });
    // 2,000 frames a second for 1 s: 1,000 messages over the 10 clients.
    const { sent, received } = await flood(port, 2000, 1);
    expect(sent).toBe(1000);
    expect(got.slice().sort()).toEqual(Array.from({ length: 1000 }, (_, n) => tickText(n)).sort());
    expect(got.filter((t) => t.startsWith('tick 7 ')).length).toBe(1);
    // Every echo and each client's greeting, counted from the frames that came back.
    expect(received).toBe(1000 + 10);
    expect(handshake['sec-websocket-version']).toBe('13');
    expect(handshake['sec-websocket-extensions']).toBe('permessage-deflate; client_max_window_bits');
    await closed;
    // ws.close() with no code: a close frame with no body (1005, no status received).
    expect(closes).toEqual(Array(10).fill(1005));
  });

  it('gives every frame a masking key of its own', () => {
    const { bytes, starts } = buildFrames(200);
    const keys = new Set<string>();
    for (let n = 0; n < 200; n++) keys.add(bytes.subarray(starts[n]! + 2, starts[n]! + 6).toString('hex'));
    expect(keys.size).toBeGreaterThan(195);
  });

  it('counts a message at its final frame however the stream is cut, skipping control frames and long payloads', () => {
    const frame = (b0: number, payload: number) => {
      const head = payload < 126 ? Buffer.from([b0, payload]) : payload < 65536 ? Buffer.from([b0, 126, payload >> 8, payload & 255]) : Buffer.concat([Buffer.from([b0, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(payload)); return b; })()]);
      return Buffer.concat([head, Buffer.alloc(payload, 0x81)]);
    };
    // A text message, a ping, a fragmented binary message (2 frames), a 300-byte and a 70,000-byte message, a close.
    const stream = Buffer.concat([frame(0x81, 5), frame(0x89, 3), frame(0x02, 10), frame(0x80, 4), frame(0x81, 300), frame(0x82, 70_000), frame(0x88, 2)]);
    for (const size of [1, 2, 3, 7, 1000, stream.length]) {
      const c = new MessageCounter();
      for (let i = 0; i < stream.length; i += size) c.push(stream.subarray(i, i + size));
      expect(c.messages, `cut every ${size} bytes`).toBe(4);
    }
  });
});
