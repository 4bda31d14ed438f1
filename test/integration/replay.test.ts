/**
 * Replaying a recording: a real session of the tutorial's echo server, recorded by a Wiretap
 * with a Recorder (as `--record` does), replayed through a wiretap against the same server, a
 * server that answers one message differently, a server that compresses differently and one
 * that refuses the upgrade; and the dashboard's routes (GET /api/recording, POST /api/replay)
 * with a recording that has a corrupt line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startDashboard } from '../../server/app/dashboard.ts';
import type { ReplayResponse } from '../../server/app/recording-routes.ts';
import type { FrameEvent, WireEvent } from '../../server/capture/events.ts';
import { parseRecording, readRecordingFile } from '../../server/capture/recording-reader.ts';
import { Recorder } from '../../server/capture/recorder.ts';
import { planReplay, runReplay, type ReplayReport, type StepReport } from '../../server/capture/replay.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { parseRecordingText } from '../../ui/src/recording.ts';
import { Cleanup, connect, HOST, startEchoServer, startTap, startWsServer, type TapHandle } from '../helpers/net.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-replay-'));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The tutorial's answer to a message. */
const heard = (msg: string) => `I heard you say "${msg}"`;

/** A wiretap in front of `port`, closed after the test. */
async function tapTo(port: number, onEvents?: (e: WireEvent[]) => void): Promise<TapHandle> {
  const tap = await startTap(port, onEvents ? { onEvents } : {});
  cleanup.add(() => tap.close());
  return tap;
}

/**
 * Record a session with the tutorial's echo server: connection 1 waits for the greeting, sends
 * three messages (waiting for each answer), pings, and closes with 1000; connection 2 sends a
 * message in two fragments and a binary one, then closes.
 */
async function recordEchoSession(name: string): Promise<{ file: string; events: WireEvent[] }> {
  const file = path.join(dir, name);
  const recorder = new Recorder(file);
  const server = await startEchoServer();
  cleanup.add(() => server.close());
  const tap = await tapTo(server.port, (batch) => recorder.write(batch));
  try {
    const a = await connect(tap.url);
    expect(await a.next()).toBe('Hello webSocket');
    for (const msg of ['I am listening', 'second', 'third']) {
      a.ws.send(msg);
      expect(await a.next()).toBe(heard(msg));
    }
    const pong = new Promise<string>((resolve) => a.ws.once('pong', (data: Buffer) => resolve(data.toString())));
    a.ws.ping('are you there?');
    expect(await pong).toBe('are you there?');
    a.ws.close(1000, 'bye');
    expect((await a.closed).code).toBe(1000);

    const b = await connect(tap.url);
    expect(await b.next()).toBe('Hello webSocket');
    b.ws.send('part one, ', { fin: false });
    b.ws.send('part two', { fin: true });
    expect(await b.next()).toBe(heard('part one, part two'));
    b.ws.send(Buffer.from('ABC'), { binary: true });
    expect(await b.next()).toBe(heard('ABC'));
    b.ws.close(1000);
    await b.closed;
    await tap.waitForCount('end', 2);
  } finally {
    await tap.close();
    recorder.close();
  }
  const { events, errors } = readRecordingFile(file);
  expect(errors).toEqual([]);
  return { file, events };
}

const statuses = (report: ReplayReport) => report.connections.map((c) => c.steps.map((s) => `${s.index}:${s.status}`));
const stepSending = (report: ReplayReport, conn: number, text: string): StepReport => {
  const step = report.connections.find((c) => c.conn === conn)?.steps.find((s) => s.sent.summary.includes(text));
  if (!step) throw new Error(`No step of connection ${conn} sends ${text}: ${JSON.stringify(statuses(report))}`);
  return step;
};

