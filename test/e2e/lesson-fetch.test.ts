/**
 * Lesson 01 ("Push vs polling") followed in the dashboard, in real Chromium, against the real
 * `wsplay start` (wiretap on a port the system picks, so not the course's 9900): step 1's
 * polling client (`fetch('http://localhost:9900/notifications?after=N')` every 250 ms) and step
 * 2's polling-plus-WebSocket client run from the Code tab in the page's client runtime (a Web
 * Worker of the dashboard). What the learner must see: the client's console prints the
 * notifications its polls brought back (not `TypeError: Failed to fetch`), and the inspector
 * shows the polls as plain HTTP requests to /notifications that reached the server through the
 * wiretap. Then step 3's push-only client passes the Check.
 * Screenshots: test-artifacts/screenshots/lesson01-*.png.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLesson } from '../../lessons/harness/format.ts';
import { chromiumAvailability, startWsplayAndChromium, textEventually } from '../helpers/browser.ts';
import { eventually, pasteIntoEditor, waitForEditorText } from '../helpers/monaco.ts';
import { ROOT, type CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();

const SHOTS = [path.join(ROOT, 'test-artifacts', 'screenshots')];
const VIEWPORT = { width: 1280, height: 800 };
const LESSON = '01-push-vs-polling';
const text = readLesson(path.join(ROOT, 'lessons', LESSON));
/** The code of step N's `file=…` button. */
const stepCode = (n: number, file: string) => text.steps.find((s) => s.n === n)!.blocks.find((b) => b.file === file)!.code;

