/**
 * Recordings keep payloads whole (issue 13, item 1): a message or frame longer than the
 * dashboard's 64 KiB preview is recorded byte for byte (up to --max-payload, past which it is cut
 * and marked), in --record, in the dashboard's Save recording and in its HAR and pcapng exports,
 * while the store (what the dashboard shows) keeps the preview. Real sockets, port 0; tshark
 * reads the pcapng back.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { startDashboard } from '../../server/app/dashboard.ts';
import { recordedEvent } from '../../server/app/recording-routes.ts';
import type { FrameEvent, MessageEvent, WireEvent } from '../../server/capture/events.ts';
import type { Har } from '../../server/capture/har-writer.ts';
import { parseRecording, readRecordingFile } from '../../server/capture/recording-reader.ts';
import { Recorder } from '../../server/capture/recorder.ts';
import { PayloadSpill } from '../../server/capture/spill.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { exportEvents } from '../../server/export.ts';
import { Cleanup, connect, runCli, startTap, startWsServer } from '../helpers/net.ts';

const HAS_TSHARK = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-whole-'));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PREVIEW = 64 * 1024;
/** A 70,000-byte text (not one repeated byte, so a shifted or zero-filled copy would differ) and a 200 KB binary message. */
const TEXT = Array.from({ length: 70_000 }, (_, i) => String.fromCharCode(97 + ((i * 7 + (i >> 9)) % 26))).join('');
const BINARY = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));

function echo(ws: WebSocket): void {
  ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
}

/**
 * A wiretap wired as the CLI wires it (server/cli.ts): events to the recorder first, then to the
 * store, whose spill file takes the whole payloads.
 */
async function session(opts: { maxPayload?: number; record?: boolean } = {}) {
  const file = path.join(dir, `rec-${Math.random().toString(36).slice(2)}.jsonl`);
  const recorder = opts.record === false ? null : new Recorder(file);
  const store = new CaptureStore();
  // A queue that holds everything: what is spilled must not depend on how fast this disk is (the bound has its own test).
  const spill = new PayloadSpill({ queueBytes: 1024 * 1024 * 1024 });
  store.spill = spill;
  const server = await startWsServer({ perMessageDeflate: false }, echo);
  const tap = await startTap(server.port, {
    lazyEvents: true,
    limits: { recordBytes: opts.maxPayload ?? 16 * 1024 * 1024 },
    onEvents: (batch) => {
      recorder?.write(batch);
      store.add(batch);
    },
  });
  cleanup.add(async () => {
    await tap.close();
    await server.close();
    recorder?.close();
    spill.close();
  });
  return { file, recorder, store, spill, tap };
}

/** Send the text and the binary message, take both echoes, close. */
async function talk(url: string): Promise<void> {
  const c = await connect(url, { perMessageDeflate: false });
  c.ws.send(TEXT);
  expect(await c.next()).toBe(TEXT);
  c.ws.send(BINARY);
  await c.next();
  c.ws.close(1000, 'done');
  await c.closed;
}

const messagesOf = (events: WireEvent[]) => events.filter((e): e is MessageEvent => e.type === 'message');
const framesOf = (events: WireEvent[]) => events.filter((e): e is FrameEvent => e.type === 'frame' && e.opcode !== 8);
const dataOf = (m: MessageEvent) => (m.opcode === 1 ? Buffer.from(m.text!, 'utf8') : Buffer.from(m.base64!, 'base64'));

function expectWhole(events: WireEvent[]): void {
  const messages = messagesOf(events);
  expect(messages.map((m) => [m.dir, m.opcode, m.length, m.truncated ?? false])).toEqual([
    ['client', 1, 70_000, false],
    ['server', 1, 70_000, false],
    ['client', 2, 200_000, false],
    ['server', 2, 200_000, false],
  ]);
  for (const m of messages) expect(dataOf(m).equals(m.opcode === 1 ? Buffer.from(TEXT) : BINARY)).toBe(true);
  for (const f of framesOf(events)) {
    expect(f.truncated).toBeUndefined();
    expect(Buffer.from(f.payload, 'base64').length).toBe(f.length);
  }
}

