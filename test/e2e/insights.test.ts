/**
 * Insights and the close autopsy in real Chromium against the real `wsplay start`, running the
 * course's server.js as written. A client sends an object as text, then non-ASCII text, then a
 * message too big for `String.fromCharCode(...data)`: the list under the header counts the three
 * insights and links each to its lesson, the Timeline and the sequence diagram mark the frames
 * they cite, and the crashed connection's autopsy says 1006, that no frame carried it, and shows
 * the server's crash line. Screenshots at 1280 and 1024 px: test-artifacts/screenshots/insights-*.png.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailability, eventually, openDashboard, screenshotsDir, textEventually, type OpenDashboard } from '../helpers/browser.ts';
import type { CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();
const SHOTS = screenshotsDir();

describe.skipIf(chromium.skip)(chromium.skip ? `insights: ${chromium.reason}` : 'insights and the close autopsy, in real Chromium', () => {
  let pg: OpenDashboard;
  let workspace: string;
  let cli: CliProcess;
  let dash: Page;
  let tapPort: number;
  const pageErrors: string[] = [];

  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const bar = () => dash.getByRole('region', { name: 'Insights' });

  /** A connection through the wiretap, greeted by the course's server. */
  async function greeted(): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${tapPort}/`);
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    return ws;
  }
  const reply = (ws: WebSocket) => new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));

  async function shots(name: string, before?: () => Promise<void>): Promise<void> {
    for (const width of [1280, 1024]) {
      await dash.setViewportSize({ width, height: 800 });
      await before?.();
      await dash.screenshot({ path: path.join(SHOTS, `insights-${name}-${width}.png`) });
    }
    await dash.setViewportSize({ width: 1280, height: 800 });
  }

  beforeAll(async () => {
    pg = await openDashboard('insights', { pageErrors });
    ({ workspace, cli, page: dash, tapPort } = pg);
  }, 120_000);

  afterAll(() => pg?.close(), 30_000);

  it('shows no insight for a correct client of the course server', async () => {
    const ws = await greeted();
    const echoed = reply(ws);
    ws.send('I am listening');
    expect(await echoed).toBe('I heard you say "I am listening"');
    await new Promise<void>((resolve) => ws.once('close', () => resolve()).close(1000, 'bye'));
    const connection = dash.getByRole('listbox', { name: 'Connections' }).locator('[data-conn="1"]');
    await textEventually(connection, (t) => t.includes('closed'), 'connection #1 closed');
    await connection.click();
    // A clean close handshake has its autopsy too, and nothing went wrong.
    const autopsy = dash.getByRole('region', { name: 'How connection #1 ended' });
    await textEventually(autopsy, (t) => t.includes('Clean close handshake'), 'the autopsy of #1');
    expect(await autopsy.innerText()).not.toContain('What went wrong');
    expect(await bar().count()).toBe(0);
    // Back to every connection (selecting #1 filtered the views to it).
    await dash.getByRole('region', { name: 'Connections' }).getByRole('button', { name: 'show all' }).click();
  }, 60_000);

  it("lists the course server's bugs, marks the frames, and explains the crash's 1006", async () => {
    const a = await greeted();
    let echoed = reply(a);
    a.send(String({ name: 'Ada' }));
    expect(await echoed).toBe('I heard you say "[object Object]"');
    echoed = reply(a);
    a.send('Grüße');
    await echoed;
    a.close(1000);
    // One message too big for String.fromCharCode(...data): the stack overflows, the process dies.
    const b = await greeted();
    const closed = new Promise<number>((resolve) => b.once('close', (code) => resolve(code)));
    b.send('x'.repeat(1 << 20));
    expect(await closed).toBe(1006);

    // The list under the header: the count, then the list with each lesson.
    await textEventually(bar(), (t) => /⚠ 3\s+insights/.test(t), 'three insights under the header', 15_000);
    await bar().getByRole('button', { name: /insights: what the programs got wrong/ }).click();
    const items = bar().locator('.insight-item');
    expect(await items.evaluateAll((els) => els.map((el) => el.getAttribute('data-rule')))).toEqual(['object-payload', 'utf8-read-as-bytes', 'server-crashed-on-frame']);
    expect(await items.nth(0).innerText()).toContain('Lesson 07 · Text, binary, and JSON messages');
    expect(await items.nth(1).innerText()).toContain('Lesson 06');
    expect(await items.nth(2).innerText()).toContain('Lesson 12');

    // The marks: the Timeline's rows of the cited frames, and the diagram's arrows.
    await centerTab('Timeline').click();
    const marked = dash.locator('.trow .badge.insight');
    await eventually(async () => (await marked.count()) >= 3, async () => `marked rows in the Timeline: ${await marked.count()}`);
    expect(await marked.allInnerTexts()).toContain('⚠ object');
    expect(await marked.first().getAttribute('title')).toContain('An object sent as text');
    await shots('list');

    // "show" selects the cited frame: the Frame anatomy of the object's frame.
    await items.nth(0).getByRole('button', { name: /^show client frame/ }).click();
    await textEventually(dash.locator('.trow.selected'), (t) => t.includes('[object Object]'), 'the object frame selected');

    await centerTab('Sequence diagram').click();
    const arrows = dash.locator('svg .sd-arrow.insight');
    await eventually(async () => (await arrows.count()) >= 3, async () => `marked arrows: ${await arrows.count()}`);
    await shots('diagram');

    // The crashed connection's autopsy: 1006, which no frame carried, and the crash line.
    await centerTab('Timeline').click();
    await bar().getByRole('button', { name: /insights: what the programs got wrong/ }).click();
    await dash.getByRole('listbox', { name: 'Connections' }).locator('[data-conn="3"]').click();
    const autopsy = dash.getByRole('region', { name: 'How connection #3 ended' });
    const text = await textEventually(autopsy, (t) => t.includes('RangeError'), 'the crash line in the autopsy of #3', 15_000);
    expect(text).toContain('1006 abnormal closure');
    expect(text).toContain('No close frame reached it');
    expect(text).toContain('The server crashed on a frame');
    expect(text).toMatch(/server\.js:\d+/);
    expect(text).toMatch(/TCP FIN without a close frame|Reset \(TCP RST\)/);
    await shots('autopsy-1006', () => autopsy.locator('.autopsy-crash').scrollIntoViewIfNeeded());
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('names the line of client.js that called close(), run from the Code tab', async () => {
    // The crash above stopped server.js: a save starts it again.
    const starts = () => cli.stdout().split('\n').filter((l) => /server\.js listens on port 9900/.test(l)).length;
    const before = starts();
    const server = path.join(workspace, 'server.js');
    writeFileSync(server, readFileSync(server, 'utf8'));
    await eventually(() => starts() > before, () => `server.js to start again; stdout: ${cli.stdout().slice(-400)}`, 20_000);
    writeFileSync(
      path.join(workspace, 'client.js'),
      ["const socket = new WebSocket('ws://localhost:9900');", '', 'socket.onmessage = (event) => {', "  socket.close(1000, 'done');", '};', ''].join('\n'),
    );
    await centerTab('Code').click();
    await dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ }).click();
    const option = dash.getByRole('listbox', { name: 'Connections' }).locator('[data-conn="4"]');
    await textEventually(option, (t) => t.includes('closed'), 'connection #4 closed', 20_000);
    await option.click();
    const autopsy = dash.getByRole('region', { name: 'How connection #4 ended' });
    const text = await textEventually(autopsy, (t) => t.includes('called close('), 'the close() line in the autopsy of #4');
    expect(text).toContain('client.js line 4 called close(1000, "done")');
    expect(text).toContain('Clean close handshake');
    await autopsy.getByRole('button', { name: 'show the line' }).click();
    expect(await centerTab('Code').getAttribute('aria-selected')).toBe('true');
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
