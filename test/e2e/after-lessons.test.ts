/**
 * The dashboard after a few lessons, as a reviewer found it, in real Chromium against the real
 * `wsplay start` (workspace in a temporary folder, a server.js of the test's own): many closed
 * connections do not push the live peers, the wiretap and the server out of the Sequence
 * diagram, and its time labels are whole; a 101 whose Sec-WebSocket-Accept is wrong is not
 * called "upgraded" in the Handshake view; the header stays one row at 1280 px with the HTTP
 * requests counted; the console marks where a lesson was opened. Screenshots (light and dark)
 * go to test-artifacts/screenshots/after-lessons-*.png.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailability, eventually, openDashboard, screenshotsDir, textEventually, type OpenDashboard } from '../helpers/browser.ts';

const chromium = chromiumAvailability();
const SHOTS = screenshotsDir();
const VIEWPORT = { width: 1280, height: 800 };

/** A server.js that answers /bad-accept with a 101 and a wrong Sec-WebSocket-Accept, plain GETs with 200, and echoes otherwise. */
const SERVER = `const http = require('http');
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ noServer: true });
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('polled');
});
server.on('upgrade', (req, socket, head) => {
  if (req.url === '/bad-accept') {
    socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data) => ws.send('echo ' + data));
  });
});
server.listen(9900, () => console.log('custom server ready'));
`;

