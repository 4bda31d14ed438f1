/**
 * Export: a real session recorded by a Wiretap (with a Recorder, as `--record` does), exported
 * to pcapng and read back by tshark, and to HAR; the CLI end to end; the dashboard's
 * GET /api/export.
 *
 * The pcapng tests need Debian's tshark (`apt-get install -y tshark`; .ci/run installs it). They
 * are skipped, loudly, where it is missing — except under CI, where a missing tshark fails.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { startDashboard } from '../../server/app/dashboard.ts';
import type { Direction, FrameEvent, HandshakeEvent, MessageEvent, OpenEvent, WireEvent } from '../../server/capture/events.ts';
import { exportHar, type Har, type HarEntry } from '../../server/capture/har-writer.ts';
import { exportPcapng } from '../../server/capture/pcapng-writer.ts';
import { readRecordingFile } from '../../server/capture/recording-reader.ts';
import { Recorder } from '../../server/capture/recorder.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { lastTime, runExportCommand } from '../../server/export.ts';
import { Cleanup, connect, runCli, startTap, startWsServer, type CustomServerHandle } from '../helpers/net.ts';

const HAS_TSHARK = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
if (!HAS_TSHARK) {
  console.warn('\n*** tshark is not installed: the pcapng read-back tests are SKIPPED. Install it: apt-get install -y tshark ***\n');
}

const FIXTURE = path.join(import.meta.dirname, '../fixtures/echo-session.jsonl');
const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-export-'));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Recording a session

interface Session {
  file: string;
  events: WireEvent[];
  /** Per connection (accept order = conn order): every byte the server got after the request head. */
  serverBytes: Buffer[][];
}

/** An echo that also answers "fragments please" with a fragmented message and pings the client on "ping me". */
function echo(ws: WebSocket): void {
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const text = isBinary ? '' : data.toString('utf8');
    if (text === 'fragments please') {
      ws.send('part one, ', { fin: false });
      ws.send('part two', { fin: true });
    } else if (text === 'ping me') {
      ws.ping('from the server');
      ws.send('pinged');
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
}

async function recordSession(name: string, previewBytes: number, talk: (url: string) => Promise<void>): Promise<Session> {
  const file = path.join(dir, name);
  const recorder = new Recorder(file);
  const server = await startWsServer({ perMessageDeflate: { threshold: 0 } }, echo);
  const tap = await startTap(server.port, { limits: { previewBytes }, onEvents: (batch) => recorder.write(batch) });
  try {
    await talk(tap.url);
    const opens = tap.events.filter((e) => e.type === 'open').length;
    await tap.waitForCount('end', opens);
  } finally {
    await tap.close();
    await server.close();
    recorder.close();
  }
  const { events, errors } = readRecordingFile(file);
  expect(errors).toEqual([]);
  expect(events).toEqual(tap.events);
  return { file, events, serverBytes: (server as CustomServerHandle).raw };
}

/** Two connections: one plain, one with permessage-deflate; text, binary, fragments, pings both ways, large frames, close. */
function mainConversation(url: string): Promise<void> {
  return (async () => {
    const plain = await connect(url, { perMessageDeflate: false });
    plain.ws.send('hello');
    await plain.next();
    plain.ws.send(Buffer.from([1, 2, 3, 250]));
    await plain.next();
    plain.ws.send('frag-one ', { fin: false });
    plain.ws.send('frag-two', { fin: true });
    expect(await plain.next()).toBe('frag-one frag-two');
    plain.ws.ping('are you there');
    plain.ws.send('fragments please');
    expect(await plain.next()).toBe('part one, part two');
    plain.ws.send('ping me');
    expect(await plain.next()).toBe('pinged');
    // Larger than one TCP segment (65495 bytes) and than a 16-bit length: both directions.
    plain.ws.send(Buffer.alloc(150_000, 7));
    await plain.next();
    plain.ws.send('x'.repeat(300));
    await plain.next();
    plain.ws.close(1000, 'bye');
    await plain.closed;

    const zipped = await connect(url, { perMessageDeflate: { threshold: 0 } });
    zipped.ws.send('compress me, compress me, compress me');
    expect(await zipped.next()).toBe('compress me, compress me, compress me');
    zipped.ws.send('first half, ', { fin: false });
    zipped.ws.send('second half', { fin: true });
    expect(await zipped.next()).toBe('first half, second half');
    zipped.ws.send('fragments please');
    expect(await zipped.next()).toBe('part one, part two');
    zipped.ws.close(4000, 'done');
    await zipped.closed;
  })();
}

let main: Session;
beforeAll(async () => {
  main = await recordSession('main.jsonl', 256 * 1024, mainConversation);
});

/** The export command in this process (the CLI test below runs the real program). */
function exportFile(recording: string, format: 'har' | 'pcapng'): { file: string; stdout: string[]; stderr: string[] } {
  const file = path.join(dir, `${path.basename(recording, '.jsonl')}-${Math.random().toString(36).slice(2)}.${format}`);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = runExportCommand([recording, '--format', format, '-o', file], { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) });
  expect(code, stderr.join('\n')).toBe(0);
  return { file, stdout, stderr };
}

