/**
 * Protocols on top of WebSocket in the dashboard, in real Chromium: a Socket.IO chat
 * (socket.io-client, long-polling then the upgrade), a GraphQL subscription (graphql-ws) and a
 * plain client against the Socket.IO server, all through `wsplay tap`. The Timeline shows the
 * decoded event names as badges, the Message view the layers one inside the other with their
 * bytes highlighted, the sequence diagram the app units, the Handshake tab the mismatch.
 * Screenshots at 1280 and 1024 px wide go to test-artifacts/screenshots/app-*.png.
 */
import { AxeBuilder } from '@axe-core/playwright';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Browser, Page } from 'playwright-core';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { chromiumAvailability, eventually, launchChromium, textEventually, visibleText } from '../helpers/browser.ts';
import { Cleanup, HOST, ROOT, runCli, type CliProcess } from '../helpers/net.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';
import { timelineBarRows } from '../helpers/toolbar.ts';

// graphql as graphql-ws loads it (index.js): vite's index.mjs would be a second realm.
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const chromium = chromiumAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');

/**
 * One HTTP server with both: Socket.IO at /socket.io/ (a chat that broadcasts and acks) and a
 * graphql-ws server at /graphql (a subscription of messages). Socket.IO leaves other upgrades alone.
 */
async function appServer(cleanup: Cleanup): Promise<number> {
  const httpServer = http.createServer();
  const sio = new Server(httpServer, { destroyUpgrade: false });
  sio.on('connection', (s) => {
    s.on('chat', (text: string, ack?: (r: { ok: boolean; n: number }) => void) => {
      sio.emit('chat', { from: s.id.slice(0, 4), text });
      ack?.({ ok: true, n: text.length });
    });
  });
  const schema = buildSchema('type Query { hello: String } type Subscription { message(room: String!): String }');
  const wss = new WebSocketServer({ noServer: true });
  const gql = useServer(
    {
      schema,
      roots: {
        subscription: {
          message: async function* ({ room }: { room: string }) {
            for (const m of ['hello', 'how are you?', 'bye']) yield { message: `${room}: ${m}` };
          },
        },
      },
    },
    wss,
  );
  httpServer.on('upgrade', (req, socket, head) => {
    if (req.url?.startsWith('/graphql')) wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  await new Promise<void>((r) => httpServer.listen(0, HOST, () => r()));
  cleanup.add(async () => {
    await gql.dispose();
    await new Promise<void>((r) => sio.close(() => r()));
  });
  return (httpServer.address() as { port: number }).port;
}

describe.skipIf(chromium.skip)(chromium.skip ? `application layers in the dashboard: ${chromium.reason}` : 'application layers in the dashboard, in real Chromium', () => {
  const cleanup = new Cleanup();
  let cli: CliProcess;
  let browser: Browser;
  let dashboardUrl: string;
  let tapPort: number;
  const pageErrors: string[] = [];
  /** What socket.io-client received: the broadcasts' texts, in order. */
  const heard: string[] = [];
  const gqlNext: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureUiBuilt();
    const port = await appServer(cleanup);
    cli = runCli(['tap', '--target', `ws://127.0.0.1:${port}`, '--port', '0', '--dashboard-port', '0', '--no-open'], { WSPLAY_SKIP_UI_BUILD: '1' });
    cleanup.add(() => cli.stop());
    const [, p] = await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) /, 20_000);
    tapPort = Number(p);
    [, dashboardUrl] = (await cli.line(/^Dashboard: (\S+)$/, 20_000)) as [string, string];

    // A Socket.IO chat, as its library starts it: long-polling, then the upgrade to WebSocket.
    const socket = io(`http://127.0.0.1:${tapPort}`, { reconnection: false });
    cleanup.add(() => socket.close());
    socket.on('chat', (m: { text: string }) => heard.push(m.text));
    await new Promise<void>((r, j) => socket.once('connect', () => r()).once('connect_error', j));
    // Wait for the upgrade: the acks below then cross the WebSocket, not a poll.
    await new Promise<void>((r) => (socket.io.engine.transport.name === 'websocket' ? r() : socket.io.engine.once('upgrade', () => r())));
    for (const text of ['hi', 'anyone here?']) expect(await socket.emitWithAck('chat', text)).toEqual({ ok: true, n: text.length });
    // A GraphQL subscription with graphql-ws.
    const client = createClient({ url: `ws://127.0.0.1:${tapPort}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    cleanup.add(() => client.dispose());
    await new Promise<void>((resolve, reject) =>
      client.subscribe(
        { query: 'subscription OnMessage { message(room: "lobby") }', operationName: 'OnMessage' },
        { next: (v) => gqlNext.push(String((v.data as { message: string }).message)), error: reject, complete: resolve },
      ),
    );
    expect(gqlNext).toEqual(['lobby: hello', 'lobby: how are you?', 'lobby: bye']);
    // A plain WebSocket client at the Socket.IO server: the mismatch.
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${tapPort}/socket.io/?EIO=4&transport=websocket`);
      ws.on('open', () => ws.send('hello'));
      ws.on('close', () => resolve());
      ws.on('error', () => {});
    });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await cleanup.run();
  });

  async function open(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 800 }, colorScheme: 'light' });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(dashboardUrl);
    await page.getByText(`wiretap ws://127.0.0.1:${tapPort}`).waitFor();
    await page.getByRole('group', { name: 'Rows' }).getByRole('button', { name: 'Messages' }).click();
    return page;
  }

  const grid = (page: Page) => page.getByRole('grid', { name: 'Messages' });

  it('shows the decoded event names of a real socket.io-client session in the Timeline', async () => {
    expect(heard).toEqual(['hi', 'anyone here?']);
    const page = await open(1280);
    await textEventually(grid(page), (t) => t.includes('socket.io EVENT "chat"'), 'a socket.io EVENT "chat" badge');
    const badges = (await grid(page).locator('.badge.app').allInnerTexts()).map((t) => t.trim());
    // What the library sent: two emits of "chat" with acks, two broadcasts back, two acks.
    expect(badges.filter((b) => b === 'socket.io EVENT "chat" #0')).toHaveLength(1);
    expect(badges.filter((b) => b === 'socket.io EVENT "chat" #1')).toHaveLength(1);
    expect(badges.filter((b) => b === 'socket.io EVENT "chat"')).toHaveLength(2);
    expect(badges.filter((b) => /^socket\.io ACK #[01]$/.test(b))).toHaveLength(2);
    expect(badges).toContain('graphql subscribe OnMessage');
    expect(badges.filter((b) => b.startsWith('graphql next'))).toHaveLength(3);
    await page.screenshot({ path: path.join(SHOTS, 'app-timeline-1280.png') });
    await page.setViewportSize({ width: 1024, height: 800 });
    await page.screenshot({ path: path.join(SHOTS, 'app-timeline-1024.png') });

    // Filter by protocol, then by event name: behind the bar's Filters button.
    await page.getByRole('toolbar', { name: 'Timeline filters' }).getByRole('button', { name: /^Filters/ }).click();
    const filters = page.getByRole('group', { name: 'Application layer filters' });
    await filters.getByRole('combobox', { name: 'Application protocol' }).selectOption('graphql');
    await textEventually(grid(page), (t) => !t.includes('socket.io') && t.includes('graphql subscribe OnMessage'), 'only graphql rows');
    await filters.getByRole('combobox', { name: 'Application protocol' }).selectOption('socket.io');
    await filters.getByRole('searchbox', { name: /Event name/ }).fill('chat');
    await textEventually(grid(page), (t) => !t.includes('graphql') && !t.includes('engine.io') && t.includes('EVENT "chat"'), 'only the chat events');
    expect(await grid(page).getByRole('row').count()).toBe(4);
    // Frames mode filters by the message each frame belongs to: the same four, one frame each.
    await page.getByRole('group', { name: 'Rows' }).getByRole('button', { name: 'Frames' }).click();
    const frames = page.getByRole('grid', { name: 'Frames' });
    await textEventually(frames, (t) => t.includes('EVENT "chat"'), 'the chat events in Frames mode');
    expect(await frames.getByRole('row').count()).toBe(4);
    await page.close();
  });

  for (const width of [1024, 1280]) {
    it(`keeps the Timeline's controls on one row at ${width} px with the application filters offered, behind a Filters button`, async () => {
      const page = await open(width);
      await textEventually(grid(page), (t) => t.includes('socket.io EVENT "chat"'), 'a socket.io EVENT "chat" badge');
      const bar = page.getByRole('toolbar', { name: 'Timeline filters' });
      await bar.waitFor();
      const laid = await timelineBarRows(page);
      expect(laid.rows, `the bar's items ${JSON.stringify(laid.items)} sit on ${laid.rows} rows (${laid.height} px tall, ${laid.width} px wide)`).toBe(1);
      const toggle = bar.getByRole('button', { name: /^Filters/ });
      // Closed, the panel's controls are out of sight and out of the tab order.
      expect(await page.getByRole('group', { name: 'Application layer filters' }).count()).toBe(0);
      expect(await toggle.getAttribute('aria-expanded')).toBe('false');

      // From the keyboard: Enter opens it, Tab goes into it, Escape closes it and focus is back on the button.
      await toggle.focus();
      await page.keyboard.press('Enter');
      const panel = page.getByRole('group', { name: 'More filters' });
      await panel.waitFor();
      expect(await toggle.getAttribute('aria-expanded')).toBe('true');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.closest('#tl-more') !== null)).toBe(true);
      const protocol = panel.getByRole('combobox', { name: 'Application protocol' });
      await protocol.selectOption('graphql');
      await textEventually(grid(page), (t) => !t.includes('socket.io') && t.includes('graphql subscribe OnMessage'), 'only graphql rows');
      // The button counts what is set behind it, so a filtered Timeline says why.
      expect((await visibleText(toggle)).replace(/\s+/g, ' ')).toMatch(/^Filters 1/);
      expect(await toggle.getAttribute('aria-expanded')).toBe('true');
      await page.screenshot({ path: path.join(SHOTS, `app-filters-open-${width}.png`) });
      await page.keyboard.press('Escape');
      await panel.waitFor({ state: 'hidden' });
      expect(await page.evaluate(() => document.activeElement?.classList.contains('tl-more-toggle'))).toBe(true);
      // Still filtered with the panel closed.
      expect(await visibleText(grid(page))).not.toContain('socket.io');

      // A click elsewhere closes it too.
      await toggle.click();
      await panel.waitFor();
      await grid(page).getByRole('row').last().click();
      await panel.waitFor({ state: 'hidden' });
      await toggle.click();
      await panel.getByRole('combobox', { name: 'Application protocol' }).selectOption('all');
      await textEventually(grid(page), (t) => t.includes('socket.io') && t.includes('graphql'), 'every row again');
      expect((await visibleText(toggle)).trim()).toMatch(/^Filters\s*▾?$/);
      await page.close();
    });
  }

  for (const width of [1280, 1024]) {
    it(`shows a chat event layer by layer at ${width} px, each layer's bytes highlighted, from the keyboard too`, async () => {
      const page = await open(width);
      await textEventually(grid(page), (t) => t.includes('socket.io EVENT "chat" #1'), 'the second chat event');
      await grid(page).getByRole('row').filter({ hasText: 'socket.io EVENT "chat" #1' }).click();
      const layers = page.getByRole('list', { name: 'Layers, outermost first' });
      const names = (await layers.getByRole('button').allInnerTexts()).map((t) => t.replace(/^└\s*/, '').split(/\s/)[0]);
      expect(names.slice(0, 2)).toEqual(['TCP', 'WebSocket']);
      const text = await visibleText(layers);
      expect(text).toContain('Engine.IO packet');
      expect(text).toContain('Socket.IO packet');
      expect(text).toContain('JSON payload');
      // The innermost layer is highlighted first: the JSON, not the 42 and the ack id before it.
      const dump = page.locator('.layer-dump');
      const hl = async () => (await dump.locator('.ld-ascii span.hl').allInnerTexts()).join('');
      expect(await hl()).toBe('["chat","anyone here?"]');
      await layers.getByRole('button', { name: /Socket\.IO packet/ }).focus();
      expect(await hl()).toBe('21["chat","anyone here?"]');
      await page.keyboard.press('Shift+Tab');
      expect(await hl()).toBe('421["chat","anyone here?"]');
      await layers.getByRole('button', { name: /Engine\.IO packet/ }).click();
      await page.screenshot({ path: path.join(SHOTS, `app-message-layers-${width}.png`) });
      await page.close();
    });
  }

  it('draws the app units on the sequence diagram and tells the mismatch in the Handshake tab', async () => {
    const page = await open(1280);
    await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Sequence diagram' }).click();
    const svg = page.locator('svg.sd-body');
    await eventually(async () => {
      const t = (await svg.textContent()) ?? '';
      return t.includes('graphql next') && t.includes('socket.io EVENT "chat"') && t.includes('graphql subscribe OnMessage');
    }, async () => `app labels on the diagram; it reads: ${((await svg.textContent()) ?? '').slice(0, 400)}`);
    await page.screenshot({ path: path.join(SHOTS, 'app-diagram-1280.png') });
    await page.setViewportSize({ width: 1024, height: 800 });
    await page.screenshot({ path: path.join(SHOTS, 'app-diagram-1024.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Timeline' }).click();
    // The plain client's "hello", marked ✗ on its row.
    const row = grid(page).getByRole('row').filter({ hasText: /hello$/, has: page.locator('.badge.violation') }).last();
    await row.click();
    const note = page.getByRole('note', { name: /Rules of socket\.io/ });
    expect(await visibleText(note)).toContain('protocol-mismatch');
    await page.getByRole('region', { name: 'Details' }).getByRole('tab', { name: 'Handshake' }).click();
    const told = await visibleText(page.getByRole('note', { name: 'Protocol mismatch' }));
    expect(told).toContain('The server speaks Socket.IO');
    expect(told).toContain('“hello”');
    await page.screenshot({ path: path.join(SHOTS, 'app-mismatch-1280.png') });
    await page.close();
  });

  it.each(['light', 'dark'] as const)('meets WCAG 2 AA in the layers, the badges and the filters, %s theme (axe-core: no serious or critical violation)', async (scheme) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(dashboardUrl);
    await page.getByText(`wiretap ws://127.0.0.1:${tapPort}`).waitFor();
    await page.getByRole('group', { name: 'Rows' }).getByRole('button', { name: 'Messages' }).click();
    await textEventually(grid(page), (t) => t.includes('socket.io EVENT "chat" #1'), 'the second chat event');
    await grid(page).getByRole('row').filter({ hasText: 'socket.io EVENT "chat" #1' }).click();
    await page.getByRole('list', { name: 'Layers, outermost first' }).waitFor();
    // The Filters panel open, over the rows: its controls are checked too.
    await page.getByRole('toolbar', { name: 'Timeline filters' }).getByRole('button', { name: /^Filters/ }).click();
    await page.getByRole('group', { name: 'More filters' }).waitFor();
    // A filter set: the button's count is drawn too.
    await page.getByRole('combobox', { name: 'Application protocol' }).selectOption('socket.io');
    await page.locator('.tl-more-count').waitFor();
    // The views this file adds to: the Message view's layers, the Timeline's rows and filters.
    const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).include('.message-view').include('.timeline').analyze();
    const bad = results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(', ')}`);
    expect(bad).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, `app-message-layers-${scheme}-1280.png`) });
    await context.close();
  }, 120_000);

  it('ran without a script error in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
