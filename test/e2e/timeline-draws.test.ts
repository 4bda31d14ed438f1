/**
 * What the Timeline redraws as frames arrive (issue 19), in real Chromium: following a slow
 * stream, a new frame adds its row and leaves the rows already in view as they were (their
 * elements, text and classes untouched, so the browser lays out and paints the new row alone);
 * when a flood begins, its rows are drawn in the row elements already there (none made); and the rows read the same whether they were drawn under a flood or one at a time.
 * The sequence diagram, opened on the newest arrows, draws a few rows above the view, not its
 * whole scroll margin, and the lower half of them first (opening it under a flood was its longest task).
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
      const rows = [...spacer.querySelectorAll<HTMLElement>('.trow:not(.spare)')];
      for (const r of rows) (r as HTMLElement & { old?: string }).old = r.textContent ?? '';
      const w = window as unknown as { changed: string[] };
      w.changed = [];
      new MutationObserver((records) => {
        for (const m of records) {
          const el = m.target instanceof Element ? m.target : m.target.parentElement;
          const row = el?.closest<HTMLElement & { old?: string }>('.trow');
          if (row?.old !== undefined) w.changed.push(row.old);
        }
      }).observe(spacer, { subtree: true, childList: true, characterData: true, attributes: true });
      return rows.map((r) => r.textContent ?? '');
    });
    expect(before.length).toBeGreaterThan(20);

    pg.store.add(traffic.next(1));
    await holds(124);
    await rowText(`I heard you say "${tick(61)}"`).waitFor();

    const after = await dash.evaluate(() => {
      const rows = [...document.querySelectorAll<HTMLElement & { old?: string }>('.tspacer .trow:not(.spare)')];
      const texts = new Set(rows.map((r) => r.textContent ?? ''));
      // A row still in view: an element that read, before the draw, a frame that is still drawn.
      const stayed = rows.filter((r) => r.old !== undefined && texts.has(r.old));
      const changed = new Set((window as unknown as { changed: string[] }).changed);
      return {
        rows: rows.map((r) => r.textContent ?? ''),
        stayed: stayed.length,
        // A row still in view kept its element and was not touched: the same frame in the same element.
        touched: stayed.filter((r) => changed.has(r.old!) || r.textContent !== r.old).map((r) => r.old!.slice(0, 60)),
      };
    });
    expect(after.touched).toEqual([]);
    // Two new rows (the message and its echo), at the bottom; the two rows that scrolled out of view are gone.
    expect(after.stayed).toBeGreaterThanOrEqual(before.length - 2);
    const newest = after.rows.filter((t) => !before.includes(t));
    expect(newest).toHaveLength(2);
    expect(newest.every((t) => t.includes(tick(61)))).toBe(true);
    expect(after.rows.slice(-2)).toEqual(newest);
  });

  it("draws a flood's rows in the row elements already there: none made", async () => {
    // The last draw followed a slow stream (the test above); now more rows than the view holds at once.
    const marked = await dash.evaluate(() => {
      const spacer = document.querySelector('.tspacer')!;
      const rows = [...spacer.querySelectorAll<HTMLElement & { mark?: boolean }>('.trow')];
      for (const r of rows) r.mark = true;
      const w = window as unknown as { added: number };
      w.added = 0;
      new MutationObserver((records) => {
        for (const m of records) w.added += m.addedNodes.length;
      }).observe(spacer, { childList: true });
      return rows.filter((r) => !r.classList.contains('spare')).length;
    });
    expect(marked).toBeGreaterThan(20);
    pg.store.add(traffic.next(100));
    await holds(324);
    await rowText(`I heard you say "${tick(161)}"`).waitFor();
    const after = await dash.evaluate(() => {
      const rows = [...document.querySelectorAll<HTMLElement & { mark?: boolean }>('.tspacer .trow')];
      return { rows: rows.filter((r) => !r.classList.contains('spare')).length, unmarked: rows.filter((r) => !r.mark).length, added: (window as unknown as { added: number }).added, last: rows.filter((r) => !r.classList.contains('spare')).at(-1)?.textContent ?? '' };
    });
    // (A flood draws no margin of rows above the view: those few elements are kept as spares.)
    expect(after).toMatchObject({ unmarked: 0, added: 0 });
    expect(after.rows).toBeGreaterThan(20);
    expect(after.last).toContain(tick(161));
  });

  it('opens the sequence diagram on the newest arrows with a few rows above the view, and the full margin once scrolled up', async () => {
    // 324 frames and more: the diagram draws its newest 200 arrows, the rows in view and a margin.
    // How many arrows each task's changes left in the page (an observer's call follows each task's).
    await dash.evaluate(() => {
      const w = window as unknown as { arrowsAfterTask: number[] };
      w.arrowsAfterTask = [];
      new MutationObserver(() => w.arrowsAfterTask.push(document.querySelectorAll('.sd-scroll g.sd-arrow').length)).observe(document.body, { subtree: true, childList: true });
    });
    await dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Sequence diagram' }).click();
    const scroller = dash.locator('.sd-scroll');
    await scroller.locator('g.sd-arrow').last().waitFor();
    const drawn = async () =>
      scroller.evaluate((el) => {
        const view = el.getBoundingClientRect();
        const arrows = [...el.querySelectorAll('g.sd-arrow')].map((g) => g.getBoundingClientRect());
        return { arrows: arrows.length, inView: arrows.filter((r) => r.bottom > view.top && r.top < view.bottom).length, above: arrows.filter((r) => r.bottom <= view.top).length };
      });
    // Opening: the bottom half of the rows first, the rest in the next task. Then, following the
    // newest: what is in view, and at most a few rows above it (not 15).
    await eventually(async () => (await drawn()).above > 0, async () => `arrows drawn: ${JSON.stringify(await drawn())}`);
    const following = await drawn();
    expect(following.inView).toBeGreaterThan(10);
    expect(following.above).toBeLessThanOrEqual(5);
    // The opening task drew about half of them, the bottom ones; the next task the rest.
    const counts = await dash.evaluate(() => (window as unknown as { arrowsAfterTask: number[] }).arrowsAfterTask.filter((n) => n > 0));
    expect(counts[0]).toBeGreaterThan(following.arrows / 2 - 2);
    expect(counts[0]).toBeLessThan(following.arrows / 2 + 2);
    expect(counts.at(-1)).toBe(following.arrows);
    // Scrolled up a little: no longer following, the rows above are drawn with the full margin.
    await scroller.evaluate((el) => el.scrollBy(0, -3 * 28));
    await eventually(async () => (await drawn()).above >= 15, async () => `arrows after scrolling up: ${JSON.stringify(await drawn())}`);
    await dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Timeline' }).click();
  });

  it('runs without a script error', () => {
    expect(pageErrors).toEqual([]);
  });
});
