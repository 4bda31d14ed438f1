/**
 * Lesson 20 ("Scaling out") in the dashboard, against the real `wsplay start`, redis-server and
 * Chromium: opening the lesson starts process b and Redis; four peers run from the Code tab go
 * to a, b, a, b (the Timeline's → a / → b, the diagram's "→ process a" under each lane); with
 * the starter D's hello reaches B only, with the solution all three others. Screenshots at
 * 1280 and 1024 under test-artifacts/screenshots/scaling-*.png.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { MessageEvent, OpenEvent, WireEvent } from '../../server/capture/events.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUiBuilt } from '../helpers/playground.ts';
import { chromiumAvailability, eventually, launchChromium } from '../helpers/browser.ts';
import { ROOT, runCli, type CliProcess } from '../helpers/net.ts';
import { redisAvailability } from '../helpers/redis.ts';

const chromium = chromiumAvailability();
const redis = redisAvailability();
const skip = chromium.skip ? `lesson 20 in real Chromium: ${chromium.reason}` : !redis.binary ? `lesson 20 in real Chromium: ${redis.reason}` : null;
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const LESSON = '20-scaling-out';

describe.skipIf(skip !== null)(skip ?? 'lesson 20 (two processes and Redis) in real Chromium', () => {
  let workspace: string;
  let cli: CliProcess;
  let browser: Browser;
  let context: BrowserContext;
  let dash: Page;
  const pageErrors: string[] = [];
  let dashboardUrl: URL;

  /** The wiretap's events so far, as GET /api/events gives them. */
  async function events(): Promise<WireEvent[]> {
    const headers = { 'X-Wsplay-Token': dashboardUrl.searchParams.get('token')!, Origin: dashboardUrl.origin };
    const text = await (await fetch(new URL('/api/events?since=0&limit=10000', dashboardUrl.origin), { headers })).text();
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as WireEvent);
  }
  /** The last four connections after connection #`after` (a run of four peers), once they have all said hello. */
  async function fourPeers(after: number): Promise<{ opens: OpenEvent[]; all: WireEvent[] }> {
    let opens: OpenEvent[] = [];
    let all: WireEvent[] = [];
    await eventually(
      async () => {
        all = await events();
        opens = all.filter((e): e is OpenEvent => e.type === 'open' && e.conn > after).slice(-4);
        return opens.length === 4 && opens.every((o) => all.some((e) => e.type === 'message' && e.dir === 'client' && e.conn === o.conn));
      },
      async () => `four connections that each said hello; the wiretap has ${opens.length}`,
      20_000,
    );
    return { opens, all };
  }

  const pane = () => dash.getByRole('region', { name: 'Details' });
  const capture = () => dash.getByRole('region', { name: 'Capture' });
  const centerTab = (name: string) => capture().getByRole('tab', { name, exact: true });

  async function shot(name: string): Promise<void> {
    for (const width of [1280, 1024]) {
      await dash.setViewportSize({ width, height: 800 });
      await dash.waitForTimeout(150); // layout settles after a resize: a picture, not an assertion
      await dash.screenshot({ path: path.join(SHOTS, `scaling-${name}-${width}.png`) });
    }
    await dash.setViewportSize({ width: 1280, height: 800 });
  }

  /** Run client.js as four peers from the Code tab. */
  async function runFourPeers(): Promise<void> {
    await centerTab('Code').click();
    const group = dash.getByRole('group', { name: 'Run the client' });
    await dash.getByRole('combobox', { name: 'Number of peers' }).selectOption('4');
    await group.getByRole('button', { name: /^(Run|Re-run)$/ }).click();
  }


  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-scaling-e2e-'));
    await ensureUiBuilt();
    cli = runCli(['start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', workspace], { WSPLAY_SKIP_UI_BUILD: '1', HOME: workspace });
    const [started, launched] = await Promise.all([cli.line(/^Dashboard: (\S+)$/, 30_000), launchChromium()]);
    browser = launched;
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    context.setDefaultTimeout(15_000);
    dash = await context.newPage();
    dash.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
    dashboardUrl = new URL(started[1]!);
    await dash.goto(started[1]!);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it('opens lesson 20: Redis and process b start beside process a', async () => {
    const row = pane().getByRole('listitem', { name: /^Lesson 20: Scaling out/ });
    await row.getByRole('button', { name: 'Open lesson 20' }).click();
    await pane().getByRole('heading', { name: /^Lesson 20 · Scaling out/ }).waitFor();
    await cli.line(/^Redis for this lesson: redis:\/\/127\.0\.0\.1:\d+/, 30_000);
    await cli.line(/^\[server\.js\] process a: listening/, 30_000);
    await cli.line(/^\[server\.js b\] process b: listening/, 30_000);
    await shot('pane');
  }, 90_000);

  it("with the starter, four peers go to a, b, a, b, and a peer's hello stays on its process", async () => {
    const before = Math.max(0, ...(await events()).map((e) => e.conn));
    await runFourPeers();
    const { opens } = await fourPeers(before);
    expect(opens.map((o) => o.instance)).toEqual(['a', 'b', 'a', 'b']);
    // D's hello reaches B, its neighbour on process b; by then A and C (process a) have nothing of it.
    const d = opens[3]!.conn;
    const copies = async () => {
      const all = await events();
      const hello = all.find((e): e is MessageEvent => e.type === 'message' && e.dir === 'client' && e.conn === d);
      return all.filter((e): e is MessageEvent => e.type === 'message' && e.dir === 'server' && e.text === hello?.text).map((e) => e.conn);
    };
    await eventually(async () => (await copies()).includes(opens[1]!.conn), async () => `D's hello at B (#${opens[1]!.conn})`, 20_000);
    expect(await copies()).toEqual([opens[1]!.conn]);
    await centerTab('Timeline').click();
    await shot('starter-timeline');
    // Each row says its connection's process after its number: #1a, #2b ...
    const cells = capture().locator('.c-conn');
    const shown = async () => new Set((await cells.allInnerTexts()).map((t) => t.replace(/\s+/g, '')));
    await eventually(async () => opens.every(async () => true) && (await shown()).size >= 4, async () => `four connections in the Timeline; ${[...(await shown())].join(' ')}`, 20_000);
    const texts = await shown();
    for (const o of opens) expect(texts.has(`#${o.conn}${o.instance}`), `#${o.conn}${o.instance} in ${[...texts].join(' ')}`).toBe(true);
    // And the Connections list: "→ process a".
    expect(await dash.getByText(/→ process b/).count()).toBeGreaterThanOrEqual(2);
    // The header names both processes with their ports, in the wiretap's order, and Redis's port.
    const portOf = (i: string) => opens.find((o) => o.instance === i)!.target.split(':').at(-1);
    const redisPort = (await cli.line(/^Redis for this lesson: redis:\/\/127\.0\.0\.1:(\d+)/, 1000))[1];
    for (const width of [1280, 1024]) {
      await dash.setViewportSize({ width, height: 800 });
      const target = dash.locator('.top .topo-target');
      await eventually(
        async () => (await target.innerText()).replace(/\s+/g, ' ').trim() === `→ server.js a :${portOf('a')} · b :${portOf('b')} + Redis :${redisPort}`,
        async () => `the header's target at ${width} px: ${JSON.stringify(await target.innerText())}`,
        10_000,
      );
      // Whole, on one line, at 1024 too; the Connections list says each row's process whole ("→ a" under 1280 px).
      const seen = await dash.evaluate(() => {
        const el = document.querySelector<HTMLElement>('.top .topo-target')!;
        const range = document.createRange();
        range.selectNodeContents(el);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
        const conns = [...document.querySelectorAll<HTMLElement>('.conn-line')].filter((l) => l.querySelector('.instance'));
        // The text drawn: what is only for screen readers (a 1 px box) left out.
        const drawn = (root: HTMLElement) => {
          let out = '';
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.parentElement!.getBoundingClientRect().width > 1) out += n.textContent;
          return out.replace(/\s+/g, ' ').trim();
        };
        return {
          cut: el.scrollWidth > el.clientWidth + 1,
          lines,
          conns: conns.map((l) => ({ text: drawn(l), cut: l.scrollWidth > l.clientWidth + 1 })),
        };
      });
      expect(seen.cut, `the header's target is cut at ${width} px`).toBe(false);
      expect(seen.lines, `the header's target at ${width} px`).toBe(1);
      expect(seen.conns.length).toBeGreaterThanOrEqual(4);
      for (const c of seen.conns) {
        expect(c.cut, `${JSON.stringify(c.text)} is cut at ${width} px`).toBe(false);
        expect(c.text).toMatch(width >= 1280 ? /→ process [ab]$/ : /→ [ab]$/);
      }
    }
    await dash.setViewportSize({ width: 1280, height: 800 });
    await centerTab('Sequence diagram').click();
    const subs = dash.locator('svg .sd-lanesub');
    await eventually(async () => (await subs.allTextContents()).filter((t) => /^→ (process )?[ab]$/.test(t)).length >= 4, async () => `lanes with their process: ${(await subs.allTextContents()).join(' | ')}`, 10_000);
    await shot('starter-diagram');
  }, 90_000);

  it('with the solution, the fourth peer hello reaches all three others, across both processes', async () => {
    const restarts = () => (cli.stdout().match(/process [ab]: listening, subscribed/g) ?? []).length;
    copyFileSync(path.join(ROOT, 'lessons', LESSON, 'solution', 'server.js'), path.join(workspace, LESSON, 'server.js'));
    await eventually(async () => restarts() >= 2, async () => `both processes restarted with the solution:\n${cli.stdout().slice(-2000)}`, 30_000);
    const before = Math.max(0, ...(await events()).map((e) => e.conn));
    await runFourPeers();
    const { opens } = await fourPeers(before);
    expect(opens.map((o) => o.instance)).toEqual(['a', 'b', 'a', 'b']);
    await centerTab('Timeline').click();
    await shot('solution-timeline');
    // The fourth peer's hello (it came last: the three others were there) reaches all three, on both processes.
    const d = opens[3]!.conn;
    let reached: number[] = [];
    await eventually(
      async () => {
        const all = await events();
        const hello = all.find((e): e is MessageEvent => e.type === 'message' && e.dir === 'client' && e.conn === d);
        reached = [...new Set(all.filter((e): e is MessageEvent => e.type === 'message' && e.dir === 'server' && e.text === hello?.text).map((e) => e.conn))];
        return reached.length >= 3;
      },
      async () => `the fourth peer's hello (#${d}) on three connections; it reached #${reached.join(', #')}; opens ${JSON.stringify(opens)}\n${(await events()).filter((e) => e.type === 'message').map((e) => JSON.stringify([e.conn, (e as MessageEvent).dir, (e as MessageEvent).text])).join('\n')}\n${cli.stdout().slice(-3000)}`,
      20_000,
    );
    expect(reached.sort()).toEqual(opens.slice(0, 3).map((o) => o.conn).sort());
    await centerTab('Sequence diagram').click();
    await shot('solution-diagram');
    // The pane's goal (goal.json): the run follows it, D's hello to A, B and C across both processes.
    await pane().getByRole('tab', { name: /^Lesson/ }).click();
    const goal = pane().getByRole('region', { name: /^Step 4\b/ }).getByRole('region', { name: /^Goal:/ });
    await goal.waitFor();
    await eventually(async () => (await goal.getByRole('status').innerText()).startsWith('✓'), async () => `the goal's verdict: ${await goal.getByRole('status').innerText()}`, 20_000);
    await goal.scrollIntoViewIfNeeded();
    await shot('solution-goal');
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
