/**
 * Insights in the code, end to end in real Chromium against the real `wsplay start`: the course's
 * own client.js and server.js light up with the insights that explain their bugs before anything
 * runs (squiggles, hovers, the list above the editor); a buggy client.js pasted into Monaco is
 * marked, run, linked to the frame it put on the wire, and mended by the quick fix from the
 * keyboard (Ctrl+.); a buggy server.js is mended from the list's Fix button, and the file on disk
 * changes with it. Screenshots at 1280 and 1024 px under test-artifacts/screenshots/code-insights-*.png.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, openDashboard, screenshotsDir, textEventually, type OpenDashboard } from '../helpers/browser.ts';
import { editorText, eventually, hoverErrorOnLine, linesWithErrorSquiggle, monacoEditor, pasteIntoEditor, waitForEditorText, waitForErrorSquiggle } from '../helpers/monaco.ts';
import { ROOT } from '../helpers/net.ts';

const chromium = chromiumAvailability();
const SHOTS = screenshotsDir();
const STARTERS = path.join(ROOT, 'server', 'runner', 'starters');
const COURSE_CLIENT = readFileSync(path.join(STARTERS, 'client.js'), 'utf8');
const COURSE_SERVER = readFileSync(path.join(STARTERS, 'server.js'), 'utf8');

/** Sends an object as it is, once open: "[object Object]" on the wire. */
const OBJECT_CLIENT = `const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

socket.onopen = () => {
  socket.send({ type: 'greet', name: 'Ada' });
};
`;

/** Says something past ASCII once open. */
const UTF8_CLIENT = `const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

socket.onopen = () => {
  socket.send('Grüße');
};
`;

/** Passes every message on to every client, the sender too. */
const BROADCAST_SERVER = `const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('error', console.error);
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});
`;

