/**
 * What the Timeline redraws as frames arrive (issue 19), in real Chromium: following a slow
 * stream, a new frame adds its row and leaves the rows already in view as they were (their
 * elements, text and classes untouched, so the browser lays out and paints the new row alone);
 * and the rows read the same whether they were drawn under a flood or one at a time.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, eventually, launchChromium } from '../helpers/browser.ts';
import { EchoTraffic, tick } from '../helpers/echo-traffic.ts';
import { startPlayground, type Playground } from '../helpers/playground.ts';

const chromium = chromiumAvailability();

describe.skipIf(chromium.skip)(chromium.skip ? `the Timeline's draws: ${chromium.reason}` : "the Timeline's draws, in real Chromium", () => {
  let pg: Playground;
  let browser: Browser;
  let dash: Page;
  const pageErrors: string[] = [];
  // One connection: its messages and echoes are the Timeline's rows, in order.
  const traffic = new EchoTraffic(1);

  const count = () => dash.locator('.timeline .count');
  /** Wait for the Timeline to hold `n` frames ("n of n"). */
  const holds = (n: number) =>
    eventually(
      async () => (await count().textContent()) === `${n.toLocaleString('en-US')} of ${n.toLocaleString('en-US')}`,
      async () => `the Timeline to hold ${n} frames; it says "${await count().textContent()}"`,
      20_000,
    );
  const rowText = (text: string) => dash.getByRole('grid', { name: 'Frames' }).getByRole('row').filter({ hasText: text });

  beforeAll(async () => {
    const [started, launched] = await Promise.allSettled([startPlayground(), launchChromium()]);
    if (started.status === 'fulfilled') pg = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    dash = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    dash.setDefaultTimeout(10_000);
    dash.on('pageerror', (err) => pageErrors.push(err.message));
    await dash.goto(pg.dashboardUrl);
    await dash.locator('.timeline').waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pg?.close();
  });

  it('adds a new frame as a new row and leaves the rows already in view untouched', async () => {
    // More rows than the view holds, arrived at once (a flood's draw), then one message more.
    pg.store.add(traffic.open());
    pg.store.add(traffic.next(60));
    await holds(120);
    pg.store.add(traffic.next(1));
    await holds(122);
    await rowText(`I heard you say "${tick(60)}"`).waitFor();

    // Every row now in view is marked (a property: no change to the page) and every change to
    // them is recorded from here on.
    const before = await dash.evaluate(() => {
      const spacer = document.querySelector('.tspacer')!;
      const rows = [...spacer.querySelectorAll<HTMLElement>('.trow')];
      for (const r of rows) (r as HTMLElement & { old?: string }).old = r.textContent ?? '';
      const w = window as unknown as { changed: string[] };
      w.changed = [];
      new MutationObserver((records) => {
        for (const m of records) {
          const el = m.target instanceof Element ? m.target : m.target.parentElement;
          const row = el?.closest<HTMLElement & { old?: string }>('.trow');
          if (row?.old !== undefined) w.changed.push(`${m.type} ${m.attributeName ?? ''} in "${row.old.slice(0, 60)}"`);
        }
      }).observe(spacer, { subtree: true, childList: true, characterData: true, attributes: true });
      return rows.length;
    });
    expect(before).toBeGreaterThan(20);

    pg.store.add(traffic.next(1));
    await holds(124);
    await rowText(`I heard you say "${tick(61)}"`).waitFor();

    const after = await dash.evaluate(() => {
      const rows = [...document.querySelectorAll<HTMLElement & { old?: string }>('.tspacer .trow')];
      const kept = rows.filter((r) => r.old !== undefined);
      return {
        changed: (window as unknown as { changed: string[] }).changed,
        kept: kept.length,
        // A kept row still reads what it read: the same frame in the same element.
        same: kept.every((r) => r.textContent === r.old),
        newest: rows.filter((r) => r.old === undefined).map((r) => r.textContent ?? ''),
      };
    });
    expect(after.changed).toEqual([]);
    expect(after.same).toBe(true);
    // Two new rows (the message and its echo); the rows that scrolled out of view are gone.
    expect(after.kept).toBeGreaterThanOrEqual(before - 2);
    expect(after.newest).toHaveLength(2);
    expect(after.newest.every((t) => t.includes(tick(61)))).toBe(true);
  });

  it('runs without a script error', () => {
    expect(pageErrors).toEqual([]);
  });
});
