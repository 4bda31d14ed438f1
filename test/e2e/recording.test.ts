/**
 * Recordings in the dashboard, in real Chromium: save the capture as a recording (a download),
 * open it with the file chooser (it replaces the live capture, with a time scrubber), open a
 * corrupt one (a message names the bad lines, the good ones are shown), go back to live, and
 * replay a recording's client side against the running echo server (a report, with an edited
 * answer marked different). Screenshots of the bar and the report, light and dark, go to
 * test-artifacts/screenshots (or WSPLAY_SHOTS).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireEvent } from '../../server/capture/events.ts';
import { parseRecording } from '../../server/capture/recording-reader.ts';
import { chromiumAvailability, launchChromium, eventually, visibleText } from '../helpers/browser.ts';
import { connect, ROOT } from '../helpers/net.ts';
import { startPlayground, type Playground } from '../helpers/playground.ts';

const chromium = chromiumAvailability();
const SHOTS = process.env.WSPLAY_SHOTS ?? path.join(ROOT, 'test-artifacts', 'screenshots');
const VIEWPORT = { width: 1280, height: 800 };
const heard = (msg: string) => `I heard you say "${msg}"`;
const MESSAGES = ['first message', 'second message', 'third message', 'fourth message'];

/** Frames the scrubber shows at time t: events up to the first whose running-max time passes t. */
function framesShownAt(events: WireEvent[], t: number): number {
  let max = -Infinity;
  let frames = 0;
  for (const e of events) {
    max = Math.max(max, e.t);
    if (max > t) break;
    if (e.type === 'frame') frames++;
  }
  return frames;
}

