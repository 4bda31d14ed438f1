/**
 * The Code tab end to end, in real Chromium, against the real `wsplay start` (the learner's
 * server.js in its supervised child process behind the wiretap, the dashboard, a workspace in a
 * temporary folder): code is typed into Monaco, run in the page's Web Workers, and what the
 * learner sees is asserted (the console pane, the editor's markers, the runner's status, the
 * inspector's rows). The course's code connects to ws://localhost:9900 as written: the client
 * runner maps that to the wiretap's real (ephemeral) port. Main states are kept as screenshots
 * under test-artifacts/screenshots/editor-*.png.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, launchChromium, textEventually } from '../helpers/browser.ts';
import {
  editorText,
  eventually,
  hoverErrorOnLine,
  linesWithErrorSquiggle,
  pasteIntoEditor,
  typeOverLine,
  waitForEditorText,
  waitForErrorSquiggle,
} from '../helpers/monaco.ts';
import { ensureUiBuilt } from '../helpers/playground.ts';
import { alive, ROOT, runCli, type CliProcess } from '../helpers/net.ts';

const chromium = chromiumAvailability();

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const VIEWPORT = { width: 1280, height: 800 };
const STARTERS = path.join(ROOT, 'server', 'runner', 'starters');
const STARTER_CLIENT = readFileSync(path.join(STARTERS, 'client.js'), 'utf8');
const STARTER_SERVER = readFileSync(path.join(STARTERS, 'server.js'), 'utf8');

/** The tutorial's client with its bug fixed (send once the socket is open), sending `text`. */
const fixedClient = (text: string) => `const socket = new WebSocket('ws://localhost:9900');

socket.onmessage = (event) => {
  console.log('received: ', event.data);
};

socket.onopen = () => {
  socket.send('${text}');
};
`;

/** Every message goes to every open client, as "broadcast: ...". */
const BROADCAST_SERVER = `const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(\`broadcast: \${data}\`);
    }
  });
});
`;

/**
 * Each peer says hi once open, and answers the first hi it hears from another peer. Whichever
 * of the two completes its handshake first, each connection then receives a broadcast that the
 * other peer sent ("hi from peer N" or "peer N saw peer M").
 */
const PEERS_CLIENT = `const me = /peer (\\d+)/.exec(self.name)[1];
const socket = new WebSocket('ws://localhost:9900');
const answered = new Set();

socket.onopen = () => socket.send(\`hi from peer \${me}\`);

socket.onmessage = (event) => {
  console.log(\`peer \${me} got: \${event.data}\`);
  const from = /hi from peer (\\d+)/.exec(event.data);
  if (from && from[1] !== me && !answered.has(from[1])) {
    answered.add(from[1]);
    socket.send(\`peer \${me} saw peer \${from[1]}\`);
  }
};
`;

const CRASHING_SERVER = `const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ port: 9900 });

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    throw new Error(\`crash on purpose after "\${data}"\`);
  });
  ws.send('Hello webSocket');
});
`;

/** The real CLI, started on a workspace folder, with what it printed. */
interface Playground {
  cli: CliProcess;
  dashboardUrl: string;
  token: string;
  tapPort: number;
  /** The learner's server process as first started. */
  serverPid: number;
}

async function startPlayground(workspace: string): Promise<Playground> {
  const cli = runCli(['start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', workspace], { WSPLAY_SKIP_UI_BUILD: '1' });
  try {
    const [, url] = await cli.line(/^Dashboard: (\S+)$/, 20_000);
    const [, tap] = await cli.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/);
    const [, pid] = await cli.line(/^Server: server\.js \(pid (\d+)\)/);
    return { cli, dashboardUrl: url!, token: new URL(url!).searchParams.get('token')!, tapPort: Number(tap), serverPid: Number(pid) };
  } catch (err) {
    cli.kill();
    throw err;
  }
}

/** The epoch time nearest `near` whose local time of day is `shown` (the console's HH:MM:SS.mmm). */
function shownNear(shown: string, near: number): number {
  const m = /^(\d\d):(\d\d):(\d\d)\.(\d{3})$/.exec(shown.trim());
  if (!m) throw new Error(`not a console time: ${JSON.stringify(shown)}`);
  const d = new Date(near);
  d.setHours(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]));
  const day = 24 * 3600 * 1000;
  const t = d.getTime();
  return [t - day, t, t + day].reduce((a, b) => (Math.abs(b - near) < Math.abs(a - near) ? b : a));
}

/** A console time that says a moment between `from` and `to` (epoch ms), within a second. */
function expectShownWithin(shown: string, from: number, to: number): void {
  const t = shownNear(shown, from);
  expect(t, `the console says ${shown}`).toBeGreaterThanOrEqual(from - 1000);
  expect(t, `the console says ${shown}`).toBeLessThanOrEqual(to + 1000);
}

/** An element whose text is cut (an ellipsis, or more than it shows without scrolling). */
function isClipped(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => {
    const cut = (e: Element) => e.scrollWidth > e.clientWidth + 1 || (e.scrollHeight > e.clientHeight + 1 && getComputedStyle(e).overflowY !== 'visible');
    return cut(el) || Array.from(el.querySelectorAll('*')).some(cut);
  });
}


