/**
 * Real Chromium for the browser tests: Debian's installed Chromium driven by playwright-core.
 * Never downloads a browser. Without one, the browser suites are skipped with a loud warning,
 * except in CI (process.env.CI), where a missing browser fails the run: a CI that silently
 * skips its end-to-end tests tests nothing.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type Locator } from 'playwright-core';
import { runCli, type CliProcess } from './net.ts';
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
