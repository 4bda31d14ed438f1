/**
 * The dashboard at the widths learners have: 1024, 1280, 1440 and 1920 px. At each: no panel runs
 * off the screen, nothing a learner reads is cut (the wiretap's and the server's addresses, the
 * sequence diagram's legend and toolbar), and the header keeps its height when a fault or a
 * crashed server.js adds a chip to it (the page does not jump). Screenshots of each width are
 * kept under test-artifacts/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailability, eventually, startWsplayAndChromium, textEventually } from '../helpers/browser.ts';
import { ROOT, type CliProcess } from '../helpers/net.ts';
import { timelineBarRows } from '../helpers/toolbar.ts';

const chromium = chromiumAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const WIDTHS = [1024, 1280, 1440, 1920] as const;

/** What a person would call cut or off screen, measured in the page. */
interface Measure {
  headerHeight: number;
  pageOverflow: number;
  panels: Array<{ name: string; left: number; right: number; width: number }>;
  /** Elements whose text is cut (their content is wider than their box). */
  cut: string[];
  innerWidth: number;
}

function measure(page: Page): Promise<Measure> {
  return page.evaluate(() => {
    const cut: string[] = [];
    const isCut = (el: Element | null, what: string) => {
      if (!el) return;
      const h = el as HTMLElement;
      if (h.scrollWidth > h.clientWidth + 1) cut.push(`${what}: ${JSON.stringify(h.innerText.trim().slice(0, 80))} (${h.scrollWidth} px in ${h.clientWidth})`);
      // Ancestors that clip it count too.
      const r = h.getBoundingClientRect();
      for (let p = h.parentElement; p && p !== document.body; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (s.overflowX === 'visible') continue;
        const pr = p.getBoundingClientRect();
        if (r.right > pr.right + 1 || r.left < pr.left - 1) {
          cut.push(`${what}: clipped by ${p.className || p.tagName} (${Math.round(r.left)}-${Math.round(r.right)} in ${Math.round(pr.left)}-${Math.round(pr.right)})`);
          break;
        }
      }
    };
    isCut(document.querySelector('.tap-url'), 'the wiretap address');
    isCut(document.querySelector('.topo-target'), "the server's address");
    for (const el of document.querySelectorAll('.server-chip, .faults-badge')) isCut(el, 'a header chip');
    for (const el of document.querySelectorAll('.top button, .top .button-like')) isCut(el, 'a header button');
    for (const list of document.querySelectorAll('[role="tablist"]')) {
      for (const t of list.querySelectorAll('[role="tab"]') as NodeListOf<HTMLElement>) {
        isCut(t, `the tab ${t.innerText.trim()}`);
        // A tab's name on one line: its text's line boxes all share one top.
        const range = document.createRange();
        range.selectNodeContents(t);
        const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (tops.size > 1) cut.push(`the tab ${JSON.stringify(t.innerText.trim().replace(/\s+/g, ' '))} wraps onto ${tops.size} lines`);
      }
      // A row of tabs stays one row: a tab wrapped below the others reads as part of the view.
      const tabs = [...list.querySelectorAll('[role="tab"]')].filter((t) => t.getBoundingClientRect().width > 0);
      const rows = new Set(tabs.map((t) => Math.round(t.getBoundingClientRect().top)));
      if (rows.size > 1) cut.push(`the tabs ${tabs.map((t) => (t as HTMLElement).innerText.trim()).join(', ')} sit on ${rows.size} rows`);
    }
    const panels = [...document.querySelectorAll('.layout > .panel')].map((p) => {
      const r = p.getBoundingClientRect();
      return { name: p.getAttribute('aria-label') ?? p.className, left: r.left, right: r.right, width: r.width };
    });
    return {
      headerHeight: document.querySelector('.top')!.getBoundingClientRect().height,
      pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
      panels,
      cut,
      innerWidth: window.innerWidth,
    };
  });
}