describe('--record keeps payloads whole', () => {
  it('records a 70,000-byte text and a 200 KB binary message byte for byte, while the store keeps the 64 KiB preview', async () => {
    const s = await session();
    await talk(s.tap.url);
    await s.tap.waitFor('end');
    s.recorder!.close();
    const rec = readRecordingFile(s.file);
    expect(rec.badLines).toBe(0);
    expectWhole(rec.events);

    // The dashboard's store: previews, as before.
    const held = messagesOf(s.store.all());
    expect(held.map((m) => [m.length, m.truncated, dataOf(m).length])).toEqual([
      [70_000, true, PREVIEW],
      [70_000, true, PREVIEW],
      [200_000, true, PREVIEW],
      [200_000, true, PREVIEW],
    ]);
    expect(dataOf(held[0]!).equals(Buffer.from(TEXT.slice(0, PREVIEW)))).toBe(true);
    // No event the store holds or hands out carries a whole payload.
    for (const e of s.store.all()) expect(JSON.stringify(e).length).toBeLessThan(200_000);

    // HAR from the recording: the whole data, not marked truncated.
    const har = JSON.parse(Buffer.concat([...exportEvents(rec.events, 'har', { origin: 'test', startedAt: Date.now() }).chunks()]).toString('utf8')) as Har;
    const ws = har.log.entries[0]!._webSocketMessages!;
    expect(ws.map((m) => [m.type, m.opcode, m._truncated ?? false])).toEqual([
      ['send', 1, false],
      ['receive', 1, false],
      ['send', 2, false],
      ['receive', 2, false],
    ]);
    expect(ws[0]!.data).toBe(TEXT);
    expect(Buffer.from(ws[3]!.data, 'base64').equals(BINARY)).toBe(true);
  });

  it.skipIf(!HAS_TSHARK)('exports a pcapng whose WebSocket payloads tshark reads back whole', async () => {
    const s = await session();
    await talk(s.tap.url);
    await s.tap.waitFor('end');
    s.recorder!.close();
    const rec = readRecordingFile(s.file);
    const out = exportEvents(rec.events, 'pcapng', { origin: 'test', startedAt: Date.now() });
    expect(out.notes.join(' ')).not.toMatch(/zero/);
    const pcap = path.join(process.env.KEEP_PCAP ?? dir, 'whole.pcapng');
    writeFileSync(pcap, Buffer.concat([...out.chunks()]));
    const lines = execFileSync('tshark', ['-r', pcap, '-Y', 'websocket', '-T', 'fields', '-e', 'websocket.opcode', '-e', 'websocket.payload_length_ext_64', '-e', 'websocket.payload.text', '-e', 'data.data'], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    const texts = lines.filter((l) => l[0] === '1');
    const binaries = lines.filter((l) => l[0] === '2');
    expect(texts.map((l) => l[1])).toEqual(['70000', '70000']);
    for (const l of texts) expect(l[2]).toBe(TEXT);
    expect(binaries.map((l) => l[1])).toEqual(['200000', '200000']);
    // A binary payload is shown (unmasked) as data.data, in hex.
    for (const l of binaries) expect(Buffer.from(l[3]!, 'hex').equals(BINARY)).toBe(true);
  });

  it('cuts a payload past --max-payload and says so on the line', async () => {
    const s = await session({ maxPayload: 100_000 });
    await talk(s.tap.url);
    await s.tap.waitFor('end');
    s.recorder!.close();
    expect(s.recorder!.cut).toBe(4);
    expect(s.recorder!.summary()).toMatch(/4 payloads longer than --max-payload recorded cut/);
    const rec = readRecordingFile(s.file);
    expect(rec.badLines).toBe(0);
    const messages = messagesOf(rec.events);
    // The text is under the cap: whole. The binary is cut at 100,000 bytes and marked.
    expect(messages.map((m) => [m.length, m.truncated ?? false, (m as { maxPayload?: number }).maxPayload ?? null, dataOf(m).length])).toEqual([
      [70_000, false, null, 70_000],
      [70_000, false, null, 70_000],
      [200_000, true, 100_000, 100_000],
      [200_000, true, 100_000, 100_000],
    ]);
    expect(dataOf(messages[2]!).equals(BINARY.subarray(0, 100_000))).toBe(true);
    const bigFrames = framesOf(rec.events).filter((f) => f.length === 200_000);
    expect(bigFrames.map((f) => [f.truncated, (f as { maxPayload?: number }).maxPayload, Buffer.from(f.payload, 'base64').length])).toEqual([
      [true, 100_000, 100_000],
      [true, 100_000, 100_000],
    ]);
  });

  it('records a compressed message whole once inflated (permessage-deflate)', async () => {
    const file = path.join(dir, 'deflate.jsonl');
    const recorder = new Recorder(file);
    const store = new CaptureStore();
    const server = await startWsServer({ perMessageDeflate: { threshold: 0 } }, echo);
    const tap = await startTap(server.port, { lazyEvents: true, limits: { recordBytes: 16 * 1024 * 1024 }, onEvents: (b) => (recorder.write(b), store.add(b)) });
    cleanup.add(async () => {
      await tap.close();
      await server.close();
      recorder.close();
    });
    const c = await connect(tap.url, { perMessageDeflate: { threshold: 0 } });
    c.ws.send(TEXT);
    expect(await c.next()).toBe(TEXT);
    c.ws.close();
    await c.closed;
    await tap.waitFor('end');
    recorder.close();
    const messages = messagesOf(readRecordingFile(file).events);
    expect(messages.map((m) => [m.compressed, m.length, m.truncated ?? false, m.text === TEXT])).toEqual([
      [true, 70_000, false, true],
      [true, 70_000, false, true],
    ]);
    expect(messagesOf(store.all()).map((m) => [m.truncated, m.text!.length])).toEqual([
      [true, PREVIEW],
      [true, PREVIEW],
    ]);
  });

  it('records a fragmented message whole', async () => {
    const s = await session();
    const c = await connect(s.tap.url, { perMessageDeflate: false });
    c.ws.send(TEXT.slice(0, 30_000), { fin: false });
    c.ws.send(TEXT.slice(30_000, 50_000), { fin: false });
    c.ws.send(TEXT.slice(50_000), { fin: true });
    expect(await c.next()).toBe(TEXT);
    c.ws.close();
    await c.closed;
    await s.tap.waitFor('end');
    s.recorder!.close();
    const [sent] = messagesOf(readRecordingFile(s.file).events);
    expect([sent!.frames, sent!.length, sent!.truncated ?? false, sent!.text === TEXT]).toEqual([3, 70_000, false, true]);
  });
});

describe("the dashboard's Save recording and exports", () => {
  async function dashboard() {
    const s = await session({ record: false });
    const d = await startDashboard({
      port: 0,
      store: s.store,
      now: () => s.tap.tap.now(),
      token: 'test-token',
      uiDir: path.join(dir, 'no-ui'),
      connections: () => 0,
      topology: () => ({ tap: { host: '127.0.0.1', port: s.tap.port }, target: { host: '127.0.0.1', port: 2 }, targetLabel: 'test' }),
    });
    cleanup.add(() => d.close());
    const get = (p: string) => fetch(`http://127.0.0.1:${d.port}${p}`, { headers: { 'X-Wsplay-Token': 'test-token' } });
    return { ...s, get };
  }

  it('Save recording, Export HAR and Export pcapng carry the whole payloads the store only previews', async () => {
    const s = await dashboard();
    await talk(s.tap.url);
    await s.tap.waitFor('end');
    expect(messagesOf(s.store.all()).every((m) => m.truncated === true)).toBe(true);

    const saved = parseRecording(await (await s.get('/api/recording')).text());
    expect(saved.badLines).toBe(0);
    expectWhole(saved.events);

    const res = await s.get('/api/export?format=har');
    expect(res.headers.get('x-wsplay-previews')).toBe('0');
    const har = (await res.json()) as Har;
    const ws = har.log.entries[0]!._webSocketMessages!;
    expect(ws.map((m) => m._truncated ?? false)).toEqual([false, false, false, false]);
    expect(ws[1]!.data).toBe(TEXT);
    expect(Buffer.from(ws[2]!.data, 'base64').equals(BINARY)).toBe(true);

    const pcap = await s.get('/api/export?format=pcapng');
    expect(pcap.headers.get('x-wsplay-previews')).toBe('0');
    const bytes = Buffer.from(await pcap.arrayBuffer());
    // The binary message's bytes, masked in the client's frame, unmasked in the server's: the server's copy is in the capture as sent.
    expect(bytes.includes(BINARY.subarray(100_000, 100_000 + 4096))).toBe(true);
  });

  it('keeps the store flat while 100 MB of large messages pass: the whole payloads go to the spill file', async () => {
    const s = await dashboard();
    const c = await connect(s.tap.url, { perMessageDeflate: false });
    const message = Buffer.alloc(1024 * 1024, 0x5a);
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 100; i++) {
      message.writeUInt32BE(i, 0);
      c.ws.send(message);
      await c.next();
    }
    c.ws.close();
    await c.closed;
    await s.tap.waitFor('end');
    const rssAfter = process.memoryUsage().rss;
    // 200 messages and their 200 frames, each held as a 64 KiB preview: the store's weight is
    // bounded by the previews, not by the 200 MiB that crossed.
    const held = s.store.all().filter((e) => e.type === 'message' || (e.type === 'frame' && e.opcode === 2));
    expect(held.length).toBe(400);
    expect(s.store.bytes).toBeLessThan(400 * (2 * 4 * (PREVIEW / 3 + 1) + 400) + 100_000);
    // Each message is one frame: its bytes are written once for both.
    expect([s.spill.stored, s.spill.storedBytes, s.spill.shed]).toEqual([200, 200 * 1024 * 1024, 0]);
    console.log(`store ${(s.store.bytes / 1e6).toFixed(1)} MB for 200 MiB of messages crossed (100 each way); spill ${(s.spill.storedBytes / 1e6).toFixed(0)} MB; RSS ${(rssBefore / 1e6).toFixed(0)} → ${(rssAfter / 1e6).toFixed(0)} MB`);
    // The last message is whole as Save recording writes it.
    const all = s.store.all();
    const i = all.findLastIndex((e) => e.type === 'message');
    const last = (await recordedEvent(s.store, all[i]!, s.store.nextSeq - all.length + i)) as MessageEvent;
    expect(last.truncated ?? false).toBe(false);
    const data = Buffer.from(last.base64!, 'base64');
    expect([data.length, data.readUInt32BE(0)]).toEqual([1024 * 1024, 99]);
  }, 180_000);
});