describe('replaying a recording against the current server', () => {
  it('gets the recorded answer at every step from the same server, and the wiretap shows the replay', async () => {
    const { events } = await recordEchoSession('same.jsonl');
    const server = await startEchoServer();
    cleanup.add(() => server.close());
    const tap = await tapTo(server.port);

    const report = await runReplay(planReplay(events), { host: HOST, port: tap.port });

    expect(report.same).toBe(true);
    // Connection 1: handshake + 3 messages + ping + close; connection 2: handshake + the fragmented message + binary + close.
    expect(statuses(report)).toEqual([
      ['0:same', '1:same', '2:same', '3:same', '4:same', '5:same'],
      ['0:same', '1:same', '2:same', '3:same'],
    ]);
    expect(report.totals).toEqual({ connections: 2, steps: 10, same: 10, different: 0, notSent: 0 });
    const first = report.connections[0]!;
    expect(first.steps[0]!.got.map((a) => a.summary)).toEqual(['HTTP 101 Switching Protocols', "TEXT 'Hello webSocket' [15 bytes]"]);
    expect(stepSending(report, 1, 'second').got).toMatchObject([{ kind: 'text', text: heard('second') }]);
    expect(stepSending(report, 1, 'PING').got).toMatchObject([{ kind: 'pong', base64: Buffer.from('are you there?').toString('base64') }]);
    expect(stepSending(report, 1, 'CLOSE').got).toMatchObject([{ kind: 'close', code: 1000 }]);
    expect(stepSending(report, 2, 'part one, part two').sent.frames).toBe(2);

    // Through the wiretap: the replayed client frames are the recorded ones, byte for byte
    // (header with the recorded masking key, same payload).
    const replayOpen = await tap.waitFor('open', (e) => e.client === first.local);
    const recordedFrames = events.filter((e): e is FrameEvent => e.type === 'frame' && e.conn === 1 && e.dir === 'client');
    const replayed = await tap.waitForCount('frame', recordedFrames.length, (e) => e.conn === replayOpen.conn && e.dir === 'client');
    expect(replayed.map((f) => [f.header, f.payload])).toEqual(recordedFrames.map((f) => [f.header, f.payload]));
  });

  it('marks exactly the steps a changed server answers differently', async () => {
    const { events } = await recordEchoSession('changed.jsonl');
    // The same server, except that it shouts back at "second" and ignores "third".
    const server = await startWsServer({}, (ws) => {
      ws.on('message', (data: Buffer) => {
        const msg = data.toString('utf8');
        if (msg === 'third') return;
        ws.send(msg === 'second' ? heard('SECOND') : heard(msg));
      });
      ws.send('Hello webSocket');
    });
    cleanup.add(() => server.close());
    const tap = await tapTo(server.port);

    const report = await runReplay(planReplay(events), { host: HOST, port: tap.port, replyTimeoutMs: 1000 });

    expect(report.same).toBe(false);
    expect(statuses(report)).toEqual([
      ['0:same', '1:same', '2:different', '3:different', '4:same', '5:same'],
      ['0:same', '1:same', '2:same', '3:same'],
    ]);
    expect(report.connections.map((c) => c.status)).toEqual(['different', 'same']);
    const second = stepSending(report, 1, "'second'");
    expect(second.expected.map((a) => a.summary)).toEqual([`TEXT '${heard('second')}' [24 bytes]`]);
    expect(second.got.map((a) => a.summary)).toEqual([`TEXT '${heard('SECOND')}' [24 bytes]`]);
    expect(second.differences).toEqual([`Answer 1: the recording has TEXT '${heard('second')}' [24 bytes], the server sent TEXT '${heard('SECOND')}' [24 bytes].`]);
    expect(second.differentAnswers).toEqual([0]);
    const third = stepSending(report, 1, "'third'");
    expect(third.got).toEqual([]);
    expect(third.differences).toEqual([
      'The recording has 1 answer here; the server gave 0 answers within 1 s.',
      `Answer 1: the recording has TEXT '${heard('third')}' [23 bytes], the server sent nothing.`,
    ]);
  });

  it('reports the handshake as different and sends nothing more when the server refuses the upgrade', async () => {
    const { events } = await recordEchoSession('refused.jsonl');
    const server = await startWsServer({ verifyClient: () => false }, () => {});
    cleanup.add(() => server.close());
    const tap = await tapTo(server.port);

    const report = await runReplay(planReplay(events), { host: HOST, port: tap.port });

    const [first] = report.connections;
    expect(first!.steps.map((s) => s.status)).toEqual(['different', 'not-sent', 'not-sent', 'not-sent', 'not-sent', 'not-sent']);
    expect(first!.steps[0]!.differences[0]).toBe('The recording has 2 answers here; the server gave 1 answer (then the server closed the connection).');
    expect(first!.steps[0]!.got.map((a) => a.summary)).toEqual(['HTTP 401 Unauthorized']);
    expect(first!.steps[1]!.note).toBe('Not sent: the server answered 401 Unauthorized, not 101, so there is no WebSocket to send it on.');
  });

  it('replays compressed messages byte for byte, and uncompressed to a server that no longer compresses', async () => {
    const file = path.join(dir, 'deflate.jsonl');
    const recorder = new Recorder(file);
    const echo = (ws: WebSocket) => ws.on('message', (data: Buffer) => ws.send(heard(data.toString())));
    const deflating = await startWsServer({ perMessageDeflate: { threshold: 0 } }, echo);
    cleanup.add(() => deflating.close());
    const recTap = await tapTo(deflating.port, (batch) => recorder.write(batch));
    // Context takeover: the later messages are compressed against the earlier ones.
    const c = await connect(recTap.url, { perMessageDeflate: { threshold: 0 } });
    for (const msg of ['hello hello hello', 'hello hello hello again', 'hello once more']) {
      c.ws.send(msg);
      expect(await c.next()).toBe(heard(msg));
    }
    c.ws.close(1000);
    await c.closed;
    await recTap.waitFor('end');
    await recTap.close();
    recorder.close();
    const { events } = readRecordingFile(file);
    expect(events.filter((e) => e.type === 'frame' && e.dir === 'client' && e.rsv1)).toHaveLength(3);
    const plans = planReplay(events);

    const sameTap = await tapTo(deflating.port);
    const same = await runReplay(plans, { host: HOST, port: sameTap.port });
    expect(statuses(same)).toEqual([['0:same', '1:same', '2:same', '3:same', '4:same']]);
    expect(same.connections[0]!.steps.every((s) => s.note === undefined)).toBe(true);

    const plain = await startWsServer({ perMessageDeflate: false }, echo);
    cleanup.add(() => plain.close());
    const plainTap = await tapTo(plain.port);
    const report = await runReplay(plans, { host: HOST, port: plainTap.port });
    expect(statuses(report)).toEqual([['0:same', '1:same', '2:same', '3:same', '4:same']]);
    const steps = report.connections[0]!.steps;
    expect(steps[0]!.note).toBe('The server now negotiates no compression; the recording has permessage-deflate.');
    expect(steps.slice(1, 4).map((s) => s.note)).toEqual(Array(3).fill('Sent uncompressed: the server no longer agrees to the recorded compression.'));
    // What the plain server got: uncompressed frames, with the recorded masking keys.
    const sentFrames = plainTap.events.filter((e): e is FrameEvent => e.type === 'frame' && e.dir === 'client' && e.opcode === 1);
    expect(sentFrames.map((f) => [f.rsv1, Buffer.from(f.payload, 'base64').toString()])).toEqual([
      [false, 'hello hello hello'],
      [false, 'hello hello hello again'],
      [false, 'hello once more'],
    ]);
    const recordedKeys = events.filter((e): e is FrameEvent => e.type === 'frame' && e.dir === 'client' && e.opcode === 1).map((f) => f.maskKey);
    expect(sentFrames.map((f) => f.maskKey)).toEqual(recordedKeys);
  });
});