describe.skipIf(chromium.skip)(chromium.skip ? `recordings in real Chromium: ${chromium.reason}` : 'recordings in real Chromium', () => {
  let pg: Playground;
  let browser: Browser;
  let context: BrowserContext;
  let dash: Page;
  let dir: string;
  /** The recording saved from the dashboard. */
  let saved: { file: string; text: string; events: WireEvent[] };
  const pageErrors: string[] = [];

  /** The header's buttons (live) and the bar under it (a recording on view). */
  const menu = () => dash.getByRole('banner').getByRole('group', { name: 'Recording' });
  /** The header's Recording button: the live capture's recording actions drop down from it. */
  const menuToggle = () => menu().getByRole('button', { name: 'Recording', exact: true });
  /** An action of the recording menu, the menu opened first (as a person clicks it open). */
  const menuItem = async (name: string) => {
    if ((await menuToggle().getAttribute('aria-expanded')) !== 'true') await menuToggle().click();
    return menu().getByRole('button', { name });
  };
  const bar = () => dash.getByRole('region', { name: 'Recording' });
  const timeline = () => dash.getByRole('grid', { name: 'Frames' });
  const rowCount = async () => Number(await timeline().getAttribute('aria-rowcount'));
  const frameCount = (events: WireEvent[]) => events.filter((e) => e.type === 'frame').length;
  /** Screenshots in light and dark. */
  const shots = async (name: string, locator?: Locator) => {
    for (const scheme of ['light', 'dark'] as const) {
      await dash.emulateMedia({ colorScheme: scheme });
      const file = path.join(SHOTS, `${name}-${scheme}.png`);
      if (locator) await locator.screenshot({ path: file });
      else await dash.screenshot({ path: file });
    }
    await dash.emulateMedia({ colorScheme: 'light' });
  };
  const openFile = async (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    await dash.getByLabel(/^Open (recording|another)…$/).setInputFiles(file);
    await bar().getByText(name, { exact: true }).waitFor();
  };
  /** A conversation with the echo server through the wiretap, from Node. */
  const talk = async (messages: string[]) => {
    const c = await connect(`ws://127.0.0.1:${pg.tapPort}`);
    expect(await c.next()).toBe('Hello webSocket');
    for (const m of messages) {
      c.ws.send(m);
      expect(await c.next()).toBe(heard(m));
    }
    c.ws.close(1000, 'done');
    await c.closed;
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(path.join(tmpdir(), 'wsplay-recording-e2e-'));
    const [started, launched] = await Promise.allSettled([startPlayground(), launchChromium()]);
    if (started.status === 'fulfilled') pg = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light', acceptDownloads: true });
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

  it('saves the capture as a recording named by the time, holding what the wiretap captured', async () => {
    await talk(MESSAGES);
    await pg.waitFor('end');
    await timeline().getByRole('row').filter({ hasText: heard('fourth message') }).waitFor();
    await shots('recording-menu');

    const [download] = await Promise.all([dash.waitForEvent('download'), (await menuItem('Save recording')).click()]);
    expect(download.suggestedFilename()).toMatch(/^wsplay-\d{8}-\d{6}\.jsonl$/);
    const file = path.join(dir, download.suggestedFilename());
    await download.saveAs(file);
    const text = readFileSync(file, 'utf8');
    const { events, errors } = parseRecording(text);
    expect(errors).toEqual([]);
    expect(events).toEqual(pg.store.all());
    // Greeting, four answers and the close from the server; four messages and the close from the client.
    expect(frameCount(events)).toBe(11);
    saved = { file, text, events };

    // The exports download from the same place.
    const [pcap] = await Promise.all([dash.waitForEvent('download'), (await menuItem('Export pcapng')).click()]);
    expect(pcap.suggestedFilename()).toMatch(/^wsplay-.*\.pcapng$/);
    const pcapFile = path.join(dir, pcap.suggestedFilename());
    await pcap.saveAs(pcapFile);
    // pcapng's Section Header Block type, 0x0A0D0D0A.
    expect(readFileSync(pcapFile).subarray(0, 4).toString('hex')).toBe('0a0d0d0a');
    const [har] = await Promise.all([dash.waitForEvent('download'), (await menuItem('Export HAR')).click()]);
    expect(har.suggestedFilename()).toMatch(/^wsplay-.*\.har$/);
    const harFile = path.join(dir, har.suggestedFilename());
    await har.saveAs(harFile);
    const log = (JSON.parse(readFileSync(harFile, 'utf8')) as { log: { entries: Array<{ _webSocketMessages?: Array<{ data: string }> }> } }).log;
    expect(log.entries[0]!._webSocketMessages!.map((m) => m.data)).toContain(heard('fourth message'));
  });

  it("opens the recording in place of the live capture, and the scrubber's middle shows fewer frames", async () => {
    // Something live first, so the views hold more than the recording before it opens.
    await talk(['live before opening']);
    await eventually(async () => (await rowCount()) === frameCount(pg.store.all()), async () => `the live frames (${await rowCount()} rows)`);

    await menu().getByLabel('Open recording…').setInputFiles(saved.file);
    const name = path.basename(saved.file);
    expect(await visibleText(bar().getByText(name, { exact: true }))).toBe(name);
    expect(await visibleText(bar())).toContain(`${saved.events.length} events, 1 connection`);
    await eventually(async () => (await rowCount()) === 11, async () => `the recording's 11 frames (${await rowCount()} rows)`);
    await timeline().getByRole('row').filter({ hasText: heard('fourth message') }).waitFor();
    expect(await timeline().getByRole('row').filter({ hasText: 'live before opening' }).count()).toBe(0);

    // The middle: when the server's answer to the second message arrived.
    const second = saved.events.find((e) => e.type === 'message' && e.dir === 'server' && e.text === heard('second message'))!;
    const scrubber = bar().getByRole('slider', { name: 'Time in the recording' });
    await scrubber.evaluate((el: HTMLInputElement, t) => {
      el.value = String(t);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, second.t);
    const expected = framesShownAt(saved.events, second.t);
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(11);
    await eventually(async () => (await rowCount()) === expected, async () => `${expected} rows at t=${second.t} (${await rowCount()} rows)`);
    expect(await timeline().getByRole('row').filter({ hasText: heard('third message') }).count()).toBe(0);
    await timeline().getByRole('row').filter({ hasText: heard('second message') }).waitFor();
    expect(await visibleText(bar().getByRole('status'))).toMatch(new RegExp(`^\\d+ of ${saved.events.length} events$`));
    await shots('recording-viewing');

    // Play runs to the end: every frame again.
    await bar().getByRole('button', { name: 'Play', exact: true }).click();
    await eventually(async () => (await rowCount()) === 11, async () => `all 11 frames after playing (${await rowCount()} rows)`);
  });

  it('shows live traffic again on Back to live, none of it while the recording was on view', async () => {
    await talk(['sent while viewing']);
    const frames = frameCount(pg.store.all());
    // The status line counts live frames: once it counts these, the page has had them.
    await dash.getByText(`${frames} frames captured`).waitFor();
    expect(await timeline().getByRole('row').filter({ hasText: 'sent while viewing' }).count()).toBe(0);
    expect(await rowCount()).toBe(11);

    await bar().getByRole('button', { name: 'Back to live' }).click();
    await timeline().getByRole('row').filter({ hasText: heard('sent while viewing') }).waitFor();
    await eventually(async () => (await rowCount()) === frames, async () => `${frames} live rows (${await rowCount()})`);
    expect(await menuToggle().isVisible()).toBe(true);
  });

  it('opens a corrupt recording with a message naming the bad lines, and shows the good ones', async () => {
    const lines = saved.text.trimEnd().split('\n');
    const broken = [...lines.slice(0, 2), '{"type":"frame", this is not json', ...lines.slice(2, -1), lines.at(-1)!.slice(0, 30)].join('\n');
    await openFile('broken.jsonl', broken);

    const alert = bar().getByRole('alert');
    const text = await visibleText(alert);
    expect(text).toContain('2 lines of broken.jsonl could not be read and were skipped');
    expect(text).toMatch(/line 3 is not JSON/);
    expect(text).toContain(`line ${lines.length + 1} is cut short`);
    // Every event but the cut last one (the connection's end) is there: all 11 frames.
    expect(await visibleText(bar())).toContain(`${saved.events.length - 1} events`);
    await eventually(async () => (await rowCount()) === 11, async () => `11 rows (${await rowCount()})`);
    await shots('recording-corrupt');
    await bar().getByRole('button', { name: 'Back to live' }).click();
    await menuToggle().waitFor();
  });

  it('says a file that is no recording at all is not one, and stays on the live capture', async () => {
    const file = path.join(dir, 'photo.jpg');
    writeFileSync(file, '\u00ff\u00d8\u00ff\u00e0 JFIF binary \u0000\u0001\nmore \u0002 bytes\n\u00ff\u00d9');
    await dash.getByLabel('Open recording…').setInputFiles(file);
    const alert = dash.getByRole('alert').filter({ hasText: 'photo.jpg' });
    const text = await visibleText(alert);
    expect(text).toMatch(/^photo\.jpg is not a wsplay recording: it holds binary data, not text\. A recording has one event per line/);
    // Still live: the live menu is there, no recording bar.
    expect(await menuToggle().isVisible()).toBe(true);
    expect(await bar().count()).toBe(0);
    await shots('recording-not-a-recording');
    await alert.getByRole('button', { name: 'Dismiss' }).click();
    await alert.waitFor({ state: 'detached' });

    // Text that is not events: which line, and why.
    writeFileSync(file.replace('photo.jpg', 'notes.txt'), 'my notes\nabout websockets\n');
    await dash.getByLabel('Open recording…').setInputFiles(file.replace('photo.jpg', 'notes.txt'));
    const notes = dash.getByRole('alert').filter({ hasText: 'notes.txt' });
    expect(await visibleText(notes)).toMatch(/^notes\.txt is not a wsplay recording: none of its 2 lines is an event \(line 1 is not JSON/);
    await notes.getByRole('button', { name: 'Dismiss' }).click();
  });

  it("replays a recording's client side against the running server and marks an edited answer as different", async () => {
    await openFile('replay-same.jsonl', saved.text);
    await bar().getByRole('button', { name: 'Replay client side against the current server' }).click();
    const dialog = dash.getByRole('dialog', { name: 'Replay against the current server' });
    expect(await visibleText(dialog.getByRole('status'), 10_000)).toBe('Same answers: all 6 steps of 1 connection got the recorded answers.');
    expect(await dialog.locator('tr.step[data-status="same"]').count()).toBe(6);
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });

    // The same recording, except that the server's answer to the second message reads differently.
    const edited = saved.text.replace(`"text":${JSON.stringify(heard('second message'))}`, `"text":${JSON.stringify(heard('2nd message'))}`);
    expect(edited).not.toBe(saved.text);
    await openFile('replay-edited.jsonl', edited);
    await bar().getByRole('button', { name: 'Replay client side against the current server' }).click();
    expect(await visibleText(dialog.getByRole('status'), 10_000)).toBe('1 step of 6 answered differently; 5 the same.');
    const different = dialog.locator('tr.step[data-status="different"]');
    expect(await different.count()).toBe(1);
    const row = await visibleText(different);
    expect(row).toContain("TEXT 'second message'");
    expect(row).toContain(heard('2nd message'));
    expect(row).toContain(heard('second message'));
    expect(await visibleText(different.locator('li.differs').first())).toContain(heard('2nd message'));
    await shots('recording-replay-report');

    // The replay went through the wiretap: its connection is in the live capture.
    const replayedAs = await visibleText(dialog.getByRole('button', { name: /^replayed as #\d+$/ }));
    const id = Number(replayedAs.replace(/\D/g, ''));
    expect(pg.store.all().some((e) => e.type === 'message' && e.conn === id && e.dir === 'client' && e.text === 'second message')).toBe(true);
    await dialog.getByRole('button', { name: replayedAs }).click();
    await menuToggle().waitFor();
    await timeline().getByRole('row').filter({ hasText: heard('second message') }).first().waitFor();
    // The connection filter, behind the Timeline's Filters button at 1280 px (the replay dialog
    // still open over it): the button counts it, the panel's select holds it.
    const filtersToggle = dash.getByRole('toolbar', { name: 'Timeline filters' }).getByRole('button', { name: /^Filters/ });
    expect(await filtersToggle.innerText()).toMatch(/^Filters\s+1/);
    expect(await dash.locator('#tl-more select[aria-label="Connection"]').inputValue()).toBe(String(id));
    expect(pageErrors).toEqual([]);
  });
});
