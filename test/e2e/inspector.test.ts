/**
 * The inspector views end to end, in real Chromium, on what a learner reads in them: the
 * Connections list's empty state (the wiretap's real address) and its counts (singular for one,
 * bytes that keep their meaning when a connection closes, the TCP total apart), the Message tab
 * for a frame chosen in Frames mode, and the Timeline's empty state for a connection that never
 * carried a frame. Screenshots at 1280x800 and 1920x1080, light and dark, go to
 * test-artifacts/screenshots/inspector-*.png (or WSPLAY_SHOTS).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Direction, EndEvent, FrameEvent, HandshakeEvent, OpenEvent, WireEvent } from '../../server/capture/events.ts';
import { chromiumAvailability, launchChromium, textEventually, visibleText } from '../helpers/browser.ts';
import { connect, frameBytes, HOST, rawUpgrade, ROOT } from '../helpers/net.ts';
import { startPlayground, type Playground } from '../helpers/playground.ts';

const chromium = chromiumAvailability();
const SHOTS = process.env.WSPLAY_SHOTS ?? path.join(ROOT, 'test-artifacts', 'screenshots');
const SIZES = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
];
const heard = (msg: string) => `I heard you say "${msg}"`;
/** formatBytes as the page has it, for counts under 1 KiB (the ones these tests make). */
const B = (n: number) => {
  expect(n).toBeLessThan(1024);
  return `${n} B`;
};