describe("the dashboard's recording routes", () => {
  async function dashboardFor(tap: TapHandle, store: CaptureStore) {
    const dashboard = await startDashboard({
      port: 0,
      store,
      token: 'test-token',
      uiDir: path.join(dir, 'no-ui'),
      connections: () => tap.tap.connections,
      topology: () => ({ tap: { host: tap.tap.host, port: tap.port }, target: tap.tap.target, targetLabel: 'the echo server' }),
    });
    cleanup.add(() => dashboard.close());
    return { base: `http://127.0.0.1:${dashboard.port}`, headers: { 'X-Wsplay-Token': 'test-token' } };
  }

  it('saves the store as a recording that reads back to the same events', async () => {
    const server = await startEchoServer();
    cleanup.add(() => server.close());
    const store = new CaptureStore();
    const tap = await tapTo(server.port, (batch) => store.add(batch));
    const { base, headers } = await dashboardFor(tap, store);
    const c = await connect(tap.url);
    await c.next();
    c.ws.send('keep this');
    await c.next();
    c.ws.close();
    await tap.waitFor('end');

    const res = await fetch(`${base}/api/recording`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="wsplay-\d{8}-\d{6}\.jsonl"$/);
    const text = await res.text();
    expect(parseRecording(text)).toEqual({ events: store.all(), errors: [], badLines: 0, lines: store.size });
    expect((await fetch(`${base}/api/recording`)).status).toBe(403);
  });

  it('replays a recording with a corrupt line and one cut short, reporting both lines and replaying the rest', async () => {
    const { file, events } = await recordEchoSession('corrupt.jsonl');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.at(-1)).toContain('"type":"end"');
    // Line 3 is garbage; the last line (connection 2's `end`) stops in the middle.
    const text = [...lines.slice(0, 2), '{"type":"frame",oops', ...lines.slice(2, -1), lines.at(-1)!.slice(0, 40)].join('\n');
    const server = await startEchoServer();
    cleanup.add(() => server.close());
    const store = new CaptureStore();
    const tap = await tapTo(server.port, (batch) => store.add(batch));
    const { base, headers } = await dashboardFor(tap, store);

    const res = await fetch(`${base}/api/replay`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/x-ndjson' }, body: text });
    const report = (await res.json()) as ReplayResponse;

    expect(res.status).toBe(200);
    expect(report.errors.map((e) => e.line)).toEqual([3, lines.length + 1]);
    expect(report.errors[0]!.message).toMatch(/^line 3 is not JSON/);
    expect(report.errors[1]!.message).toMatch(new RegExp(`^line ${lines.length + 1} is cut short`));
    expect(report.events).toBe(events.length - 1);
    expect(report.same).toBe(true);
    expect(report.totals).toMatchObject({ connections: 2, steps: 10, same: 10 });
    // Each replayed connection went through the wiretap: the store has it, under the id the report gives.
    for (const c of report.connections) {
      expect(c.replayedAs).toEqual(expect.any(Number));
      expect(store.all().some((e) => e.type === 'frame' && e.conn === c.replayedAs && e.dir === 'client')).toBe(true);
    }
  });

  it('refuses a replay without the token, and a body that holds no connection', async () => {
    const server = await startEchoServer();
    cleanup.add(() => server.close());
    const store = new CaptureStore();
    const tap = await tapTo(server.port, (batch) => store.add(batch));
    const { base, headers } = await dashboardFor(tap, store);
    const post = (body: string, h: Record<string, string>) => fetch(`${base}/api/replay`, { method: 'POST', headers: { ...h, 'Content-Type': 'text/plain' }, body });

    expect((await post('{}', {})).status).toBe(403);
    const empty = await post('not a recording\n', headers);
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: string }).error).toBe(
      '400: the recording has no connection to replay: 0 events read from 1 lines (1 unreadable: line 1 is not JSON (Unexpected token \'o\', "not a recording" is not valid JSON)).',
    );
  });
});

describe('the dashboard reads a recording as the server does', () => {
  it('keeps the same events and reports the same lines for good, corrupt, cut and odd recordings', async () => {
    const good = readFileSync(path.join(import.meta.dirname, '../fixtures/echo-session.jsonl'), 'utf8');
    const lines = good.trimEnd().split('\n');
    const samples = [
      good,
      '',
      '\n\n',
      `\ufeff${lines[0]}\r\n${lines[1]}\r\n`,
      [lines[0], 'garbage', '42', 'null', '{"type":"nope","conn":1,"t":0}', '{"type":"open","conn":-1,"t":0,"client":"a","target":"b"}', lines[2]].join('\n'),
      [lines[0], JSON.stringify({ ...JSON.parse(lines[2]!), header: 'zz' }), JSON.stringify({ ...JSON.parse(lines[2]!), headerLength: 9 })].join('\n'),
      `${lines[0]}\n${lines[1]!.slice(0, 30)}`,
      `${lines[0]}\n${lines[1]}`,
      `${lines[0]}\n   \n${lines[1]}\n`,
    ];
    for (const text of samples) expect(parseRecordingText(text)).toEqual(parseRecording(text));
  });
});