describe.skipIf(chromium.skip)(chromium.skip ? `layout: ${chromium.reason}` : 'the dashboard at 1024, 1280, 1440 and 1920 px wide', () => {
  let cli: CliProcess;
  let browser: Browser;
  let dashboardUrl: string;
  let workspace: string;
  let tapPort: number;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-layout-'));
    ({ cli, browser, dashboardUrl } = await startWsplayAndChromium(workspace, ['--fault', 'latency=5']));
    tapPort = Number((await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/))[1]);
    await cli.line(/^Server: server\.js \(pid \d+\)/, 20_000);
    // A few peers, so the sequence diagram has lanes and the Connections list has rows.
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${tapPort}`);
      await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send(`peer ${i} says hello`);
      await new Promise<void>((resolve) => ws.on('message', (m) => String(m).startsWith('I heard') && resolve()));
      if (i < 2) ws.close(1000, 'bye');
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it('fits every width: panels on screen, addresses and tabs whole, the diagram legend and toolbar whole', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await page.goto(dashboardUrl);
    await textEventually(page.getByRole('grid', { name: 'Frames' }), (t) => t.includes('peer 2 says hello'), 'the Timeline to show the traffic', 15_000);
    const problems: string[] = [];
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width >= 1440 ? 900 : 768 });
      await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Timeline', exact: true }).click();
      const m = await measure(page);
      if (m.pageOverflow > 0) problems.push(`${width}: the page scrolls sideways by ${m.pageOverflow} px`);
      for (const p of m.panels) {
        if (p.right > m.innerWidth + 1) problems.push(`${width}: the ${p.name} panel runs off the screen (right edge ${Math.round(p.right)})`);
        if (p.width < 150) problems.push(`${width}: the ${p.name} panel is ${Math.round(p.width)} px wide`);
      }
      problems.push(...m.cut.map((c) => `${width}: ${c}`));
      // The Timeline's controls on one row: a second row takes the rows a learner came to see.
      const bar = await timelineBarRows(page);
      if (bar.rows > 1) problems.push(`${width}: the Timeline's controls ${JSON.stringify(bar.items)} sit on ${bar.rows} rows in ${bar.width} px`);
      await page.screenshot({ path: path.join(SHOTS, `layout-${width}.png`) });

      await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Sequence diagram', exact: true }).click();
      const diagram = page.getByRole('img', { name: /^Sequence diagram of/ });
      await diagram.waitFor();
      const clipped = await page.evaluate(() => {
        const out: string[] = [];
        const host = document.querySelector('section[aria-label="Capture"]')!.getBoundingClientRect();
        // Every control and legend entry above the drawing: inside the panel, on one row each.
        for (const el of document.querySelectorAll('.sd-toolbar button, .sd-toolbar label, .sd-legend > *')) {
          const r = el.getBoundingClientRect();
          const h = el as HTMLElement;
          if (r.right > host.right + 1) out.push(`${h.innerText.trim()} runs past the panel`);
          if (h.scrollWidth > h.clientWidth + 1) out.push(`${JSON.stringify(h.innerText.trim())} is cut`);
          const line = parseFloat(getComputedStyle(h).lineHeight) || 16;
          if (r.height > line * 1.8 + 8) out.push(`${JSON.stringify(h.innerText.trim())} wraps (${Math.round(r.height)} px tall)`);
        }
        // Lane titles in the drawing: SVG text is not clipped by CSS, so compare with the lane.
        for (const t of document.querySelectorAll('svg text.sd-lanename, svg text.sd-lanesub')) {
          const s = (t as SVGTextElement).textContent ?? '';
          if (s.includes('…')) out.push(`the lane title ${JSON.stringify(s)} is shortened`);
        }
        return out;
      });
      problems.push(...clipped.map((c) => `${width}, sequence diagram: ${c}`));
      await page.screenshot({ path: path.join(SHOTS, `layout-${width}-diagram.png`) });
    }
    await context.close();
    expect(problems, problems.join('\n')).toEqual([]);
  }, 120_000);

  it('keeps the header height when server.js crashes and its chip appears (the page does not jump)', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await page.goto(dashboardUrl);
    await page.getByText(`wiretap ws://127.0.0.1:${tapPort}`).waitFor();
    const before: Record<number, number> = {};
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      before[width] = (await measure(page)).headerHeight;
    }
    // server.js crashes at start: the header gains a "server.js crashed" chip (the fault chip is there already).
    writeFileSync(path.join(workspace, 'server.js'), "throw new Error('layout test: crashed on purpose');\n");
    await page.getByRole('button', { name: /^server\.js crashed: open the Code tab$/ }).waitFor({ timeout: 20_000 });
    const jumps: string[] = [];
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      await eventually(async () => (await measure(page)).innerWidth === width, () => `the viewport to be ${width} wide`);
      const m = await measure(page);
      if (Math.abs(m.headerHeight - before[width]!) > 1) jumps.push(`${width}: the header grew from ${before[width]} to ${m.headerHeight} px`);
      jumps.push(...m.cut.map((c) => `${width}: ${c}`));
      await page.screenshot({ path: path.join(SHOTS, `layout-${width}-crashed.png`) });
    }
    await context.close();
    expect(jumps, jumps.join('\n')).toEqual([]);
  }, 90_000);
});
