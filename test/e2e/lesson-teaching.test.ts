/**
 * The lesson pane's teaching tools in real Chromium, against the real `wsplay start` on a
 * workspace in a temporary folder: "predict, then run" (lesson 06: the guess, then what the wire
 * showed beside it), "Show the solution" (offered only once the learner tried, asked first,
 * opened as a diff beside their code, recorded as "solution shown"), a goal diagram (lesson 09:
 * the first arrow where the learner's run differs), and a clean inspector per lesson (lesson
 * 06's connections kept one click away, not mixed into lesson 09's).
 *
 * Lessons' texts change; these tests use the lessons' starter files as the pane seeds them, and
 * the predict.json and goal.json of this area. Screenshots at 1280 and 1024 wide (and 1280 dark)
 * go to test-artifacts/screenshots/teaching-*.png.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, eventually, startWsplayAndChromium, textEventually } from '../helpers/browser.ts';
import { ROOT, type CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();
const SHOTS = [path.join(ROOT, 'test-artifacts', 'screenshots')];

describe.skipIf(chromium.skip)(chromium.skip ? `the lesson pane's teaching tools: ${chromium.reason}` : "the lesson pane's teaching tools in real Chromium", () => {
  let workspace: string;
  let cli: CliProcess;
  let dashboardUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let dash: Page;
  const pageErrors: string[] = [];

  const pane = () => dash.getByRole('region', { name: 'Details' });
  const step = (n: number) => pane().getByRole('region', { name: new RegExp(`^Step ${n}\\b`) });
  const checkStatus = () => pane().locator('#lp-check-status');
  const connections = () => dash.getByRole('listbox', { name: 'Connections' }).getByRole('option');
  const solutionButton = () => pane().getByRole('button', { name: 'Show the solution' });
  const progress = () => JSON.parse(readFileSync(path.join(workspace, 'progress.json'), 'utf8'));

  /** The whole window at 1280 and at 1024 wide (the lesson pane is narrower there). */
  async function shot(name: string): Promise<void> {
    for (const width of [1280, 1024]) {
      await dash.setViewportSize({ width, height: 800 });
      // One frame for the layout to follow the new width.
      await dash.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      for (const dir of SHOTS) await dash.screenshot({ path: path.join(dir, `teaching-${name}-${width}.png`) });
    }
    await dash.setViewportSize({ width: 1280, height: 800 });
    // And dark, as many learners' systems are.
    await dash.emulateMedia({ colorScheme: 'dark' });
    for (const dir of SHOTS) await dash.screenshot({ path: path.join(dir, `teaching-${name}-1280-dark.png`) });
    await dash.emulateMedia({ colorScheme: 'light' });
  }

  async function openLesson(n: string, title: RegExp): Promise<void> {
    const back = pane().getByRole('button', { name: 'All lessons and progress' });
    if (await back.isVisible()) await back.click();
    await pane().getByRole('button', { name: `Open lesson ${n}` }).click();
    await pane().getByRole('heading', { name: title }).waitFor();
  }

  async function runClient(): Promise<void> {
    await dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Code' }).click();
    await dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ }).click();
  }

  async function checkSays(re: RegExp): Promise<void> {
    await textEventually(checkStatus(), (t) => re.test(t.trim()), `the check to say ${re}`, 60_000);
  }

  beforeAll(async () => {
    for (const dir of SHOTS) mkdirSync(dir, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-teaching-e2e-'));
    ({ cli, browser, dashboardUrl } = await startWsplayAndChromium(workspace));
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    context.setDefaultTimeout(10_000);
    dash = await context.newPage();
    dash.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
    await dash.goto(dashboardUrl);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it('asks the prediction before the run, keeps the guess, and shows what the wire did beside it', async () => {
    await openLesson('06', /^Lesson 06 · UTF-8/);
    await cli.line(/server\.js listens on port 9900/, 20_000);
    const card = step(1).getByRole('region', { name: 'Prediction, step 1' });
    await card.waitFor();
    expect(await card.innerText()).toContain('What will the echo say?');
    // Not tried yet: no solution on offer.
    expect(await solutionButton().isDisabled()).toBe(true);
    expect(await solutionButton().getAttribute('title')).toMatch(/Offered once you have tried: run Check, or read every hint/);
    await card.scrollIntoViewIfNeeded();
    await shot('prediction-asked');

    await card.getByRole('button', { name: /^Garbled/ }).click();
    await card.getByText('Your guess').waitFor();
    await eventually(() => progress().lessons['06-utf8-and-fromcharcode']?.predictions?.['accent-echo']?.choice === 'garbled', () => 'the guess in progress.json');

    await runClient();
    const wire = card.getByRole('status');
    const said = await textEventually(wire, (t) => /as you predicted|not what you predicted/.test(t), 'the outcome read off the wire', 20_000);
    expect(said).toMatch(/^On the wire \(#\d+\)/);
    expect(said).toContain('✓ as you predicted: Garbled');
    expect(said).toContain('each byte of é (2 bytes) and of 👋 (4 bytes) became a character of its own');

    // The console follows its last line, also when the window narrows and its lines wrap anew.
    const log = dash.getByRole('log', { name: 'Console output' });
    await log.getByRole('listitem').filter({ hasText: 'I heard you say' }).last().waitFor();
    for (const width of [1024, 1280]) {
      await dash.setViewportSize({ width, height: 800 });
      await eventually(
        () => log.evaluate((el) => el.scrollHeight > el.clientHeight && el.scrollHeight - el.scrollTop - el.clientHeight < 24),
        async () => `the console at ${width} px to show its last line; ${JSON.stringify(await log.evaluate((el) => ({ top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight })))}`,
      );
    }
    await card.scrollIntoViewIfNeeded();
    await shot('prediction-answered');
  }, 90_000);

  it('offers the solution once a check failed, asks first, shows it as a diff beside the code, and records it', async () => {
    // The page cannot fetch the solution of a lesson the learner has not tried.
    const early = await dash.evaluate(async () => {
      const token = new URLSearchParams(location.search).get('token') ?? '';
      const res = await fetch('/api/lessons/09-closing/solution', { method: 'POST', headers: { 'X-Wsplay-Token': token } });
      return { status: res.status, body: await res.text() };
    });
    expect(early.status).toBe(403);
    expect(early.body).toMatch(/opens once you have tried/);

    await shot('before-check');
    await pane().getByRole('button', { name: 'Check' }).click();
    await checkSays(/^✗ \d+ of \d+ checks pass$/);
    await pane().getByRole('region', { name: 'Check results' }).scrollIntoViewIfNeeded();
    await shot('after-check');

    expect(await solutionButton().isEnabled()).toBe(true);
    await solutionButton().click();
    const ask = dash.getByRole('dialog', { name: 'Show the solution?' });
    await ask.waitFor();
    expect(await ask.innerText()).toContain('done, solution shown');
    // "Keep trying" fetches nothing and records nothing.
    await ask.getByRole('button', { name: 'Keep trying' }).click();
    await ask.waitFor({ state: 'hidden' });
    expect(progress().lessons['06-utf8-and-fromcharcode'].solutionShownAt).toBeNull();

    await solutionButton().click();
    await ask.getByRole('button', { name: 'Show the solution' }).click();
    const diff = dash.getByRole('dialog', { name: 'The solution, beside your code' });
    await diff.waitFor();
    // The learner's server.js is the starter: the diff opens on it, the file that differs.
    expect(await diff.getByRole('tab', { name: /^server\.js/ }).getAttribute('aria-selected')).toBe('true');
    await diff.locator('.monaco-diff-editor').waitFor();
    await eventually(
      async () => (await diff.locator('.monaco-diff-editor .modified').innerText().catch(() => '')).includes("toString('utf8')"),
      async () => `the solution's server.js on the right; it shows ${JSON.stringify(await diff.locator('.monaco-diff-editor .modified').innerText().catch(() => ''))}`,
      20_000,
    );
    expect(await diff.locator('.monaco-diff-editor .original').innerText()).toContain('String.fromCharCode(...data)');
    // Monaco marks the lines that differ (its diff is computed in a worker: it comes a little later).
    const marks = diff.locator('.monaco-diff-editor .line-insert, .monaco-diff-editor .char-insert');
    await eventually(async () => (await marks.count()) > 0, () => 'the diff to mark the lines that differ', 20_000);
    await shot('solution-diff');
    await diff.getByRole('button', { name: 'Close' }).click();
    await diff.waitFor({ state: 'hidden' });

    expect(progress().lessons['06-utf8-and-fromcharcode'].solutionShownAt).toMatch(/^\d{4}-/);
    await pane().getByRole('button', { name: 'All lessons and progress' }).click();
    expect(await pane().getByRole('listitem', { name: /^Lesson 06:/ }).innerText()).toContain('solution shown');
  }, 120_000);

  it("starts lesson 09 on a clean inspector, lesson 06's connections one click away", async () => {
    const before = await connections().count();
    expect(before).toBeGreaterThan(0);
    await openLesson('09', /^Lesson 09 · Closing/);
    await cli.line(/09-closing; server\.js restarts there/, 20_000);
    await eventually(async () => (await connections().count()) === 0, async () => `no connection listed for lesson 09 yet; it lists ${await connections().count()}`);
    const previous = dash.getByRole('button', { name: /^previous: lesson 06 \(\d+ connections?\)$/ });
    await previous.waitFor();
    // The Handshake tab shows no connection of the lesson before.
    await pane().getByRole('tab', { name: 'Handshake' }).click();
    expect(await pane().innerText()).toContain('Select a connection to see its opening handshake.');
    await pane().getByRole('tab', { name: /^Lesson/ }).click();

    await previous.click();
    await eventually(async () => (await connections().count()) === before, async () => `lesson 06's ${before} connections back; it lists ${await connections().count()}`);
    await dash.getByRole('button', { name: 'back to lesson 09' }).click();
    await eventually(async () => (await connections().count()) === 0, async () => `lesson 09's view again; it lists ${await connections().count()}`);
  }, 60_000);

  it("draws lesson 09's goal and marks the first arrow where the run differs: the client never closes", async () => {
    const goal = step(2).getByRole('region', { name: /^Goal:/ });
    await goal.waitFor();
    expect(await goal.getByRole('status').innerText()).toMatch(/^Run your code/);
    await runClient();
    await eventually(async () => (await connections().count()) === 1, async () => `the run's connection; it lists ${await connections().count()}`);
    await pane().getByRole('tab', { name: /^Lesson/ }).click();
    const verdict = await textEventually(goal.getByRole('status'), (t) => t.startsWith('✗'), 'the first difference', 20_000);
    expect(verdict).toMatch(/^✗ First difference, arrow 6: the goal has client → server: CLOSE 1000 and a reason; the wire has nothing: the wire went quiet before it\./);
    // The arrows before it are seen (✓), the one that differs is marked.
    const states = await goal.locator('g.lp-goal-arrow').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-state')));
    expect(states.slice(0, 6)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'differs']);
    await goal.scrollIntoViewIfNeeded();
    await shot('goal-difference');
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it("after a Check, the goal diagram shows the check's own run: the CLOSE arrow differs, beside the check's sentence", async () => {
    const goal = step(2).getByRole('region', { name: /^Goal:/ });
    // The learner's client.js is still lesson 09's starter: it never closes.
    await pane().getByRole('button', { name: 'Check' }).click();
    await checkSays(/^✗ \d+ of \d+ checks pass$/);
    const source = goal.locator('.lp-goal-source');
    const from = await textEventually(source, (t) => t.startsWith("From the check's run"), "the goal diagram to show the check's run", 10_000);
    expect(from).toMatch(/^From the check's run \(the check's first run of your client, #\d+\) · show your own runs$/);
    const states = await goal.locator('g.lp-goal-arrow').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-state')));
    expect(states).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'differs', 'unchecked', 'unchecked', 'unchecked']);
    expect(await goal.getByRole('status').innerText()).toMatch(
      /^✗ First difference, arrow 6: the goal has client → server: CLOSE 1000 and a reason; the wire has nothing: the wire went quiet before it\.$/,
    );
    // The check's sentence, as the check results say it, and the same arrow in the check's message.
    expect(await goal.locator('.lp-goal-check').innerText()).toBe(
      'The check says: Not yet: when its job was done, the client closed with 1000 and a reason, and the server answered: both halves on the wire',
    );
    const results = pane().getByRole('region', { name: 'Check results' });
    expect(await results.innerText()).toContain('leaves the goal ("The job, then a closing handshake, and no coming back") at arrow 6: the goal has client → server: CLOSE 1000 and a reason');
    await goal.scrollIntoViewIfNeeded();
    await shot('goal-after-check');

    // The learner's own runs are one click away, and the check's run one click back.
    await source.getByRole('button', { name: 'show your own runs' }).click();
    expect(await source.innerText()).toMatch(/^From your own runs · show the check's run$/);
    // (The learner's own run of the client, in the step before: it never closed either.)
    expect(await goal.getByRole('status').innerText()).toMatch(/^✗ First difference, arrow 6: the goal has client → server: CLOSE 1000 and a reason;/);
    await source.getByRole('button', { name: "show the check's run" }).click();
    expect(await source.innerText()).toMatch(/^From the check's run/);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
