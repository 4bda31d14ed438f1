/**
 * The sequence diagram's fan-out bracket, in real Chromium against the real `wsplay start`, with
 * lesson 08's two servers: the starter (answers each peer itself, greets newcomers) draws no
 * fan-out, though its answers and greetings leave at the same moments; the go-between (passes
 * each message on to the others) draws "fan-out to 2 peers" for the third peer's hello.
 * Screenshots at 1280 and 1024 px go to test-artifacts/screenshots/fan-out-*.png.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailability, eventually, openDashboard, screenshotsDir, type OpenDashboard } from '../helpers/browser.ts';
import { ROOT, type CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();
const SHOTS = screenshotsDir();
const LESSON = path.join(ROOT, 'lessons', '08-server-as-go-between');
const lessonServer = (which: 'starter' | 'solution') => readFileSync(path.join(LESSON, which, 'server.js'), 'utf8');

describe.skipIf(chromium.skip)(chromium.skip ? `the sequence diagram's fan-outs: ${chromium.reason}` : "the sequence diagram's fan-outs, in real Chromium", () => {
  let pg: OpenDashboard;
  let workspace: string;
  let cli: CliProcess;
  let dash: Page;
  let tapPort: number;
  const open: WebSocket[] = [];
  const pageErrors: string[] = [];

  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const bands = () => dash.locator('svg .sd-fanout');

  /** A peer of lesson 08's kind: says hello once open, and waits for the server's greeting first. */
  async function peer(name: string): Promise<WebSocket> {
    for (let tries = 0; ; tries++) {
      const ws = new WebSocket(`ws://127.0.0.1:${tapPort}/`);
      const greeted = new Promise<boolean>((resolve) => {
        ws.once('message', () => resolve(true));
        ws.once('error', () => resolve(false));
      });
      if (await greeted) {
        open.push(ws);
        ws.send(`hello from ${name}`);
        return ws;
      }
      if (tries > 40) throw new Error('could not connect through the wiretap');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Three peers, one after the other (each greeted before the next connects), each saying hello. */
  async function threePeers(prefix: string): Promise<void> {
    for (const n of ['a', 'b', 'c']) await peer(`${prefix}-${n}`);
  }

  async function closeAll(): Promise<void> {
    await Promise.all(open.splice(0).map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve()).close(1000))));
  }

  /** Put `source` in server.js and wait for the playground to have restarted it. */
  async function serve(source: string): Promise<void> {
    const starts = () => cli.stdout().split('\n').filter((l) => /server\.js listens on port 9900/.test(l)).length;
    const before = starts();
    writeFileSync(path.join(workspace, 'server.js'), source);
    await eventually(() => starts() > before, () => `server.js to restart; stdout: ${cli.stdout().slice(-400)}`, 20_000);
  }

  async function shots(name: string): Promise<void> {
    for (const width of [1280, 1024]) {
      await dash.setViewportSize({ width, height: 800 });
      await dash.locator('.sd-scroll').evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await dash.screenshot({ path: path.join(SHOTS, `fan-out-${name}-${width}.png`) });
    }
    await dash.setViewportSize({ width: 1280, height: 800 });
  }

  beforeAll(async () => {
    pg = await openDashboard('fan-out', { pageErrors });
    ({ workspace, cli, page: dash, tapPort } = pg);
    await centerTab('Sequence diagram').click();
  }, 120_000);

  afterAll(async () => {
    for (const ws of open) ws.terminate();
    await pg?.close();
  }, 30_000);

  it("draws no fan-out for lesson 08's starter, which answers each peer itself", async () => {
    await serve(lessonServer('starter'));
    await threePeers('starter');
    const diagram = dash.getByRole('img', { name: /^Sequence diagram of/ });
    // The three hellos and their answers are drawn (rows for frames), and no bracket among them.
    const frames = () => dash.locator('svg .sd-arrow.frame').filter({ hasText: /starter-c|I heard you say "hello from starter-c"/ }).count();
    await eventually(async () => (await frames()) >= 2, async () => `C's hello and its answer in the diagram; ${await frames()} drawn`, 10_000);
    expect(await bands().count()).toBe(0);
    expect(await diagram.getAttribute('aria-label')).not.toMatch(/fan-out/);
    await shots('starter');
    await closeAll();
  }, 60_000);

  it("draws 'fan-out to 2 peers' for the go-between, the same message to the two others", async () => {
    await serve(lessonServer('solution'));
    await threePeers('relay');
    const label = bands().locator('.sd-fanlabel').filter({ hasText: /fan-out to\s*2 peers/ });
    await label.first().waitFor();
    // Passed on to the others only: never "+ sender".
    expect(await bands().locator('.sd-fanlabel').allTextContents()).not.toContain(expect.stringMatching(/\+ sender/));
    expect(await bands().first().getAttribute('data-peers')).toMatch(/^[12]$/);
    expect(await bands().filter({ has: dash.locator('.sd-fanlabel', { hasText: /2 peers/ }) }).count()).toBeGreaterThanOrEqual(1);
    await shots('go-between');
    await closeAll();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
