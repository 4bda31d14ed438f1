/**
 * One lesson followed in the browser, from its first step to a green check, against the real
 * `wsplay start` on a workspace in a temporary folder, in real Chromium: lesson 04 ("Sending too
 * early") opened from the lesson pane, its first code button loading the course's client into
 * the editor, the client run (it throws InvalidStateError), the Check button red with the failing
 * sentence and its hint, the fix loaded from step 4's button (after the pane asks, since the
 * learner had edited the file), the Check green, and after a reload the progress still shown.
 * The pane's main states are kept as screenshots (light and dark) under
 * test-artifacts/screenshots/lesson-*.png.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listLessons, readLesson } from '../../lessons/harness/format.ts';
import { chromiumAvailability, startWsplayAndChromium } from '../helpers/browser.ts';
import { eventually, pasteIntoEditor, waitForEditorText } from '../helpers/monaco.ts';
import { ROOT, type CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();

const SHOTS = [path.join(ROOT, 'test-artifacts', 'screenshots')];
const VIEWPORT = { width: 1280, height: 800 };
const LESSON = '04-sending-too-early';
const text = readLesson(path.join(ROOT, 'lessons', LESSON));
/** The code of step N's `file=client.js` button. */
const stepCode = (n: number) => text.steps.find((s) => s.n === n)!.blocks.find((b) => b.file === 'client.js')!.code;

