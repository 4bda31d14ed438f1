/**
 * The dashboard keeps everything at 10,000 frames a second (issue 19), in real Chromium: a page
 * opened on 10 s of that traffic (200,000 events: the bench's echo load, decoded by the wiretap's
 * own decoder into the store) receives all of it, and the Timeline scrolls back to its very first
 * frame; a burst of 50,000 more events at once, live, reaches the page whole, none of it "not
 * shown". What is timed lives in `npm run bench`; here only counts and what the page shows.
 * Screenshots at 1280 and 1024 px go to test-artifacts/screenshots/volume-*.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, eventually, launchChromium } from '../helpers/browser.ts';
import { EchoTraffic, tick } from '../helpers/echo-traffic.ts';
import { ROOT } from '../helpers/net.ts';
import { startPlayground, type Playground } from '../helpers/playground.ts';

const chromium = chromiumAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');

describe.skipIf(chromium.skip)(chromium.skip ? `the dashboard at 10,000 frames a second: ${chromium.reason}` : 'the dashboard at 10,000 frames a second, in real Chromium', () => {
  let pg: Playground;
  let browser: Browser;
  let dash: Page;
  const pageErrors: string[] = [];
  const traffic = new EchoTraffic();

  const grid = () => dash.getByRole('grid', { name: 'Frames' });
  const count = () => dash.locator('.timeline .count');
  const status = () => dash.locator('.status');
  /** The Timeline's "N of M": rows shown of rows held. */
  const rowsHeld = async () => Number(/of ([\d,]+)/.exec((await count().textContent()) ?? '')?.[1]?.replace(/,/g, '') ?? NaN);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const [started, launched] = await Promise.allSettled([startPlayground(), launchChromium()]);
    if (started.status === 'fulfilled') pg = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    // 10 s at 10,000 frames a second: 50,000 messages and their echoes, 100,000 frames, 200,000 events.
    pg.store.add(traffic.open());
    for (let i = 0; i < 200; i++) pg.store.add(traffic.next(250));
    dash = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    dash.setDefaultTimeout(10_000);
    dash.on('pageerror', (err) => pageErrors.push(err.message));
    await dash.goto(pg.dashboardUrl);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await pg?.close();
  });

  it('loads a 200,000-event history whole, and the Timeline scrolls back to its first frame', async () => {
    expect(pg.store.dropped).toBe(0);
    await eventually(async () => (await rowsHeld()) === 100_000, async () => `the Timeline to hold 100,000 frames; it says "${await count().textContent()}"`, 120_000);
    expect(await count().textContent()).toBe('100,000 of 100,000');
    // The newest frame is in view (following), the oldest is not in the page's DOM yet.
    await grid().getByRole('row').filter({ hasText: `I heard you say "${tick(49_999)}"` }).waitFor();
    expect(await grid().getByRole('row').filter({ hasText: `${tick(0)}` }).count()).toBe(0);
    await dash.screenshot({ path: path.join(SHOTS, 'volume-history-1280.png') });

    // Back to the start: the first frame the wiretap captured is the first row.
    await grid().evaluate((el) => (el.scrollTop = 0));
    const first = grid().getByRole('row').first();
    await eventually(async () => ((await first.textContent()) ?? '').includes(tick(0)), async () => `the first row to be "${tick(0)}"; it is "${await first.textContent()}"`);
    expect(await first.getAttribute('data-dir')).toBe('client');
    expect(await first.locator('.c-time').textContent()).toBe('0.000s');
    await dash.setViewportSize({ width: 1024, height: 768 });
    await dash.screenshot({ path: path.join(SHOTS, 'volume-first-frame-1024.png') });
    await dash.setViewportSize({ width: 1280, height: 800 });
    expect(await status().textContent()).not.toContain('not shown');
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('takes a burst of 50,000 events at once whole: every frame in the Timeline, none "not shown"', async () => {
    // Following the newest rows again.
    await grid().evaluate((el) => (el.scrollTop = el.scrollHeight));
    const before = pg.store.counts.frame;
    // 12,500 messages and their echoes in one go: 25,000 frames, 50,000 events (1.25 s of 20,000 events a second, at once).
    pg.store.add(traffic.next(12_500));
    expect(pg.store.counts.frame).toBe(before + 25_000);
    await eventually(async () => (await rowsHeld()) === before + 25_000, async () => `the Timeline to hold ${before + 25_000} frames; it says "${await count().textContent()}"`, 120_000);
    await grid().getByRole('row').filter({ hasText: `I heard you say "${tick(62_499)}"` }).waitFor();
    expect(await status().textContent()).not.toContain('not shown');
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('filters 125,000 frames a slice at a time: says how far it has searched, then finds every match', async () => {
    const total = pg.store.counts.frame;
    // Each matching message, and its echo (the echo quotes it), is a row: counted from what was sent.
    let sent = 0;
    for (let n = 0; n < total / 2; n++) if (tick(n).includes('tick 4999')) sent++;
    expect(sent).toBe(11);
    // Every text the count shows, as it changes.
    await count().evaluate((el) => {
      const seen: string[] = [];
      (globalThis as unknown as { countsSeen: string[] }).countsSeen = seen;
      new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, { childList: true, characterData: true, subtree: true });
      // And what the list says while it has no row.
      const empties: string[] = [];
      (globalThis as unknown as { emptiesSeen: string[] }).emptiesSeen = empties;
      const list = document.querySelector('.timeline')!;
      new MutationObserver(() => {
        const p = list.querySelector('p.empty');
        if (p && p.textContent !== empties[empties.length - 1]) empties.push(p.textContent ?? '');
      }).observe(list, { childList: true, characterData: true, subtree: true });
    });
    await dash.setViewportSize({ width: 1024, height: 768 });
    await dash.getByLabel('Filter text').fill('tick 4999');
    await dash.screenshot({ path: path.join(SHOTS, 'volume-searching-1024.png') });
    await dash.setViewportSize({ width: 1280, height: 800 });
    const want = `${(2 * sent).toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`;
    await eventually(async () => (await count().textContent()) === want, async () => `the count to read "${want}"; it reads "${await count().textContent()}"`, 60_000);
    const seen = await dash.evaluate(() => (globalThis as unknown as { countsSeen: string[] }).countsSeen);
    // Searched in slices: the count said so on the way (a single long task would show only the end).
    expect(seen.some((t) => /^searching \d+ %: /.test(t)), seen.slice(0, 5).join(' | ')).toBe(true);
    // Before its first match the list said it was searching, never that no row matches.
    const empties = await dash.evaluate(() => (globalThis as unknown as { emptiesSeen: string[] }).emptiesSeen);
    expect(empties).toContain('Searching the rows for the filters…');
    expect(empties).not.toContain('No row matches the filters.');
    expect(await grid().getByRole('row').filter({ hasText: `I heard you say "${tick(49_999)}"` }).count()).toBe(1);
    await dash.screenshot({ path: path.join(SHOTS, 'volume-filtered-1280.png') });
    await dash.getByLabel('Filter text').fill('');
    await eventually(async () => (await count().textContent()) === `${total.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`, async () => `the count back to every row; it reads "${await count().textContent()}"`, 60_000);
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