describe.skipIf(chromium.skip)(chromium.skip ? `insights in the code, in real Chromium: ${chromium.reason}` : 'insights in the code, in real Chromium', () => {
  let pg: OpenDashboard;
  let workspace: string;
  let dash: Page;
  const pageErrors: string[] = [];

  const shot = (name: string) => dash.screenshot({ path: path.join(SHOTS, `code-insights-${name}.png`) });
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const fileTab = (name: 'client.js' | 'server.js') => dash.getByRole('tablist', { name: 'Files' }).getByRole('tab', { name: new RegExp(`^${name.replace('.', '\\.')}`) });
  const list = () => dash.getByRole('region', { name: 'Insights in the code' });
  const items = () => list().getByRole('listitem');
  const item = (file: string, rule: string) => list().locator(`li[data-file="${file}"][data-rule="${rule}"]`);
  const runButton = () => dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ });
  const diskFile = (name: string) => readFileSync(path.join(workspace, name), 'utf8');

  /** Open the list (closed at first: one line above the editor). */
  async function openList(): Promise<void> {
    const toggle = list().getByRole('button', { name: /insights? in the code/ });
    await toggle.waitFor();
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  }

  async function rulesListed(): Promise<string[]> {
    return (await items().evaluateAll((els) => els.map((el) => `${el.getAttribute('data-file')} ${el.getAttribute('data-rule')}`))).sort();
  }

  async function waitForRules(want: string[], timeoutMs = 15_000): Promise<void> {
    let seen: string[] = [];
    await eventually(
      async () => {
        if (want.length > 0 && (await list().count()) > 0) await openList().catch(() => {});
        seen = await rulesListed().catch(() => []);
        return JSON.stringify(seen) === JSON.stringify([...want].sort());
      },
      () => `the list of insights in the code to be ${JSON.stringify(want)}; it is ${JSON.stringify(seen)}`,
      timeoutMs,
    );
  }

  /** Lines of the shown file with a warning squiggle (Monaco's amber wavy underline). */
  async function warningLines(): Promise<number[]> {
    return monacoEditor(dash).evaluate((root) => {
      const numbers = Array.from(root.querySelectorAll<HTMLElement>('.margin .line-numbers')).map((el) => ({ n: Number(el.textContent), r: el.getBoundingClientRect() }));
      const out = new Set<number>();
      for (const s of Array.from(root.querySelectorAll('.squiggly-warning'))) {
        const r = s.getBoundingClientRect();
        const mid = r.top + r.height / 2;
        const line = numbers.find((x) => mid >= x.r.top && mid <= x.r.bottom);
        if (line && r.width > 0) out.add(line.n);
      }
      return [...out].sort((a, b) => a - b);
    });
  }

  async function replaceFile(file: 'client.js' | 'server.js', text: string): Promise<void> {
    await fileTab(file).click();
    await pasteIntoEditor(dash, text);
    // The cursor ends at the end of the pasted text: its last lines are the ones in view.
    await waitForEditorText(dash, text.split('\n').filter((l) => l.trim().length > 0).at(-1)!);
    await eventually(
      () => diskFile(file) === text,
      () => `workspace/${file} to hold the pasted text; it has ${JSON.stringify(diskFile(file))}`,
    );
  }

  async function visibleText(locator: Locator, timeoutMs = 10_000): Promise<string> {
    await locator.waitFor({ state: 'visible', timeout: timeoutMs });
    return (await locator.innerText()).trim();
  }

  beforeAll(async () => {
    pg = await openDashboard('code-insights', { pageErrors, clipboard: true });
    ({ workspace, page: dash } = pg);
    await centerTab('Code').click();
    await waitForEditorText(dash, "socket.send('I am listening');", 60_000);
  }, 180_000);

  afterAll(() => pg?.close(), 30_000);

  it("lights up the course's client and server with the insights that explain their bugs, before anything runs", async () => {
    expect(await editorText(dash)).toBe(COURSE_CLIENT);
    // Closed, the list is one line above the editor: the count, and the first finding.
    const head = await textEventually(list(), (t) => /^⚠ 4 insights in the code/.test(t), 'the list to count 4 insights', 15_000);
    expect(head).toMatch(/^⚠ 4 insights in the code \(client\.js 1, server\.js 3\)/);
    expect(head).toMatch(/send before the connection is open at client\.js:7 \+3$/);
    await waitForRules(['client.js send-before-open', 'server.js fromcharcode-bytes', 'server.js no-error-listener', 'server.js origin-not-checked']);

    // client.js: the early send is marked at its line, and the hover says why and what to do.
    await waitForErrorSquiggle(dash, 7);
    expect(await linesWithErrorSquiggle(dash)).toEqual([7]);
    const hover = await hoverErrorOnLine(dash, 7, /InvalidStateError/);
    expect(hover).toMatch(/socket\.send runs right after new WebSocket\(…\)/);
    expect(hover).toMatch(/send from the open event/);
    expect(hover).toMatch(/Lesson 04 · Sending too early/);

    // The list: each finding with its place, its message, its lesson.
    const early = await visibleText(item('client.js', 'send-before-open'));
    expect(early).toMatch(/client\.js:7/);
    expect(early).toMatch(/send before the connection is open/);
    expect(early).toMatch(/Lesson 04 · Sending too early/);
    const fromCharCode = await visibleText(item('server.js', 'fromcharcode-bytes'));
    expect(fromCharCode).toMatch(/server\.js:7/);
    expect(fromCharCode).toMatch(/UTF-8/);
    expect(await visibleText(item('server.js', 'no-error-listener'))).toMatch(/server\.js:5[\s\S]*ends the whole server/);
    expect(await visibleText(item('server.js', 'origin-not-checked'))).toMatch(/server\.js:3[\s\S]*cross-site WebSocket hijacking/);

    // server.js: its three findings as squiggles on lines 3, 5 and 7 (warnings).
    await item('server.js', 'fromcharcode-bytes').getByRole('button', { name: 'server.js:7, show it in the editor' }).click();
    expect(await fileTab('server.js').getAttribute('aria-selected')).toBe('true');
    await waitForEditorText(dash, 'String.fromCharCode(...data)');
    expect(diskFile('server.js')).toBe(COURSE_SERVER);
    await eventually(
      async () => JSON.stringify(await warningLines()) === '[3,5,7]',
      async () => `warning squiggles on lines 3, 5 and 7 of server.js; lines with one: ${JSON.stringify(await warningLines())}`,
    );
    await shot('course-1280');
    await dash.setViewportSize({ width: 1024, height: 768 });
    await shot('course-1024');
    await dash.setViewportSize({ width: 1280, height: 800 });

    // The opened list meets WCAG 2 AA in both themes, like every other view (accessibility.test.ts).
    for (const scheme of ['light', 'dark'] as const) {
      await dash.emulateMedia({ colorScheme: scheme });
      const result = await new AxeBuilder({ page: dash }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).include('section[aria-label="Insights in the code"]').analyze();
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${scheme}: ${v.id} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      expect(bad).toEqual([]);
    }
    await shot('course-dark');
    await dash.emulateMedia({ colorScheme: 'light' });
  }, 120_000);

  it("once the course's client ran, its early send's marker says what the run did there: one marker, not two", async () => {
    await fileTab('client.js').click();
    await waitForEditorText(dash, "socket.send('I am listening');");
    await runButton().click();
    const early = item('client.js', 'send-before-open');
    await textEventually(early, (t) => /the last run threw here: Uncaught InvalidStateError/.test(t), 'the early send to show what the run did', 15_000);
    await textEventually(early, (t) => /not sent \(the browser threw InvalidStateError\), no frame on the wire/.test(t), 'the early send to say it was not sent', 15_000);
    // The run's own error marker is the insight's evidence now: line 7 has one marker.
    const hover = await hoverErrorOnLine(dash, 7, /Once run:/);
    expect(hover).toMatch(/Once run: the last run threw here: Uncaught InvalidStateError/);
    expect(hover.match(/InvalidStateError/g)!.length).toBeGreaterThanOrEqual(2);
    expect(hover).not.toMatch(/^Uncaught InvalidStateError/m);
    expect(await linesWithErrorSquiggle(dash)).toEqual([7]);
  });

  it('links a line of server.js to the frames it caused: fromCharCode and the UTF-8 wire insight', async () => {
    // The course's server answers non-ASCII text read byte by byte: the wire insight's frames are the line's evidence.
    await replaceFile('client.js', UTF8_CLIENT);
    await runButton().click();
    const found = item('server.js', 'fromcharcode-bytes');
    await textEventually(found, (t) => /Once run: on the wire: UTF-8 read byte by byte on connection #\d+/.test(t), 'the fromCharCode line to show its wire insight', 20_000);
    const link = found.getByRole('button', { name: /^Show server frame #\d+ of connection #\d+ in the inspector$/ }).first();
    await link.click();
    const details = dash.getByRole('region', { name: 'Details' });
    expect(await details.getByRole('tab', { name: 'Frame anatomy' }).getAttribute('aria-selected')).toBe('true');
    // The server's answer, each UTF-8 byte of "Grüße" made a character of its own.
    expect(await visibleText(details.getByLabel('Payload as text'))).toMatch(/^I heard you say "GrÃ¼Ã/);
    await centerTab('Code').click();
    await fileTab('client.js').click();
  });

  it('marks an object sent as it is, links it to the frame it put on the wire, and mends it with the quick fix from the keyboard', async () => {
    await replaceFile('client.js', OBJECT_CLIENT);
    await waitForRules(['client.js object-send', 'server.js fromcharcode-bytes', 'server.js no-error-listener', 'server.js origin-not-checked']);
    await waitForErrorSquiggle(dash, 8);
    const hover = await hoverErrorOnLine(dash, 8, /object/);
    expect(hover).toContain('"[object Object]"');
    expect(hover).toMatch(/wrap it in JSON\.stringify/);

    // Run it: the list shows the frame the send put on the wire, and the frame is "[object Object]".
    await runButton().click();
    const found = item('client.js', 'object-send');
    await textEventually(found, (t) => /the last run put 1 message on the wire from this line: the payload reads "\[object Object\]"/.test(t), 'the object send to show its frame', 20_000);
    const link = found.getByRole('button', { name: /^Show client frame #\d+ of connection #\d+ in the inspector$/ });
    await link.click();
    const details = dash.getByRole('region', { name: 'Details' });
    expect(await details.getByRole('tab', { name: 'Frame anatomy' }).getAttribute('aria-selected')).toBe('true');
    expect(await visibleText(details.getByLabel('Payload as text'))).toBe('[object Object]');
    await centerTab('Code').click();
    await waitForEditorText(dash, "socket.send({ type: 'greet', name: 'Ada' });");
    await shot('object-send-1280');

    // The quick fix, by keyboard: the list's place button puts the cursor on the send, Ctrl+. lists the fix.
    await found.getByRole('button', { name: 'client.js:8, show it in the editor' }).focus();
    await dash.keyboard.press('Enter');
    await dash.locator('.editor-view .monaco-editor.focused').waitFor();
    await dash.keyboard.press('Control+Period');
    const action = dash.locator('.action-widget').getByText('Wrap in JSON.stringify(…)');
    await action.waitFor({ state: 'visible' });
    await shot('quick-fix-menu');
    await dash.keyboard.press('Enter');
    await waitForEditorText(dash, "socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));");
    await eventually(
      () => diskFile('client.js') === OBJECT_CLIENT.replace("socket.send({ type: 'greet', name: 'Ada' });", "socket.send(JSON.stringify({ type: 'greet', name: 'Ada' }));"),
      () => `workspace/client.js to hold the fixed text; it has ${JSON.stringify(diskFile('client.js'))}`,
    );
    await waitForRules(['server.js fromcharcode-bytes', 'server.js no-error-listener', 'server.js origin-not-checked']);
    await eventually(
      async () => (await linesWithErrorSquiggle(dash)).length === 0,
      async () => `no error squiggle once fixed; lines with one: ${JSON.stringify(await linesWithErrorSquiggle(dash))}`,
    );
  });

  it("marks a broadcast that echoes to the sender and mends it from the list's Fix button", async () => {
    await replaceFile('server.js', BROADCAST_SERVER);
    await waitForRules(['server.js broadcast-to-sender', 'server.js origin-not-checked']);
    const found = item('server.js', 'broadcast-to-sender');
    expect(await visibleText(found)).toMatch(/server\.js:8[\s\S]*a broadcast that echoes to the sender[\s\S]*the sender ws too/);
    await eventually(
      async () => (await warningLines()).includes(8),
      async () => `a warning squiggle on line 8; lines with one: ${JSON.stringify(await warningLines())}`,
    );
    await dash.setViewportSize({ width: 1024, height: 768 });
    await shot('broadcast-1024');
    await dash.setViewportSize({ width: 1280, height: 800 });
    await found.getByRole('button', { name: 'Fix: skip the sender' }).click();
    const fixed = BROADCAST_SERVER.replace('for (const client of wss.clients) {\n', 'for (const client of wss.clients) {\n      if (client === ws) continue; // not back to the sender\n');
    await eventually(
      () => diskFile('server.js') === fixed,
      () => `workspace/server.js to hold the fixed text; it has ${JSON.stringify(diskFile('server.js'))}`,
    );
    await waitForRules(['server.js origin-not-checked']);
    await waitForEditorText(dash, 'if (client === ws) continue; // not back to the sender');
  });

  it('fixes a finding from the list even right after typing, and says why when the file does not parse', async () => {
    await replaceFile('server.js', BROADCAST_SERVER);
    await waitForRules(['server.js broadcast-to-sender', 'server.js origin-not-checked']);
    const found = item('server.js', 'broadcast-to-sender');
    const fix = found.getByRole('button', { name: 'Fix: skip the sender' });
    // Half a line typed at the end: the file does not parse, the finding stays, the fix cannot apply.
    await monacoEditor(dash).click();
    await dash.keyboard.press('Control+End');
    await dash.keyboard.type('\nconst unfinished =');
    await waitForEditorText(dash, 'const unfinished =');
    await fix.click();
    expect(await visibleText(found.locator('.ci-refused'))).toMatch(/Not fixed: server\.js does not parse/);
    await found.locator('.ci-refused').scrollIntoViewIfNeeded();
    await shot('fix-refused-1280');
    await dash.setViewportSize({ width: 1024, height: 768 });
    await shot('fix-refused-1024');
    await dash.setViewportSize({ width: 1280, height: 800 });
    // The line finished and, at once (before the analysis after typing), the fix: it lands.
    await monacoEditor(dash).click();
    await dash.keyboard.press('Control+End');
    await dash.keyboard.type(' 1;');
    await fix.click();
    const fixed = `${BROADCAST_SERVER.replace('for (const client of wss.clients) {\n', 'for (const client of wss.clients) {\n      if (client === ws) continue; // not back to the sender\n')}\nconst unfinished = 1;`;
    await eventually(
      () => diskFile('server.js') === fixed,
      () => `workspace/server.js to hold the fixed text; it has ${JSON.stringify(diskFile('server.js'))}`,
    );
  });

  it('ran without a script error in the page', () => {
    expect(pageErrors.filter((e) => !/\/workspace\/client\.js:\d+:\d+/.test(e))).toEqual([]);
  });
});