describe('the spill file', () => {
  it('drops the oldest payloads when full, and those events fall back to the preview', async () => {
    const spill = new PayloadSpill({ maxBytes: 1000 });
    cleanup.add(() => spill.close());
    const payload = (n: number) => ({ bytes: Buffer.alloc(300, n), cut: false });
    for (let seq = 0; seq < 5; seq++) spill.put(seq, payload(seq));
    // 300 bytes each in 1000: 3 fit; the 4th wraps and overwrites the 1st, the 5th the 2nd.
    expect(await spill.read(0)).toBeNull();
    expect(await spill.read(1)).toBeNull();
    for (const seq of [2, 3, 4]) expect((await spill.read(seq))!.bytes.equals(Buffer.alloc(300, seq))).toBe(true);
    expect(spill.overwritten).toBe(2);
  });

  it('does not spill a payload that finds the write queue full, and counts it', async () => {
    const spill = new PayloadSpill({ queueBytes: 1000 });
    cleanup.add(() => spill.close());
    // Writes finish asynchronously: three puts in one turn find 600 bytes, then 1200, waiting.
    spill.put(0, { bytes: Buffer.alloc(600, 1), cut: false });
    spill.put(1, { bytes: Buffer.alloc(600, 2), cut: false });
    spill.put(2, { bytes: Buffer.alloc(300, 3), cut: false });
    expect([spill.stored, spill.shed]).toEqual([2, 1]);
    expect(await spill.read(1)).toBeNull();
    expect((await spill.read(0))!.bytes.equals(Buffer.alloc(600, 1))).toBe(true);
    expect((await spill.read(2))!.bytes.equals(Buffer.alloc(300, 3))).toBe(true);
  });
});

