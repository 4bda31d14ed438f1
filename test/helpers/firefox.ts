/**
 * Firefox ESR for the browser tests: Debian's firefox-esr driven by puppeteer-core over
 * WebDriver BiDi. Never downloads a browser. Like Chromium (browser.ts): skipped with a loud
 * warning where none is installed, a failure in CI.
 *
 * Firefox phones home at start (updates, telemetry, safe browsing, captive-portal and
 * connectivity probes). Every proxy setting points at a port nothing listens on, so any request
 * to another host fails on this machine at once; loopback addresses bypass the proxy (Firefox
 * never proxies localhost unless `network.proxy.allow_hijacking_localhost` is set), so the
 * dashboard is reached directly and nothing leaves the machine.
 */
import { accessSync, constants } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import type { BrowserAvailability } from './browser.ts';

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

/** A port of 127.0.0.1 that refuses connections (the discard service, never run here). */
const NOWHERE = 9;

const PREFS: Record<string, unknown> = {
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': NOWHERE,
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': NOWHERE,
  'network.proxy.socks': '127.0.0.1',
  'network.proxy.socks_port': NOWHERE,
  'network.proxy.no_proxies_on': '',
  'network.proxy.allow_hijacking_localhost': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'browser.safebrowsing.update.enabled': false,
  'app.update.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
};

export function firefoxAvailability(): BrowserAvailability {
  try {
    accessSync(FIREFOX_PATH, constants.X_OK);
    return { skip: false, reason: '' };
  } catch {
    // Below.
  }
  const reason = `FIREFOX TESTS SKIPPED: no Firefox ESR at ${FIREFOX_PATH}; install it with apt-get install -y firefox-esr (or set FIREFOX_PATH)`;
  if (process.env.CI) {
    throw new Error(`No Firefox ESR at ${FIREFOX_PATH}, and CI is set: the Firefox tests must run in CI. Install it with apt-get install -y firefox-esr, or set FIREFOX_PATH.`);
  }
  const bar = '!'.repeat(reason.length + 8);
  console.warn(`\n${bar}\n!!! ${reason} !!!\n${bar}\n`);
  return { skip: true, reason };
}

/** Launch the installed Firefox ESR, headless, over WebDriver BiDi. Close it in afterAll. */
export function launchFirefox(): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    protocol: 'webDriverBiDi',
    extraPrefsFirefox: PREFS,
    defaultViewport: { width: 1280, height: 800 },
  });
}
