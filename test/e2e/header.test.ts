/**
 * The header and the Break it tab as a learner sees them, against the real `wsplay start` on a
 * workspace in a temporary folder, in real Chromium: the wiretap's address readable in full at
 * 1280, 1440 and 1920 pixels wide (with a fault on too), a chip in the header when server.js
 * crashes or does not listen (gone once it runs again), the frame crafter's answer to a PING
 * (the server's PONG) with the injected frame named as the learner's, and a page without the
 * token told so in the header and the banner. Screenshots (light and dark) go to
 * test-artifacts/screenshots/header-*.png.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailability, eventually, openDashboard, screenshotsDir, textEventually, visibleText, type OpenDashboard } from '../helpers/browser.ts';

const chromium = chromiumAvailability();

const SHOTS = screenshotsDir();
const SIZES = [
  { width: 1280, height: 800 },
  { width: 1440, height: 900 },
  { width: 1920, height: 1080 },
] as const;

/**
 * Why a person could not read all of `el`: it overflows itself, lies outside the viewport, or an
 * ancestor that hides overflow cuts it. '' when it is whole on screen.
 */
function clipping(loc: Locator): Promise<string> {
  return loc.evaluate((el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return 'not shown';
    if (el.scrollWidth > el.clientWidth + 1) return `it overflows itself (${el.scrollWidth} > ${el.clientWidth} px)`;
    if (r.left < 0 || r.right > window.innerWidth + 0.5 || r.top < 0 || r.bottom > window.innerHeight + 0.5) {
      return `it is outside the viewport (${Math.round(r.left)}..${Math.round(r.right)} of ${window.innerWidth} px)`;
    }
    for (let a = el.parentElement; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
      // An ellipsis shortens the text's own box too: a box that hides overflow and has more
      // content than room is cutting something in it.
      if (a.scrollWidth > a.clientWidth + 1) return `<${a.tagName.toLowerCase()} class="${a.className}"> cuts its content (${a.scrollWidth} > ${a.clientWidth} px)`;
      const ar = a.getBoundingClientRect();
      if (r.left < ar.left - 0.5 || r.right > ar.right + 0.5 || r.top < ar.top - 0.5 || r.bottom > ar.bottom + 0.5) {
        return `<${a.tagName.toLowerCase()} class="${a.className}"> cuts it (${Math.round(r.left)}..${Math.round(r.right)} px, the box ${Math.round(ar.left)}..${Math.round(ar.right)} px)`;
      }
    }
    return '';
  });
}

