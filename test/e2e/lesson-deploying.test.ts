/**
 * Lesson 13 ("Deploying") in the dashboard, against the real `wsplay start` and real Chromium:
 * opening the lesson starts its reverse proxy (on a free port here: WSPLAY_LESSON_PROXY_PORT=0;
 * the page's Run maps the lesson's ws://localhost:9980 to it), the starter's handshake reaches
 * the server without Upgrade and gets 426, a proxy.js that forwards Upgrade and Connection gets
 * the 101, the proxy cuts the silent connection after its idle timeout, and a server with a
 * heartbeat keeps it; over wss:// (a certificate from the local CA, made under a temporary HOME)
 * the same frames arrive and the console names the TLS records. Screenshots at 1280 and 1024 under test-artifacts/screenshots/deploying-*.png.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUiBuilt } from '../helpers/playground.ts';
import { chromiumAvailability, eventually, launchChromium } from '../helpers/browser.ts';
import { ROOT, runCli, type CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const LESSON = '13-deploying';
const SOLUTION = path.join(ROOT, 'lessons', LESSON, 'solution');

describe.skipIf(chromium.skip)(chromium.skip ? `lesson 13 in real Chromium: ${chromium.reason}` : 'lesson 13 (a reverse proxy) in real Chromium', () => {
  let workspace: string;
  let cli: CliProcess;
  let browser: Browser;
  let context: BrowserContext;
  let dash: Page;
  let dashboardUrl: string;
  const pageErrors: string[] = [];

  const pane = () => dash.getByRole('region', { name: 'Details' });
  const consoleRows = () => dash.getByRole('log', { name: 'Console output' }).getByRole('listitem');
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name, exact: true });
  /** Run client.js from the Code tab (its console shows there). */
  const run = {
    async click() {
      await centerTab('Code').click();
      await dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ }).click();
    },
  };

  async function shot(name: string): Promise<void> {
    for (const width of [1280, 1024]) {
      await dash.setViewportSize({ width, height: 800 });
      await dash.waitForTimeout(150); // layout settles after a resize: a picture, not an assertion
      await dash.screenshot({ path: path.join(SHOTS, `deploying-${name}-${width}.png`) });
    }
    await dash.setViewportSize({ width: 1280, height: 800 });
  }

  const linesOf = (match: RegExp) => consoleRows().filter({ hasText: match }).count();
  /** A console line matching `match` beyond the `before` ones already there (earlier runs print the same). */
  async function newLine(match: RegExp, before: number, timeout = 20_000): Promise<void> {
    await eventually(async () => (await linesOf(match)) > before, async () => `a new console line with ${String(match)}; the console shows:\n${(await consoleRows().allInnerTexts()).slice(-15).join('\n')}`, timeout);
  }

  async function consoleLine(match: string | RegExp, timeout = 15_000): Promise<Locator> {
    const row = consoleRows().filter({ hasText: match }).last();
    try {
      await row.waitFor({ state: 'visible', timeout });
    } catch {
      throw new Error(`No console line with ${String(match)}; the console shows:\n${(await consoleRows().allInnerTexts()).slice(-15).join('\n')}`);
    }
    return row;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-deploying-e2e-'));
    await ensureUiBuilt();
    cli = runCli(['start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', workspace], { WSPLAY_SKIP_UI_BUILD: '1', WSPLAY_LESSON_PROXY_PORT: '0', HOME: workspace });
    const [started, launched] = await Promise.all([cli.line(/^Dashboard: (\S+)$/, 30_000), launchChromium()]);
    browser = launched;
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    context.setDefaultTimeout(15_000);
    dash = await context.newPage();
    dash.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
    dashboardUrl = started[1]!;
    await dash.goto(dashboardUrl);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it('opens lesson 13 and starts its reverse proxy in front of the wiretap', async () => {
    const row = pane().getByRole('listitem', { name: /^Lesson 13: Deploying/ });
    await row.getByRole('button', { name: 'Open lesson 13' }).click();
    await pane().getByRole('heading', { name: /^Lesson 13 · Deploying/ }).waitFor();
    await cli.line(/Reverse proxy \(proxy\.js\) on ws:\/\/localhost:\d+ → the wiretap → server\.js; it cuts a WebSocket idle for 2 s\./, 30_000);
    await cli.line(/server\.js listens on port 9900/, 30_000);
    // The local CA (made under the temporary HOME on first use) signs the wss:// proxy's certificate.
    await cli.line(/The same proxy over TLS on wss:\/\/localhost:\d+, with a certificate from wsplay's local CA/, 60_000);
    await shot('pane');
  }, 90_000);

  it("runs the starter: the handshake reaches the server without Upgrade, 426, and the page's WebSocket fails", async () => {
    await run.click();
    await consoleLine(/closed: code 1006, clean: false/);
    await consoleLine(/error: the handshake failed/);
    await shot('426-console');
    await centerTab('Timeline').click();
    // The wiretap's own record of what reached server.js (the dashboard's API, as the pages read it).
    const row = dash.getByRole('region', { name: 'Capture' }).getByText(/GET \/ → 426/).first();
    await row.waitFor();
    await row.click();
    await pane().getByRole('tab', { name: 'Handshake' }).click();
    const handshake = await pane().innerText();
    expect(handshake).toContain('426');
    expect(handshake).toMatch(/Sec-WebSocket-Key/i);
    expect(handshake).not.toMatch(/^\s*Upgrade:\s*websocket/im);
    await shot('426');
  }, 60_000);

  it('with Upgrade and Connection forwarded, the 101 comes back; silent, the connection is cut by the idle timeout', async () => {
    const proxies = () => (cli.stdout().match(/Reverse proxy \(proxy\.js\) on/g) ?? []).length;
    const before = proxies();
    copyFileSync(path.join(SOLUTION, 'proxy.js'), path.join(workspace, LESSON, 'proxy.js'));
    await cli.line(/proxy\.js saved: the proxy restarts with it\./, 15_000);
    await eventually(() => proxies() > before, () => 'the proxy to restart');
    await centerTab('Code').click();
    const echoes = await linesOf(/received: I heard you say "I am listening"/);
    const closes = await linesOf(/closed: code 1006, clean: false/);
    await run.click();
    await newLine(/received: I heard you say "I am listening"/, echoes);
    await consoleLine(/The reverse proxy cut a WebSocket .* after \d+\.\d s with no byte either way/, 20_000);
    await newLine(/closed: code 1006, clean: false/, closes);
    await shot('cut-console');
    await centerTab('Timeline').click();
    await shot('cut');
  }, 60_000);

  it("with the server's heartbeat, the connection outlives the idle timeout, and the Check passes", async () => {
    const listens = () => (cli.stdout().match(/server\.js listens on port 9900/g) ?? []).length;
    const before = listens();
    copyFileSync(path.join(SOLUTION, 'server.js'), path.join(workspace, LESSON, 'server.js'));
    await eventually(() => listens() > before, () => 'server.js to restart with the heartbeat', 30_000);
    const cutsBefore = (cli.stdout().match(/The reverse proxy cut/g) ?? []).length;
    await centerTab('Code').click();
    const echoes = await linesOf(/received: I heard you say "I am listening"/);
    await run.click();
    await newLine(/received: I heard you say "I am listening"/, echoes);
    // Three idle timeouts' worth of the server's pings, counted on the wire (the Timeline rows).
    await centerTab('Timeline').click();
    const pings = dash.getByRole('region', { name: 'Capture' }).getByText(/^PING$/);
    try {
      await eventually(async () => (await pings.count()) >= 8, async () => `8 pings in the Timeline; it shows ${await pings.count()}`, 30_000);
    } catch (err) {
      await shot('heartbeat-failed');
      throw new Error(`${(err as Error).message}\nThe CLI said:\n${cli.stdout().slice(-2500)}`);
    }
    expect((cli.stdout().match(/The reverse proxy cut/g) ?? []).length).toBe(cutsBefore);
    await shot('heartbeat');

    await pane().getByRole('tab', { name: /^Lesson/ }).click();
    await pane().getByRole('button', { name: /^(Check|Checking…)$/ }).click();
    await eventually(
      async () => /^✓ All 3 checks pass$/.test((await pane().locator('#lp-check-status').innerText().catch(() => '')).trim()),
      async () => `the check to pass; it says ${await pane().locator('#lp-check-status').innerText().catch(() => '')}`,
      90_000,
    );
    await shot('check');
    expect(pageErrors).toEqual([]);
  }, 150_000);

  it('over wss://: the same frames behind the proxy, and the console says the TCP wire carried TLS records only', async () => {
    // The page trusts the local CA's certificate as a learner's browser does once they accepted it.
    const trusting = await browser.newContext({ viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: true });
    const page = await trusting.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
    const previous = dash;
    dash = page;
    try {
      await page.goto(dashboardUrl);
      await pane().getByRole('heading', { name: /^Lesson 13 · Deploying/ }).waitFor();
      const file = path.join(workspace, LESSON, 'client.js');
      writeFileSync(file, readFileSync(file, 'utf8').replace("ws://localhost:9980'", "wss://localhost:9943'"));
      await eventually(async () => (await page.locator('.monaco-editor .view-lines').innerText().catch(() => '')).includes('wss://localhost:9943'), () => 'the editor to show the wss:// URL', 15_000).catch(() => {});
      const tlsBefore = (cli.stdout().match(/A wss:\/\/ connection/g) ?? []).length;
      await centerTab('Code').click();
      const echoes = await linesOf(/received: I heard you say "I am listening"/);
      await run.click();
      await newLine(/received: I heard you say "I am listening"/, echoes);
      await centerTab('Code').click();
      await dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: 'Stop', exact: true }).click();
      await eventually(() => (cli.stdout().match(/A wss:\/\/ connection/g) ?? []).length > tlsBefore, () => `the proxy's TLS summary; the CLI said:\n${cli.stdout().slice(-1500)}`, 20_000);
      const line = await consoleLine(/A wss:\/\/ connection .* ended\. On its TCP wire/);
      const text = await line.innerText();
      expect(text).toMatch(/the first header: 16 03 0[13] /);
      expect(text).toMatch(/applicationData/);
      expect(text).toContain("no 'GET', no 'Upgrade', no frame in the clear");
      await shot('wss-console');
      await centerTab('Timeline').click();
      await shot('wss');
    } finally {
      dash = previous;
      await trusting.close();
    }
    expect(readFileSync(path.join(workspace, LESSON, 'proxy.js'), 'utf8')).toContain('Upgrade');
  }, 150_000);
});
