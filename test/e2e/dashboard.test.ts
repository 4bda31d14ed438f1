/**
 * The dashboard end to end, in real Chromium: a whole playground (echo server, wiretap,
 * dashboard) on ephemeral ports, the dashboard opened with its token, and the tutorial's client
 * running in a second page. Assertions are on what a person sees; each main view is kept as a
 * screenshot under test-artifacts/screenshots/; the timeline with the handshake is the README's
 * picture, readme.png there, which `npm run screenshot` copies to docs/dashboard.png (a test run
 * leaves the tracked files as they were).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrameEvent } from '../../server/capture/events.ts';
import { chromiumAvailability, launchChromium, eventually, textEventually, visibleText } from '../helpers/browser.ts';
import { ROOT } from '../helpers/net.ts';
import { startPlayground, type Playground } from '../helpers/playground.ts';

const chromium = chromiumAvailability();

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const README_SHOT = path.join(SHOTS, 'readme.png');
const VIEWPORT = { width: 1280, height: 800 };
const XSS = '<img src=x onerror=alert(1)>';

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

describe.skipIf(chromium.skip)(chromium.skip ? `the dashboard in real Chromium: ${chromium.reason}` : 'the dashboard in real Chromium', () => {
  let pg: Playground;
  let browser: Browser;
  let context: BrowserContext;
  /** The dashboard, as the learner has it open. */
  let dash: Page;
  /** The tutorial's client, in its own page. */
  let client: Page;
  let conn: number;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  const shot = (name: string) => dash.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  const details = () => dash.getByRole('region', { name: 'Details' });
  const timeline = () => dash.getByRole('grid', { name: 'Frames' });
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const detailTab = (name: string) => details().getByRole('tab', { name });
  const watch = (page: Page) => {
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss().catch(() => {});
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(`${page === client ? 'client' : 'dashboard'}: ${msg.text()} (${msg.location().url})`);
    });
  };
  /** The client frame of conn whose payload is `text` (as the store recorded it). */
  const clientFrame = (text: string): FrameEvent => {
    const f = pg.store
      .all()
      .find((e): e is FrameEvent => e.type === 'frame' && e.conn === conn && e.dir === 'client' && Buffer.from(e.payload, 'base64').toString() === text);
    if (!f) throw new Error(`No client frame "${text}" on connection #${conn} in the store`);
    return f;
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    mkdirSync(path.dirname(README_SHOT), { recursive: true });
    // vite builds the UI first if it is stale: a few seconds, once for this file.
    const [started, launched] = await Promise.allSettled([startPlayground(), launchChromium()]);
    // Keep whichever started, so afterAll stops it even when the other failed.
    if (started.status === 'fulfilled') pg = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    // Fail within a test's time with what was awaited, not at vitest's timeout.
    context.setDefaultTimeout(5000);
    dash = await context.newPage();
    watch(dash);
    await dash.goto(pg.dashboardUrl);
    // Live: the header names the wiretap the stream told it about.
    await dash.getByText(`wiretap ws://127.0.0.1:${pg.tapPort}`).waitFor();
    client = await context.newPage();
    watch(client);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pg?.close();
  });

  it("shows the tutorial's client connecting, its greeting and the echo in the timeline", async () => {
    // The tutorial's client, with one fix: it calls send() before the socket is open, which
    // throws InvalidStateError in a browser; here it sends from onopen.
    await client.evaluate((port) => {
      const w = window as unknown as { socket: WebSocket; received: string[] };
      w.received = [];
      const socket = new WebSocket(`ws://localhost:${port}`);
      socket.onmessage = (event) => {
        console.log('received: ', event.data);
        w.received.push(String(event.data));
      };
      socket.onopen = () => socket.send('I am listening');
      w.socket = socket;
    }, pg.tapPort);
    await eventually(
      async () => (await client.evaluate(() => (window as unknown as { received: string[] }).received.length)) >= 2,
      () => `the client's two messages; the echo server said: ${pg.serverOutput.join(' | ')}`,
    );
    expect(await client.evaluate(() => (window as unknown as { received: string[] }).received)).toEqual(['Hello webSocket', 'I heard you say "I am listening"']);
    conn = (await pg.waitFor('handshake')).conn;

    const connection = dash.getByRole('listbox', { name: 'Connections' }).getByRole('option').filter({ hasText: `#${conn}` });
    // The page applies events in batches: the row may still say "connecting" for a moment.
    const connText = await textEventually(connection, (t) => t.includes('open'), `connection #${conn} to show as open`);
    expect(connText).toContain('127.0.0.1:');

    const rows = timeline().getByRole('row');
    await rows.filter({ hasText: 'Hello webSocket' }).waitFor();
    await rows.filter({ hasText: 'I heard you say "I am listening"' }).waitFor();
    const greeting = await visibleText(rows.filter({ hasText: 'Hello webSocket' }));
    expect(greeting).toContain('TEXT');
    expect(greeting).toContain('←');
    const sent = await visibleText(rows.filter({ has: dash.getByRole('cell', { name: 'I am listening', exact: true }) }));
    expect(sent).toContain('→');
    await shot('timeline');
  });

  it('opens the handshake: Sec-WebSocket-Accept with a mark that it matches', async () => {
    const handshake = await pg.waitFor('handshake', (h) => h.conn === conn);
    expect(handshake.acceptValid).toBe(true);
    await dash.getByRole('listbox', { name: 'Connections' }).getByRole('option').filter({ hasText: `#${conn}` }).click();
    expect(await detailTab('Handshake').getAttribute('aria-selected')).toBe('true');

    const response = await visibleText(details().getByLabel('HTTP response as sent'));
    expect(response).toContain('101 Switching Protocols');
    expect(response).toContain(`Sec-WebSocket-Accept: ${handshake.accept}`);
    const request = await visibleText(details().getByLabel('HTTP request as sent'));
    expect(request).toContain(`Sec-WebSocket-Key: ${handshake.key}`);

    // The mark, and what it says.
    const mark = details().getByRole('img', { name: 'Accept matches' });
    await mark.waitFor();
    const verdict = await visibleText(mark.locator('..'));
    expect(verdict).toMatch(/^✓\s+matches/);
    expect(verdict).not.toMatch(/not match|mismatch/);
    // The computation shown step by step ends in the value the server sent.
    const steps = await visibleText(details().getByRole('list').filter({ hasText: 'GUID' }));
    expect(steps).toContain(`${handshake.key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`);
    expect(steps).toContain(handshake.expectedAccept!);

    await shot('handshake');
    // The README's picture: the timeline with the handshake beside it, at 1280x800.
    expect(dash.viewportSize()).toEqual(VIEWPORT);
    expect(await centerTab('Timeline').getAttribute('aria-selected')).toBe('true');
    await dash.screenshot({ path: README_SHOT });
  });

  it("opens a client frame's anatomy and reads its masking key", async () => {
    const frame = clientFrame('I am listening');
    expect(frame.maskKey).toMatch(/^[0-9a-f]{8}$/);
    await timeline()
      .getByRole('row')
      .filter({ has: dash.getByRole('cell', { name: 'I am listening', exact: true }) })
      .click();
    expect(await detailTab('Frame anatomy').getAttribute('aria-selected')).toBe('true');

    const maskKey = details()
      .locator('dl div')
      .filter({ has: dash.getByRole('term').getByText('masking key', { exact: true }) })
      .getByRole('definition');
    expect(await visibleText(maskKey)).toBe(frame.maskKey);

    // Clicking the key's first byte says what it is.
    await details().getByRole('button', { name: /^byte 2, masking key/ }).click();
    expect(await visibleText(details().locator('.byte-explain'))).toContain(`masking key byte 0 (key ${frame.maskKey})`);

    // Masked bytes XOR key = unmasked bytes, with the bytes that were really on the wire.
    const key = Buffer.from(frame.maskKey!, 'hex');
    const plain = Buffer.from('I am listening');
    const masked = plain.map((b, i) => b ^ key[i % 4]!);
    const xor = details().getByRole('table', { name: 'Masked byte XOR key byte = unmasked byte' });
    expect(await visibleText(xor.getByRole('row', { name: /^on the wire/ }))).toBe(`on the wire\t${hex(masked).replaceAll(' ', '\t')}`);
    expect(await visibleText(xor.getByRole('row', { name: /^= unmasked/ }))).toBe(`= unmasked\t${hex(plain).replaceAll(' ', '\t')}`);
    expect(await visibleText(details().getByLabel('Payload as text'))).toBe('I am listening');
    await shot('frame-anatomy');
  });

  it(`shows the payload ${XSS} as text, never as HTML`, async () => {
    await client.evaluate((payload) => (window as unknown as { socket: WebSocket }).socket.send(payload), XSS);
    await pg.waitFor('message', (m) => m.conn === conn && m.text === `I heard you say "${XSS}"`);

    // In the timeline: the client's frame and the echo, as the characters that were sent.
    const rows = timeline().getByRole('row');
    expect(await visibleText(rows.filter({ has: dash.getByRole('cell', { name: XSS, exact: true }) }))).toContain(XSS);
    expect(await visibleText(rows.filter({ hasText: `I heard you say "${XSS}"` }))).toContain(XSS);

    // In the message view.
    await dash.getByRole('toolbar', { name: 'Timeline filters' }).getByRole('button', { name: 'Messages' }).click();
    await dash.getByRole('grid', { name: 'Messages' }).getByRole('row').filter({ hasText: `I heard you say "${XSS}"` }).click();
    expect(await detailTab('Message').getAttribute('aria-selected')).toBe('true');
    expect(await visibleText(details().getByLabel('Payload as text'))).toBe(`I heard you say "${XSS}"`);
    await shot('message');

    // Without the page's Content-Security-Policy too, so that only the rendering protects it:
    // an HTML rendering would run the onerror handler there.
    const bare = await browser.newContext({ viewport: VIEWPORT, bypassCSP: true });
    bare.setDefaultTimeout(5000);
    try {
      const page = await bare.newPage();
      watch(page);
      await page.goto(pg.dashboardUrl);
      await page.getByRole('grid', { name: 'Frames' }).getByRole('cell', { name: XSS, exact: true }).waitFor();
      await page.getByRole('button', { name: 'Messages' }).click();
      await page.getByRole('grid', { name: 'Messages' }).getByRole('row').filter({ hasText: `I heard you say "${XSS}"` }).click();
      expect(await visibleText(page.getByRole('region', { name: 'Details' }).getByLabel('Payload as text'))).toBe(`I heard you say "${XSS}"`);
      expect(await page.locator('img[src="x"]').count()).toBe(0);
    } finally {
      await bare.close();
    }
    expect(await dash.locator('img[src="x"]').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await dash.getByRole('toolbar', { name: 'Timeline filters' }).getByRole('button', { name: 'Frames' }).click();
  });

  it('draws the sequence diagram with the 101 and the frames as arrows', async () => {
    await centerTab('Sequence diagram').click();
    const diagram = dash.getByRole('img', { name: /^Sequence diagram of/ });
    const summary = await diagram.getAttribute('aria-label');
    expect(summary).toContain(`#${conn}`);

    const upgrade = diagram.getByText('✓ 101 Switching Protocols');
    const greeting = diagram.getByText('TEXT [15 B] “Hello webSocket”');
    const sent = diagram.getByText('TEXT [14 B] “I am listening”');
    const echo = diagram.getByText('TEXT [32 B] “I heard you say "I am listening"”');
    for (const arrow of [upgrade, greeting, sent, echo]) await arrow.waitFor();
    expect(await diagram.getByText(/^GET \/ HTTP\/1\.1/).count()).toBe(1);
    expect(await upgrade.locator('..').getAttribute('data-kind')).toBe('response');
    expect(await sent.locator('..').getAttribute('data-kind')).toBe('frame');

    // Top to bottom in the order they happened.
    const y = async (l: Locator) => (await l.boundingBox())!.y;
    expect(await y(upgrade)).toBeLessThan(await y(greeting));
    expect(await y(sent)).toBeLessThan(await y(echo));
    // Lanes for the client, the wiretap and the server.
    const header = dash.locator('svg.sd-header');
    for (const lane of [`#${conn}`, 'wiretap', 'server']) await header.getByText(lane, { exact: true }).waitFor();
    await shot('sequence-diagram');
  });

  it('shows messages and bytes per connection in the stats', async () => {
    await centerTab('Stats').click();
    const totals = dash.getByRole('region', { name: 'Totals' });
    // Two messages from the client; the greeting and two echoes from the server.
    // Rows are the directions; the first number in each is its messages.
    expect(await visibleText(totals.getByRole('row', { name: /client/ }))).toMatch(/^↑ client\t2\t2\t/);
    expect(await visibleText(totals.getByRole('row', { name: /server/ }))).toMatch(/^↓ server\t3\t3\t/);
    const perConn = dash.getByRole('table', { name: 'Per connection' });
    expect(await visibleText(perConn.getByRole('row').filter({ hasText: `#${conn}` }))).toContain('open');
    await shot('stats');

    await dash.emulateMedia({ colorScheme: 'dark' });
    await centerTab('Timeline').click();
    await shot('timeline-dark');
    await dash.emulateMedia({ colorScheme: 'light' });
  });

  it('runs without a script error', () => {
    expect(pageErrors).toEqual([]);
    // Chromium asks every page for /favicon.ico; ui/index.html declares no icon yet (reported),
    // so that one 404 is not the page's fault. Anything else is (a CSP the browser rejects ...).
    expect(consoleErrors.filter((e) => !/404.*\/favicon\.ico\)$/.test(e))).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