describe.skipIf(chromium.skip)(chromium.skip ? `the header in real Chromium: ${chromium.reason}` : 'the header in real Chromium', () => {
  let pg: OpenDashboard;
  let workspace: string;
  let dashboardUrl: string;
  let context: BrowserContext;
  let dash: Page;
  let starterServer: string;
  const pageErrors: string[] = [];

  const header = () => dash.getByRole('banner');
  const tapUrl = () => header().getByText(/^wiretap ws:\/\/127\.0\.0\.1:\d+$/);
  const chip = () => header().getByRole('button', { name: /^server\.js (crashed|not listening|stopped)/ });
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const crafter = () => dash.getByRole('region', { name: 'Frame crafter' });

  async function shot(name: string, clip?: 'header'): Promise<void> {
    for (const dark of [false, true]) {
      await dash.emulateMedia({ colorScheme: dark ? 'dark' : 'light' });
      const file = path.join(SHOTS, `header-${name}${dark ? '-dark' : ''}.png`);
      if (clip) await header().screenshot({ path: file });
      else await dash.screenshot({ path: file });
    }
    await dash.emulateMedia({ colorScheme: 'light' });
  }

  /** The wiretap's address is whole on screen at each size; a screenshot of the header at each. */
  async function tapUrlReadable(name: string): Promise<void> {
    for (const size of SIZES) {
      await dash.setViewportSize(size);
      await tapUrl().waitFor();
      expect(await clipping(tapUrl()), `the wiretap's address at ${size.width}x${size.height} (${name})`).toBe('');
      await shot(`${name}-${size.width}`, 'header');
    }
    await dash.setViewportSize(SIZES[0]);
  }

  async function api(method: string, url: string, body?: unknown): Promise<void> {
    const problem = await dash.evaluate(
      async ([method, url, body]) => {
        const token = new URLSearchParams(location.search).get('token') ?? '';
        const headers: Record<string, string> = { 'X-Wsplay-Token': token };
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        const res = await fetch(url as string, { method: method as string, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        return res.ok ? '' : `${res.status} ${await res.text()}`;
      },
      [method, url, body] as const,
    );
    expect(problem, `${method} ${url}`).toBe('');
  }

  beforeAll(async () => {
    pg = await openDashboard('header', { pageErrors, viewport: SIZES[0] });
    ({ workspace, context, page: dash, dashboardUrl } = pg);
    starterServer = readFileSync(path.join(workspace, 'server.js'), 'utf8');
  }, 120_000);

  afterAll(() => pg?.close(), 30_000);

  it("shows the wiretap's address whole at 1280, 1440 and 1920 wide, with a fault on too", async () => {
    expect(await chip().count()).toBe(0);
    await tapUrlReadable('normal');
    await shot('page-1280');

    await api('POST', '/api/faults', { kind: 'latency', value: 200 });
    const badge = header().getByRole('status', { name: /^Faults on:/ });
    await badge.waitFor();
    expect(await visibleText(badge)).toContain('200 ms');
    await tapUrlReadable('fault');
    await api('DELETE', '/api/faults');
    await badge.waitFor({ state: 'detached' });
  });

  it('shows a chip in the header while server.js is crashed or not listening, which opens the Code tab; it goes once server.js runs', async () => {
    writeFileSync(path.join(workspace, 'server.js'), "throw new Error('crash on purpose, from the header test');\n");
    try {
      await crashAndBack();
    } finally {
      writeFileSync(path.join(workspace, 'server.js'), starterServer);
    }
  }, 60_000);

  async function crashAndBack(): Promise<void> {
    await chip().waitFor({ timeout: 20_000 });
    expect(await visibleText(chip())).toMatch(/server\.js crashed$/);
    // What a click does is in its name and tooltip (the visible text stays short for narrow headers).
    expect(await chip().getAttribute('aria-label')).toBe('server.js crashed: open the Code tab');
    expect(await chip().getAttribute('title')).toMatch(/^server\.js crashed: it exited with code 1/);
    expect(await centerTab('Timeline').getAttribute('aria-selected')).toBe('true');
    // The URL stays whole beside the chip, at every size.
    await tapUrlReadable('crash');
    await chip().click();
    expect(await centerTab('Code').getAttribute('aria-selected')).toBe('true');
    await centerTab('Timeline').click();

    // A server.js that never listens: the chip says so (after the playground's wait for a listen).
    writeFileSync(path.join(workspace, 'server.js'), 'setInterval(() => {}, 1000);\n');
    await textEventually(chip(), (t) => t.includes('not listening'), 'the chip to say server.js is not listening', 20_000);
    expect(await visibleText(chip())).toMatch(/server\.js not listening$/);
    await shot('not-listening-1280', 'header');

    writeFileSync(path.join(workspace, 'server.js'), starterServer);
    await chip().waitFor({ state: 'detached', timeout: 20_000 });
    await tapUrl().waitFor();
  }

  it("sums up the server's PONG to a crafted PING, and names the injected frame as the learner's", async () => {
    const port = Number((await tapUrl().innerText()).split(':').pop());
    // server.js may still be restarting after the test before: try for a few seconds.
    let ws: WebSocket | null = null;
    for (let tries = 0; !ws; tries++) {
      const attempt = new WebSocket(`ws://127.0.0.1:${port}`);
      const opened = await new Promise<boolean>((resolve, reject) => {
        attempt.once('open', () => resolve(true));
        attempt.once('error', (err) => (tries < 40 ? resolve(false) : reject(err)));
      });
      if (opened) ws = attempt;
      else await new Promise((r) => setTimeout(r, 250));
    }
    try {
      await centerTab('Break it').click();
      const send = crafter().getByRole('button', { name: /^Send to the server on #\d+$/ });
      await send.waitFor();
      const conn = Number((await send.innerText()).split('#').pop());
      await crafter().getByLabel('Opcode').selectOption({ label: '0x9 PING' });
      await crafter().getByLabel('Payload as text').fill('are you there');
      await send.click();

      const answer = crafter().getByRole('region', { name: 'The answer' });
      const text = await textEventually(answer, (t) => /Server PONG "are you there"/.test(t), "the answer to list the server's PONG");
      expect(text).toMatch(/Your PING "are you there" \(injected by you\)/);
      expect(text).toMatch(new RegExp(`Your frame is in the timeline at \\d+\\.\\d{3}s on #${conn} as a PING frame from the client: injected by you through the wiretap, not sent by your client\\.`));
      expect(await visibleText(crafter().getByRole('status'))).toBe(`Sent 19 bytes to the server on #${conn}.`);
      await answer.scrollIntoViewIfNeeded();
      await shot('break-it');

      // The connection closes: one state, not "Open a connection first" beside "Sent 19 bytes".
      ws.close();
      const closed = await textEventually(crafter(), (t) => /#\d+ has closed/.test(t), 'the crafter to say the connection has closed');
      expect(closed).not.toContain('Open a connection first');
      expect(closed).not.toContain('Sent 19 bytes');
      expect(closed).toMatch(/To send again, open a connection/);
      expect(await visibleText(answer)).toMatch(/Client sent CLOSE/);
      await answer.scrollIntoViewIfNeeded();
      await shot('break-it-closed');

      // "Show your frame": the timeline, on this connection, with the frame open in Frame anatomy.
      await answer.getByRole('button', { name: 'Show your frame' }).click();
      expect(await centerTab('Timeline').getAttribute('aria-selected')).toBe('true');
      const grid = dash.getByRole('grid', { name: 'Frames' });
      const selected = grid.locator('[role=row][aria-selected=true]');
      expect(await visibleText(selected)).toMatch(/PING/);
      // Marked as the wiretap's, in the row and in Frame anatomy; the client's own CLOSE is not.
      expect(await visibleText(selected)).toContain('✎ injected');
      expect(await selected.getByText('✎ injected').getAttribute('title')).toMatch(/^Injected by the wiretap \(the frame crafter in Break it, or a fault's close frame\), not sent by the client/);
      const rows = await grid.locator('[role=row]').allInnerTexts();
      expect(rows.filter((r) => r.includes('injected')).length, rows.join(' | ')).toBe(1);
      expect(rows.some((r) => r.includes('→') && r.includes('CLOSE') && !r.includes('injected')), rows.join(' | ')).toBe(true);
      const anatomy = dash.getByRole('region', { name: 'Details' }).getByRole('note').filter({ hasText: 'Injected by the wiretap' });
      expect(await visibleText(anatomy)).toMatch(/^✎ Injected by the wiretap \(frame crafter \/ fault\), not sent by the client\. .*the server received them as if the client had sent them\./);
      await shot('injected-frame');
      // The Sequence diagram draws it from the wiretap, not from the client.
      await centerTab('Sequence diagram').click();
      const injectedArrow = dash.locator('g.sd-arrow.injected');
      await injectedArrow.waitFor();
      expect(await injectedArrow.count()).toBe(1);
      expect(await injectedArrow.locator('text.sd-label').textContent()).toMatch(/^✎ ◆ PING \[13 B\]/);
      expect(await injectedArrow.locator('title').textContent()).toContain('✎ Injected by the wiretap (frame crafter / fault), not sent by the client');
      await shot('injected-sequence');
      await centerTab('Timeline').click();

      // Back in Break it, the crafter still has the frame being built and its answer.
      await centerTab('Break it').click();
      expect(await crafter().getByLabel('Payload as text').inputValue()).toBe('are you there');
      expect(await crafter().getByLabel('Opcode').inputValue()).toBe('9');
      expect(await visibleText(answer)).toMatch(/Server PONG "are you there"/);
    } finally {
      ws.close();
    }
  }, 30_000);

  it('shows the detail panel wider on wide screens, the lesson title whole or with a tooltip', async () => {
    const details = dash.getByRole('region', { name: 'Details' });
    await details.getByRole('tab', { name: 'Lessons' }).click();
    await centerTab('Break it').click();
    const widths: number[] = [];
    for (const size of SIZES) {
      await dash.setViewportSize(size);
      widths.push(Math.round((await details.boundingBox())!.width));
      await shot(`lessons-${size.width}`);
    }
    expect(widths[0]).toBeGreaterThanOrEqual(440);
    expect(widths[2]).toBeGreaterThan(600);
    // No second "Lessons" heading under the Lessons tab.
    expect(await details.getByRole('heading', { name: 'Lessons', exact: true }).count()).toBe(0);

    await details.getByRole('button', { name: 'Open lesson 05' }).click();
    const title = details.getByRole('heading', { name: 'Lesson 05 · Frame anatomy and masking' });
    await title.waitFor({ timeout: 20_000 });
    expect(await title.getAttribute('title')).toBe('Lesson 05 · Frame anatomy and masking');
    for (const size of SIZES) {
      await dash.setViewportSize(size);
      await shot(`lesson05-${size.width}`);
    }
    await dash.setViewportSize(SIZES[2]);
    expect(await clipping(title)).toBe('');
    await dash.setViewportSize(SIZES[0]);
    expect(pageErrors).toEqual([]);
  }, 40_000);

  it('tells a page without the token that it was refused, in the header and the banner, with the command as code', async () => {
    const page = await context.newPage();
    try {
      await page.goto(dashboardUrl.replace(/\?token=.*$/, ''));
      const banner = page.getByRole('alert').filter({ hasText: 'refused this page' });
      await banner.waitFor();
      expect(await visibleText(banner)).toBe('The dashboard refused this page: open the address printed by npm start (it carries the session token).');
      expect(await banner.locator('code').allInnerTexts()).toEqual(['npm start']);
      await eventually(
        async () => /refused/.test(await page.getByRole('banner').innerText()),
        async () => `the header to say the page was refused; it says ${JSON.stringify(await page.getByRole('banner').innerText())}`,
      );
      expect(await page.getByRole('banner').innerText()).not.toContain('connecting to the playground');
      await page.getByRole('banner').screenshot({ path: path.join(SHOTS, 'header-refused.png') });
      await page.screenshot({ path: path.join(SHOTS, 'header-refused-page.png') });
    } finally {
      await page.close();
    }
  });
});
