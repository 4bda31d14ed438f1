/**
 * `wsplay tap`'s dashboard in real Chromium: the Code tab says what needs the playground instead
 * of an editor whose every action fails, no Lessons tab, no HTML error page anywhere; and the
 * Timeline's time column, from the first row shown or on the clock, as the toolbar's toggle picks.
 * Screenshots at 1280 and 1024 px wide go to test-artifacts/screenshots/tap-*.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailability, launchChromium, textEventually, visibleText } from '../helpers/browser.ts';
import { ROOT, runCli, startEchoServer, type CliProcess, type WsServerHandle } from '../helpers/net.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';

const chromium = chromiumAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');

describe.skipIf(chromium.skip)(chromium.skip ? `wsplay tap's dashboard: ${chromium.reason}` : "wsplay tap's dashboard in real Chromium", () => {
  let server: WsServerHandle;
  let cli: CliProcess;
  let browser: Browser;
  let dashboardUrl: string;
  let tapPort: number;
  /** Wall-clock time (epoch ms) just before the client's first frame was sent and when its echo came back. */
  let sentBetween: [number, number];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureUiBuilt();
    server = await startEchoServer();
    cli = runCli(['tap', '--target', `ws://127.0.0.1:${server.port}`, '--port', '0', '--dashboard-port', '0', '--no-open'], { WSPLAY_SKIP_UI_BUILD: '1' });
    const [, port] = await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) /, 20_000);
    tapPort = Number(port);
    [, dashboardUrl] = (await cli.line(/^Dashboard: (\S+)$/, 20_000)) as [string, string];
    browser = await launchChromium();
    // Traffic through the wiretap: one client, two messages and a close.
    // Messages are queued from the start: the greeting can come in the same chunk as the 101.
    const ws = new WebSocket(`ws://127.0.0.1:${tapPort}`);
    const received: string[] = [];
    let arrived: () => void = () => {};
    ws.on('message', (data) => {
      received.push(String(data));
      arrived();
    });
    const nth = (n: number) => (received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (arrived = () => received.length >= n && resolve())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    await nth(1); // the echo server's greeting
    // The wiretap sees the frame after send() and before the echo comes back.
    const before = Date.now();
    ws.send('first');
    await nth(2);
    sentBetween = [before, Date.now()];
    ws.send('second');
    await nth(3);
    ws.close(1000, 'bye');
    await new Promise((resolve) => ws.once('close', resolve));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await cli?.stop();
    await server?.close();
  });

  async function open(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 800 }, colorScheme: 'light' });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(dashboardUrl);
    await page.getByText(`wiretap ws://127.0.0.1:${tapPort}`).waitFor();
    return page;
  }

  const timeCells = (page: Page) => page.getByRole('grid', { name: 'Frames' }).getByRole('row').locator('.c-time');

  for (const width of [1280, 1024]) {
    it(`shows what tap mode has at ${width} px: the Code tab says what needs npm start, no Lessons tab`, async () => {
      const page = await open(width);
      await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Code' }).click();
      const note = await visibleText(page.getByRole('note'));
      expect(note).toContain('wsplay tap runs the wiretap and this dashboard only');
      expect(note).toContain('need the playground (npm start)');
      expect(note).toContain(`ws://127.0.0.1:${tapPort}`);
      expect(await page.locator('.monaco-editor').count()).toBe(0);
      expect(await page.getByRole('button', { name: /Run|Restart/ }).count()).toBe(0);
      const tabs = await page.getByRole('region', { name: 'Details' }).getByRole('tab').allInnerTexts();
      expect(tabs).toEqual(['Handshake', 'Frame anatomy', 'Message']);
      const body = await page.locator('body').innerText();
      expect(body).not.toMatch(/Cannot (GET|POST)|<!DOCTYPE|404 Not Found/);
      await page.screenshot({ path: path.join(SHOTS, `tap-code-${width}.png`) });
      await page.getByRole('button', { name: 'Break it' }).click();
      expect(await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Break it' }).getAttribute('aria-selected')).toBe('true');
      await page.close();
    });
  }

  it('counts times from the first row shown, or shows the clock, as the toggle picks, and keeps the pick', async () => {
    const page = await open(1280);
    const first = timeCells(page).first();
    expect(await textEventually(first, (t) => t === '0.000s', 'the first row at 0.000s')).toBe('0.000s');
    const times = (await timeCells(page).allInnerTexts()).map((t) => t.trim());
    expect(times.length).toBeGreaterThanOrEqual(5);
    for (const t of times) expect(t).toMatch(/^\d+\.\d{3}s$/);
    expect(times.map((t) => parseFloat(t))).toEqual([...times.map((t) => parseFloat(t))].sort((a, b) => a - b));
    await page.screenshot({ path: path.join(SHOTS, 'tap-timeline-from-first-1280.png') });

    // The time column sits behind the Timeline's Filters button in a column this narrow.
    await page.getByRole('toolbar', { name: 'Timeline filters' }).getByRole('button', { name: /^Filters/ }).click();
    await page.getByRole('group', { name: 'Time column' }).getByRole('button', { name: 'clock' }).click();
    const clock = await textEventually(first, (t) => /^\d\d:\d\d:\d\d\.\d{3}$/.test(t), 'the first row on the clock');
    // The client's "first" frame: on the clock when the test sent it (local time, to the ms).
    const sentRow = page.getByRole('grid', { name: 'Frames' }).getByRole('row').filter({ has: page.getByRole('cell', { name: 'first', exact: true }) });
    const sentAt = await visibleText(sentRow.locator('.c-time'));
    const local = (epoch: number) => {
      const d = new Date(epoch);
      return ((d.getHours() * 60 + d.getMinutes()) * 60 + d.getSeconds()) * 1000 + d.getMilliseconds();
    };
    const [h, m, s] = sentAt.split(':');
    const shown = ((Number(h) * 60 + Number(m)) * 60) * 1000 + Math.round(Number(s) * 1000);
    expect(shown).toBeGreaterThanOrEqual(local(sentBetween[0]) - 5);
    expect(shown).toBeLessThanOrEqual(local(sentBetween[1]) + 5);
    expect(clock <= sentAt).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'tap-timeline-clock-1280.png') });

    await page.reload();
    await page.getByText(`wiretap ws://127.0.0.1:${tapPort}`).waitFor();
    expect(await textEventually(timeCells(page).first(), (t) => /^\d\d:\d\d:\d\d\.\d{3}$/.test(t), 'the clock again after a reload')).toBe(clock);
    await page.setViewportSize({ width: 1024, height: 800 });
    await page.screenshot({ path: path.join(SHOTS, 'tap-timeline-clock-1024.png') });
    await page.getByRole('toolbar', { name: 'Timeline filters' }).getByRole('button', { name: /^Filters/ }).click();
    await page.getByRole('group', { name: 'Time column' }).getByRole('button', { name: 'from first' }).click();
    expect(await textEventually(timeCells(page).first(), (t) => t === '0.000s', 'the first row at 0.000s again')).toBe('0.000s');
    await page.screenshot({ path: path.join(SHOTS, 'tap-timeline-from-first-1024.png') });
    await page.close();
  });

  it('ran without a script error in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
