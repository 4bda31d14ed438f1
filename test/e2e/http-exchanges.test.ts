/**
 * A plain HTTP server behind the wiretap, polled by a page in real Chromium over one kept-alive
 * TCP connection (lesson 1's polling client, reduced): the inspector shows each request/response
 * exchange as what it is. The Timeline has one HTTP row per exchange, the Connections list says
 * how many requests the connection carried, the Handshake view steps through them with neutral
 * words for a 200 (no error box), and the Sequence diagram marks no 200 OK with ✗.
 * Screenshots: test-artifacts/screenshots/http-exchanges-*.png.
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../server/app/dashboard.ts';
import type { HandshakeEvent } from '../../server/capture/events.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { Wiretap } from '../../server/tap/wiretap.ts';
import { chromiumAvailability, eventually, launchChromium, textEventually } from '../helpers/browser.ts';
import { ROOT } from '../helpers/net.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';

const chromium = chromiumAvailability();
const SHOTS = [path.join(ROOT, 'test-artifacts', 'screenshots')];
const POLLS = 6;

/** The page polls /poll one request after another, so Chromium reuses one kept-alive connection. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>poller</title><pre id="out"></pre><script>
(async () => {
  for (let i = 1; i <= ${POLLS}; i++) {
    const r = await fetch('/poll?n=' + i);
    document.getElementById('out').textContent += (await r.text()) + '\\n';
  }
  document.title = 'done';
})();
</script>`;

describe.skipIf(chromium.skip)(chromium.skip ? `HTTP exchanges in the inspector: ${chromium.reason}` : 'HTTP exchanges in the inspector (real Chromium)', () => {
  let server: http.Server;
  let store: CaptureStore;
  let tap: Wiretap;
  let dashboard: Dashboard;
  let browser: Browser;
  let dash: Page;
  let pollConn = 0;

  const pane = () => dash.getByRole('region', { name: 'Details' });
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const option = (conn: number) => dash.getByRole('listbox', { name: 'Connections' }).locator(`[data-conn="${conn}"]`);

  beforeAll(async () => {
    for (const dir of SHOTS) mkdirSync(dir, { recursive: true });
    await ensureUiBuilt();
    server = http.createServer((req, res) => {
      if (req.url?.startsWith('/poll')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ poll: new URL(req.url, 'http://x').searchParams.get('n') }));
      } else if (req.url === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(PAGE);
      } else {
        res.writeHead(404);
        res.end('no such thing');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    store = new CaptureStore();
    tap = new Wiretap({ port: 0, target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port }, onEvents: (events) => store.add(events) });
    const tapPort = await tap.listen();
    dashboard = await startDashboard({
      port: 0,
      store,
      connections: () => tap.connections,
      topology: () => ({ tap: { host: tap.host, port: tap.port }, target: tap.target, targetLabel: 'a plain HTTP server' }),
      control: tap,
      now: () => tap.now(),
    });
    browser = await launchChromium();
    // The poller: a page served through the wiretap, polling with fetch over keep-alive.
    const poller = await (await browser.newContext()).newPage();
    await poller.goto(`http://127.0.0.1:${tapPort}/`);
    await poller.waitForFunction(() => document.title === 'done', undefined, { timeout: 10_000 });
    const polls = () => store.all().filter((e): e is HandshakeEvent => e.type === 'handshake' && !!e.request?.path.startsWith('/poll'));
    await eventually(() => polls().length === POLLS, () => `${POLLS} polls captured; got ${polls().length}`);
    // The connection that carried the most polls (Chromium keeps one alive for them all).
    const counts = new Map<number, number>();
    for (const p of polls()) counts.set(p.conn, (counts.get(p.conn) ?? 0) + 1);
    pollConn = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    expect(counts.get(pollConn)).toBeGreaterThanOrEqual(3);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await dashboard?.close();
    await tap?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  async function shots(name: string): Promise<void> {
    for (const scheme of ['light', 'dark'] as const) {
      await dash.emulateMedia({ colorScheme: scheme });
      for (const dir of SHOTS) await dash.screenshot({ path: path.join(dir, `http-exchanges-${name}-${scheme}.png`) });
    }
    await dash.emulateMedia({ colorScheme: 'light' });
  }

  it('shows one Timeline row per HTTP exchange of the kept-alive connection, in order', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    dash = await ctx.newPage();
    await dash.goto(dashboard.url);
    const perConn = store.all().filter((e): e is HandshakeEvent => e.type === 'handshake' && e.conn === pollConn);
    await option(pollConn).click();
    const conn = await textEventually(option(pollConn), (t) => new RegExp(`HTTP · ${perConn.length} requests`).test(t), `#${pollConn} to say it carried ${perConn.length} HTTP requests`);
    expect(conn).not.toMatch(/0 frames/);
    // The status line counts the requests (there are no frames to count).
    const all = store.all().filter((e) => e.type === 'handshake' && e.outcome === 'plain-http').length;
    await textEventually(dash.getByRole('status').first(), (t) => t.includes(`· ${all} HTTP`), `the status line to count ${all} HTTP requests`);
    const rows = dash.getByRole('grid', { name: 'Frames' }).getByRole('row');
    await eventually(async () => (await rows.count()) === perConn.length, async () => `${perConn.length} rows; the Timeline shows ${JSON.stringify(await rows.allInnerTexts())}`);
    const texts = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
    const expected = perConn.map((h) => `${h.request!.method} ${h.request!.path} → ${h.response!.status} ${h.response!.reason}`);
    texts.forEach((t, i) => {
      expect(t).toContain('HTTP');
      expect(t).toContain(expected[i]);
    });
    expect(texts.filter((t) => /\/poll\?n=\d+ → 200 OK/.test(t)).length).toBeGreaterThanOrEqual(3);
    // A 200 answer is no failure: no ✗ on its row (a 404 for /favicon.ico, if this connection carried it, has one).
    const ok = rows.filter({ hasText: '→ 200 OK' });
    expect(await ok.count()).toBeGreaterThanOrEqual(3);
    expect(await ok.locator('.badge.violation').count()).toBe(0);
    const failed = rows.filter({ hasText: '→ 404' });
    expect(await failed.locator('.badge.violation').count()).toBe(await failed.count());
    // The Length column counts each exchange's bytes on the wire, request and response with their
    // headers (lesson 1: a poll's short body costs hundreds of bytes), not the body alone.
    const lengths = (await rows.locator('.c-len').allInnerTexts()).map((t) => Number(t.replace(/,/g, '')));
    const onTheWire = perConn.map((h) => {
      const heads = Buffer.from(h.request!.raw, 'base64').length + Buffer.from(h.response!.raw, 'base64').length;
      // The body: its Content-Length, or (chunked, as Node sends these) the text the decoder kept.
      const length = h.response!.headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1];
      return heads + (length !== undefined ? Number(length) : Buffer.byteLength(h.response!.body ?? ''));
    });
    expect(lengths).toEqual(onTheWire);
    for (const [i, h] of perConn.entries()) expect(lengths[i]).toBeGreaterThan(Buffer.byteLength(h.response!.body ?? '') + 100);
    await shots('timeline');
    await dash.setViewportSize({ width: 1024, height: 768 });
    await shots('timeline-1024');
    await dash.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows the selected exchange in the Handshake view, neutral for 200, and steps through the others', async () => {
    const rows = dash.getByRole('grid', { name: 'Frames' }).getByRole('row');
    const last = rows.last();
    const lastText = await last.innerText();
    await last.click();
    const shown = await textEventually(pane(), (t) => /plain HTTP: this connection was never upgraded to WebSocket/i.test(t), 'the Handshake view to say plain HTTP, never upgraded');
    expect(shown).toContain(lastText.match(/GET \S+/)![0]);
    expect(await pane().locator('.failure').count()).toBe(0);
    expect(shown).not.toMatch(/WebSocket-only server/);
    const stepper = pane().getByRole('group', { name: 'HTTP exchanges' });
    const pos = await stepper.innerText();
    const [, at, of] = pos.match(/Request (\d+) of (\d+)/)!;
    expect(at).toBe(of);
    await stepper.getByRole('button', { name: 'Previous request' }).click();
    await textEventually(stepper, (t) => t.includes(`Request ${Number(at) - 1} of ${of}`), 'the stepper to move to the previous request');
    await shots('handshake');
  });

  it('draws the polls in the Sequence diagram without ✗ on their 200 OK answers', async () => {
    await centerTab('Sequence diagram').click();
    const labels = dash.locator('svg.sd-body text.sd-label');
    await eventually(
      async () => (await labels.allTextContents()).filter((t) => /^200 OK/.test(t)).length >= 3,
      async () => `3 "200 OK" answers in the diagram; it shows ${JSON.stringify(await labels.allTextContents())}`,
    );
    const all = await labels.allTextContents();
    expect(all.filter((t) => /200 OK/.test(t) && t.includes('✗'))).toEqual([]);
    await shots('diagram');
  });
});