describe.skipIf(chromium.skip)(chromium.skip ? `a lesson in real Chromium: ${chromium.reason}` : 'a lesson in real Chromium', () => {
  let workspace: string;
  let cli: CliProcess;
  let dashboardUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let dash: Page;
  const pageErrors: string[] = [];
  const browserDialogs: string[] = [];

  const pane = () => dash.getByRole('region', { name: 'Details' });
  const lessonTab = () => pane().getByRole('tab', { name: /^Lesson/ });
  const step = (n: number) => pane().getByRole('region', { name: new RegExp(`^Step ${n}\\b`) });
  const checkButton = () => pane().getByRole('button', { name: /^(Check|Checking…)$/ });
  const checkStatus = () => pane().locator('#lp-check-status');
  const results = () => pane().getByRole('list', { name: 'Checks' }).getByRole('listitem');
  const lessonFile = (name: string) => readFileSync(path.join(workspace, LESSON, name), 'utf8');
  const consoleRows = () => dash.getByRole('log', { name: 'Console output' }).getByRole('listitem');

  async function shot(name: string): Promise<void> {
    for (const dark of [false, true]) {
      await dash.emulateMedia({ colorScheme: dark ? 'dark' : 'light' });
      for (const dir of SHOTS) await dash.screenshot({ path: path.join(dir, `lesson-${name}${dark ? '-dark' : ''}.png`) });
    }
    await dash.emulateMedia({ colorScheme: 'light' });
  }

  /** The check's status line once it matches `re` (a check runs the learner's server and client: seconds). */
  async function checkSays(re: RegExp): Promise<string> {
    let seen = '';
    await eventually(
      async () => {
        seen = (await checkStatus().innerText().catch(() => '')).trim();
        return re.test(seen);
      },
      async () => `the check to say ${re}; it says ${JSON.stringify(seen)}; the results: ${JSON.stringify(await results().allInnerTexts().catch(() => []))}`,
      45_000,
    );
    return seen;
  }

  async function consoleLine(match: string | RegExp): Promise<Locator> {
    const row = consoleRows().filter({ hasText: match }).last();
    try {
      await row.waitFor({ state: 'visible', timeout: 15_000 });
    } catch {
      throw new Error(`No console line with ${String(match)}; the console shows:\n${(await consoleRows().allInnerTexts()).slice(-15).join('\n')}`);
    }
    return row;
  }

  beforeAll(async () => {
    for (const dir of SHOTS) mkdirSync(dir, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-lesson-e2e-'));
    ({ cli, browser, dashboardUrl } = await startWsplayAndChromium(workspace));
    context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    context.setDefaultTimeout(10_000);
    dash = await context.newPage();
    dash.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
    dash.on('dialog', (d) => {
      browserDialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss().catch(() => {});
    });
    await dash.goto(dashboardUrl);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it('lists the lessons first, with nothing done yet, and opens lesson 04 in its own folder', async () => {
    expect(await lessonTab().getAttribute('aria-selected')).toBe('true');
    const row = pane().getByRole('listitem', { name: 'Lesson 04: Sending too early' });
    await row.waitFor();
    expect(await row.innerText()).toContain('0 of 5 steps done');
    expect(await pane().getByRole('status').first().innerText()).toContain(`0 of ${listLessons().length} lessons done`);
    await shot('list');

    await row.getByRole('button', { name: 'Open lesson 04' }).click();
    await pane().getByRole('heading', { name: 'Lesson 04 · Sending too early' }).waitFor();
    expect(await lessonTab().innerText()).toBe('Lesson 04');
    // The lesson's folder, seeded from its starter; the free playground's files are elsewhere.
    await eventually(() => existsSync(path.join(workspace, LESSON, 'client.js')), () => 'the lesson folder');
    await cli.line(/Lesson 04-sending-too-early: the files are in .*04-sending-too-early; server\.js restarts there\./);
    await cli.line(/server\.js listens on port 9900/);
    expect(await step(1).getByRole('heading').innerText()).toBe('Step 1 See the error');
  });

  it('loads step 1 into the editor, runs it (InvalidStateError), and the Check is red with the failing sentence and its hint', async () => {
    await step(1).getByRole('button', { name: 'Load into client.js' }).click();
    // The Code tab opens on client.js with the step's code.
    await waitForEditorText(dash, "socket.send('I am listening');", 30_000);
    expect(lessonFile('client.js')).toBe(stepCode(1));
    await step(1).getByRole('checkbox', { name: 'Step 1 done' }).check();

    await dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ }).click();
    // The uncaught error's own line: the send's line also comes to name InvalidStateError ("not
    // sent: ..."), once the page has the connection from the event stream.
    expect(await (await consoleLine(/Uncaught InvalidStateError/)).innerText()).toMatch(/Uncaught InvalidStateError: .*CONNECTING/);

    await checkButton().click();
    await checkSays(/^✗ 1 of 4 checks pass$/);
    const failed = results().filter({ hasText: 'the client sends only once the socket is OPEN, never while CONNECTING (no InvalidStateError)' });
    const failedText = await failed.innerText();
    // A failure reads as "not yet", not as a false statement about the learner's code.
    expect(failedText).toMatch(/^✗\s*Not yet: the client sends only once the socket is OPEN/);
    expect(failedText).toContain("client.js line 7: InvalidStateError: Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.");
    expect(failedText).not.toMatch(/at must|lesson-run\.ts|node_modules/);
    expect(await results().filter({ hasText: "the client printed the server's greeting too" }).innerText()).toMatch(/^✓/);

    // "read hint 1" shows the first hint, and only it.
    await failed.getByRole('button', { name: 'read hint 1' }).click();
    const hint = pane().getByRole('note', { name: 'Hint 1' });
    await hint.waitFor();
    expect(await hint.innerText()).toContain('returns before the handshake is done');
    expect(await pane().getByRole('note', { name: 'Hint 2' }).count()).toBe(0);
    expect(await pane().getByRole('button', { name: 'Hint 2 of 3' }).isEnabled()).toBe(true);
    await shot('red');
  }, 90_000); // the first Run and Check: Monaco's worker, the learner process and vitest start cold

  it("asks before replacing the learner's own edits, loads step 4's skeleton, the learner fills the gap, and the Check turns green", async () => {
    // The learner's own change: the pane must not throw it away without asking.
    const mine = `${stepCode(1)}// my own note\n`;
    await pasteIntoEditor(dash, mine);
    await eventually(() => lessonFile('client.js') === mine, () => `client.js to be saved; it holds ${JSON.stringify(lessonFile('client.js'))}`);

    await step(4).getByRole('button', { name: 'Load into client.js' }).click();
    const ask = dash.getByRole('dialog', { name: 'Replace your client.js?' });
    await ask.waitFor();
    await ask.getByRole('button', { name: 'Replace client.js' }).click();
    await ask.waitFor({ state: 'hidden' });
    await waitForEditorText(dash, '// TODO');
    expect(lessonFile('client.js')).toBe(stepCode(4));
    // The block is a skeleton: the learner writes the send, their own way.
    expect(stepCode(4)).not.toMatch(/onopen\s*=|addEventListener\('open'/);
    const fix = stepCode(4).replace(/\/\/ TODO[\s\S]*$/, "socket.addEventListener('open', () => socket.send('I am listening'));\n");
    await pasteIntoEditor(dash, fix);
    await eventually(() => lessonFile('client.js') === fix, () => `client.js to hold the learner's fix; it holds ${JSON.stringify(lessonFile('client.js'))}`);
    for (const n of [2, 3, 4]) await step(n).getByRole('checkbox', { name: `Step ${n} done` }).check();

    await dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ }).click();
    await consoleLine(/received:\s+I heard you say "I am listening"/);

    await checkButton().click();
    await checkSays(/^✓ All 4 checks pass$/);
    expect((await results().allInnerTexts()).map((t) => t.slice(0, 1))).toEqual(['✓', '✓', '✓', '✓']);
    expect(await results().filter({ hasText: 'Not yet:' }).count()).toBe(0);
    // The passing check counts the last step ("Check your work") done: the pane agrees with itself.
    expect(await step(5).getByRole('checkbox', { name: 'Step 5 done' }).isChecked()).toBe(true);
    expect(await pane().getByLabel('Steps done').innerText()).toBe('5/5 steps');
    await pane().getByRole('heading', { name: /^Check/ }).scrollIntoViewIfNeeded();
    await shot('green');
  });

  it('still shows the progress after a reload: the steps ticked, the check passed, the lesson done', async () => {
    await eventually(
      () => {
        try {
          const p = JSON.parse(readFileSync(path.join(workspace, 'progress.json'), 'utf8'));
          return p.lessons[LESSON].steps.length === 5;
        } catch {
          return false;
        }
      },
      () => `progress.json to hold the 5 steps: ${existsSync(path.join(workspace, 'progress.json')) ? readFileSync(path.join(workspace, 'progress.json'), 'utf8') : 'missing'}`,
    );
    await dash.reload();
    await pane().getByRole('heading', { name: 'Lesson 04 · Sending too early' }).waitFor();
    for (const n of [1, 2, 3, 4, 5]) expect(await step(n).getByRole('checkbox', { name: `Step ${n} done` }).isChecked()).toBe(true);
    expect(await checkStatus().innerText()).toMatch(/^✓ passed /);
    // The hint revealed before is still there.
    await pane().getByRole('note', { name: 'Hint 1' }).waitFor();
    await shot('reloaded');

    // The progress view: lesson 04 done, all its steps ticked.
    await pane().getByRole('button', { name: 'All lessons and progress' }).click();
    const row = pane().getByRole('listitem', { name: 'Lesson 04: Sending too early' });
    const rowText = await row.innerText();
    expect(rowText).toContain('5 of 5 steps done');
    expect(rowText).toMatch(/check passed/);
    expect(await pane().getByRole('status').first().innerText()).toContain(`1 of ${listLessons().length} lessons done`);
    expect(await pane().getByRole('listitem', { name: 'Lesson 03: The first conversation' }).innerText()).toContain('not checked yet');
    await shot('progress');

    // The free playground is one click away, with its own files.
    copyFileSync(path.join(workspace, 'client.js'), path.join(workspace, 'client.copy'));
    await pane().getByRole('button', { name: 'Switch to it' }).click();
    await pane().getByText('in use').waitFor();
    expect(await lessonTab().innerText()).toBe('Lessons');
    await dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Code' }).click();
    await waitForEditorText(dash, "socket.send('I am listening');");
    expect(readFileSync(path.join(workspace, 'client.js'), 'utf8')).toBe(readFileSync(path.join(workspace, 'client.copy'), 'utf8'));

    // The client's own InvalidStateError (step 1, on purpose) is the only error the page saw.
    expect(pageErrors.filter((e) => !/\/workspace\/client\.js:\d+:\d+/.test(e))).toEqual([]);
    expect(browserDialogs).toEqual([]);
  }, 30_000);
});
