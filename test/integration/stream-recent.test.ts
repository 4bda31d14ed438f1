/**
 * The event stream keeps the live events it was handed, as made, only until every page has been
 * sent them (issue 19): after that they are in batches, and kept they would outlive the young
 * generation's collections (at 10,000 frames/s, 16,000 event objects at a time). A page that is
 * behind still gets its unsent events from those kept, not made again from the store.
 */
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { EventStream } from '../../server/app/event-stream.ts';
import type { StreamMessage } from '../../server/app/stream-protocol.ts';
import type { MessageEvent as WireMessageEvent, WireEvent } from '../../server/capture/events.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { Cleanup, HOST, until } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function fakeMessage(n: number): WireMessageEvent {
  const text = `tick ${n} xxxxxxxxxxxxxxxx`;
  return { type: 'message', conn: 1, t: n, dir: 'client', opcode: 1, length: text.length, text, compressed: false, frames: 1, firstFrame: n, lastFrame: n };
}

async function stream(): Promise<{ store: CaptureStore; stream: EventStream; port: number }> {
  const store = new CaptureStore({ maxEvents: 100_000, maxBytes: 64 * 1024 * 1024 });
  const s = new EventStream({ store, flushMs: 10, topology: () => ({ tap: { host: HOST, port: 1 }, target: { host: HOST, port: 2 }, targetLabel: 'none' }), connections: () => 0 });
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => s.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
  cleanup.add(() => {
    s.close();
    server.closeAllConnections();
    server.close();
  });
  return { store, stream: s, port: (server.address() as net.AddressInfo).port };
}

/** A page with flow control; it acknowledges each batch as it arrives when `acking` is set. */
async function page(port: number, window: number, acking: boolean) {
  const ws = new WebSocket(`ws://${HOST}:${port}/api/events?window=${window}`);
  cleanup.add(() => ws.terminate());
  const p = { events: [] as WireEvent[], last: 0, ack: () => ws.send(JSON.stringify({ kind: 'ack', seq: p.last })) };
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as StreamMessage;
    if (msg.kind !== 'events') return;
    p.events.push(...msg.events);
    p.last = msg.from + msg.events.length;
    if (acking) p.ack();
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return p;
}

describe('live events kept for the stream', () => {
  it('are let go once the page that keeps up has been sent them, each sent once, in order', async () => {
    const { store, stream: s, port } = await stream();
    const p = await page(port, 4000, true);
    let n = 0;
    for (let round = 0; round < 30; round++) {
      store.add(Array.from({ length: 100 }, () => fakeMessage(n++)));
      await until(() => (p.events.length === n ? true : undefined), 10_000, () => `${n} events on the page (have ${p.events.length})`);
    }
    expect(p.events.map((e) => (e as WireMessageEvent).firstFrame)).toEqual(Array.from({ length: n }, (_, i) => i));
    // Everything was sent: nothing is kept as made (it was all 3,000, under the bound of 16,000).
    await until(() => (s.recentHeld === 0 ? true : undefined), 5000, () => `no events kept (${s.recentHeld} are)`);
    expect(s.serialized.events).toBe(n);
  });

  it('are kept for a page that is behind, and it is sent them without making them again', async () => {
    const { store, stream: s, port } = await stream();
    const p = await page(port, 1000, false);
    const count = 5000;
    for (let i = 0; i < count; i += 500) store.add(Array.from({ length: 500 }, (_, k) => fakeMessage(i + k)));
    await until(() => (p.events.length >= 1000 ? true : undefined), 10_000, () => `its window of events (have ${p.events.length})`);
    // Its window is full: what it was not sent yet is kept.
    expect(p.events).toHaveLength(1000);
    expect(s.recentHeld).toBe(count - 1000);
    while (p.events.length < count) {
      const had = p.events.length;
      p.ack();
      await until(() => (p.events.length > had ? true : undefined), 10_000, () => `more than ${had} events`);
    }
    expect(p.events.map((e) => (e as WireMessageEvent).firstFrame)).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(s.serialized.events).toBe(count);
    await until(() => (s.recentHeld === 0 ? true : undefined), 5000, () => `no events kept (${s.recentHeld} are)`);
  });
});