describe('wsplay tap --record --max-payload', () => {
  it('records whole up to the cap, cuts past it, says so at exit; its dashboard saves the same', async () => {
    const server = await startWsServer({ perMessageDeflate: false }, echo);
    cleanup.add(() => server.close());
    const file = path.join(dir, 'cli.jsonl');
    const p = runCli(['tap', '--target', `ws://127.0.0.1:${server.port}`, '--port', '0', '--dashboard-port', '0', '--no-open', '--record', file, '--max-payload', '100KiB'], { WSPLAY_TOKEN: 'cli-token' });
    cleanup.add(() => p.stop());
    const [, port] = await p.line(/^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+) /, 30_000);
    const [, dashboard] = await p.line(/^Dashboard: (http:\/\/[^/]+)/, 30_000);
    await talk(`ws://127.0.0.1:${port}`);

    // The dashboard's Save recording, while the tap runs.
    const saved = parseRecording(await (await fetch(`${dashboard}/api/recording`, { headers: { 'X-Wsplay-Token': 'cli-token' } })).text());
    await p.stop();
    const [, , summary] = await p.line(/^Recording complete: (\d+) events in .*? \((.*)\)$/);
    expect(summary).toBe('4 payloads longer than --max-payload recorded cut ("maxPayload" on the line)');
    const recorded = readRecordingFile(file);
    for (const events of [recorded.events, saved.events]) {
      expect(messagesOf(events).map((m) => [m.length, m.truncated ?? false, (m as { maxPayload?: number }).maxPayload ?? null, dataOf(m).length])).toEqual([
        [70_000, false, null, 70_000],
        [70_000, false, null, 70_000],
        [200_000, true, 102_400, 102_400],
        [200_000, true, 102_400, 102_400],
      ]);
      expect(dataOf(messagesOf(events)[1]!).toString('utf8')).toBe(TEXT);
      expect(dataOf(messagesOf(events)[3]!).equals(BINARY.subarray(0, 102_400))).toBe(true);
    }
  }, 60_000);

  it('refuses a --max-payload it cannot use, saying what to type', async () => {
    const p = runCli(['tap', '--target', 'ws://127.0.0.1:1', '--port', '0', '--no-dashboard', '--max-payload', '1GiB']);
    cleanup.add(() => p.stop());
    expect((await p.exited).code).toBe(2);
    expect(p.stderr()).toBe('--max-payload 1GiB is not a size from 64KiB to 16MiB: give bytes or a unit, e.g. --max-payload 4MiB (the default is 16MiB).\n');
  });
});
