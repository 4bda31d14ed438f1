/**
 * The event stream's history under load (issue 12, item 2): history goes through the same
 * acknowledged, bounded queue as live events, in batches serialized once and shared by every
 * page. Pages that upgrade and never read cost what their sockets hold, not the store again
 * each; a page that reads gets all of its history; the wiretap keeps relaying meanwhile.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BATCH_BYTES, BATCH_EVENTS, EventStream } from '../../server/app/event-stream.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import type { StreamMessage } from '../../server/app/stream-protocol.ts';
import type { MessageEvent as WireMessageEvent, WireEvent } from '../../server/capture/events.ts';
import { Cleanup, connect, HOST, until, WS_KEY } from '../helpers/net.ts';
import { startPlayground, type Playground } from '../helpers/playground.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A captured text message, as the wiretap would record it; `firstFrame` numbers it. */
function fakeMessage(n: number, text: string): WireMessageEvent {
  return { type: 'message', conn: 999, t: n, dir: 'client', opcode: 1, length: text.length, text, compressed: false, frames: 1, firstFrame: n, lastFrame: n };
}

function fill(pg: Playground, count: number, textBytes: number): void {
  const events: WireEvent[] = [];
  for (let i = 0; i < count; i++) events.push(fakeMessage(i, `${i} `.padEnd(textBytes, 'x')));
  pg.store.add(events);
}

type EventsMessage = Extract<StreamMessage, { kind: 'events' }>;

interface Page {
  ws: WebSocket;
  messages: StreamMessage[];
  /** Events received, in order. */
  events: WireEvent[];
  batches: EventsMessage[];
  /** Acknowledge everything received so far, as the dashboard's page does once it has applied it. */
  ack(): void;
  /** Wait until `n` events have been received. */
  received(n: number, timeoutMs?: number): Promise<void>;
}

/** A page's event stream as the dashboard opens it (ui/src/state.ts): flow control from the first batch. */
async function openPage(pg: Playground, window: number | null = 4000): Promise<Page> {
  const query = window === null ? '' : `&window=${window}`;
  const ws = new WebSocket(`ws://127.0.0.1:${pg.dashboardPort}/api/events?token=${encodeURIComponent(pg.token)}${query}`, {
    origin: `http://127.0.0.1:${pg.dashboardPort}`,
  });
  cleanup.add(() => ws.terminate());
  const page: Page = {
    ws,
    messages: [],
    events: [],
    batches: [],
    ack: () => {
      const last = page.batches.at(-1);
      if (last) ws.send(JSON.stringify({ kind: 'ack', seq: last.from + last.events.length }));
    },
    received: (n, timeoutMs = 20_000) =>
      until(() => (page.events.length >= n ? true : undefined), timeoutMs, () => `${n} events on the page (have ${page.events.length})`).then(() => {}),
  };
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as StreamMessage;
    page.messages.push(msg);
    if (msg.kind === 'events') {
      page.batches.push(msg);
      for (const e of msg.events) page.events.push(e);
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return page;
}

/** Every event numbered 0..count-1 arrived once, in order (firstFrame numbers the fake messages). */
function expectAll(page: Page, count: number): void {
  expect(page.events).toHaveLength(count);
  expect(page.events.every((e, i) => e.type === 'message' && e.firstFrame === i)).toBe(true);
}

/**
 * A page that upgrades and then never reads: the 101 is read (so the upgrade is known to be
 * done), then the socket is paused and what the server sends piles up on its side.
 */
function stalledPage(pg: Playground): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: HOST, port: pg.dashboardPort });
    cleanup.add(() => s.destroy());
    s.once('error', reject);
    s.once('connect', () =>
      s.write(
        [
          `GET /api/events?token=${encodeURIComponent(pg.token)} HTTP/1.1`,
          `Host: 127.0.0.1:${pg.dashboardPort}`,
          `Origin: http://127.0.0.1:${pg.dashboardPort}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${WS_KEY}`,
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      ),
    );
    let head = '';
    const onData = (b: Buffer) => {
      head += b.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      s.pause();
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`The stream refused a page: ${head.slice(0, 200)}`));
      else resolve(s);
    };
    s.on('data', onData);
  });
}

