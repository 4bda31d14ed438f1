/**
 * The Conformance view in real Chromium, against the real `wsplay start` on a workspace in a
 * temporary folder: the ladder runs the suite's cases against the course's echo server.js through
 * the wiretap, the first failing case opens with the RFC's sentence and a hint, and its frame
 * opens in Frame anatomy with the bytes the case is about marked; a save of server.js runs the
 * ladder again. Screenshots at 1280 and 1024 wide go to test-artifacts/screenshots/conformance-*.png.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, eventually, openDashboard, screenshotsDir, textEventually, type OpenDashboard } from '../helpers/browser.ts';
import { ROOT, type CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();
const SHOTS = screenshotsDir();

/** Lesson 15's solution: an exact echo with an 'error' listener on each connection. */
const SOLUTION = readFileSync(path.join(ROOT, 'lessons', '15-conformance', 'solution', 'server.js'), 'utf8');

describe.skipIf(chromium.skip)(chromium.skip ? `the Conformance view: ${chromium.reason}` : 'the Conformance view in real Chromium', () => {
  let pg: OpenDashboard;
  let workspace: string;
  let cli: CliProcess;
  let page: Page;
  const pageErrors: string[] = [];

  const ladder = () => page.getByLabel('Conformance ladder');
  const status = () => ladder().getByRole('status');
  const details = () => page.getByRole('region', { name: 'Details' });

  async function shot(name: string): Promise<void> {
    for (const width of [1280, 1024]) {
      await page.setViewportSize({ width, height: 800 });
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await page.screenshot({ path: path.join(SHOTS, `conformance-${name}-${width}.png`) });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  }

  /** Serious and critical WCAG 2 A/AA findings in the ladder and the detail panel, light and dark. */
  async function axe(): Promise<string[]> {
    const out: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).include('section[aria-label="Capture"]').include('section[aria-label="Details"]').analyze();
      for (const v of result.violations) {
        if (v.impact === 'serious' || v.impact === 'critical') out.push(`${scheme}: ${v.id} (${v.help}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    return out;
  }

  beforeAll(async () => {
    pg = await openDashboard('conformance', { pageErrors });
    ({ workspace, cli, page } = pg);
  }, 120_000);

  afterAll(() => pg?.close(), 30_000);

  it("runs the ladder on the course's echo server and opens the first failing case with its frame", async () => {
    await page.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Conformance' }).click();
    // Keyboard: the cases field and the run button are reachable and work with Enter.
    const cases = ladder().getByLabel('Cases');
    await cases.fill('1-7');
    await cases.press('Enter');
    const said = await textEventually(status(), (t) => /failed\. The first one is open below/.test(t), 'the run to end with failures', 240_000);
    expect(said).toMatch(/^\d+ of \d+ cases? failed/);

    // The course's server greets and prefixes: case 1.1.1 (an empty text message, echoed) fails first.
    const first = ladder().getByRole('region', { name: 'Case 1.1.1' });
    await first.waitFor();
    const text = await first.innerText();
    expect(text).toMatch(/Expected/);
    expect(text).toMatch(/RFC 6455/);
    expect(text).toMatch(/Hint:/);
    // Rung 1 is red and counts its verdicts.
    const rung1 = ladder().getByRole('region', { name: 'Group 1: Framing' });
    expect(await rung1.innerText()).toMatch(/\d+ FAIL/);

    // Its frame is open in Frame anatomy, the case named, the bytes on show.
    await expect.poll(() => details().getByRole('tab', { name: 'Frame anatomy' }).getAttribute('aria-selected'), { timeout: 10_000 }).toBe('true');
    const anatomy = details().getByRole('tabpanel', { name: 'Frame anatomy' });
    await anatomy.getByText(/Conformance case 1\.1\.1/).waitFor();
    expect(await anatomy.innerText()).toMatch(/Bytes on the wire/i);
    await shot('failing-case');

    // server.js crashed on the 126-byte ping of case 2.5 (no 'error' listener): the view names the
    // case, and its ping opens in Frame anatomy with the length field marked.
    const crash = ladder().getByRole('alert').filter({ hasText: 'server.js crashed during case 2.5' });
    await crash.getByRole('button', { name: 'open case 2.5' }).click();
    const detail = ladder().getByRole('region', { name: 'Case 2.5' });
    await detail.waitFor();
    expect(await detail.innerText()).toMatch(/126-byte payload/);
    await detail.getByRole('button', { name: /PING 126 B ✗/ }).click();
    await anatomy.getByText(/Conformance case 2\.5/).waitFor();
    expect(await anatomy.getByRole('note').filter({ hasText: 'Conformance case 2.5' }).innerText()).toMatch(/byte 1 \(MASK · payload length\)/);
    expect(await anatomy.locator('.byte.bad').count()).toBeGreaterThan(0);
    await detail.scrollIntoViewIfNeeded();
    await shot('marked-bytes');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(SHOTS, 'conformance-marked-bytes-1280-dark.png') });
    const findings = await axe();
    expect(findings, `axe found:\n${findings.join('\n')}`).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it("runs again when server.js is saved, and lesson 15's solution climbs the ladder", async () => {
    writeFileSync(path.join(workspace, 'server.js'), SOLUTION);
    await textEventually(status(), (t) => /server\.js was saved: running again/.test(t), 'the ladder to run again after the save', 60_000);
    const said = await textEventually(status(), (t) => /^All \d+ cases run: no FAIL|failed\./.test(t), 'the second run to end', 240_000);
    expect(said).toMatch(/^All \d+ cases run: no FAIL/);
    // Passed cases fold away: rung 1 shows its count and a button to unfold them.
    const rung1 = ladder().getByRole('region', { name: 'Group 1: Framing' });
    await rung1.getByRole('button', { name: /^show \d+ passed cases?$/ }).waitFor();
    expect(await rung1.getByRole('listitem').count()).toBe(0);
    await shot('all-passed');
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it("opens lesson 15 on the course's server, and the ladder runs on the lesson's server.js", async () => {
    // The ladder's run number, as the API says it (the view polls it every 2 s when idle).
    const runNumber = () =>
      page.evaluate(async () => {
        const token = new URLSearchParams(location.search).get('token') ?? '';
        return ((await (await fetch('/api/conformance', { headers: { 'X-Wsplay-Token': token } })).json()) as { run: number }).run;
      });
    const before = await runNumber();
    const starts = () => cli.stdout().split('\n').filter((l) => /server\.js listens on port 9900/.test(l)).length;
    const started = starts();
    await details().getByRole('tab', { name: 'Lessons' }).click();
    await details().getByRole('button', { name: 'Open lesson 15' }).click();
    await details().getByRole('heading', { name: /^Lesson 15 · Conformance/ }).waitFor();
    // Opening a lesson restarts server.js in the lesson's folder: not a save, so the ladder does not run.
    await eventually(() => starts() > started, () => `server.js to start again in the lesson's folder; stdout: ${cli.stdout().slice(-2000)}`, 30_000);
    expect(await runNumber()).toBe(before);
    await shot('lesson');

    await ladder().getByRole('button', { name: 'Run again' }).click();
    const said = await textEventually(status(), (t) => /failed\. The first one is open below/.test(t), "the ladder on the lesson's starter", 240_000);
    expect(said).toMatch(/^\d+ of 246 cases failed/);
    await ladder().getByRole('region', { name: 'Case 1.1.1' }).waitFor();
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
