/**
 * The dashboard's credentials against a page on another port of 127.0.0.1, in real Chromium
 * (issue 12, item 4). Cookies are scoped by host, not port: whatever cookie the dashboard sets,
 * the browser sends to every server on 127.0.0.1 that a page asks for a matching path. So the
 * session token is never a cookie; the Worker's load of client.js carries a single-use grant
 * for that one path, and /workspace refuses a request from another page whatever it carries.
 *
 * The attacker: a page served on its own port, in the same browser as an open dashboard (with
 * a grant asked for and not yet spent, the worst moment), that asks its own server for a
 * /workspace path (to be sent the cookies), loads the dashboard's client.js with <script src>
 * (to run the learner's code), and opens WebSockets through the wiretap to /workspace paths (to
 * get the cookies written into the capture). Then the console: a `console.log` just before
 * `while (true) {}` in client.js reaches the console pane.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, startWsplayAndChromium } from '../helpers/browser.ts';
import { eventually } from '../helpers/monaco.ts';
import type { CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();

/** In a page, it marks that it ran; in the Worker, it logs and then never yields. */
const CLIENT = `if (typeof window !== 'undefined') {
  window.__learnerClientRan = true;
} else {
  const socket = new WebSocket('ws://localhost:9900');
  console.log('about to spin');
  while (true) {}
}
`;

describe.skipIf(chromium.skip)(chromium.skip ? `a page on another port: ${chromium.reason}` : 'a page on another port of 127.0.0.1', () => {
  let workspace: string;
  let cli: CliProcess;
  let browser: Browser;
  let context: BrowserContext;
  let dash: Page;
  let dashboardUrl: URL;
  let token: string;
  let tapPort = 0;
  let attacker: http.Server;
  let attackerOrigin = '';
  /** The Cookie header of each request the attacker's server got, by path. */
  const cookiesSeen: Array<{ path: string; cookie: string }> = [];

  beforeAll(async () => {
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-cross-port-'));
    writeFileSync(path.join(workspace, 'client.js'), CLIENT);
    const started = await startWsplayAndChromium(workspace);
    ({ cli, browser } = started);
    dashboardUrl = new URL(started.dashboardUrl);
    token = dashboardUrl.searchParams.get('token')!;
    tapPort = Number((await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/))[1]);

    attacker = http.createServer((req, res) => {
      cookiesSeen.push({ path: req.url ?? '', cookie: req.headers.cookie ?? '' });
      if (req.url === '/') {
        res.setHeader('Content-Type', 'text/html');
        res.end(`<!doctype html><title>another app</title><script>window.results = {};</script>
<script src="${dashboardUrl.origin}/workspace/client.js" onload="results.script = 'loaded'" onerror="results.script = 'refused'"></script>`);
      } else res.end('ok');
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;

    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(10_000);
    dash = await context.newPage();
    await dash.goto(dashboardUrl.href);
    await cli.line(/server\.js listens on port 9900/, 20_000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    await new Promise((resolve) => attacker?.close(resolve));
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it('gets neither the session token nor the learner code, and the capture holds no credential', async () => {
    // The worst moment: the dashboard asked for a grant and its Worker has not spent it yet.
    const granted = await dash.evaluate(async (t) => (await fetch('/api/client-grant', { method: 'POST', headers: { 'X-Wsplay-Token': t } })).status, token);
    expect(granted).toBe(200);

    const page = await context.newPage();
    await page.goto(`${attackerOrigin}/`);
    await page.waitForFunction(() => (window as unknown as { results: { script?: string } }).results.script !== undefined);
    const outcome = await page.evaluate(async ({ tap }) => {
      const w = window as unknown as { results: { script: string }; __learnerClientRan?: boolean };
      // The attacker's own server, asked for /workspace paths: the browser adds 127.0.0.1's cookies.
      await fetch('/workspace/x', { credentials: 'include' });
      await fetch('/workspace/client.js', { credentials: 'include' });
      // Through the wiretap, so that whatever the browser adds lands in the capture.
      const opened: string[] = [];
      for (const p of ['/workspace/x', '/workspace/client.js']) {
        opened.push(
          await new Promise<string>((resolve) => {
            const ws = new WebSocket(`ws://127.0.0.1:${tap}${p}`);
            ws.onmessage = () => {
              ws.close();
              resolve(`${p} open`);
            };
            ws.onerror = () => resolve(`${p} failed`);
          }),
        );
      }
      return { script: w.results.script, ran: w.__learnerClientRan === true, opened };
    }, { tap: tapPort });
    await page.close();

    // <script src> of client.js from another port: refused, the learner's code did not run.
    expect(outcome.script).toBe('refused');
    expect(outcome.ran).toBe(false);
    expect(outcome.opened).toEqual(['/workspace/x open', '/workspace/client.js open']);

    // The attacker's server was sent no credential of the dashboard's.
    const sent = cookiesSeen.filter((c) => c.path.startsWith('/workspace/'));
    expect(sent.map((c) => c.path)).toEqual(['/workspace/x', '/workspace/client.js']);
    for (const c of sent) expect(c.cookie).not.toContain(token);
    expect(sent[0]!.cookie).toBe('');

    // The capture: both handshakes are there, and no line holds the token or a grant's value.
    const events = await (await fetch(`${dashboardUrl.origin}/api/events?since=0`, { headers: { 'X-Wsplay-Token': token } })).text();
    const handshakes = events
      .split('\n')
      .filter((l) => l.includes('"type":"handshake"'))
      .map((l) => JSON.parse(l) as { request: { path: string; headers: [string, string][]; raw: string } });
    expect(handshakes.map((h) => h.request.path)).toEqual(expect.arrayContaining(['/workspace/x', '/workspace/client.js']));
    expect(events).not.toContain(token);
    for (const h of handshakes) {
      const raw = Buffer.from(h.request.raw, 'base64').toString('latin1');
      expect(raw).not.toContain(token);
      expect(raw).not.toMatch(/wsplay_\w+=(?!\*)[^;\r]/);
    }
    // The grant the browser sent along to /workspace/client.js is there only as stars.
    const toClientJs = handshakes.find((h) => h.request.path === '/workspace/client.js')!;
    expect(toClientJs.request.headers.find(([n]) => n.toLowerCase() === 'cookie')?.[1]).toMatch(/^wsplay_grant=\*{32}$/);
  });

  it('shows a console.log written just before `while (true) {}`', async () => {
    await dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name: 'Code' }).click();
    const run = dash.getByRole('group', { name: 'Run the client' });
    await run.getByRole('button', { name: /^(Run|Re-run)$/ }).click();
    const rows = dash.getByRole('log', { name: 'Console output' }).getByRole('listitem');
    let shown: string[] = [];
    await eventually(
      async () => (shown = await rows.allInnerTexts()).some((l) => l.includes('about to spin')),
      () => `the console to show 'about to spin'; it shows:\n${shown.slice(-10).join('\n')}`,
      20_000,
    );
    await run.getByRole('button', { name: 'Stop', exact: true }).click();
  });
});