describe('history through the acknowledged queue', () => {
  let pg: Playground;
  beforeAll(async () => {
    pg = await startPlayground({ ui: false });
  }, 30_000);
  afterAll(() => pg?.close());

  it('sends a loading page no more history than its window ahead of its acknowledgements, and all of it as it acknowledges', async () => {
    const count = 12_000;
    fill(pg, count, 100);
    const page = await openPage(pg, 4000);
    await page.received(4000);
    // The server holds the rest for the page until it acknowledges: what it owes is what is left.
    await until(() => (pg.dashboard.stream.pages[0]?.queued === count - 4000 ? true : undefined), 5000, () => JSON.stringify(pg.dashboard.stream.pages));
    expect(page.events).toHaveLength(4000);
    page.ack();
    await page.received(8000);
    expect(pg.dashboard.stream.pages[0]!.queued).toBe(count - 8000);
    page.ack();
    await page.received(count);
    expectAll(page, count);
    const hello = page.messages.find((m) => m.kind === 'hello');
    expect(hello?.kind === 'hello' && hello.nextSeq).toBe(count);
    // Batches are bounded too: the page never gets the history as one huge message.
    expect(Math.max(...page.batches.map((b) => b.events.length))).toBeLessThanOrEqual(BATCH_EVENTS);
  });

  it('serializes the history once for ten pages loading it together, and not again for a page that reloads', async () => {
    const fresh = await startPlayground({ ui: false });
    cleanup.add(() => fresh.close());
    const count = 12_000;
    fill(fresh, count, 100);
    const stream = fresh.dashboard.stream;
    expect(stream.serialized.events).toBe(0);
    const pages = [];
    for (let i = 0; i < 10; i++) pages.push(await openPage(fresh, 4000));
    // Each reads at its own pace, acknowledging as it goes.
    const readAll = async (page: Page) => {
      while (page.events.length < count) {
        page.ack();
        await page.received(page.events.length + 1);
      }
    };
    await Promise.all(pages.map(readAll));
    for (const page of pages) expectAll(page, count);
    // Ten pages, one serialization of the history (not ten).
    expect(stream.serialized.events).toBe(count);
    // A reload reads the same batches.
    const reloaded = await openPage(fresh, 4000);
    await readAll(reloaded);
    expectAll(reloaded, count);
    expect(stream.serialized.events).toBe(count);
  }, 60_000);
});

describe('pages that upgrade and never read', () => {
  let pg: Playground;
  const highWaterBytes = 256 * 1024;
  const cacheBytes = 4 * 1024 * 1024;
  beforeAll(async () => {
    pg = await startPlayground({ ui: false, stream: { highWaterBytes, cacheBytes } });
  }, 30_000);
  afterAll(() => pg?.close());

  it('cost what their sockets hold; a page that reads still gets all its history, and the wiretap relays meanwhile', async () => {
    // ~25 MB of history as JSON: 40 copies of it took the process to gigabytes.
    const count = 12_000;
    fill(pg, count, 2000);
    const stalled: net.Socket[] = [];
    for (let i = 0; i < 40; i++) stalled.push(await stalledPage(pg));
    expect(pg.dashboard.stream.subscribers).toBe(40);

    // Another client's echo through the wiretap comes back while they sit there.
    const client = await connect(`ws://127.0.0.1:${pg.tapPort}`);
    cleanup.add(() => client.ws.terminate());
    expect(await client.next()).toBe('Hello webSocket');
    client.ws.send('still relaying?');
    expect(await client.next(20_000)).toBe('I heard you say "still relaying?"');

    // A page that reads gets the whole history (and the live events since), acknowledging as it goes.
    const reader = await openPage(pg, 4000);
    const total = await until(
      () => {
        const hello = reader.messages.find((m) => m.kind === 'hello');
        return hello?.kind === 'hello' ? hello.nextSeq : undefined;
      },
      5000,
      () => 'a hello',
    );
    while (reader.events.length < total - pg.store.firstSeq) {
      reader.ack();
      await reader.received(reader.events.length + 1, 30_000);
    }
    const messages = reader.events.filter((e): e is WireMessageEvent => e.type === 'message' && e.conn === 999);
    expect(messages).toHaveLength(count);
    expect(messages.every((e, i) => e.firstFrame === i)).toBe(true);

    // What the stalled pages cost: each socket holds at most the high-water mark and a batch
    // (and a few small messages), the shared batches stay within their bound.
    const stream = pg.dashboard.stream;
    const pages = stream.pages;
    expect(pages).toHaveLength(41);
    for (const p of pages) expect(p.buffered).toBeLessThanOrEqual(highWaterBytes + BATCH_BYTES + 64 * 1024);
    expect(stream.cacheBytes).toBeLessThanOrEqual(cacheBytes);
    // And none of them got the whole history: they are owed the rest, to be sent when they read.
    expect(pages.filter((p) => p.queued > 0).length).toBeGreaterThanOrEqual(40);
    for (const s of stalled) expect(s.destroyed).toBe(false);
  }, 90_000);
});