describe.skipIf(chromium.skip)(chromium.skip ? `the dashboard after a few lessons: ${chromium.reason}` : 'the dashboard after a few lessons, in real Chromium', () => {
  let pg: OpenDashboard;
  let context: BrowserContext;
  let dash: Page;
  let tapPort: number;
  const live: WebSocket[] = [];
  const liveConns: number[] = [];
  const pageErrors: string[] = [];

  const header = () => dash.getByRole('banner');
  const tapUrl = () => header().getByText(/^wiretap ws:\/\/127\.0\.0\.1:\d+$/);
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const details = () => dash.getByRole('region', { name: 'Details' });
  const connections = () => dash.getByRole('listbox', { name: 'Connections' }).getByRole('option');

  async function shot(name: string): Promise<void> {
    for (const dark of [false, true]) {
      await dash.emulateMedia({ colorScheme: dark ? 'dark' : 'light' });
      await dash.screenshot({ path: path.join(SHOTS, `after-lessons-${name}${dark ? '-dark' : ''}.png`) });
    }
    await dash.emulateMedia({ colorScheme: 'light' });
  }

  async function lastConnection(): Promise<number> {
    const ids = await connections().evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-conn'))));
    return Math.max(0, ...ids);
  }

  /** A WebSocket through the wiretap that has exchanged one message; retried while server.js restarts. */
  async function openSocket(text: string): Promise<WebSocket> {
    for (let tries = 0; ; tries++) {
      const ws = new WebSocket(`ws://127.0.0.1:${tapPort}/`);
      const ok = await new Promise<boolean>((resolve) => {
        ws.once('open', () => resolve(true));
        ws.once('error', () => resolve(false));
      });
      if (ok) {
        const echo = new Promise<void>((resolve) => ws.once('message', () => resolve()));
        ws.send(text);
        await echo;
        return ws;
      }
      if (tries > 40) throw new Error('could not connect through the wiretap');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  beforeAll(async () => {
    pg = await openDashboard('after-lessons', { pageErrors, viewport: VIEWPORT, prepare: (dir) => writeFileSync(path.join(dir, 'server.js'), SERVER) });
    ({ context, page: dash, tapPort } = pg);
  }, 120_000);

  afterAll(async () => {
    for (const ws of live) ws.terminate();
    await pg?.close();
  }, 30_000);

  it('keeps the header its height at 1280 px with the HTTP requests counted, the wiretap address and the counts whole', async () => {
    // Three live peers first (they stay open for the Sequence diagram below).
    for (let i = 1; i <= 3; i++) {
      const ws = await openSocket(`live peer ${i}`);
      live.push(ws);
      // Its connection in the list, by the client's port (earlier tries may have failed while server.js restarted).
      const port = (ws as unknown as { _socket: { localPort: number } })._socket.localPort;
      const option = connections().filter({ hasText: `127.0.0.1:${port}` });
      await option.waitFor();
      liveConns.push(Number(await option.getAttribute('data-conn')));
    }
    const oneRow = (await header().boundingBox())!.height;
    // A polling client: plain HTTP requests through the wiretap.
    for (let i = 0; i < 4; i++) await (await fetch(`http://127.0.0.1:${tapPort}/poll?n=${i}`)).text();
    const counts = header().getByText(/^\d+ frames · \d+ HTTP$/);
    const text = await textEventually(counts, (t) => / 4 HTTP$/.test(t), 'the header to count 4 HTTP requests');
    expect(text).toMatch(/^6 frames · 4 HTTP$/);
    expect(await counts.getAttribute('title')).toMatch(/^6 frames captured, 4 HTTP requests$/);
    // The header is as tall as before the counter showed (under 1440 px it always has its two
    // rows: nothing that appears moves the page), and the URL and the counts are whole.
    expect((await header().boundingBox())!.height).toBe(oneRow);
    expect(await tapUrl().evaluate((el) => el.scrollWidth <= el.clientWidth + 1)).toBe(true);
    expect(await counts.evaluate((el) => el.scrollWidth <= el.clientWidth + 1)).toBe(true);
    const count = (await counts.boundingBox())!;
    expect(count.x + count.width).toBeLessThanOrEqual(1280);
    await header().screenshot({ path: path.join(SHOTS, 'after-lessons-header-1280.png') });
    await dash.emulateMedia({ colorScheme: 'dark' });
    await header().screenshot({ path: path.join(SHOTS, 'after-lessons-header-1280-dark.png') });
    await dash.emulateMedia({ colorScheme: 'light' });
  });

  it('says a 101 with a wrong Sec-WebSocket-Accept failed for the browser, not "upgraded"', async () => {
    const before = await lastConnection();
    const client = await context.newPage();
    const code = await client.evaluate(
      (port) =>
        new Promise<number>((resolve) => {
          const ws = new window.WebSocket(`ws://127.0.0.1:${port}/bad-accept`);
          ws.onclose = (e) => resolve(e.code);
        }),
      tapPort,
    );
    await client.close();
    expect(code).toBe(1006);
    await eventually(async () => (await lastConnection()) > before, () => 'the bad-accept connection in the list');
    const conn = await lastConnection();
    await dash.getByRole('listbox', { name: 'Connections' }).locator(`[data-conn="${conn}"]`).click();
    await details().getByRole('tab', { name: 'Handshake' }).click();
    const summary = details().locator('.handshake-view .summary');
    const text = await textEventually(summary, (t) => t.includes('101'), 'the handshake summary with the 101');
    expect(text).toMatch(/upgrade failed/i);
    expect(text).toContain('101 Switching Protocols');
    expect(text).toContain('but Accept wrong: the browser refuses (1006)');
    expect(text.toLowerCase()).not.toContain('upgraded');
    // The badge is drawn in the "bad" colour, not the good one.
    const badge = summary.locator('.outcome');
    const [badColor, goodColor, color] = await badge.evaluate((el) => {
      const s = getComputedStyle(document.documentElement);
      const probe = document.createElement('span');
      document.body.append(probe);
      probe.style.color = s.getPropertyValue('--bad');
      const bad = getComputedStyle(probe).color;
      probe.style.color = s.getPropertyValue('--good');
      const good = getComputedStyle(probe).color;
      probe.remove();
      return [bad, good, getComputedStyle(el).color];
    });
    expect(color).toBe(badColor);
    expect(color).not.toBe(goodColor);
    await shot('handshake-accept-mismatch');
    // The Timeline of that connection says the upgrade failed, not that it is open.
    await centerTab('Timeline').click();
    const empty = dash.locator('.timeline .tscroll > p.empty');
    const said = await textEventually(empty, (t) => t.startsWith(`#${conn}`), `the Timeline's empty state for #${conn}`);
    expect(said).toBe(
      `#${conn}: the upgrade failed. The server answered 101 Switching Protocols, but its Sec-WebSocket-Accept is wrong, so the client refused the upgrade (a browser closes with 1006): no frame can cross it. See the Handshake tab.`,
    );
    await shot('timeline-accept-mismatch');
  });

  it('draws lanes only for connections with something in sight, the live ones, the wiretap and the server in view', async () => {
    // Fourteen short connections, closed one after the other, after the live peers.
    for (let i = 1; i <= 14; i++) {
      const ws = await openSocket(`short ${i}`);
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000, 'done');
      });
    }
    await eventually(async () => (await lastConnection()) >= liveConns[2]! + 15, () => 'the 14 short connections in the list');
    // Back to the live peers' frames: the newest arrows are the short ones'.
    for (const [i, ws] of live.entries()) ws.send(`still here ${i + 1}`);
    for (let i = 1; i <= 3; i++) {
      const ws = await openSocket(`late short ${i}`);
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000, 'done');
      });
    }
    await centerTab('Sequence diagram').click();
    // Every connection, not only the one selected in the test before.
    const only = dash.getByRole('toolbar', { name: 'Sequence diagram' }).getByRole('checkbox', { name: /only the selected connection/ });
    if (await only.isChecked()) await only.uncheck();
    const diagram = dash.getByRole('img', { name: /^Sequence diagram of/ });
    await diagram.waitFor();
    const scroller = dash.locator('.sd-scroll');
    const laneNames = () => dash.locator('svg.sd-header .sd-lanehead .sd-lanename').allTextContents();
    const hidden = dash.locator('.sd-toolbar').getByRole('status').filter({ hasText: /closed connections? not shown/ });
    const note = await textEventually(hidden, (t) => /^\d+ closed connections not shown · show all$/.test(t), 'the note on the lanes not shown');
    const notShown = Number(note.split(' ')[0]);
    expect(notShown).toBeGreaterThanOrEqual(10);
    const names = await laneNames();
    // Each live peer has its lane, the wiretap and the server too, all inside the panel.
    for (const c of liveConns) expect(names).toContain(`#${c}`);
    expect(names).toContain('wiretap');
    expect(names).toContain('server');
    const box = (await scroller.boundingBox())!;
    for (const name of ['wiretap', 'server', ...liveConns.map((c) => `#${c}`)]) {
      const lane = dash.locator('svg.sd-header .sd-lanehead').filter({ has: dash.locator('.sd-lanename', { hasText: new RegExp(`^${name}$`) }) });
      const r = (await lane.locator('rect').boundingBox())!;
      expect(r.x, `the ${name} lane's left edge`).toBeGreaterThanOrEqual(box.x - 0.5);
      expect(r.x + r.width, `the ${name} lane's right edge`).toBeLessThanOrEqual(box.x + box.width + 0.5);
    }
    // The time labels are whole: none starts left of the diagram.
    const timeLeft = await dash.locator('svg.sd-body .sd-time').evaluateAll((els) => Math.min(...els.map((el) => (el as SVGTextElement).getBBox().x)));
    expect(timeLeft).toBeGreaterThanOrEqual(0);
    await shot('sequence-many-closed');

    // "show all" draws a lane for every connection again.
    await hidden.getByRole('button', { name: 'show all' }).click();
    await eventually(async () => (await laneNames()).length === names.length + notShown, async () => `all lanes drawn; they are ${(await laneNames()).join(' ')}`);
    await dash.getByRole('button', { name: 'hide closed lanes out of sight' }).click();
    await hidden.waitFor();
  }, 60_000);

  it('marks in the console where a lesson was opened, above that lesson\'s run', async () => {
    const runButton = dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ });
    const consoleRows = dash.getByRole('log', { name: 'Console output' }).getByRole('listitem');
    await centerTab('Code').click();
    await runButton.click();
    // The tutorial's client throws (send before open): the old workspace's crash.
    await consoleRows.filter({ hasText: /Uncaught InvalidStateError/ }).first().waitFor({ timeout: 20_000 });
    const before = await consoleRows.count();

    await details().getByRole('tab', { name: 'Lessons' }).click();
    await details().getByRole('listitem', { name: 'Lesson 04: Sending too early' }).getByRole('button', { name: 'Open lesson 04' }).click();
    await details().getByRole('heading', { name: 'Lesson 04 · Sending too early' }).waitFor();
    const divider = consoleRows.filter({ hasText: /^[\s\S]*— lesson 04 —$/ });
    await divider.waitFor({ timeout: 20_000 });
    const texts = await consoleRows.allInnerTexts();
    const at = texts.findIndex((t) => t.trim().endsWith('— lesson 04 —'));
    expect(at, `the divider after the earlier run's ${before} lines: ${JSON.stringify(texts)}`).toBeGreaterThanOrEqual(before);
    expect(texts.slice(0, at).some((t) => t.includes('Uncaught InvalidStateError'))).toBe(true);
    expect(texts.slice(at + 1).some((t) => t.includes('Uncaught InvalidStateError'))).toBe(false);

    // The lesson's run prints below the divider.
    await centerTab('Code').click();
    await runButton.click();
    await eventually(
      // The lesson's client.js sends too early too: its own crash, under the divider.
      async () => (await consoleRows.allInnerTexts()).slice(at + 1).some((t) => t.includes('Uncaught InvalidStateError')),
      async () => `the lesson's run below the divider; the console shows ${JSON.stringify((await consoleRows.allInnerTexts()).slice(-10))}`,
      20_000,
    );
    await dash.screenshot({ path: path.join(SHOTS, 'after-lessons-console-divider.png') });
    // The tutorial's client throwing (send before open) is lesson material; anything else is the dashboard's.
    expect(pageErrors.filter((e) => !/\/workspace\/client\.js:\d+:\d+|Still in CONNECTING state/.test(e))).toEqual([]);
  }, 60_000);
});
