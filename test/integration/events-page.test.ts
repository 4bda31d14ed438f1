/**
 * GET /api/events over plain HTTP answers a page of the store at a time (issue 12): at most
 * `limit` events and about EVENTS_PAGE_BYTES of JSON, with where the next page starts, so a
 * script that walks the pages gets every held event once, in order, and no single answer holds
 * the whole store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENTS_PAGE_BYTES, EVENTS_PAGE_DEFAULT, startDashboard, type Dashboard } from '../../server/app/dashboard.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { decodeFrames } from '../helpers/decode.ts';
import { encodeFrame } from '../helpers/encode.ts';
import { Cleanup } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

const uiDir = mkdtempSync(join(tmpdir(), 'wsplay-events-page-'));
writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>wsplay</title>');

/** Masked text frames from the client, as the wiretap decodes them (a frame and a message each). */
function textMessages(count: number, size: number): ReturnType<typeof decodeFrames> {
  const mask = Buffer.from([1, 2, 3, 4]);
  const frames = Array.from({ length: count }, (_, i) => encodeFrame({ opcode: 1, mask, payload: `${i}:`.padEnd(size, 'x') }));
  return decodeFrames('client', Buffer.concat(frames));
}

async function dashboardOf(store: CaptureStore): Promise<Dashboard> {
  const d = await startDashboard({
    port: 0,
    store,
    connections: () => 0,
    topology: () => ({ tap: { host: '127.0.0.1', port: 1 }, target: { host: '127.0.0.1', port: 2 }, targetLabel: 'test' }),
    uiDir,
  });
  cleanup.add(() => d.close());
  return d;
}

interface Page {
  status: number;
  body: string;
  lines: string[];
  next: number;
  more: string | null;
}

async function page(d: Dashboard, query: string): Promise<Page> {
  const res = await fetch(`http://127.0.0.1:${d.port}/api/events${query}`, { headers: { 'X-Wsplay-Token': d.token } });
  const body = await res.text();
  return {
    status: res.status,
    body,
    lines: body === '' ? [] : body.trimEnd().split('\n'),
    next: Number(res.headers.get('x-wsplay-next-since')),
    more: res.headers.get('x-wsplay-more'),
  };
}

/** Every page from `since` on, following X-Wsplay-Next-Since until there is no more. */
async function walk(d: Dashboard, query: (since: number) => string, since = 0): Promise<{ lines: string[]; pages: Page[] }> {
  const pages: Page[] = [];
  for (;;) {
    const p = await page(d, query(since));
    expect(p.status).toBe(200);
    pages.push(p);
    if (p.more === 'no') break;
    // A page that says there is more always moved on: the walk cannot loop.
    expect(p.next).toBeGreaterThan(since);
    since = p.next;
  }
  return { lines: pages.flatMap((p) => p.lines), pages };
}

describe('GET /api/events', () => {
  let store: CaptureStore;
  let d: Dashboard;
  beforeAll(async () => {
    store = new CaptureStore();
    store.add(textMessages(2500, 40));
    d = await dashboardOf(store);
  });

  it('answers the first page only, and says where the next one starts', async () => {
    const held = store.all().map((e) => JSON.stringify(e));
    expect(held.length).toBe(5000);
    const first = await page(d, '');
    expect(first.status).toBe(200);
    expect(first.lines).toEqual(held.slice(0, EVENTS_PAGE_DEFAULT));
    expect(first.next).toBe(EVENTS_PAGE_DEFAULT);
    expect(first.more).toBe('yes');
  });

  it('gives every held event once, in order, to a script that follows the pages', async () => {
    const { lines, pages } = await walk(d, (since) => `?since=${since}&limit=700`);
    expect(lines).toEqual(store.all().map((e) => JSON.stringify(e)));
    expect(pages.map((p) => p.lines.length)).toEqual([700, 700, 700, 700, 700, 700, 700, 100]);
    expect(pages.at(-1)!.next).toBe(store.nextSeq);
  });

  it('answers nothing past the newest event, and the next page starts there', async () => {
    const p = await page(d, `?since=${store.nextSeq + 50}`);
    expect(p.status).toBe(200);
    expect(p.body).toBe('');
    expect(p.next).toBe(store.nextSeq);
    expect(p.more).toBe('no');
  });

  it('says what it takes when since or limit is not a number it can use', async () => {
    for (const q of ['?since=-1', '?since=abc', '?limit=0', '?limit=1000000', '?limit=2.5']) {
      const res = await fetch(`http://127.0.0.1:${d.port}/api/events${q}`, { headers: { 'X-Wsplay-Token': d.token } });
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: string }).error, q).toMatch(/^GET \/api\/events: since must be a whole number >= 0 and limit one from 1 to /);
    }
  });
});

describe('GET /api/events on a store of large messages', () => {
  it('stops a page near its byte bound, never holding the whole store in one answer', async () => {
    const store = new CaptureStore();
    // 200 messages of 60,000 bytes: some 24 MB of JSON held, six times the bound of a page.
    store.add(textMessages(200, 60_000));
    const d = await dashboardOf(store);
    const first = await page(d, '?limit=10000');
    expect(first.more).toBe('yes');
    expect(first.lines.length).toBeLessThan(400);
    expect(Buffer.byteLength(first.body)).toBeLessThanOrEqual(EVENTS_PAGE_BYTES);
    const { lines, pages } = await walk(d, (since) => `?since=${since}&limit=10000`);
    expect(lines).toEqual(store.all().map((e) => JSON.stringify(e)));
    expect(pages.length).toBeGreaterThanOrEqual(5);
    for (const p of pages) expect(Buffer.byteLength(p.body)).toBeLessThanOrEqual(EVENTS_PAGE_BYTES);
  });

  it('starts at the oldest event still held when since names one the bound dropped', async () => {
    const store = new CaptureStore({ maxEvents: 100, maxBytes: 64 * 1024 * 1024 });
    store.add(textMessages(150, 10));
    expect(store.firstSeq).toBe(200);
    const d = await dashboardOf(store);
    const p = await page(d, '?since=0');
    expect(p.lines).toEqual(store.all().map((e) => JSON.stringify(e)));
    expect(p.next).toBe(300);
    expect(p.more).toBe('no');
  });
});