const opensOf = (events: WireEvent[]) => events.filter((e): e is OpenEvent => e.type === 'open');

/** Every packet's timestamp in a pcapng file (microseconds since the epoch), in file order. */
function packetTimesUs(bytes: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let p = 0; p < bytes.length; p += bytes.readUInt32LE(p + 4)) {
    if (bytes.readUInt32LE(p) === 6) out.push((BigInt(bytes.readUInt32LE(p + 12)) << 32n) | BigInt(bytes.readUInt32LE(p + 16)));
  }
  return out;
}

/** A copy of a recording whose file says it was last written at `mtimeMs`; `edit` changes each event first. */
function copyRecording(from: string, name: string, mtimeMs: number, edit: (e: Record<string, unknown>) => unknown = (e) => e): string {
  const file = path.join(dir, name);
  const lines = readFileSync(from, 'utf8').split('\n').filter((l) => l !== '');
  writeFileSync(file, lines.map((l) => `${JSON.stringify(edit(JSON.parse(l) as Record<string, unknown>))}\n`).join(''));
  utimesSync(file, mtimeMs / 1000, mtimeMs / 1000);
  return file;
}

// ---------------------------------------------------------------------------------------------
// tshark

function tshark(args: string[]): string {
  return execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
}

interface SeenFrame {
  conn: number;
  dir: Direction;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  maskKey: string | null;
  length: number;
  /** The unmasked payload, hex (still compressed where RSV1 is set). */
  payload: string;
}

type Layers = Record<string, unknown>;

/** Every WebSocket frame tshark dissects in `file`, with the connection told by the client's port. */
function tsharkFrames(file: string, events: WireEvent[]): SeenFrame[] {
  const connOfPort = new Map(events.filter((e): e is OpenEvent => e.type === 'open').map((e) => [Number(e.client.split(':').pop()), e.conn]));
  const packets = JSON.parse(tshark(['-r', file, '-o', 'tcp.analyze_sequence_numbers:TRUE', '-Y', 'websocket', '-T', 'json', '-x', '--no-duplicate-keys'])) as Array<{
    _source: { layers: Layers };
  }>;
  const frames: SeenFrame[] = [];
  for (const p of packets) {
    const layers = p._source.layers;
    const tcp = layers.tcp as Record<string, string>;
    const src = Number(tcp['tcp.srcport']);
    const dst = Number(tcp['tcp.dstport']);
    const dir: Direction = connOfPort.has(src) ? 'client' : 'server';
    const conn = connOfPort.get(dir === 'client' ? src : dst);
    if (conn === undefined) throw new Error(`tshark shows a packet between ports ${src} and ${dst}: no such connection in the recording`);
    const ws = layers.websocket as Layers | Layers[];
    for (const w of Array.isArray(ws) ? ws : [ws]) {
      const f = w as Record<string, string | string[]>;
      const rsv = Number.parseInt(f['websocket.rsv'] as string, 16);
      const ext = (f['websocket.payload_length_ext_64'] ?? f['websocket.payload_length_ext_16']) as string | undefined;
      const key = f['websocket.masking_key'] as string | undefined;
      frames.push({
        conn,
        dir,
        fin: f['websocket.fin'] === '1',
        rsv1: (rsv & 4) !== 0,
        rsv2: (rsv & 2) !== 0,
        rsv3: (rsv & 1) !== 0,
        opcode: Number(f['websocket.opcode']),
        masked: f['websocket.mask'] === '1',
        maskKey: key ? key.replace(/:/g, '') : null,
        length: Number(ext ?? f['websocket.payload_length']),
        payload: ((f['websocket.payload_raw'] as string[] | undefined)?.[0] ?? '').toLowerCase(),
      });
    }
  }
  return frames;
}

function recordedFrames(events: WireEvent[]): SeenFrame[] {
  return events
    .filter((e): e is FrameEvent => e.type === 'frame')
    .map((f) => ({
      conn: f.conn,
      dir: f.dir,
      fin: f.fin,
      rsv1: f.rsv1,
      rsv2: f.rsv2,
      rsv3: f.rsv3,
      opcode: f.opcode,
      masked: f.masked,
      maskKey: f.maskKey,
      length: f.length,
      payload: Buffer.from(f.payload, 'base64').toString('hex'),
    }));
}

/** Frames of one connection and direction, in order. */
const stream = (frames: SeenFrame[], conn: number, dir: Direction) => frames.filter((f) => f.conn === conn && f.dir === dir);

/** The bytes of each direction of TCP stream `index`, as tshark reassembles them. */
function followStream(file: string, index: number): Record<Direction, Buffer> {
  const out = tshark(['-r', file, '-q', '-z', `follow,tcp,raw,${index}`]);
  const body = out.split(/^=+$/m)[1]!;
  const parts: Record<Direction, Buffer[]> = { client: [], server: [] };
  for (const line of body.split('\n')) {
    if (!/^\t?[0-9a-f]+$/.test(line)) continue;
    // Node 0 (the client: it sent the SYN) is unindented; node 1 is indented with a tab.
    parts[line.startsWith('\t') ? 'server' : 'client'].push(Buffer.from(line.trim(), 'hex'));
  }
  return { client: Buffer.concat(parts.client), server: Buffer.concat(parts.server) };
}