describe.skipIf(chromium.skip)(chromium.skip ? `the inspector views in real Chromium: ${chromium.reason}` : 'the inspector views in real Chromium', () => {
  let pg: Playground;
  let browser: Browser;
  let dash: Page;
  let dir: string;
  const pageErrors: string[] = [];

  const details = () => dash.getByRole('region', { name: 'Details' });
  const conns = () => dash.getByRole('region', { name: 'Connections' });
  const option = (conn: number) => conns().getByRole('option').filter({ has: dash.locator(`b:text-is("#${conn}")`) });
  const centerTab = (name: string) => dash.getByRole('region', { name: 'Capture' }).getByRole('tab', { name });
  const filterBar = () => dash.getByRole('toolbar', { name: 'Timeline filters' });
  const timelineEmpty = () => dash.locator('.timeline .tscroll > p.empty');
  /** Frame bytes (headers and payloads) of one direction of a connection, as the wiretap captured them. */
  const frameBytesOf = (conn: number, dir: Direction) =>
    pg.store
      .all()
      .filter((e): e is FrameEvent => e.type === 'frame' && e.conn === conn && e.dir === dir)
      .reduce((n, f) => n + f.headerLength + (f.complete === false ? 0 : f.length), 0);
  /** The lines of counts of a connection: ↑ and ↓ frames and messages, bytes in frames, the TCP total once closed. */
  const countLines = async (conn: number) => {
    const text = await visibleText(option(conn));
    return text.split('\n').filter((l) => /^([↑↓] |in frames |TCP )/.test(l));
  };
  /** Lines of the Connections list cut off by their ellipsis (none should be). */
  const cutLines = () => conns().locator('.conn-line').evaluateAll((els) => els.filter((el) => el.scrollWidth > el.clientWidth).map((el) => el.textContent));
  /** Screenshots at both sizes, light and dark, then back to 1280x800 light. */
  const shots = async (name: string) => {
    for (const size of SIZES) {
      await dash.setViewportSize(size);
      for (const scheme of ['light', 'dark'] as const) {
        await dash.emulateMedia({ colorScheme: scheme });
        await dash.screenshot({ path: path.join(SHOTS, `inspector-${name}-${size.width}x${size.height}-${scheme}.png`) });
      }
    }
    await dash.setViewportSize(SIZES[0]!);
    await dash.emulateMedia({ colorScheme: 'light' });
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(path.join(tmpdir(), 'wsplay-inspector-e2e-'));
    const [started, launched] = await Promise.allSettled([startPlayground(), launchChromium()]);
    if (started.status === 'fulfilled') pg = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    const context = await browser.newContext({ viewport: SIZES[0], colorScheme: 'light' });
    context.setDefaultTimeout(5000);
    dash = await context.newPage();
    dash.on('pageerror', (err) => pageErrors.push(err.message));
    await dash.goto(pg.dashboardUrl);
    await dash.getByText(`wiretap ws://127.0.0.1:${pg.tapPort}`).waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pg?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("names the wiretap's real address in the empty Connections list, and the address fits the column", async () => {
    expect(pg.tapPort).not.toBe(9900);
    const empty = conns().locator('p.empty');
    const text = await visibleText(empty);
    expect(text).toContain(`new WebSocket('ws://127.0.0.1:${pg.tapPort}')`);
    expect(text).not.toContain('9900');
    // The whole example is inside the panel: its last characters are not cut off.
    const code = empty.locator('code');
    const [panel, box] = [await conns().boundingBox(), await code.boundingBox()];
    expect(box!.x + box!.width).toBeLessThanOrEqual(panel!.x + panel!.width);
    expect(await code.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    expect(await visibleText(timelineEmpty())).toBe('Nothing on the wire yet.');
    await shots('connections-empty');
  });

  it('counts bytes in frames with one meaning while open and after the close, and the TCP total apart', async () => {
    const c = await connect(`ws://127.0.0.1:${pg.tapPort}`);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('just one');
    expect(await c.next()).toBe(heard('just one'));
    const conn = (await pg.waitFor('message', (m) => m.dir === 'server' && m.text === heard('just one'))).conn;

    // Open: one frame and one message from the client, said in the singular.
    const up = frameBytesOf(conn, 'client');
    const down = frameBytesOf(conn, 'server');
    await textEventually(option(conn), (t) => t.includes('2 msgs'), `connection #${conn} with the echo counted`);
    expect(await countLines(conn)).toEqual(['↑ 1 frame · 1 msg', '↓ 2 frames · 2 msgs', `in frames ↑ ${B(up)} ↓ ${B(down)}`]);
    expect(await cutLines()).toEqual([]);

    c.ws.close(1000, 'bye');
    await c.closed;
    const end = await pg.waitFor('end', (e) => e.conn === conn);
    await textEventually(option(conn), (t) => t.includes('closed'), `connection #${conn} to show as closed`);
    // Closed: the same measure, now with each side's close frame (2 + 2 + 3 bytes of payload, masked from the client).
    const upAfter = frameBytesOf(conn, 'client');
    const downAfter = frameBytesOf(conn, 'server');
    expect(upAfter - up).toBe(2 + 4 + 2 + 'bye'.length);
    // The TCP total (the handshake included) is a line of its own, labelled as such, and larger.
    expect(end.bytes.client).toBeGreaterThan(upAfter);
    expect(await countLines(conn)).toEqual([
      '↑ 2 frames · 1 msg',
      '↓ 3 frames · 2 msgs',
      `in frames ↑ ${B(upAfter)} ↓ ${B(downAfter)}`,
      `TCP incl. handshake ↑ ${B(end.bytes.client)} ↓ ${B(end.bytes.server)}`,
    ]);
    expect(await cutLines()).toEqual([]);

    // Stats: the same number under the same label.
    await centerTab('Stats').click();
    const perConn = dash.getByRole('table', { name: 'Per connection' });
    expect(await visibleText(perConn.getByRole('columnheader').nth(3))).toBe('bytes in frames');
    const row = await visibleText(perConn.getByRole('row').filter({ hasText: `#${conn}` }));
    expect(row).toContain(`↑ ${B(upAfter)}\n↓ ${B(downAfter)}`);
    expect(await visibleText(dash.locator('.st-note'))).toContain('Bytes count frame headers and payloads');
    await shots('stats');
    await centerTab('Timeline').click();
  });

  it('shows the message of a frame chosen in Frames mode, and says why a fragment has none', async () => {
    // A message in two fragments, from a raw client: "first half, " then "second half".
    const raw = await rawUpgrade(pg.tapPort);
    raw.socket.write(Buffer.concat([frameBytes(1, Buffer.from('first half, '), { fin: false }), frameBytes(0, Buffer.from('second half'))]));
    const message = await pg.waitFor('message', (m) => m.dir === 'client' && m.text === 'first half, second half');
    const conn = message.conn;
    await pg.waitFor('message', (m) => m.conn === conn && m.dir === 'server' && m.text === heard('first half, second half'));

    await filterBar().getByRole('button', { name: 'Frames' }).click();
    const frames = dash.getByRole('grid', { name: 'Frames' });
    // The second fragment (a CONT frame), selected in the timeline.
    await frames.getByRole('row').filter({ has: dash.getByRole('cell', { name: 'second half', exact: true }) }).click();
    expect(await details().getByRole('tab', { name: 'Frame anatomy' }).getAttribute('aria-selected')).toBe('true');
    await details().getByRole('tab', { name: 'Message' }).click();
    expect(await visibleText(details().getByLabel('Payload as text'))).toBe('first half, second half');
    expect(await visibleText(details().locator('.from-frame'))).toBe(`The message of the selected frame (seq ${message.lastFrame}, frame 2 of its 2 frames).`);
    expect(await visibleText(details())).toContain('2 frames, fragmented');
    await shots('message-from-frame');

    // A fragment whose message never finishes: FIN=0, then the client drops TCP.
    raw.socket.write(frameBytes(1, Buffer.from('never finished'), { fin: false }));
    await pg.waitFor('frame', (f) => f.conn === conn && f.dir === 'client' && Buffer.from(f.payload, 'base64').toString() === 'never finished');
    raw.socket.destroy();
    await pg.waitFor('end', (e) => e.conn === conn);
    await textEventually(option(conn), (t) => t.includes('closed'), `connection #${conn} to show as closed`);
    await frames.getByRole('row').filter({ hasText: 'never finished' }).click();
    await details().getByRole('tab', { name: 'Message' }).click();
    expect(await visibleText(details().locator('.no-message'))).toMatch(/^Frame seq \d+ \(TEXT, client → server, #\d+\) is a fragment of a message that never finished: the connection ended before the message's last frame \(FIN=1\)\.$/);
    await shots('message-unfinished-fragment');
  });

  it('says in the Timeline what happened to a connection that ended before any frame', async () => {
    const hangUp = async (bytes: string) => {
      const before = new Set(pg.store.all().map((e) => e.conn));
      const socket = net.connect(pg.tapPort, HOST);
      await new Promise<void>((done) => socket.once('connect', () => done()));
      socket.end(bytes);
      const opened = await pg.waitFor('open', (e) => !before.has(e.conn));
      return pg.waitFor('end', (e) => e.conn === opened.conn);
    };
    // A client that connects and hangs up without a word.
    const silent = await hangUp('');
    expect(silent.code).toBeNull();
    await option(silent.conn).click();
    expect(await visibleText(timelineEmpty())).toBe(`#${silent.conn} ended before the WebSocket handshake finished: The connection ended before the client sent anything. See the Handshake tab.`);
    // One that sends half a request and hangs up: the server answers it as plain HTTP.
    const half = await hangUp('GET / HTTP/1.1\r\nHost: localhost\r\n');
    await option(half.conn).click();
    const handshake = await pg.waitFor('handshake', (h) => h.conn === half.conn);
    // Its one HTTP exchange is a Timeline row (a failed one: the server answered an error).
    const row = dash.getByRole('grid', { name: 'Frames' }).getByRole('row');
    await textEventually(row.first(), (t) => t.includes(`GET / → ${handshake.response!.status} ${handshake.response!.reason}`), `#${half.conn}'s HTTP exchange as a Timeline row`);
    expect(await row.count()).toBe(1);
    expect(await row.first().getAttribute('data-badge')).toBe('HTTP');
    expect(await row.first().locator('.badge.violation').count()).toBe(handshake.response!.status >= 400 ? 1 : 0);
    await shots('timeline-empty-incomplete');
    await conns().getByRole('button', { name: 'show all' }).click();
  });

  it('with a recording open: names a crashed server in the Timeline, and the empty states speak of the recording', async () => {
    // A recording of a server that accepted the upgrade and then died: 101, then TCP ends with no close frame.
    const handshake = pg.store.all().find((e): e is HandshakeEvent => e.type === 'handshake' && e.outcome === 'upgraded')!;
    const open: OpenEvent = { type: 'open', conn: 1, t: 1000, client: '127.0.0.1:50000', target: `127.0.0.1:${pg.serverPort}` };
    const crash: EndEvent = {
      type: 'end',
      conn: 1,
      t: 1200,
      by: 'server',
      clean: false,
      code: 1006,
      serverCode: 1006,
      explanation: '1006 abnormal closure (the connection dropped without a close frame)',
      bytes: { client: 245, server: 129 },
      frames: { client: 0, server: 0 },
    };
    const events: WireEvent[] = [open, { ...handshake, conn: 1, t: 1100 }, crash];
    const file = path.join(dir, 'crash.jsonl');
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    await dash.getByRole('banner').getByRole('group', { name: 'Recording' }).getByLabel('Open recording…').setInputFiles(file);
    const bar = dash.getByRole('region', { name: 'Recording' });
    await bar.getByText('crash.jsonl', { exact: true }).waitFor();

    await option(1).click();
    expect(await visibleText(timelineEmpty())).toBe(
      '#1 ended before any frame: 1006 abnormal closure. The server closed TCP without a close frame (did the server crash?).',
    );
    expect(await countLines(1)).toEqual(['↑ 0 frames · 0 msgs', '↓ 0 frames · 0 msgs', 'in frames ↑ 0 B ↓ 0 B', `TCP incl. handshake ↑ ${B(245)} ↓ ${B(129)}`]);
    await shots('timeline-empty-crash');

    // The scrubber at the start: nothing has happened yet in the recording.
    await conns().getByRole('button', { name: 'show all' }).click();
    await bar.getByRole('slider', { name: 'Time in the recording' }).evaluate((el: HTMLInputElement) => {
      el.value = el.min;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await textEventually(timelineEmpty(), (t) => t.startsWith('No frames yet at this point of the recording'), 'the timeline at the start of the recording');
    // open is at t=1000 and the scrubber starts there: #1 is shown connecting, so the list is not empty.
    expect(await visibleText(conns())).not.toContain('Connect a client');
    await bar.getByRole('button', { name: /Back to live/ }).click();
    await dash.getByText(`wiretap ws://127.0.0.1:${pg.tapPort}`).waitFor();
  });

  it('runs without a script error', () => {
    expect(pageErrors).toEqual([]);
  });
});