describe.skipIf(chromium.skip)(chromium.skip ? `lesson 01's polling client in real Chromium: ${chromium.reason}` : "lesson 01's polling client in real Chromium", () => {
  let workspace: string;
  let cli: CliProcess;
  let tapPort = 0;
  let browser: Browser;
  let context: BrowserContext;
  let dash: Page;
  const pageErrors: string[] = [];
  /** What Chromium printed for the page (its CSP refusals too). */
  const browserConsole: string[] = [];

  const pane = () => dash.getByRole('region', { name: 'Details' });
  const step = (n: number) => pane().getByRole('region', { name: new RegExp(`^Step ${n}\\b`) });
  const lessonFile = (name: string) => readFileSync(path.join(workspace, LESSON, name), 'utf8');
  const consoleRows = () => dash.getByRole('log', { name: 'Console output' }).getByRole('listitem');
  const runButton = () => dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ });
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const connections = () => dash.getByRole('listbox', { name: 'Connections' }).getByRole('option');

  async function shot(name: string): Promise<void> {
    for (const dir of SHOTS) await dash.screenshot({ path: path.join(dir, `lesson01-${name}.png`) });
  }

  /** The same in the dark colour scheme too (lesson01-NAME-dark.png). */
  async function shots(name: string): Promise<void> {
    await shot(name);
    await dash.emulateMedia({ colorScheme: 'dark' });
    await shot(`${name}-dark`);
    await dash.emulateMedia({ colorScheme: 'light' });
  }

  /** The console pane's client lines of the current run that match `re`, once there are `n`. */
  async function consoleLines(re: RegExp, n: number): Promise<string[]> {
    let all: string[] = [];
    await eventually(
      async () => {
        all = await consoleRows().allInnerTexts();
        return all.filter((l) => re.test(l)).length >= n;
      },
      () => `${n} console lines matching ${re}; the console shows:\n${all.slice(-15).join('\n')}`,
      15_000,
    );
    return all;
  }

  /** Load a step's code into `file` through its button; the Code tab shows it. */
  async function load(n: number, file: string, shows: string): Promise<void> {
    await pane().getByRole('tab', { name: /^Lesson/ }).click();
    await step(n).getByRole('button', { name: `Load into ${file}` }).click();
    await waitForEditorText(dash, shows, 30_000);
    await eventually(() => lessonFile(file) === stepCode(n, file), () => `${file} to hold step ${n}'s code; it holds ${JSON.stringify(lessonFile(file))}`);
  }

  beforeAll(async () => {
    for (const dir of SHOTS) mkdirSync(dir, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-lesson01-e2e-'));
    const started = await startWsplayAndChromium(workspace);
    ({ cli, browser } = started);
    tapPort = Number((await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/))[1]);
    context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    context.setDefaultTimeout(10_000);
    // The learner's own client is pasted into the editor, as a person pastes it.
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    dash = await context.newPage();
    dash.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
    dash.on('console', (m) => browserConsole.push(`${m.type()}: ${m.text()}`));
    await dash.goto(started.dashboardUrl);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it("opens lesson 01 on a wiretap that is not on 9900, and loads step 1's server and polling client", async () => {
    expect(tapPort).not.toBe(9900);
    const row = pane().getByRole('listitem', { name: 'Lesson 01: Push vs polling' });
    await row.getByRole('button', { name: 'Open lesson 01' }).click();
    await pane().getByRole('heading', { name: 'Lesson 01 · Push vs polling' }).waitFor();
    await cli.line(/server\.js listens on port 9900/, 20_000);

    await load(1, 'server.js', "'Access-Control-Allow-Origin': '*'");
    await load(1, 'client.js', 'fetch(`http://localhost:9900/notifications?after=${seen}`)');
  });

  it('runs the polling client from the Code tab: its console prints the notifications, and no fetch fails', async () => {
    await runButton().click();
    const lines = await consoleLines(/^notification: Build #\d+ passed/m, 2);
    expect(lines.join('\n')).not.toMatch(/Failed to fetch|TypeError/);
    await shot('step1-code');
  });

  it('shows the polls in the inspector: plain HTTP requests GET /notifications?after=N answered 200', async () => {
    await centerTab('Timeline').click();
    const conn = connections().first();
    await conn.waitFor();
    await conn.click();
    const handshake = pane();
    const shown = await textEventually(
      handshake,
      (t) => /GET \/notifications\?after=\d+/.test(t) && /\b200\b/.test(t),
      'the selected connection to show a GET /notifications request answered 200',
      10_000,
    );
    expect(shown).toMatch(/plain HTTP/i);
    // localhost:9900 in the code, the wiretap's real port on the wire.
    expect(shown).toContain(`Host: localhost:${tapPort}`);
    // A 200 answer to plain HTTP is no error: neutral words, no red box.
    expect(shown).toMatch(/never upgraded to WebSocket/);
    expect(shown).not.toMatch(/WebSocket-only server/);
    expect(await handshake.locator('.failure').count()).toBe(0);
    // The Timeline lists the polls, one HTTP row per request/response, as they keep coming.
    const rows = dash.getByRole('grid', { name: 'Frames' }).getByRole('row');
    await eventually(
      async () => (await rows.allInnerTexts()).filter((t) => /HTTP[\s\S]*GET \/notifications\?after=\d+ → 200 OK/.test(t)).length >= 4,
      async () => `4 HTTP rows GET /notifications?after=N → 200 OK in the Timeline; it shows ${JSON.stringify(await rows.allInnerTexts())}`,
    );
    await textEventually(conn, (t) => /HTTP · \d+ requests/.test(t), 'the connection to say how many HTTP requests it carried');
    await shots('step1-timeline');
    // The Handshake view steps back through the connection's requests.
    await handshake.getByRole('group', { name: 'HTTP exchanges' }).getByRole('button', { name: 'Previous request' }).click();
    await shots('step1-handshake');

    // The sequence diagram draws each poll: one request arrow after another, four a second.
    await centerTab('Sequence diagram').click();
    const polls = dash.locator('svg.sd-body text').filter({ hasText: /^GET \/notifications\?after=\d+ HTTP\/1\.1/ });
    await eventually(
      async () => (await polls.count()) >= 4,
      async () => `4 poll arrows (GET /notifications?after=N) in the sequence diagram; it shows ${JSON.stringify(await dash.locator('svg.sd-body text').allTextContents())}`,
    );
    // Their 200 OK answers are not failures: no ✗ on them.
    const answers = await dash.locator('svg.sd-body text.sd-label').allTextContents();
    expect(answers.filter((t) => /^200 OK/.test(t)).length).toBeGreaterThanOrEqual(4);
    expect(answers.filter((t) => /200 OK/.test(t) && t.includes('✗'))).toEqual([]);
    await shots('step1-diagram');
  });

  it('runs step 2 (polling and a WebSocket side by side): both print, and the WebSocket is on the wire', async () => {
    await centerTab('Code').click();
    await load(2, 'client.js', "const socket = new WebSocket('ws://localhost:9900');");
    await runButton().click();
    const lines = await consoleLines(/^push: Build #\d+ passed/m, 2);
    expect(lines.some((l) => /^poll: Build #\d+ passed/m.test(l))).toBe(true);
    expect(lines.join('\n')).not.toMatch(/Failed to fetch|TypeError/);
    await shot('step2-code');
    await centerTab('Timeline').click();
    // The Timeline still shows only the polling connection picked above: show them all.
    await dash.getByRole('region', { name: 'Connections' }).getByRole('button', { name: 'show all' }).click();
    const frames = dash.getByRole('grid', { name: 'Frames' }).getByRole('row');
    await textEventually(frames.last(), (t) => /Build #\d+ passed/.test(t), 'a frame carrying a notification in the Timeline', 10_000);
    const websocket = connections().filter({ hasText: /↓ [1-9]\d* frames/ });
    await websocket.first().waitFor();
    await shot('step2-timeline');
  });

  it("lets only the client runtime reach other loopback ports: the dashboard's page itself still cannot", async () => {
    // The same request as the learner's, made by the page instead of its client Worker: the
    // page's Content-Security-Policy (connect-src 'self') refuses it before it leaves.
    const fromPage = await dash.evaluate((port) => fetch(`http://127.0.0.1:${port}/notifications`).then((r) => `answered ${r.status}`, (e: Error) => `${e.name}: ${e.message}`), tapPort);
    expect(fromPage).toBe('TypeError: Failed to fetch');
    expect(browserConsole.some((l) => /Content Security Policy/.test(l) && l.includes(`127.0.0.1:${tapPort}/notifications`))).toBe(true);
  });

  it('passes the Check with a push-only client the learner writes (step 3 gives no code)', async () => {
    await centerTab('Code').click();
    await dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: 'Stop' }).click();
    const mine = [
      "const socket = new WebSocket('ws://localhost:9900');",
      "socket.addEventListener('message', ({ data }) => console.log('notification:', JSON.parse(data).text));",
      '',
    ].join('\n');
    await pasteIntoEditor(dash, mine);
    await eventually(() => lessonFile('client.js') === mine, () => `client.js to hold the learner's client; it holds ${JSON.stringify(lessonFile('client.js'))}`);
    await pane().getByRole('button', { name: /^(Check|Checking…)$/ }).click();
    await textEventually(pane().locator('#lp-check-status'), (t) => /^✓ All \d+ checks pass$/.test(t.trim()), 'the Check to pass', 45_000);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
