/**
 * `wsplay tap --target wss://` in real Chromium: the Handshake view shows the upstream TLS
 * session and both request heads, the forwarded one with its rewritten Host and Origin lines
 * marked. The server is a `ws` server over https with a certificate from a CA made in the test.
 * Screenshots at 1280 and 1024 px wide go to test-artifacts/screenshots/tap-wss-handshake-*.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, launchChromium, visibleText } from '../helpers/browser.ts';
import { connect, ROOT, runCli, type CliProcess } from '../helpers/net.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';
import { makeTestPki, startWssEcho, type TestPki, type WssEcho } from '../helpers/tls.ts';

const chromium = chromiumAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');

describe.skipIf(chromium.skip)(chromium.skip ? `tap --target wss:// in the dashboard: ${chromium.reason}` : 'tap --target wss:// in the dashboard, in real Chromium', () => {
  let pki: TestPki;
  let server: WssEcho;
  let cli: CliProcess;
  let browser: Browser;
  let dashboardUrl: string;
  let tapPort: number;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureUiBuilt();
    pki = makeTestPki();
    server = await startWssEcho(pki.issue('localhost', ['DNS:localhost', 'IP:127.0.0.1']));
    cli = runCli(['tap', '--target', `wss://localhost:${server.port}`, '--ca', pki.caFile, '--port', '0', '--dashboard-port', '0', '--no-open'], {
      WSPLAY_SKIP_UI_BUILD: '1',
    });
    const [, port] = await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) → wss:\/\/localhost:\d+$/, 20_000);
    tapPort = Number(port);
    [, dashboardUrl] = (await cli.line(/^Dashboard: (\S+)$/, 20_000)) as [string, string];
    // A client as a page on the wiretap's own address would open it: Origin names the wiretap.
    const c = await connect(`ws://127.0.0.1:${tapPort}/`, { origin: `http://127.0.0.1:${tapPort}` });
    c.ws.send('over TLS');
    expect(await c.next()).toBe('over TLS');
    c.ws.close(1000);
    await c.closed;
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await cli?.stop();
    await server?.close();
    pki?.remove();
  });

  async function openHandshake(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 }, colorScheme: 'light' });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(dashboardUrl);
    await page.getByText(`wiretap ws://127.0.0.1:${tapPort}`).waitFor();
    await page.getByRole('listbox', { name: 'Connections' }).getByRole('option').filter({ hasText: '#1' }).click();
    await page.getByRole('region', { name: 'Details' }).getByRole('tab', { name: 'Handshake' }).click();
    return page;
  }

  for (const width of [1280, 1024]) {
    it(`shows the TLS session and marks the rewritten Host at ${width} px`, async () => {
      const page = await openHandshake(width);
      const details = page.getByRole('region', { name: 'Details' });

      const tls = await visibleText(details.getByRole('group', { name: 'TLS session with the server' }));
      expect(tls).toMatch(/TLSv1\.[23], TLS_\w+/);
      expect(tls).toContain('ALPN http/1.1');
      expect(tls).toContain('CN=localhost');
      expect(tls).toContain('CN=wsplay test CA');
      expect(tls).toMatch(/Valid\s+\w{3} +\d+ [\d:]+ \d{4} GMT to \w{3} +\d+ [\d:]+ \d{4} GMT/);
      expect(tls).toMatch(/Checked\s+verified for localhost/);

      const sent = await visibleText(details.getByLabel('HTTP request as the client sent it'));
      expect(sent).toContain(`Host: 127.0.0.1:${tapPort}`);
      expect(sent).not.toContain('rewritten');
      const forwarded = details.getByLabel('HTTP request as the wiretap forwarded it');
      const fwdText = await visibleText(forwarded);
      expect(fwdText).toContain(`Host: localhost:${server.port} ← rewritten by the wiretap`);
      expect(fwdText).toContain(`Origin: https://localhost:${server.port} ← rewritten by the wiretap`);
      // Only those two lines are marked; the key went as sent.
      expect((await forwarded.locator('.rewritten').allInnerTexts()).sort()).toEqual([`Host: localhost:${server.port}`, `Origin: https://localhost:${server.port}`]);
      expect(fwdText).toMatch(/Sec-WebSocket-Key: \S+$/m);
      expect(fwdText).not.toMatch(/Sec-WebSocket-Key: .*rewritten/);

      // The header says where the bytes go.
      expect(await visibleText(page.locator('.topo-target'))).toContain('your server over wss://');
      await details.getByRole('group', { name: 'TLS session with the server' }).scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(SHOTS, `tap-wss-handshake-${width}.png`) });
      await forwarded.scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(SHOTS, `tap-wss-forwarded-${width}.png`) });
      expect(pageErrors).toEqual([]);
      await page.close();
    });
  }

  it('with --insecure, the header and the TLS session say the certificate is NOT verified', async () => {
    const insecure = runCli(['tap', '--target', `wss://localhost:${server.port}`, '--insecure', '--port', '0', '--dashboard-port', '0', '--no-open'], {
      WSPLAY_SKIP_UI_BUILD: '1',
    });
    try {
      const [, port] = await insecure.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) /, 20_000);
      const [, url] = (await insecure.line(/^Dashboard: (\S+)$/, 20_000)) as [string, string];
      const c = await connect(`ws://127.0.0.1:${port}/`);
      c.ws.send('unverified');
      expect(await c.next()).toBe('unverified');
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(url);
      expect(await visibleText(page.locator('.topo-target'))).toContain('certificate NOT verified');
      await page.getByRole('listbox', { name: 'Connections' }).getByRole('option').filter({ hasText: '#1' }).click();
      await page.getByRole('region', { name: 'Details' }).getByRole('tab', { name: 'Handshake' }).click();
      const tls = await visibleText(page.getByRole('group', { name: 'TLS session with the server' }));
      expect(tls).toMatch(/Checked\s+NOT verified \(--insecure\): signed by a CA this machine does not trust/);
      await page.screenshot({ path: path.join(SHOTS, 'tap-wss-insecure-1280.png') });
      c.ws.close();
      expect(pageErrors).toEqual([]);
      await page.close();
    } finally {
      await insecure.stop();
    }
  });
});
