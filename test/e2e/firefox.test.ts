/**
 * The main flows in Firefox ESR, as learners use it: open the dashboard, run client.js from the
 * Code tab (a Worker in Firefox), see its frames in the Timeline, open a frame's anatomy. Debian's
 * firefox-esr, driven by puppeteer-core over WebDriver BiDi; the proxy settings in
 * helpers/firefox.ts keep it from reaching any host but this one.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/browser.ts';
import { firefoxAvailability, launchFirefox } from '../helpers/firefox.ts';
import { ROOT, runCli, type CliProcess } from '../helpers/net.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';

const firefox = firefoxAvailability();
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');

/** Random per run: the page can only show it if it came from the wire. */
const SAID = `firefox-${randomBytes(4).toString('hex')}`;
const CLIENT = `const socket = new WebSocket('ws://localhost:9900');
socket.addEventListener('open', () => socket.send(${JSON.stringify(SAID)}));
socket.addEventListener('message', (event) => console.log('received:', event.data));
`;

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

describe.skipIf(firefox.skip)(firefox.skip ? `the dashboard in Firefox ESR: ${firefox.reason}` : 'the dashboard in Firefox ESR', () => {
  let cli: CliProcess;
  let browser: Browser;
  let dash: Page;
  let workspace: string;
  const pageErrors: string[] = [];

  /** The trimmed innerText of the first element matching `selector`, once `ok` holds for it. */
  async function textOf(selector: string, ok: (text: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    let text = '';
    // Polled from here: the page's CSP (rightly) allows no code made from strings in it.
    await eventually(
      async () => ok((text = await dash.evaluate((sel: string) => (document.querySelector(sel) as HTMLElement | null)?.innerText.trim() ?? '', selector))),
      () => `${what}: ${selector} shows ${JSON.stringify(text.slice(0, 600))}`,
      timeoutMs,
    );
    return text;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-firefox-'));
    writeFileSync(path.join(workspace, 'client.js'), CLIENT);
    await ensureUiBuilt();
    cli = runCli(['start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', workspace], { WSPLAY_SKIP_UI_BUILD: '1' });
    const [started, launched] = await Promise.allSettled([cli.line(/^Dashboard: (\S+)$/, 20_000), launchFirefox()]);
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    dash = await browser.newPage();
    dash.on('pageerror', (err) => pageErrors.push(String((err as Error).message ?? err)));
    await dash.goto(started.value[1]!);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await cli?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it('opens the dashboard live: the header names the wiretap', async () => {
    const header = await textOf('header', (t) => /wiretap ws:\/\/127\.0\.0\.1:\d+/.test(t), 'the header to name the wiretap');
    expect(header).toMatch(/wiretap ws:\/\/127\.0\.0\.1:\d+/);
    expect(pageErrors).toEqual([]);
  });

  it("runs client.js from the Code tab: the console prints the server's echo", async () => {
    await dash.locator('section[aria-label="Capture"] [role="tab"]::-p-text(Code)').click();
    // Monaco shows the file as it is on disk.
    await textOf('.monaco-editor .view-lines', (t) => t.includes('firefox-'), 'the editor to show client.js');
    await dash.locator('[role="group"][aria-label="Run the client"] button::-p-text(Run)').click();
    const log = await textOf(
      '[aria-label="Console output"]',
      (t) => t.includes('I heard you say'),
      "the console to print the server's echo",
      20_000,
    );
    expect(log).toContain(`received: I heard you say "${SAID}"`);
    expect(log).toContain('received: Hello webSocket');
    expect(log).not.toMatch(/Uncaught/);
    await dash.screenshot({ path: path.join(SHOTS, 'firefox-code.png') });
  });

  it("shows the client's frame in the Timeline and opens its anatomy: masked bytes XOR key = the text sent", async () => {
    await dash.locator('section[aria-label="Capture"] [role="tab"]::-p-text(Timeline)').click();
    const grid = '[role="grid"][aria-label="Frames"]';
    await textOf(grid, (t) => t.includes('I heard you say'), 'the Timeline to show the echo');
    // The row of the client's own frame: its preview cell is exactly what was sent.
    const clicked = await dash.evaluate(
      (sel: string, said: string) => {
        const row = [...document.querySelectorAll(`${sel} [role="row"]`)].find((r) => [...r.querySelectorAll('[role="cell"], [role="gridcell"]')].some((c) => (c as HTMLElement).innerText.trim() === said));
        (row as HTMLElement | undefined)?.click();
        return Boolean(row);
      },
      grid,
      SAID,
    );
    expect(clicked, `a Timeline row whose payload is ${SAID}`).toBe(true);
    const details = 'section[aria-label="Details"]';
    await textOf(`${details} [role="tab"][aria-selected="true"]`, (t) => t === 'Frame anatomy', 'the Frame anatomy tab to open');
    const xor = `${details} table[aria-label="Masked byte XOR key byte = unmasked byte"]`;
    const table = await textOf(xor, (t) => t.includes('unmasked'), 'the XOR table');
    // The key shown, applied to the bytes shown, gives the text sent: the page read the wire.
    const rows = Object.fromEntries(
      table
        .split('\n')
        .map((l) => l.split('\t').map((c) => c.trim()))
        .filter((cells) => cells.length > 1)
        .map((cells) => [cells[0]!, cells.slice(1).join(' ')]),
    );
    const plain = Buffer.from(SAID);
    expect(rows['= unmasked']).toBe(hex(plain));
    const wire = Buffer.from(rows['on the wire']!.replaceAll(' ', ''), 'hex');
    const key = Buffer.from(
      await textOf(`${details} dl`, (t) => /masking key\s+[0-9a-f]{8}/.test(t), 'the masking key').then((t) => /masking key\s+([0-9a-f]{8})/.exec(t)![1]!),
      'hex',
    );
    expect(hex(wire.map((b, i) => b ^ key[i % 4]!))).toBe(hex(plain));
    await dash.screenshot({ path: path.join(SHOTS, 'firefox-frame-anatomy.png') });
    expect(pageErrors).toEqual([]);
  });
});
