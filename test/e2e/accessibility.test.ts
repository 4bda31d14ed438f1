/**
 * Accessibility of every view, light and dark: axe-core (WCAG 2.0/2.1, A and AA) finds no
 * serious or critical violation, with real traffic on screen (a connection, text and binary
 * frames, a ping, a close), and every tab is reachable by keyboard with its focus visible.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailability, startWsplayAndChromium, textEventually } from '../helpers/browser.ts';
import { ROOT, type CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');

const CENTER = ['Timeline', 'Sequence diagram', 'Stats', 'Code', 'Break it', 'Conformance'] as const;
const DETAIL = ['Lessons', 'Handshake', 'Frame anatomy', 'Message'] as const;

interface Finding {
  view: string;
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

describe.skipIf(chromium.skip)(chromium.skip ? `accessibility: ${chromium.reason}` : 'accessibility of every view (axe-core, WCAG 2 A and AA)', () => {
  let cli: CliProcess;
  let browser: Browser;
  let dashboardUrl: string;
  let tapPort: number;
  let workspace: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-a11y-'));
    ({ cli, browser, dashboardUrl } = await startWsplayAndChromium(workspace));
    tapPort = Number((await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/))[1]);
    await cli.line(/^Server: server\.js \(pid \d+\)/, 20_000);
    // Traffic of every kind the views draw: text both ways, binary, a ping and its pong, a close.
    const ws = new WebSocket(`ws://127.0.0.1:${tapPort}`);
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('I am listening');
    ws.send(Buffer.from([0, 1, 2, 0x7f, 0x80, 0xff]));
    ws.ping('are you there');
    await new Promise<void>((resolve) => ws.once('pong', () => resolve()));
    ws.close(1000, 'bye');
    await new Promise<void>((resolve) => ws.once('close', () => resolve()));
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  async function open(colorScheme: 'light' | 'dark', width: number): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 800 }, colorScheme });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await page.goto(dashboardUrl);
    const grid = page.getByRole('grid', { name: 'Frames' });
    await textEventually(grid, (t) => t.includes('I heard you say'), 'the Timeline to show the echo', 15_000);
    // A frame selected, so the detail views have something to show.
    await grid.getByRole('row').filter({ has: page.getByRole('cell', { name: 'I am listening', exact: true }) }).click();
    return page;
  }

  /** Serious and critical violations inside `region` (a CSS selector), or the whole page. */
  async function scan(page: Page, view: string, region?: string): Promise<Finding[]> {
    const builder = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']);
    if (region) builder.include(region);
    const result = await builder.analyze();
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ view, id: v.id, impact: v.impact!, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1, 2).join('') ?? ''}`) }));
  }

  it.each(['light', 'dark'] as const)('finds no serious or critical violation in any view, %s theme', async (scheme) => {
    const page = await open(scheme, 1280);
    // The header and the Connections list once; then each view inside its own panel.
    const findings: Finding[] = await scan(page, 'page');
    for (const tab of CENTER) {
      await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: tab, exact: true }).click();
      // The Code tab's editor and the diagram draw after the click.
      if (tab === 'Code') await page.locator('.monaco-editor .view-lines').waitFor();
      if (tab === 'Sequence diagram') await page.getByRole('img', { name: /^Sequence diagram of/ }).waitFor();
      findings.push(...(await scan(page, tab, 'section[aria-label="Capture"]')));
    }
    await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Timeline', exact: true }).click();
    for (const tab of DETAIL) {
      await page.getByRole('region', { name: 'Details' }).getByRole('tab', { name: tab, exact: true }).click();
      findings.push(...(await scan(page, tab, 'section[aria-label="Details"]')));
    }
    await page.screenshot({ path: path.join(SHOTS, `a11y-${scheme}.png`) });
    await page.context().close();
    writeFileSync(path.join(SHOTS, `a11y-${scheme}.txt`), JSON.stringify(findings, null, 2));
    const report = findings.map((f) => `${f.view}: ${f.impact} ${f.id} (${f.help})\n    ${f.nodes.join('\n    ')}`).join('\n');
    expect(findings.length, `axe found:\n${report}`).toBe(0);
  }, 400_000);

  it('reaches every tab by keyboard, with a visible focus ring', async () => {
    const page = await open('light', 1280);
    const seen = new Set<string>();
    let unringed: string[] = [];
    // Tab through the page: every tab of both panels must take focus on the way, and show it.
    for (let i = 0; i < 200 && seen.size < CENTER.length + DETAIL.length; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el.getAttribute('role') !== 'tab') return null;
        const style = getComputedStyle(el);
        const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
        const shadow = style.boxShadow !== 'none';
        return { name: el.innerText.trim(), visible: ring || shadow };
      });
      if (!focused) continue;
      seen.add(focused.name);
      if (!focused.visible) unringed.push(focused.name);
    }
    await page.context().close();
    unringed = [...new Set(unringed)];
    for (const tab of [...CENTER, ...DETAIL]) expect([...seen], `Tab never reached the "${tab}" tab`).toContain(tab);
    expect(unringed, 'tabs that take focus without showing it').toEqual([]);
  }, 60_000);
});