describe('a page reading its history while the capture goes on', () => {
  /** An event stream over a small store, served on a port of its own (no guard: the guard has its own tests). */
  async function smallStream(maxEvents: number, maxQueue: number): Promise<{ store: CaptureStore; stream: EventStream; port: number }> {
    const store = new CaptureStore({ maxEvents, maxBytes: 64 * 1024 * 1024 });
    const stream = new EventStream({
      store,
      maxQueue,
      flushMs: 10,
      topology: () => ({ tap: { host: HOST, port: 1 }, target: { host: HOST, port: 2 }, targetLabel: 'none' }),
      connections: () => 0,
    });
    const server = http.createServer();
    server.on('upgrade', (req, socket, head) => stream.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
    cleanup.add(() => {
      stream.close();
      server.closeAllConnections();
      server.close();
    });
    return { store, stream, port: (server.address() as net.AddressInfo).port };
  }

  it('is told how many events the store dropped before it read them, and gets the rest in order', async () => {
    const { store, port } = await smallStream(2000, 20_000);
    let produced = 0;
    const add = (n: number) => {
      const events: WireEvent[] = [];
      for (let i = 0; i < n; i++) events.push(fakeMessage(produced++, 'y'.repeat(40)));
      store.add(events);
    };
    add(2000);
    const page = await openPage({ dashboardPort: port, token: '' } as Playground, 500);
    await page.received(500);
    // While the page sits on its window, the store's bound pushes out events it has not read.
    add(1500);
    expect(store.firstSeq).toBe(1500);
    while (page.events.length < 1000 || page.events.at(-1)!.type !== 'message' || (page.events.at(-1) as WireMessageEvent).firstFrame !== produced - 1) {
      page.ack();
      await page.received(page.events.length + 1);
    }
    const shed = await until(() => page.messages.findLast((m) => m.kind === 'shed'), 5000, () => 'a shed notice');
    expect(shed.kind === 'shed' && shed.total).toBe(1000);
    // Every event is accounted for: received or counted as shed, each received once and in order.
    expect(page.events.length + 1000).toBe(produced);
    const frames = page.events.map((e) => (e as WireMessageEvent).firstFrame);
    expect(frames).toEqual([...frames].sort((a, b) => a - b));
    expect(new Set(frames).size).toBe(frames.length);
    expect(frames.slice(0, 500)).toEqual([...Array(500).keys()]);
    expect(frames[500]).toBe(1500);
  });

  it('sheds the oldest live events past its queue bound while it is still reading its history, and says so', async () => {
    const maxQueue = 300;
    const { store, stream, port } = await smallStream(100_000, maxQueue);
    let produced = 0;
    const add = (n: number) => {
      const events: WireEvent[] = [];
      for (let i = 0; i < n; i++) events.push(fakeMessage(produced++, 'z'.repeat(40)));
      store.add(events);
    };
    add(1000);
    const page = await openPage({ dashboardPort: port, token: '' } as Playground, 500);
    await page.received(500);
    // Live events while it has not acknowledged its first window of history: 1,000, over a bound of 300.
    for (let i = 0; i < 10; i++) add(100);
    expect(stream.pages[0]!.queued).toBe(500 + maxQueue);
    while (page.events.length < 1000 + maxQueue) {
      page.ack();
      await page.received(page.events.length + 1);
    }
    const frames = page.events.map((e) => (e as WireMessageEvent).firstFrame);
    // All the history, then the newest 300 live events.
    expect(frames).toEqual([...[...Array(1000).keys()], ...Array.from({ length: maxQueue }, (_, i) => 2000 - maxQueue + i)]);
    const shed = await until(() => page.messages.findLast((m) => m.kind === 'shed'), 5000, () => 'a shed notice');
    expect(shed.kind === 'shed' && shed.total).toBe(1000 - maxQueue);
  });
});