describe.runIf(process.env.CI)('the CI machine', () => {
  it('has tshark installed (.ci/run installs Debian\'s tshark)', () => {
    expect(HAS_TSHARK).toBe(true);
  });
});

describe.skipIf(!HAS_TSHARK)('pcapng read back by tshark', () => {
  let pcap: string;
  beforeAll(() => {
    pcap = exportFile(main.file, 'pcapng').file;
  });

  it('shows the recorded frames field by field, in both directions, compressed, fragmented and control frames included', () => {
    const recorded = recordedFrames(main.events);
    // What the conversation must have produced, or the comparison below proves little.
    const has = (p: (f: SeenFrame) => boolean) => expect(recorded.some(p)).toBe(true);
    for (const dir of ['client', 'server'] as const) {
      has((f) => f.dir === dir && f.opcode === 0);
      has((f) => f.dir === dir && f.rsv1);
      has((f) => f.dir === dir && f.opcode === 9);
      has((f) => f.dir === dir && f.opcode === 10);
      has((f) => f.dir === dir && f.opcode === 8);
      has((f) => f.dir === dir && f.length > 65535);
      has((f) => f.dir === dir && f.length >= 126 && f.length <= 65535);
    }
    has((f) => f.opcode === 2 && f.length === 4);

    const seen = tsharkFrames(pcap, main.events);
    expect(seen).toHaveLength(recorded.length);
    for (const conn of [1, 2]) {
      for (const dir of ['client', 'server'] as const) {
        expect(stream(seen, conn, dir), `connection ${conn}, ${dir} frames`).toEqual(stream(recorded, conn, dir));
      }
    }
  });

  it('dissects the opening handshakes as HTTP and inflates the compressed messages', () => {
    const lines = tshark(['-r', pcap, '-Y', 'http', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.response.code', '-e', 'http.upgrade']).trim().split('\n');
    expect(lines).toEqual(['GET\t\twebsocket', '\t101\twebsocket', 'GET\t\twebsocket', '\t101\twebsocket']);
    const texts = tshark(['-r', pcap, '-Y', 'websocket.pmc == 1 && websocket.fin == 1', '-T', 'fields', '-e', 'websocket.payload.text']).trim().split('\n');
    const compressed = main.events.filter((e): e is MessageEvent => e.type === 'message' && e.compressed && e.frames === 1).map((m) => m.text);
    expect(compressed.length).toBeGreaterThan(0);
    expect(texts).toEqual(compressed);
  });

  it('carries exactly the bytes the server received, and the frames the server sent', () => {
    const hs = main.events.filter((e): e is HandshakeEvent => e.type === 'handshake');
    for (const [i, conn] of [1, 2].entries()) {
      const bytes = followStream(pcap, i);
      const h = hs.find((e) => e.conn === conn)!;
      expect(bytes.client.equals(Buffer.concat([Buffer.from(h.request!.raw, 'base64'), ...main.serverBytes[i]!]))).toBe(true);
      const serverFrames = main.events.filter((e): e is FrameEvent => e.type === 'frame' && e.conn === conn && e.dir === 'server');
      const sent = Buffer.concat([Buffer.from(h.response!.raw, 'base64'), ...serverFrames.flatMap((f) => [Buffer.from(f.header, 'hex'), Buffer.from(f.payload, 'base64')])]);
      expect(bytes.server.equals(sent)).toBe(true);
    }
  });

  it('has consistent TCP: no analysis warnings, valid checksums, a handshake and a FIN each way', () => {
    const analysis = ['-o', 'tcp.analyze_sequence_numbers:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE'];
    expect(tshark(['-r', pcap, ...analysis, '-Y', 'tcp.analysis.flags']).trim()).toBe('');
    expect(tshark(['-r', pcap, ...analysis, '-q', '-z', 'expert,warn']).trim()).toBe('');
    const statuses = tshark(['-r', pcap, ...analysis, '-T', 'fields', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status']).trim().split('\n');
    expect(new Set(statuses)).toEqual(new Set(['1\t1'])); // 1 = good
    const flags = tshark(['-r', pcap, '-Y', 'tcp.flags.syn == 1 || tcp.flags.fin == 1', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.flags.str']).trim().split('\n');
    expect(flags.filter((l) => l.includes('S')).length).toBe(4);
    expect(flags.filter((l) => l.includes('F')).length).toBe(4);
  });

  it('stamps each connection\'s SYN with the wall-clock time the wiretap accepted it', () => {
    const syns = tshark(['-r', pcap, '-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0', '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n');
    const walls = opensOf(main.events).map((o) => o.wall!);
    expect(syns).toHaveLength(2);
    syns.forEach((s, i) => expect(Math.abs(Number(s) * 1000 - walls[i]!)).toBeLessThan(1));
  });

  it('keeps a frame cut at the preview bound at its real length, zero-filled and commented, and the frames after it', async () => {
    const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const s = await recordSession('preview.jsonl', 1000, async (url) => {
      const c = await connect(url, { perMessageDeflate: false });
      c.ws.send(payload);
      await c.next();
      c.ws.close(1000);
      await c.closed;
    });
    const truncated = s.events.filter((e): e is FrameEvent => e.type === 'frame' && e.truncated === true);
    expect(truncated).toHaveLength(2);
    const { file, stderr } = exportFile(s.file, 'pcapng');
    expect(stderr).toEqual(['Note: Connection 1: 2 frames had their payload cut at the recording\'s preview bound; the missing bytes are zeros in the capture (see the packet comments).']);
    const seen = tsharkFrames(file, s.events);
    expect(seen.map((f) => [f.dir, f.opcode, f.length])).toEqual([
      ['client', 2, 5000],
      ['server', 2, 5000],
      ['client', 8, 2],
      ['server', 8, 2],
    ]);
    const kept = payload.subarray(0, 1000).toString('hex');
    for (const f of seen.slice(0, 2)) expect(f.payload).toBe(kept + '00'.repeat(4000));
    const comments = tshark(['-r', file, '-Y', 'frame.comment', '-T', 'fields', '-e', 'frame.comment']).trim().split('\n');
    expect(comments).toHaveLength(2);
    expect(comments[0]).toMatch(/^wsplay: frame #0 \(client → server\) announces 5000 payload bytes; the recording kept the first 1000 \(its preview bound\), so the other 4000 are zeros here/);
    expect(tshark(['-r', file, '-o', 'tcp.analyze_sequence_numbers:TRUE', '-Y', 'tcp.analysis.flags']).trim()).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------
// Any part of a recording: what a bounded store still holds, a recording with lines lost

/** Walk the blocks: each one's two lengths agree, SHB then IDB first, packets in time order. */
function expectWellFormedPcapng(bytes: Buffer): number {
  let p = 0;
  let last = -1n;
  const types: number[] = [];
  while (p < bytes.length) {
    const type = bytes.readUInt32LE(p);
    const total = bytes.readUInt32LE(p + 4);
    expect(total % 4).toBe(0);
    expect(total).toBeGreaterThanOrEqual(12);
    expect(bytes.readUInt32LE(p + total - 4)).toBe(total);
    if (type === 6) {
      const ts = (BigInt(bytes.readUInt32LE(p + 12)) << 32n) | BigInt(bytes.readUInt32LE(p + 16));
      expect(ts >= last).toBe(true);
      last = ts;
      expect(bytes.readUInt32LE(p + 20)).toBeLessThanOrEqual(total - 32);
    }
    types.push(type);
    p += total;
  }
  expect(p).toBe(bytes.length);
  expect(types.slice(0, 2)).toEqual([0x0a0d0d0a, 1]);
  return types.filter((t) => t === 6).length;
}

describe('a part of a recording', () => {
  it('exports any subset of its events, as a bounded store holds them, to well-formed pcapng and HAR', () => {
    fc.assert(
      fc.property(fc.subarray(main.events), (events) => {
        const pcap = exportPcapng(events, { startedAt: 1_700_000_000_000 });
        expectWellFormedPcapng(Buffer.concat([...pcap.chunks()]));
        const { har } = exportHar(events, { startedAt: 1_700_000_000_000, creator: { name: 'wsplay', version: '1.0.0' } });
        expectHar12(JSON.parse(JSON.stringify(har)) as Har);
      }),
      { numRuns: 40 },
    );
  });

  it.skipIf(!HAS_TSHARK)('opens in tshark without the start of a connection, saying which bytes are missing', () => {
    const lost = main.events.findIndex((e) => e.type === 'frame' && e.conn === 1 && e.dir === 'client' && e.seq === 2);
    const events = main.events.filter((e, i) => e.conn !== 1 || i >= lost);
    const pcap = exportPcapng(events, { startedAt: 1_700_000_000_000 });
    expect(pcap.notes[0]).toMatch(/^Connection 1: its open event is not in the recording, so its ports are made up/);
    expect(pcap.notes[1]).toMatch(/^Connection 1: \d+ bytes client → server are not in the recording/);
    const file = path.join(dir, 'no-start.pcapng');
    writeFileSync(file, Buffer.concat([...pcap.chunks()]));
    const comments = tshark(['-r', file, '-Y', 'frame.comment', '-T', 'fields', '-e', 'frame.comment']).trim().split('\n');
    const offset = (events[0] as FrameEvent).offset;
    expect(comments[0]).toBe(`wsplay: ${offset} bytes client → server before this packet are not in the recording.`);
    // The second connection, whole, still dissects frame for frame.
    const seen = tsharkFrames(file, events);
    expect(stream(seen, 2, 'client')).toEqual(stream(recordedFrames(main.events), 2, 'client'));
  });
});

// ---------------------------------------------------------------------------------------------
// HAR

/** The fields HAR 1.2 requires, checked the way a HAR viewer reads them. */
function expectHar12(har: Har): void {
  expect(har.log.version).toBe('1.2');
  expect(har.log.creator).toEqual({ name: 'wsplay', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  expect(Array.isArray(har.log.entries)).toBe(true);
  for (const e of har.log.entries) {
    expect(new Date(e.startedDateTime).toISOString()).toBe(e.startedDateTime);
    const r = e.request;
    expect(r).toMatchObject({ method: expect.any(String), url: expect.any(String), httpVersion: expect.any(String), headersSize: expect.any(Number), bodySize: expect.any(Number) });
    for (const list of [r.cookies, r.headers, r.queryString, e.response.cookies, e.response.headers]) {
      for (const nv of list) expect(nv).toEqual({ name: expect.any(String), value: expect.any(String) });
    }
    expect(e.response).toMatchObject({
      status: expect.any(Number),
      statusText: expect.any(String),
      httpVersion: expect.any(String),
      content: { size: expect.any(Number), mimeType: expect.any(String) },
      redirectURL: expect.any(String),
      headersSize: expect.any(Number),
      bodySize: expect.any(Number),
    });
    expect(e.cache).toEqual({});
    const t = e.timings;
    for (const k of ['send', 'wait', 'receive'] as const) expect(t[k]).toBeGreaterThanOrEqual(0);
    for (const k of ['blocked', 'dns', 'connect', 'ssl'] as const) expect(t[k]).toBeGreaterThanOrEqual(-1);
    // HAR 1.2: the entry's time is the sum of its timings, leaving out the -1s.
    const sum = Object.values(t).filter((v) => v >= 0).reduce((a, b) => a + b, 0);
    expect(e.time).toBeCloseTo(sum, 3);
  }
}

describe('HAR', () => {
  let har: Har;
  let out: ReturnType<typeof exportFile>;
  beforeAll(() => {
    out = exportFile(main.file, 'har');
    har = JSON.parse(readFileSync(out.file, 'utf8')) as Har;
  });

  it('has the HAR 1.2 structure, one websocket entry per connection', () => {
    expectHar12(har);
    expect(out.stdout).toEqual([`Exported 2 connections (${main.events.filter((e) => e.type === 'message').length} messages) to ${out.file}.`]);
    const opens = main.events.filter((e): e is OpenEvent => e.type === 'open');
    expect(har.log.entries.map((e) => [e._resourceType, e.request.method, e.response.status, e.response.statusText, e.connection])).toEqual([
      ['websocket', 'GET', 101, 'Switching Protocols', '1'],
      ['websocket', 'GET', 101, 'Switching Protocols', '2'],
    ]);
    const hs = main.events.find((e): e is HandshakeEvent => e.type === 'handshake')!;
    const first = har.log.entries[0]!;
    expect(first.request.url).toBe(`ws://${hs.request!.headers.find(([n]) => n === 'Host')![1]}/`);
    expect(first.request.headers).toEqual(hs.request!.headers.map(([name, value]) => ({ name, value })));
    expect(first.response.headers.find((h) => h.name.toLowerCase() === 'sec-websocket-accept')?.value).toBe(hs.expectedAccept);
    expect(first.serverIPAddress).toBe(opens[0]!.target.split(':')[0]);
    expect(har.log.entries[1]!.response.headers.find((h) => h.name.toLowerCase() === 'sec-websocket-extensions')?.value).toMatch(/^permessage-deflate/);
  });

  it("lists each connection's messages as Chrome's _webSocketMessages: send/receive, time in seconds, opcode, data", () => {
    const [plain, zipped] = har.log.entries as [HarEntry, HarEntry];
    const view = (e: HarEntry) => e._webSocketMessages!.map(({ type, opcode, data }) => ({ type, opcode, data }));
    const big = Buffer.alloc(150_000, 7).toString('base64');
    expect(view(plain)).toEqual([
      { type: 'send', opcode: 1, data: 'hello' },
      { type: 'receive', opcode: 1, data: 'hello' },
      { type: 'send', opcode: 2, data: 'AQID+g==' },
      { type: 'receive', opcode: 2, data: 'AQID+g==' },
      { type: 'send', opcode: 1, data: 'frag-one frag-two' },
      { type: 'receive', opcode: 1, data: 'frag-one frag-two' },
      { type: 'send', opcode: 1, data: 'fragments please' },
      { type: 'receive', opcode: 1, data: 'part one, part two' },
      { type: 'send', opcode: 1, data: 'ping me' },
      { type: 'receive', opcode: 1, data: 'pinged' },
      { type: 'send', opcode: 2, data: big },
      { type: 'receive', opcode: 2, data: big },
      { type: 'send', opcode: 1, data: 'x'.repeat(300) },
      { type: 'receive', opcode: 1, data: 'x'.repeat(300) },
    ]);
    expect(view(zipped)).toEqual([
      { type: 'send', opcode: 1, data: 'compress me, compress me, compress me' },
      { type: 'receive', opcode: 1, data: 'compress me, compress me, compress me' },
      { type: 'send', opcode: 1, data: 'first half, second half' },
      { type: 'receive', opcode: 1, data: 'first half, second half' },
      { type: 'send', opcode: 1, data: 'fragments please' },
      { type: 'receive', opcode: 1, data: 'part one, part two' },
    ]);
    // Seconds since the epoch: the recording's times on the wiretap's wall clock (`wall - t` of an open event).
    const [open] = opensOf(main.events);
    const startedAt = open!.wall! - open!.t;
    const messages = main.events.filter((e): e is MessageEvent => e.type === 'message');
    const times = har.log.entries.flatMap((e) => e._webSocketMessages!.map((m) => m.time));
    expect(times).toHaveLength(messages.length);
    times.forEach((time, i) => expect(time).toBeCloseTo((startedAt + messages[i]!.t) / 1000, 5));
  });

  it('starts each entry exactly when the wiretap accepted its connection', () => {
    const opens = opensOf(main.events);
    expect(har.log.entries.map((e) => e.startedDateTime)).toEqual(opens.map((o) => new Date(o.wall!).toISOString()));
  });
});

// ---------------------------------------------------------------------------------------------
// The wall clock: open events carry it, exports use it; older recordings are estimated

describe('the wall clock', () => {
  /** 2001-09-09: a modification time far from when the recording was made. */
  const LONG_AGO = 1_000_000_000_000;

  it('is on each open event: when the wiretap accepted the connection, one clock for the whole wiretap', async () => {
    const server = await startWsServer({}, echo);
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const brackets: Array<[number, number]> = [];
    for (let i = 1; i <= 2; i++) {
      const before = Date.now();
      const socket = net.connect(tap.port, '127.0.0.1');
      cleanup.add(() => socket.destroy());
      await tap.waitForCount('open', i);
      brackets.push([before, Date.now()]);
    }
    const opens = opensOf(tap.events);
    expect(opens).toHaveLength(2);
    opens.forEach((o, i) => {
      const [before, after] = brackets[i]!;
      expect(o.wall).toBeGreaterThanOrEqual(before);
      // Date.now() counts whole milliseconds: a `wall` in the same millisecond as `after` is past it by less than 1.
      expect(o.wall).toBeLessThan(after + 1);
    });
    // `wall - t` is t = 0 on the wall clock: the same for both connections (each is rounded to the microsecond).
    expect(Math.abs(opens[1]!.wall! - opens[1]!.t - (opens[0]!.wall! - opens[0]!.t))).toBeLessThanOrEqual(0.002);
  });

  it('anchors the exports of a recording that has it, whatever the file\'s modification time says', () => {
    const moved = copyRecording(main.file, 'touched.jsonl', LONG_AGO);
    const opens = opensOf(main.events);
    expect(opens.map((o) => typeof o.wall)).toEqual(['number', 'number']);

    const har = JSON.parse(readFileSync(exportFile(moved, 'har').file, 'utf8')) as Har;
    expect(har.log.entries.map((e) => e.startedDateTime)).toEqual(opens.map((o) => new Date(o.wall!).toISOString()));
    expect(har.log.comment).toBe("Exported by wsplay from the recording touched.jsonl (times on the wiretap's wall clock, as recorded).");

    const pcap = readFileSync(exportFile(moved, 'pcapng').file);
    expectWellFormedPcapng(pcap);
    // The first packet is connection 1's SYN, at its open event.
    const [first] = packetTimesUs(pcap);
    expect(Math.abs(Number(first!) / 1000 - opens[0]!.wall!)).toBeLessThan(1);
  });

  it('is estimated for an older recording without it: the last event at the file\'s modification time', () => {
    const old = copyRecording(main.file, 'old.jsonl', LONG_AGO, ({ wall: _wall, ...e }) => e);
    const { events, errors } = readRecordingFile(old);
    expect(errors).toEqual([]);
    expect(events.some((e) => 'wall' in e)).toBe(false);
    const startedAt = statSync(old).mtimeMs - lastTime(events);
    const opens = opensOf(events);

    const out = exportFile(old, 'har');
    expect(out.stdout).toEqual([`Exported 2 connections (${events.filter((e) => e.type === 'message').length} messages) to ${out.file}.`]);
    const har = JSON.parse(readFileSync(out.file, 'utf8')) as Har;
    expectHar12(har);
    expect(har.log.entries.map((e) => new Date(e.startedDateTime).getTime())).toEqual(opens.map((o) => Math.floor(startedAt + o.t)));
    expect(har.log.entries[0]!.startedDateTime).toMatch(/^2001-09-0/);
    const messages = events.filter((e): e is MessageEvent => e.type === 'message');
    const times = har.log.entries.flatMap((e) => e._webSocketMessages!.map((m) => m.time));
    times.forEach((time, i) => expect(time).toBeCloseTo((startedAt + messages[i]!.t) / 1000, 5));
    expect(har.log.comment).toBe("Exported by wsplay from the recording old.jsonl (times anchored to the file's modification time).");

    const pcap = readFileSync(exportFile(old, 'pcapng').file);
    const [first] = packetTimesUs(pcap);
    expect(Math.abs(Number(first!) / 1000 - (startedAt + opens[0]!.t))).toBeLessThan(0.002);
  });
});

// ---------------------------------------------------------------------------------------------
// The command line

/** `wsplay export ...` as a user runs it: exit code, stdout and stderr lines. */
async function wsplay(args: string[]): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  const p = runCli(['export', ...args]);
  cleanup.add(() => p.kill());
  const { code } = await p.exited;
  const lines = (s: string) => s.split('\n').filter((l) => l !== '');
  return { code, stdout: lines(p.stdout()), stderr: lines(p.stderr()) };
}

describe('wsplay export', () => {
  it.skipIf(!HAS_TSHARK)('writes a pcapng that tshark opens, and says what it wrote', async () => {
    const out = path.join(dir, 'cli.pcapng');
    const r = await wsplay([main.file, '--format', 'pcapng', '-o', out]);
    const frames = main.events.filter((e) => e.type === 'frame').length;
    expect(r).toEqual({ code: 0, stdout: [`Exported 2 connections (${frames} frames) to ${out}.`], stderr: [] });
    expect(tshark(['-r', out, '-Y', 'websocket', '-T', 'fields', '-e', 'frame.number']).trim().split('\n')).toHaveLength(frames);
  });

  it('exports a recording with a garbage line and a cut last line, warning about each by line number', async () => {
    const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '');
    const broken = path.join(dir, 'broken.jsonl');
    const body = [...lines.slice(0, 4), 'this is not an event', ...lines.slice(4)].join('\n');
    writeFileSync(broken, body.slice(0, body.length - 25));
    const out = path.join(dir, 'broken.har');
    const r = await wsplay([broken, '-o', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toEqual([
      expect.stringMatching(/^Warning: broken\.jsonl: line 5 is not JSON \(.+\); skipped\.$/),
      `Warning: broken.jsonl: line ${lines.length + 1} is cut short: the recording ends in the middle of it (wsplay stopped while writing, or the file is still being copied); skipped.`,
    ]);
    expect(r.stdout).toEqual([`Exported 2 connections (5 messages) to ${out}; 2 bad lines skipped.`]);
    const har = JSON.parse(readFileSync(out, 'utf8')) as Har;
    expectHar12(har);
    // The cut line was the second connection's `end`: its entry is there, without close codes.
    expect(har.log.entries.map((e) => [e.response.status, e._wsplay.closeCode])).toEqual([
      [101, 1000],
      [426, null],
    ]);
    expect(har.log.entries[0]!._webSocketMessages!.map((m) => m.data)).toEqual([
      'Hello webSocket',
      'I am listening',
      'I heard you say "I am listening"',
      'compté',
      expect.stringMatching(/^I heard you say "/),
    ]);
  });

  it.each([
    ['a recording that does not exist', ['missing.jsonl', '--format', 'har'], /^Cannot read the recording missing\.jsonl \(ENOENT\): check the path\./],
    ['an unknown format', [FIXTURE, '--format', 'xml', '-o', 'x.xml'], /^Unknown format "xml": use --format har or --format pcapng\.$/],
    ['an output it cannot write', [FIXTURE, '--format', 'har', '-o', '/nonexistent-folder/out.har'], /^Cannot write \/nonexistent-folder\/out\.har \(its folder does not exist\): pick a file/],
    ['no recording', ['--format', 'har'], /^wsplay export needs a recording to read: npx wsplay export RECORDING --format har\|pcapng -o FILE$/],
    ['an unknown option', [FIXTURE, '--fromat', 'har'], /^Unknown option '--fromat'\. Run: npx wsplay export/],
  ])('refuses %s in one line with exit code 2', async (_what, args, message) => {
    const r = await wsplay(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(message);
  });

  it('refuses a file with no event in it, quoting its first bad line', async () => {
    const junk = path.join(dir, 'junk.jsonl');
    writeFileSync(junk, 'PK\u0003\u0004 not a recording\nmore junk\n');
    const r = await wsplay([junk, '-o', path.join(dir, 'junk.har')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toEqual([expect.stringMatching(/^.*junk\.jsonl holds no readable events: line 1 is not JSON \(.+\) \(and 1 other bad line\)\. Is it a wsplay recording\?$/)]);
  });
});

// ---------------------------------------------------------------------------------------------
// The dashboard

describe('GET /api/export', () => {
  /** The wiretap's clock as the dashboard gets it: 2 s after the fixture's last event. */
  const tapClock = () => lastTime(readRecordingFile(FIXTURE).events) + 2000;

  async function dashboard(events: WireEvent[] = readRecordingFile(FIXTURE).events, now = tapClock) {
    const store = new CaptureStore();
    store.add(events);
    const d = await startDashboard({
      port: 0,
      store,
      now,
      token: 'test-token',
      uiDir: path.join(dir, 'no-ui'),
      connections: () => 0,
      topology: () => ({ tap: { host: '127.0.0.1', port: 1 }, target: { host: '127.0.0.1', port: 2 }, targetLabel: 'test' }),
    });
    cleanup.add(() => d.close());
    const get = (query: string, token: string | null = 'test-token') =>
      fetch(`http://127.0.0.1:${d.port}/api/export${query}`, { headers: token ? { 'X-Wsplay-Token': token } : {} });
    return { store, get };
  }

  it("downloads the store's events as HAR, on the wiretap's clock", async () => {
    const { get } = await dashboard();
    const before = Date.now();
    const res = await get('?format=har');
    const after = Date.now();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="wsplay-[\dT-]+\.har"$/);
    const har = (await res.json()) as Har;
    expectHar12(har);
    expect(har.log.entries.map((e) => [e._resourceType, e.response.status])).toEqual([
      ['websocket', 101],
      ['other', 426],
    ]);
    expect(har.log.entries[0]!._webSocketMessages!.map((m) => m.type)).toEqual(['receive', 'send', 'receive', 'send', 'receive']);
    // t = 0 was tapClock() ms before the request was answered.
    const open = readRecordingFile(FIXTURE).events[0]!;
    const started = new Date(har.log.entries[0]!.startedDateTime).getTime();
    expect(started).toBeGreaterThanOrEqual(Math.floor(before - tapClock() + open.t) - 1);
    expect(started).toBeLessThanOrEqual(Math.ceil(after - tapClock() + open.t) + 1);
  });

  it("anchors a capture whose open events have the wall clock to it, exactly, not to the wiretap's clock", async () => {
    // A clock that puts t = 0 a day ago: not main's wiretap's.
    const { get } = await dashboard(main.events, () => 86_400_000);
    const har = (await (await get('?format=har')).json()) as Har;
    const opens = opensOf(main.events);
    expect(har.log.entries.map((e) => e.startedDateTime)).toEqual(opens.map((o) => new Date(o.wall!).toISOString()));
    const [first] = packetTimesUs(Buffer.from(await (await get('?format=pcapng')).arrayBuffer()));
    expect(Math.abs(Number(first!) / 1000 - opens[0]!.wall!)).toBeLessThan(1);
  });

  it('downloads them as pcapng', async () => {
    const { get } = await dashboard();
    const res = await get('?format=pcapng');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/\.pcapng"$/);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.readUInt32LE(0)).toBe(0x0a0d0d0a);
    if (HAS_TSHARK) {
      const file = path.join(dir, 'dashboard.pcapng');
      writeFileSync(file, body);
      const frames = readRecordingFile(FIXTURE).events.filter((e) => e.type === 'frame').length;
      expect(tshark(['-r', file, '-Y', 'websocket', '-T', 'fields', '-e', 'websocket.opcode']).trim().split('\n')).toHaveLength(frames);
    }
  });

  it("shows the server on the port the client connected to (the wiretap's) unless asked for the server's view", async () => {
    const { get } = await dashboard();
    /** Each packet's [source port, destination port]: Ethernet (14 bytes) and IPv4 (20) come first. */
    const ports = (bytes: Buffer) => {
      const out: Array<[number, number]> = [];
      for (let p = 0; p < bytes.length; p += bytes.readUInt32LE(p + 4)) {
        if (bytes.readUInt32LE(p) === 6) out.push([bytes.readUInt16BE(p + 28 + 34), bytes.readUInt16BE(p + 28 + 36)]);
      }
      return out;
    };
    const targets = new Set(opensOf(readRecordingFile(FIXTURE).events).map((o) => Number(o.target.split(':').pop())));
    const client = ports(Buffer.from(await (await get('?format=pcapng')).arrayBuffer()));
    const server = ports(Buffer.from(await (await get('?format=pcapng&view=server')).arrayBuffer()));
    expect(client.length).toBeGreaterThan(0);
    expect(client.length).toBe(server.length);
    // The fixture's dashboard says clients connect to the wiretap on port 1 (topology above).
    expect(new Set(client.map(([from, to]) => (targets.has(from) || from === 1 ? from : to)))).toEqual(new Set([1]));
    expect(new Set(server.map(([from, to]) => (targets.has(from) ? from : to)))).toEqual(targets);
    expect([...targets]).not.toContain(1);
    expect((await get('?format=pcapng&view=wire')).status).toBe(400);
  });

  it('names its downloads as the recording is named: wsplay-YYYYMMDD-HHMMSS', async () => {
    const { get } = await dashboard();
    for (const format of ['pcapng', 'har']) {
      expect((await get(`?format=${format}`)).headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="wsplay-\\d{8}-\\d{6}\\.${format}"$`));
    }
  });

  it('refuses a request without the session token, and an unknown format', async () => {
    const { get } = await dashboard();
    expect((await get('?format=har', null)).status).toBe(403);
    expect((await get('?format=har', 'wrong')).status).toBe(403);
    const bad = await get('?format=xml');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: '400: format must be har or pcapng (got "xml")' });
  });
});
