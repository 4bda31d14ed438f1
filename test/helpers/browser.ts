/**
 * Real Chromium for the browser tests: Debian's installed Chromium driven by playwright-core.
 * Never downloads a browser. Without one, the browser suites are skipped with a loud warning,
 * except in CI (process.env.CI), where a missing browser fails the run: a CI that silently
 * skips its end-to-end tests tests nothing.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { ROOT, runCli, type CliProcess } from './net.ts';
import { ensureUiBuilt } from './playground.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface BrowserAvailability {
  /** True when the browser suites must be skipped. */
  skip: boolean;
  /** Why, for the suite's name ('' when the browser is there). */
  reason: string;
}

/**
 * Is there a Chromium to test in? Call at the top of a test file, outside any test. Throws in
 * CI when there is none; elsewhere prints a banner and tells the caller to skip.
 */
export function chromiumAvailability(): BrowserAvailability {
  if (executable(CHROMIUM_PATH)) return { skip: false, reason: '' };
  const reason = `BROWSER TESTS SKIPPED: no Chromium at ${CHROMIUM_PATH}; install it with apt-get install -y chromium (or set CHROMIUM_PATH)`;
  if (process.env.CI) {
    throw new Error(`No Chromium at ${CHROMIUM_PATH}, and CI is set: the browser tests must run in CI. Install it with apt-get install -y chromium, or set CHROMIUM_PATH.`);
  }
  const bar = '!'.repeat(reason.length + 8);
  console.warn(`\n${bar}\n!!! ${reason} !!!\n${bar}\n`);
  return { skip: true, reason };
}

/** Launch the installed Chromium, headless. Close it in afterAll. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** Resolve when `check` returns true (polled); fail after `timeoutMs` with `what()`. */
export async function eventually(check: () => Promise<boolean> | boolean, what: () => string | Promise<string>, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${await what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The text a person sees in an element, once it is visible. */
export async function visibleText(locator: Locator, timeoutMs = 5000): Promise<string> {
  await locator.waitFor({ state: 'visible', timeout: timeoutMs });
  return (await locator.innerText()).trim();
}

/**
 * The text a person sees in an element once `ok` holds for it. For content that arrives after
 * the element shows: the dashboard applies server events in batches (at most ~10 renders a
 * second), so a row can show before its state does. Fails with `what` and the text last shown.
 */
export async function textEventually(locator: Locator, ok: (text: string) => boolean, what: string, timeoutMs = 5000): Promise<string> {
  let text = '';
  await eventually(
    async () => ok((text = await visibleText(locator, timeoutMs))),
    () => `${what}; it shows ${JSON.stringify(text)}`,
    timeoutMs,
  );
  return text;
}

/**
 * `wsplay start` on ephemeral ports in `workspace` (serving ui/dist as built) and Chromium,
 * started side by side. Resolves once the CLI printed its dashboard URL; if either fails, the
 * other is stopped too and the first error is thrown.
 */
export async function startWsplayAndChromium(workspace: string, extraArgs: string[] = []): Promise<{ cli: CliProcess; browser: Browser; dashboardUrl: string }> {
  await ensureUiBuilt();
  const cli = runCli(['start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', workspace, ...extraArgs], { WSPLAY_SKIP_UI_BUILD: '1' });
  const [started, launched] = await Promise.allSettled([cli.line(/^Dashboard: (\S+)$/, 20_000), launchChromium()]);
  if (started.status === 'fulfilled' && launched.status === 'fulfilled') return { cli, browser: launched.value, dashboardUrl: started.value[1]! };
  if (launched.status === 'fulfilled') await launched.value.close().catch(() => {});
  await cli.stop();
  throw started.status === 'rejected' ? started.reason : (launched as PromiseRejectedResult).reason;
}

/** Where the browser tests put the screenshots a person looks at (made on first use). */
export function screenshotsDir(): string {
  const dir = process.env.WSPLAY_SHOTS ?? path.join(ROOT, 'test-artifacts', 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface OpenDashboard {
  /** The temporary workspace `wsplay start` runs in (removed by close()). */
  workspace: string;
  cli: CliProcess;
  browser: Browser;
  context: BrowserContext;
  /** The dashboard, open at its start-up URL, with the header showing the wiretap. */
  page: Page;
  dashboardUrl: string;
  /** Where clients connect: ws://127.0.0.1:tapPort, as the header shows it. */
  tapPort: number;
  /** Uncaught errors of the page, as they happen. */
  pageErrors: string[];
  close(): Promise<void>;
}

export interface OpenDashboardOptions {
  viewport?: { width: number; height: number };
  /** Extra `wsplay start` arguments. */
  args?: string[];
  /** Called with the workspace once server.js listens, before the page opens (files to put there). */
  prepare?: (workspace: string) => void;
  /** The page's uncaught errors go here too (a suite that reads its own array). */
  pageErrors?: string[];
  /** Let the page read and write the clipboard (a learner pasting code into the editor). */
  clipboard?: boolean;
}

/**
 * The browser suites' common start: `wsplay start` in a fresh workspace (`name` in its folder's
 * name), Chromium, and the dashboard open in a light page of its own context once the course's
 * server.js listens and the header shows the wiretap's address. Call in beforeAll (allow 120 s);
 * close() in afterAll stops all of it and removes the workspace.
 */
export async function openDashboard(name: string, opts: OpenDashboardOptions = {}): Promise<OpenDashboard> {
  const workspace = mkdtempSync(path.join(tmpdir(), `wsplay-${name}-e2e-`));
  let started: Awaited<ReturnType<typeof startWsplayAndChromium>>;
  try {
    started = await startWsplayAndChromium(workspace, opts.args);
  } catch (err) {
    rmSync(workspace, { recursive: true, force: true });
    throw err;
  }
  const { cli, browser, dashboardUrl } = started;
  const pageErrors = opts.pageErrors ?? [];
  const close = async () => {
    await browser.close().catch(() => {});
    await cli.stop();
    rmSync(workspace, { recursive: true, force: true });
  };
  try {
    await cli.line(/server\.js listens on port 9900/, 20_000);
    opts.prepare?.(workspace);
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 }, colorScheme: 'light' });
    context.setDefaultTimeout(10_000);
    if (opts.clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
    await page.goto(dashboardUrl);
    const tapUrl = page.getByRole('banner').getByText(/^wiretap ws:\/\/127\.0\.0\.1:\d+$/);
    await tapUrl.waitFor();
    const tapPort = Number((await tapUrl.innerText()).split(':').pop());
    return { workspace, cli, browser, context, page, dashboardUrl, tapPort, pageErrors, close };
  } catch (err) {
    await close();
    throw err;
  }
}