describe.skipIf(chromium.skip)(chromium.skip ? `the Code tab in real Chromium: ${chromium.reason}` : 'the Code tab in real Chromium', () => {
  let workspace: string;
  let pg: Playground;
  const clis: CliProcess[] = [];
  /** Every learner server process seen (ended in afterAll if one outlived its playground). */
  const serverPids = new Set<number>();
  let browser: Browser;
  let context: BrowserContext;
  let dash: Page;
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  const shot = (name: string) => dash.screenshot({ path: path.join(SHOTS, `editor-${name}.png`) });
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const fileTab = (name: 'client.js' | 'server.js') => dash.getByRole('tablist', { name: 'Files' }).getByRole('tab', { name: new RegExp(`^${name.replace('.', '\\.')}`) });
  const runButton = () => dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: /^(Run|Re-run)$/ });
  const stopButton = () => dash.getByRole('group', { name: 'Run the client' }).getByRole('button', { name: 'Stop', exact: true });
  const consoleRows = () => dash.getByRole('log', { name: 'Console output' }).getByRole('listitem');
  const serverStatus = () => dash.getByRole('region', { name: 'Console' }).getByRole('status');
  const peerChips = () => dash.getByRole('list', { name: 'Peers' }).getByRole('listitem');
  const timelineRows = () => dash.getByRole('grid', { name: 'Frames' }).getByRole('row');
  const saveState = () => dash.locator('.ed-toolbar .save-state');
  const diskFile = (name: string) => readFileSync(path.join(workspace, name), 'utf8');

  /** The text of an element once it is visible. */
  async function visibleText(locator: Locator, timeoutMs = 10_000): Promise<string> {
    await locator.waitFor({ state: 'visible', timeout: timeoutMs });
    return (await locator.innerText()).trim();
  }

  /** The server's status line once it says `re`; its text. */
  async function serverStatusMatching(re: RegExp, timeoutMs = 15_000): Promise<string> {
    let text = '';
    await eventually(
      async () => {
        text = (await serverStatus().innerText().catch(() => '')).trim();
        return re.test(text);
      },
      () => `the server status to match ${re}; it says ${JSON.stringify(text)}; CLI output: ${pg.cli.stdout().slice(-800)}`,
      timeoutMs,
    );
    const pid = /pid (\d+)/.exec(text);
    if (pid) serverPids.add(Number(pid[1]));
    return text;
  }

  /** The highest connection number the Connections list shows (0 for none). */
  async function lastConnection(): Promise<number> {
    const ids = await dash
      .getByRole('listbox', { name: 'Connections' })
      .getByRole('option')
      .evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-conn'))));
    return Math.max(0, ...ids);
  }

  /** Open the Code tab and wait until Monaco shows the file with `text` in it. */
  async function openCode(file: 'client.js' | 'server.js', text: string): Promise<void> {
    await centerTab('Code').click();
    await fileTab(file).click();
    expect(await fileTab(file).getAttribute('aria-selected')).toBe('true');
    await waitForEditorText(dash, text, 30_000);
  }

  /** Paste `text` as the whole of `file` in Monaco and wait until the workspace has it. */
  async function replaceFile(file: 'client.js' | 'server.js', text: string): Promise<void> {
    await fileTab(file).click();
    await pasteIntoEditor(dash, text);
    await waitForEditorText(dash, text.split('\n').find((l) => l.trim().length > 0)!);
    // Saved as edited (debounced): nothing to press. The disk gets exactly the editor's text.
    await eventually(
      () => existsSync(path.join(workspace, file)) && diskFile(file) === text,
      async () => `workspace/${file} to hold the typed text; the editor says "${await saveState().innerText().catch(() => '?')}", the disk has ${JSON.stringify(diskFile(file))}`,
    );
  }

  /** The console line (a list item) that contains `text`, once it shows. */
  async function consoleLine(text: string | RegExp, timeoutMs = 15_000): Promise<Locator> {
    const row = consoleRows().filter({ hasText: text }).last();
    try {
      await row.waitFor({ state: 'visible', timeout: timeoutMs });
    } catch {
      const all = await consoleRows().allInnerTexts();
      throw new Error(`No console line with ${String(text)}; the console shows:\n${all.slice(-40).join('\n')}`);
    }
    return row;
  }

  /**
   * Start noting, in the page, what the learner sees change once Run is pressed, in the order it
   * appears: each new label of the Run button ("button: Checking…"), each new console line
   * ("console: …") and the header's count of open connections ("header: 1 open"). The returned
   * function reads the list so far.
   */
  async function watchRun(): Promise<() => Promise<string[]>> {
    await dash.evaluate(() => {
      const w = window as unknown as { __seen: string[]; __seenStop?: () => void };
      w.__seenStop?.();
      const seen: string[] = [];
      w.__seen = seen;
      const group = document.querySelector('[role="group"][aria-label="Run the client"]')!;
      const log = document.querySelector('[role="log"][aria-label="Console output"]')!;
      const old = new WeakSet(Array.from(log.querySelectorAll('li')));
      let label = group.querySelector('button')!.textContent;
      const count = () => document.querySelector('header.top .status > span')?.textContent ?? '';
      let header = count();
      const look = () => {
        if (count() !== header) seen.push(`header: ${(header = count())}`);
        const now = group.querySelector('button')?.textContent ?? '';
        if (now !== label) seen.push(`button: ${(label = now).replace(/^\W+\s*/, '')}`);
        for (const li of Array.from(log.querySelectorAll('li'))) {
          if (old.has(li)) continue;
          old.add(li);
          seen.push(`console: ${li.textContent}`);
        }
      };
      const mo = new MutationObserver(look);
      mo.observe(document.body, { subtree: true, childList: true, characterData: true });
      w.__seenStop = () => mo.disconnect();
    });
    return () => dash.evaluate(() => [...(window as unknown as { __seen: string[] }).__seen]);
  }

  /** Index of the first noted change that contains `text` (-1 when none). */
  const firstWith = (seen: string[], text: string) => seen.findIndex((x) => x.includes(text));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    workspace = mkdtempSync(path.join(tmpdir(), 'wsplay-editor-e2e-'));
    // Once for this file; the CLI then serves ui/dist as it is (WSPLAY_SKIP_UI_BUILD).
    await ensureUiBuilt();
    const [started, launched] = await Promise.allSettled([startPlayground(workspace), launchChromium()]);
    if (started.status === 'fulfilled') {
      pg = started.value;
      clis.push(pg.cli);
      serverPids.add(pg.serverPid);
    }
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    // The editor's text is replaced by pasting it (pasteIntoEditor).
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    context.setDefaultTimeout(10_000);
    dash = await context.newPage();
    dash.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
    dash.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss().catch(() => {});
    });
    await dash.goto(pg.dashboardUrl);
    await dash.getByText(`wiretap ws://127.0.0.1:${pg.tapPort}`).waitFor({ timeout: 15_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    for (const cli of clis) await cli.stop();
    // A learner server outliving its playground would hold its port: end it (its own group).
    await eventually(() => [...serverPids].every((pid) => !alive(pid)), () => 'the learner servers to end', 3000).catch(() => {
      for (const pid of serverPids) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }, 30_000);

  it("shows the tutorial's client throwing InvalidStateError at its send line, in the console and as a marker on line 7", async () => {
    await openCode('client.js', "socket.send('I am listening');");
    expect(await editorText(dash)).toBe(STARTER_CLIENT);
    await serverStatusMatching(/^server\.js running on internal port \d+/);

    const seen = await watchRun();
    await runButton().click();

    // As the browser gives it, at its line.
    const error = await consoleLine(/Uncaught InvalidStateError/);
    // The step showed at once, before the code ran (the first Run: nothing of Monaco's
    // TypeScript worker is waited for): the button said what was happening, never "Re-run"
    // before the run line, and the console said "Checking client.js…" first.
    const order = await seen();
    const checking = firstWith(order, 'console: ');
    expect(order[checking], order.join('\n')).toContain('Checking client.js…');
    const runLine = firstWith(order, 'Running client.js (');
    expect(runLine, order.join('\n')).toBeGreaterThan(checking);
    expect(firstWith(order, 'Uncaught InvalidStateError')).toBeGreaterThan(runLine);
    const labels = order.filter((x) => x.startsWith('button: '));
    expect(labels[0], order.join('\n')).toMatch(/^button: (Saving|Checking)…$/);
    expect(firstWith(order, 'button: Checking…'), order.join('\n')).toBeGreaterThanOrEqual(0);
    expect(firstWith(order, 'button: Re-run'), order.join('\n')).toBeGreaterThan(firstWith(order, 'button: Checking…'));
    // Nothing was open before: the header said "connecting…" until the connection was seen.
    await textEventually(dash.locator('header.top .status > span').first(), (t) => t === '1 open', 'the header to count 1 open connection', 15_000);
    const counts = (await seen()).filter((x) => x.startsWith('header: '));
    expect(counts.slice(0, 2), counts.join('\n')).toEqual(['header: connecting…', 'header: 1 open']);
    const errorText = await visibleText(error);
    expect(errorText).toMatch(/Uncaught InvalidStateError: .*CONNECTING/);
    expect(await error.getByRole('button', { name: /^Show client\.js line 7, column \d+ in the editor$/ }).count()).toBe(1);
    expect(errorText).toMatch(/client\.js:7:\d+/);
    // The send itself: not sent, and why. Its line shows at once ("waiting for the peer's
    // connection…"); the verdict comes once the page has the connection from the event stream.
    const notSent = 'not sent: the browser threw InvalidStateError';
    const sendLine = await textEventually(await consoleLine(/send\("I am listening"\)/), (t) => t.includes(notSent), `the send line to say "${notSent}"`, 10_000);
    expect(sendLine).toContain(notSent);

    // The editor marks line 7, and only it; hovering the mark says what happened.
    await waitForErrorSquiggle(dash, 7);
    expect(await linesWithErrorSquiggle(dash)).toEqual([7]);
    const hover = await hoverErrorOnLine(dash, 7, /InvalidStateError/);
    expect(hover).toMatch(/Uncaught InvalidStateError/);
    // The client still connected: the server's greeting reached it.
    await consoleLine(/received:\s+Hello webSocket/);
    await shot('invalid-state');
  }, 90_000); // the first Run: Monaco's TypeScript worker and the learner process start cold

  it('runs a change typed into Monaco and shows its frames in the inspector', async () => {
    const text = `typed into Monaco ${Date.now().toString(36)}`;
    // The fix, typed key by key over the line that threw: send once the socket is open.
    const line7 = `socket.onopen = () => socket.send('${text}');`;
    await typeOverLine(dash, 7, line7);
    const client = STARTER_CLIENT.replace("socket.send('I am listening');", line7);
    await waitForEditorText(dash, line7);
    expect(await editorText(dash)).toBe(client);

    // Run with the keyboard, from inside the editor; the run saves first.
    await dash.keyboard.press('ControlOrMeta+Enter');
    await consoleLine('Re-running client.js');
    await consoleLine(new RegExp(`received:\\s+I heard you say "${text}"`));
    expect(diskFile('client.js')).toBe(client);
    // The fixed code ran without an error: the last run's marker on line 7 is gone.
    await eventually(
      async () => (await linesWithErrorSquiggle(dash)).length === 0,
      async () => `no error squiggle; lines with one: ${JSON.stringify(await linesWithErrorSquiggle(dash))}`,
    );
    const send = await consoleLine(`send("${text}")`);
    const link = send.getByRole('button', { name: /^Show frame #\d+ of connection #\d+ in the inspector$/ });
    await link.waitFor({ timeout: 10_000 });
    const [, conn] = /connection #(\d+)/.exec((await link.getAttribute('aria-label'))!)!;
    await shot('typed-run');

    // The send links to its frame: the frame's anatomy shows the payload that was typed.
    await link.click();
    const details = dash.getByRole('region', { name: 'Details' });
    expect(await details.getByRole('tab', { name: 'Frame anatomy' }).getAttribute('aria-selected')).toBe('true');
    expect(await visibleText(details.getByLabel('Payload as text'))).toBe(text);

    // The timeline: the new text going to the server on that connection, and its echo coming back.
    await centerTab('Timeline').click();
    const sent = timelineRows().filter({ has: dash.getByRole('cell', { name: text, exact: true }) });
    const sentText = await visibleText(sent);
    expect(sentText).toContain(`#${conn}`);
    expect(sentText).toContain('→');
    const echo = await visibleText(timelineRows().filter({ hasText: `I heard you say "${text}"` }));
    expect(echo).toContain(`#${conn}`);
    expect(echo).toContain('←');
    await shot('typed-timeline');
  });

  it('marks a syntax error and does not run the client', async () => {
    await openCode('client.js', 'socket.onopen');
    const broken = `const socket = new WebSocket('ws://localhost:9900');

socket.onopen = () => {
  socket.send('never sent' 'twice');
};
`;
    await replaceFile('client.js', broken);
    const before = await lastConnection();
    const seen = await watchRun();
    await runButton().click();

    const notRun = await visibleText(await consoleLine(/^.*Not run: /));
    // The browser's own parser found it as the Worker loaded client.js: its words and its place,
    // as DevTools shows them (V8 points at the argument the ")" is missing after: column 15),
    // and no run line before it.
    // The previous test's client was running: the Worker that found the error replaced it.
    expect(notRun).toMatch(/Not run: client\.js has a syntax error at line 4, column 15: missing \) after argument list \(the client that was running is stopped\)\n/);
    expect(notRun).toMatch(/client\.js:4:15$/);
    const order = await seen();
    expect(firstWith(order, 'Checking client.js…'), order.join('\n')).toBeGreaterThanOrEqual(0);
    expect(firstWith(order, 'Not run: '), order.join('\n')).toBeGreaterThan(firstWith(order, 'Checking client.js…'));
    expect(firstWith(order, 'unning client.js'), order.join('\n')).toBe(-1);
    expect(notRun).toMatch(/client\.js:4:\d+/);
    await waitForErrorSquiggle(dash, 4);
    expect(await linesWithErrorSquiggle(dash)).toEqual([4]);
    await shot('syntax-error');

    // Nothing connected for it: the next run that does connect gets the very next connection.
    const text = `after the fix ${Date.now().toString(36)}`;
    await replaceFile('client.js', fixedClient(text));
    await runButton().click();
    const link = (await consoleLine(`send("${text}")`)).getByRole('button', { name: /^Show frame #\d+ of connection #\d+/ });
    await link.waitFor({ timeout: 10_000 });
    expect(await link.getAttribute('aria-label')).toContain(`of connection #${before + 1} `);
  });

  it('stops a client stuck in an infinite loop, and the page stays responsive', async () => {
    const looping = `const socket = new WebSocket('ws://localhost:9900');
console.log('entering the loop');
let n = 0;
while (true) {
  n++;
}
`;
    await replaceFile('client.js', looping);
    await runButton().click();
    await consoleLine('entering the loop');
    const chip = peerChips().first();
    await eventually(
      async () => /peer 1/.test(await chip.innerText().catch(() => '')),
      async () => `the peer's chip; it shows ${JSON.stringify(await peerChips().allInnerTexts())}`,
    );
    expect(await chip.innerText()).not.toContain('stopped');
    // The loop runs in its Worker: the page still answers while it spins.
    expect(await stopButton().isEnabled()).toBe(true);

    await stopButton().click();
    await consoleLine(/Stopped \(the client ended\)/);
    await eventually(
      async () => (await chip.innerText()).includes('stopped'),
      async () => `the peer to show stopped; it shows ${JSON.stringify(await chip.innerText())}`,
    );
    expect(await stopButton().isDisabled()).toBe(true);
    await shot('loop-stopped');

    // Another tab opens at once.
    await centerTab('Stats').click();
    await dash.getByRole('region', { name: 'Totals' }).waitFor({ timeout: 5000 });
    await centerTab('Code').click();
    await runButton().waitFor({ state: 'visible', timeout: 5000 });
  });

  it('restarts the server when server.js is changed to broadcast, and the broadcasts show on the wire for 2 peers', async () => {
    const before = await serverStatusMatching(/^server\.js running on internal port (\d+)/);
    const [, oldPort, oldPid] = /internal port (\d+) · pid (\d+)/.exec(before)!;

    await openCode('server.js', "new WebSocketServer({ port: 9900 })");
    expect(await editorText(dash)).toBe(STARTER_SERVER);
    await replaceFile('server.js', BROADCAST_SERVER);
    // Restarted on save: running again, as a new process on a new internal port.
    const after = await serverStatusMatching(new RegExp(`^server\\.js running on internal port (?!${oldPort}\\b)\\d+ · pid (?!${oldPid}\\b)\\d+`), 20_000);
    const [, newPort] = /internal port (\d+)/.exec(after)!;
    expect(newPort).not.toBe(oldPort);
    await eventually(() => !alive(Number(oldPid)), () => `the old server (pid ${oldPid}) to end`);

    await replaceFile('client.js', PEERS_CLIENT);
    await dash.getByLabel('Number of peers').selectOption('2');
    await runButton().click();
    // Each peer on its own connection.
    let chips: string[] = [];
    await eventually(
      async () => {
        chips = await peerChips().allInnerTexts();
        return chips.length === 2 && chips.every((c) => /#\d+/.test(c));
      },
      () => `two peers with their connections; the chips say ${JSON.stringify(chips)}`,
      15_000,
    );
    const [c1, c2] = chips.map((c) => Number(/#(\d+)/.exec(c)![1]));
    expect(c1).not.toBe(c2);
    // Each peer hears the other one through the server.
    await consoleLine(/peer 2 got: broadcast: (hi from peer 1|peer 1 saw peer 2)/);
    await consoleLine(/peer 1 got: broadcast: (hi from peer 2|peer 2 saw peer 1)/);
    await shot('broadcast');

    // On the wire: server → client frames carrying the other peer's words, on both connections.
    await centerTab('Timeline').click();
    const fromServer = (conn: number, re: RegExp) =>
      timelineRows()
        .filter({ has: dash.getByRole('cell', { name: `#${conn}`, exact: true }) })
        .filter({ has: dash.getByRole('cell', { name: '←', exact: true }) })
        .filter({ hasText: re });
    await fromServer(c2!, /broadcast: (hi from peer 1|peer 1 saw peer 2)/).first().waitFor();
    await fromServer(c1!, /broadcast: (hi from peer 2|peer 2 saw peer 1)/).first().waitFor();
    await shot('broadcast-timeline');

    await centerTab('Code').click();
    await stopButton().click();
    await dash.getByLabel('Number of peers').selectOption('1');
  });

  it('keeps an edit across a restart of the whole playground', async () => {
    const mark = `// kept across a restart ${Date.now().toString(36)}`;
    await replaceFile('client.js', `${mark}\n${PEERS_CLIENT}`);
    await saveState().filter({ hasText: 'saved' }).waitFor();

    // The playground goes away at once (a crash, a closed terminal): no chance to save anything.
    const old = pg;
    old.cli.kill('SIGKILL');
    await old.cli.exited;
    // Its server goes with it.
    await eventually(() => !alive(old.serverPid) && [...serverPids].every((pid) => !alive(pid)), () => `the learner's server of the killed playground to end (pids ${[...serverPids].join(', ')})`);

    pg = await startPlayground(workspace);
    clis.push(pg.cli);
    serverPids.add(pg.serverPid);
    await dash.goto(pg.dashboardUrl);
    await dash.getByText(`wiretap ws://127.0.0.1:${pg.tapPort}`).waitFor({ timeout: 15_000 });

    await openCode('client.js', mark);
    expect(await editorText(dash)).toBe(`${mark}\n${PEERS_CLIENT}`);
    // And the server code: the broadcast version runs again.
    await openCode('server.js', 'broadcast: ');
    expect(await editorText(dash)).toBe(BROADCAST_SERVER);
    await serverStatusMatching(new RegExp(`^server\\.js running on internal port \\d+ · pid ${pg.serverPid}\\b`));
    await fileTab('client.js').click();
    await shot('after-restart');
  });

  it('answers 403 to path-escape attempts from the page', async () => {
    // A link inside the workspace to a file outside it.
    symlinkSync('/etc/passwd', path.join(workspace, 'passwd.js'));
    const attempts: Array<[string, string]> = [
      ['GET', '/api/files/..%2f..%2fetc%2fpasswd'],
      ['GET', '/api/files/..%2F..%2F..%2F..%2Fetc%2Fpasswd'],
      ['GET', '/api/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd'],
      ['GET', '/api/files/%252e%252e%252fetc%252fpasswd'],
      ['GET', '/api/files/%2fetc%2fpasswd'],
      ['GET', '/api/files/..%5c..%5cetc%5cpasswd'],
      ['GET', '/api/files/passwd.js'],
      ['PUT', '/api/files/..%2fescaped.js'],
      ['POST', '/api/files/..%2f..%2fetc%2fpasswd/reset'],
      ['GET', '/workspace/..%2f..%2fetc%2fpasswd'],
      ['GET', '/workspace/passwd.js'],
    ];
    const results = await dash.evaluate(
      async ({ attempts, token }) => {
        const out: Array<{ request: string; status: number; leaked: boolean }> = [];
        for (const [method, url] of attempts) {
          const res = await fetch(url, { method, headers: { 'X-Wsplay-Token': token }, body: method === 'PUT' ? 'pwned' : undefined, cache: 'no-store' });
          const body = await res.text();
          out.push({ request: `${method} ${url}`, status: res.status, leaked: body.includes('root:') });
        }
        const control = await fetch('/api/files/client.js', { headers: { 'X-Wsplay-Token': token }, cache: 'no-store' });
        // As Run does before each Worker: a single-use grant, then the load of client.js.
        await fetch('/api/client-grant', { method: 'POST', headers: { 'X-Wsplay-Token': token } });
        const worker = await fetch('/workspace/client.js', { cache: 'no-store' });
        return { out, control: control.status, worker: worker.status };
      },
      { attempts, token: pg.token },
    );
    // The same page, with the same token and a grant, reads the workspace's own files.
    expect(results.control).toBe(200);
    expect(results.worker).toBe(200);
    expect(results.out).toEqual(attempts.map(([method, url]) => ({ request: `${method} ${url}`, status: 403, leaked: false })));
    expect(existsSync(path.join(path.dirname(workspace), 'escaped.js'))).toBe(false);
  });

  it('survives a crashing server.js: the crash and its stack show, the inspector works, and a fixed save brings it back', async () => {
    await openCode('server.js', 'broadcast: ');
    const running = await serverStatusMatching(/^server\.js running on internal port \d+ · pid (\d+)/);
    const [, pidBefore] = /pid (\d+)/.exec(running)!;
    await replaceFile('server.js', CRASHING_SERVER);
    await serverStatusMatching(new RegExp(`^server\\.js running on internal port \\d+ · pid (?!${pidBefore}\\b)\\d+`), 20_000);

    const text = `make it crash ${Date.now().toString(36)}`;
    await replaceFile('client.js', fixedClient(text));
    await runButton().click();

    // The crash while the dashboard goes on: what happened, where, and what to do, in whole
    // lines under the console's head; the stack itself once, in the console (the server's lines).
    expect(await serverStatusMatching(/^server\.js crashed$/, 20_000)).toBe('server.js crashed');
    const notice = dash.getByRole('group', { name: 'server.js crash' });
    const said = await visibleText(notice);
    expect(said).toContain(`Error: crash on purpose after "${text}" at server.js:7:`);
    expect(said).toContain('server.js crashed: it exited with code 1. Fix it and save');
    expect(await isClipped(notice)).toBe(false);
    await consoleLine(`Error: crash on purpose after "${text}"`);
    // The stack's frames show once: in the console.
    await consoleLine(/at WebSocket\.<anonymous> \(.*server\.js:7:\d+\)/);
    expect(await dash.getByRole('region', { name: 'Console' }).getByText(/at WebSocket\.<anonymous> \(.*server\.js:7:\d+\)/).count()).toBe(1);
    await shot('server-crashed');
    // Its place, one click away: server.js at the line that threw.
    await notice.getByRole('button', { name: /^Show server\.js line 7, column \d+ in the editor$/ }).click();
    expect(await fileTab('server.js').getAttribute('aria-selected')).toBe('true');
    await waitForEditorText(dash, 'crash on purpose');
    // The stack's first line (Node's "server.js:7"), brought to the top of the console.
    await notice.getByRole('button', { name: 'Show the stack in the console' }).click();
    const first = consoleRows().filter({ hasText: /server\.js:7$/ }).last();
    await eventually(
      async () => {
        const [row, log] = await Promise.all([first.boundingBox(), dash.getByRole('log', { name: 'Console output' }).boundingBox()]);
        return !!row && !!log && Math.abs(row.y - log.y) < 4;
      },
      () => 'the first line of the stack at the top of the console',
    );
    await shot('server-crashed-stack');

    // The inspector still works: the message that crashed it is in the timeline, the connection ended.
    await centerTab('Timeline').click();
    // Its payload cell may carry the wire insight's mark too ("⚠ crash", server-crashed-on-frame).
    const sent = await visibleText(timelineRows().filter({ has: dash.getByRole('cell', { name: new RegExp(`${text}$`) }) }));
    expect(sent).toContain('→');
    await centerTab('Sequence diagram').click();
    await dash.getByRole('img', { name: /^Sequence diagram of/ }).waitFor();

    // A fixed server.js, saved, runs again; the client gets its echo.
    await openCode('server.js', 'crash on purpose');
    await replaceFile('server.js', STARTER_SERVER);
    await serverStatusMatching(/^server\.js running on internal port \d+/, 20_000);
    expect(await dash.getByRole('group', { name: 'server.js crash' }).count()).toBe(0);
    const again = `back again ${Date.now().toString(36)}`;
    await replaceFile('client.js', fixedClient(again));
    await runButton().click();
    await consoleLine(new RegExp(`received:\\s+I heard you say "${again}"`));
    await shot('server-back');
  });

  it('shows each server line at the time it was printed, also after a reload of the page', async () => {
    // The starter server prints "received: <text>" when a message arrives.
    await openCode('server.js', 'require');
    await replaceFile('server.js', STARTER_SERVER);
    await serverStatusMatching(/^server\.js running on internal port \d+/, 20_000);
    const text = `printed at its time ${Date.now().toString(36)}`;
    await replaceFile('client.js', fixedClient(text));
    const caused = Date.now();
    await runButton().click();
    const printed = `received: ${text}`;
    const live = await consoleLine(printed);
    const seen = Date.now();
    expect(await live.innerText()).toMatch(/\bserver\b/);
    expectShownWithin(await live.locator('.ctime').innerText(), caused, seen);

    // Long enough for a reload's own time to be told apart from the line's.
    await new Promise((r) => setTimeout(r, Math.max(0, seen + 2500 - Date.now())));
    await dash.reload();
    await dash.getByText(`wiretap ws://127.0.0.1:${pg.tapPort}`).waitFor({ timeout: 15_000 });
    const reloaded = Date.now();
    await openCode('client.js', text);
    const again = await consoleLine(printed);
    const shown = await again.locator('.ctime').innerText();
    expectShownWithin(shown, caused, seen);
    expect(Math.abs(shownNear(shown, reloaded) - reloaded)).toBeGreaterThan(2000);
    // The playground's own line about the run's server (printed before the reload) is not the reload's time either.
    const started = await consoleRows().filter({ hasText: 'server.js listens on port 9900, moved to internal port' }).last().locator('.ctime').innerText();
    expect(shownNear(started, reloaded)).toBeLessThan(reloaded - 2000);
    await shot('after-reload');
  });

  it('shows a 4 MiB line logged by client.js and by server.js as its start and end with its true length, and the page stays responsive', async () => {
    // The course's server, reading a message as lesson 06 ends up doing (spreading 4 MiB into
    // String.fromCharCode overflows the stack).
    const reading = STARTER_SERVER.replace('String.fromCharCode(...data)', 'data.toString()');
    expect(reading).not.toBe(STARTER_SERVER);
    await openCode('server.js', 'require');
    await replaceFile('server.js', reading);
    await serverStatusMatching(/^server\.js running on internal port \d+/, 20_000);
    const size = 4 * 1024 * 1024;
    const client = `const socket = new WebSocket('ws://localhost:9900');
const big = 'head' + 'x'.repeat(${size}) + 'tail';
console.log(big);
socket.onopen = () => socket.send('big ' + big);
`;
    await openCode('client.js', 'socket');
    await replaceFile('client.js', client);
    await runButton().click();
    const n = (x: number) => x.toLocaleString('en-US');
    const fromClient = await consoleLine(`characters cut: the line had ${n(size + 8)}]`, 30_000);
    expect(await fromClient.innerText()).toMatch(/^headx{100}/m);
    const fromServer = await consoleLine(`characters cut: the line had ${n('received: big '.length + size + 8)}]`, 60_000);
    expect(await fromServer.innerText()).toMatch(/\bserver\b/);
    await shot('long-lines');
    // Its end is there too, after "show all" (of what was kept).
    await fromServer.getByRole('button', { name: /^… show all [\d,]+ characters$/ }).click();
    await textEventually(fromServer, (t) => /x{100} … \[[\d,]+ characters cut: the line had [\d,]+\] … x{100,}tail$/.test(t), 'the kept start and end of the line');
    // The page still answers: another tab opens at once.
    await centerTab('Stats').click();
    await dash.getByRole('region', { name: 'Totals' }).waitFor({ timeout: 5000 });
    await centerTab('Code').click();
    await stopButton().click();
    await openCode('server.js', 'require');
    await replaceFile('server.js', STARTER_SERVER);
    await serverStatusMatching(/^server\.js running on internal port \d+/, 20_000);
  }, 150_000);

  it('says a peer runs without a WebSocket, and marks console links stale once client.js changes', async () => {
    // A client that never creates a WebSocket (like lesson 1's polling client, which only fetches).
    const noSocket = `console.log('polling without a socket');\nsetInterval(() => {}, 1000);\n`;
    await openCode('client.js', 'socket');
    await replaceFile('client.js', noSocket);
    await runButton().click();
    const chip = peerChips().first();
    await textEventually(chip, (t) => t === 'peer 1 · running (no WebSocket)', 'the peer chip to say it runs without a WebSocket');
    // Past the 2 s the runner waits for a connection: it still says what the peer is doing.
    await dash.waitForTimeout(2500);
    expect(await chip.innerText()).toBe('peer 1 · running (no WebSocket)');
    expect(await chip.getAttribute('title')).toMatch(/has not created a WebSocket/);
    await shot('peer-no-websocket');

    // The line's link points at line 1 of the text that ran.
    const line = await consoleLine('polling without a socket');
    await line.getByRole('button', { name: /^Show client\.js line 1, column \d+ in the editor$/ }).waitFor();
    // client.js changes: line 1 is other code now; the link says so instead of jumping.
    await replaceFile('client.js', `// a comment now on line 1\n${noSocket}`);
    const stale = line.getByRole('button', { name: /^client\.js line 1, column \d+: client\.js has changed since this line was logged$/ });
    await stale.waitFor();
    expect(await stale.getAttribute('title')).toBe('client.js has changed since this line was logged');
    expect(await stale.getAttribute('aria-disabled')).toBe('true');
    expect(await line.getByRole('button', { name: /^Show client\.js/ }).count()).toBe(0);
    await stale.hover();
    await shot('stale-console-link');
    // Back to the text that ran: the link is live again.
    await replaceFile('client.js', noSocket);
    await line.getByRole('button', { name: /^Show client\.js line 1, column \d+ in the editor$/ }).waitFor();
    await stopButton().click();
    await textEventually(chip, (t) => t === 'peer 1 · stopped', 'the peer chip to say stopped');
  });

  it("drops a run's error marks and its error count once client.js changes: an edit, a lesson's code loaded", async () => {
    await openCode('client.js', 'socket');
    await replaceFile('client.js', STARTER_CLIENT);
    await runButton().click();
    await waitForErrorSquiggle(dash, 7);
    await textEventually(peerChips().first(), (t) => /· 1 error$/.test(t), 'the peer to count 1 error');

    // Valid code instead, not run yet: the run's mark and count were for the old text.
    await replaceFile('client.js', fixedClient('valid now'));
    await eventually(
      async () => (await linesWithErrorSquiggle(dash)).length === 0,
      async () => `no error squiggle; lines with one: ${JSON.stringify(await linesWithErrorSquiggle(dash))}`,
    );
    expect(await peerChips().first().innerText()).not.toMatch(/error/);
    expect(await visibleText(dash.locator('.peer-note'))).toBe('client.js edited since this run · the peers still run the old code');
    await shot('edited-after-error');
    // Monaco's own diagnostics still follow the text as it is typed (no run): an unclosed call.
    await replaceFile('client.js', fixedClient('valid now').replace("socket.send('valid now');", "socket.send('valid now';"));
    await waitForErrorSquiggle(dash, 8);

    // A lesson's code loaded into client.js: the marks of a run of other code do not come along.
    const details = () => dash.getByRole('region', { name: 'Details' });
    const step = (n: number) => details().getByRole('region', { name: new RegExp(`^Step ${n}\\b`) });
    await details().getByRole('listitem', { name: 'Lesson 04: Sending too early' }).getByRole('button', { name: 'Open lesson 04' }).click();
    await details().getByRole('heading', { name: 'Lesson 04 · Sending too early' }).waitFor();
    await step(1).getByRole('button', { name: 'Load into client.js' }).click();
    await waitForEditorText(dash, "socket.send('I am listening');", 30_000);
    await runButton().click();
    await waitForErrorSquiggle(dash, 7);
    await textEventually(peerChips().first(), (t) => /· 1 error$/.test(t), 'the peer to count 1 error');
    await step(4).getByRole('button', { name: 'Load into client.js' }).click();
    // Step 4's code is other text (it leaves the open handler for the learner to write).
    await eventually(
      async () => !(await editorText(dash)).includes("socket.send('I am listening');"),
      async () => `the editor to show step 4's code; it shows ${JSON.stringify(await editorText(dash))}`,
      15_000,
    );
    await eventually(
      async () => (await linesWithErrorSquiggle(dash)).length === 0,
      async () => `no error squiggle after the lesson's code was loaded; lines with one: ${JSON.stringify(await linesWithErrorSquiggle(dash))}`,
    );
    expect(await peerChips().first().innerText()).not.toMatch(/error/);
    await shot('lesson-code-loaded');
  });

  it('ran without a script error or a dialog in the page', () => {
    // The learner's client.js throwing (InvalidStateError) is reported by the browser as it
    // would be in DevTools: lesson material. Anything else is the dashboard's own error.
    expect(pageErrors.filter((e) => !/\/workspace\/client\.js:\d+:\d+/.test(e))).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
