/**
 * The conformance ladder against peers whose answers are known: `ws` (which publishes a clean
 * Autobahn report), `ws` with its UTF-8 check or its automatic pong turned off, and a raw-socket
 * server that echoes any close code. Each run is a real TCP connection per case, on port 0.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer, type ServerOptions } from 'ws';
import { computeAccept } from '../../server/protocol/handshake.ts';
import { CASES } from '../../server/conformance/cases.ts';
import { runServerCases, serveClientCases } from '../../server/conformance/runner.ts';
import { selectCases } from '../../server/conformance/select.ts';
import type { CaseResult, Report, Verdict } from '../../server/conformance/types.ts';
import { Cleanup, HOST, runCli } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const dir = mkdtempSync(path.join(tmpdir(), 'wsplay-conformance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `ws`'s own server as an echo server (what Autobahn's fuzzing client expects), port 0. */
async function wsEcho(options: ServerOptions = {}): Promise<string> {
  const wss = new WebSocketServer({ host: HOST, port: 0, ...options });
  wss.on('connection', (ws) => {
    ws.on('error', () => undefined); // ws reports each bad frame it refuses; refusing is the point
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  await new Promise((r) => wss.once('listening', r));
  cleanup.add(() => new Promise<void>((done) => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => done());
  }));
  return `ws://${HOST}:${(wss.address() as net.AddressInfo).port}`;
}

const byVerdict = (r: Report, v: Verdict): string[] => r.cases.filter((c) => c.verdict === v).map((c) => c.id);
const ids = (spec: string): string[] => selectCases(spec).map((c) => c.id);
/** Group 6 cases whose payload is not valid UTF-8: the peer must fail them with 1007. */
const invalidUtf8 = CASES.filter((c) => c.group === 6 && /1007/.test(c.expectation)).map((c) => c.id);

describe('the ladder against ws', () => {
  it('ws passes groups 1-7, NON-STRICT only where it fails invalid UTF-8 at the message end (6.4.x), INFORMATIONAL where the RFC leaves it open', async () => {
    const url = await wsEcho();
    const seen: string[] = [];
    const report = await runServerCases({ url, cases: '1-7', onResult: (r) => seen.push(r.id) });
    expect(report.cases.map((c) => c.id)).toEqual(ids('1-7'));
    expect(seen).toEqual(ids('1-7'));
    expect(byVerdict(report, 'FAIL')).toEqual([]);
    expect(byVerdict(report, 'NON-STRICT')).toEqual(['6.4.1', '6.4.2', '6.4.3', '6.4.4']);
    expect(byVerdict(report, 'INFORMATIONAL')).toEqual(['7.1.6', '7.13.1', '7.13.2']);
    const ff = report.cases.find((c) => c.id === '6.4.1')!;
    expect(ff.nonStrictWhy).toMatch(/only once the whole message had arrived/);
    expect(ff.behaviorClose).toMatchObject({ closedBy: 'server', serverCode: 1007 });
    // A case the server must fail: who closed, with which code, the offending frame.
    const rsv = report.cases.find((c) => c.id === '3.1')!;
    expect(rsv.behaviorClose).toMatchObject({ verdict: 'OK', closedBy: 'server', serverCode: 1002 });
    expect(rsv.offending).toEqual({ dir: 'client', frameSeq: 0, byteOffset: 0 });
    expect(rsv.localPort).toBeGreaterThan(0);
    // In a payload, the offset counts the header too: 2 bytes, then the 4-byte masking key.
    expect(report.cases.find((c) => c.id === '6.3.1')!.offending).toEqual({ dir: 'client', frameSeq: 0, byteOffset: 6 + 11 });
    const echo = report.cases.find((c) => c.id === '1.1.6')!;
    expect(echo.behaviorClose).toMatchObject({ verdict: 'OK', closedBy: 'client', clean: true, clientCode: 1000, serverCode: 1000, droppedBy: 'server' });
  }, 240_000);

  it('ws with skipUTF8Validation fails every invalid-UTF-8 case of group 6 and nothing outside groups 6 and 7', async () => {
    const url = await wsEcho({ skipUTF8Validation: true });
    const report = await runServerCases({ url, cases: '1-7' });
    const failedIds = byVerdict(report, 'FAIL');
    expect(failedIds.filter((id) => !/^[67]\./.test(id))).toEqual([]);
    expect(failedIds.filter((id) => id.startsWith('6.'))).toEqual(invalidUtf8);
    // The close reason that is not UTF-8 (7.5.1) goes unnoticed too.
    expect(failedIds.filter((id) => id.startsWith('7.'))).toEqual(['7.5.1']);
    const echoed = report.cases.find((c) => c.id === '6.3.1')!;
    expect(echoed.observed).toMatch(/^Received text message ce ba e1 bd/);
  }, 240_000);

  it('ws with autoPong off fails every case of group 2 that expects a pong, and passes the others', async () => {
    const url = await wsEcho({ autoPong: false });
    // The answer wait is shortened: the server never pongs, so any wait ends the same way.
    const report = await runServerCases({ url, cases: '2', waits: { answerMs: 300 } });
    expect(byVerdict(report, 'FAIL')).toEqual(['2.1', '2.2', '2.3', '2.4', '2.6', '2.9', '2.10', '2.11']);
    expect(byVerdict(report, 'PASS')).toEqual(['2.5', '2.7', '2.8']);
    expect(report.cases.find((c) => c.id === '2.2')!.observed).toMatch(/^Received nothing; expected pong "Hello, world!"/);
  }, 120_000);
});

describe('limits and permessage-deflate', () => {
  const DEFLATE = '12.1.1,12.2.10,12.3.15,12.5.18,13.2.1,13.3.10,13.5.14,13.7.1';

  it('ws echoes big, fragmented and many messages (a slice of group 9)', async () => {
    const url = await wsEcho();
    const report = await runServerCases({ url, cases: '9.1.3,9.3.1,9.6.1,9.7.6' });
    expect(report.cases.map((c) => [c.id, c.verdict])).toEqual([['9.1.3', 'PASS'], ['9.3.1', 'PASS'], ['9.6.1', 'PASS'], ['9.7.6', 'PASS']]);
    expect(report.cases[3]!.observed).toMatch(/^250 text messages of 4 KiB echoed, [\d.]+ ms per round trip/);
  }, 120_000);

  it('ws with perMessageDeflate passes 12.x and 13.x, each echo inflated under the agreed parameters', async () => {
    const url = await wsEcho({ perMessageDeflate: true });
    const report = await runServerCases({ url, cases: DEFLATE });
    expect(byVerdict(report, 'PASS')).toEqual(DEFLATE.split(','));
    expect(report.cases.find((c) => c.id === '13.5.14')!.observed).toMatch(/echoed intact \(permessage-deflate;.* server_no_context_takeover; server_max_window_bits=9\)/);
  }, 120_000);

  it('ws without permessage-deflate leaves 12.x and 13.x UNIMPLEMENTED, not failed', async () => {
    const url = await wsEcho();
    const report = await runServerCases({ url, cases: DEFLATE });
    expect(byVerdict(report, 'UNIMPLEMENTED')).toEqual(DEFLATE.split(','));
  }, 120_000);

  it('ws\'s client, offering permessage-deflate, passes them in --client mode', async () => {
    const results: CaseResult[] = [];
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (allDone = r));
    const srv = await serveClientCases({
      port: 0,
      cases: DEFLATE,
      onResult: (r) => {
        results.push(r);
        if (results.length === srv.ids.length) allDone();
      },
    });
    cleanup.add(() => srv.close());
    for (let i = 1; i <= srv.ids.length; i++) {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(`ws://${HOST}:${srv.port}/runCase?case=${i}`);
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
        ws.on('close', () => resolve());
      });
    }
    await done;
    expect(byVerdict(srv.report(), 'PASS')).toEqual(DEFLATE.split(','));
  }, 120_000);
});

/**
 * A server on raw sockets that echoes messages, answers pings, and answers a close frame with
 * the very same body: it never checks the close code.
 */
async function closeEchoServer(): Promise<string> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let message: Buffer[] = [];
    let opcode = 1;
    const send = (op: number, payload: Buffer): void => {
      const head = payload.length < 126 ? Buffer.from([0x80 | op, payload.length]) : Buffer.from([0x80 | op, 126, payload.length >> 8, payload.length & 255]);
      socket.write(Buffer.concat([head, payload]));
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const key = /sec-websocket-key:\s*(\S+)/i.exec(buf.subarray(0, end).toString())![1]!;
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`);
        buf = buf.subarray(end + 4);
        upgraded = true;
      }
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + 4 + len) return;
        const key = buf.subarray(off, off + 4);
        const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len).map((x, i) => x ^ key[i & 3]!));
        const fin = (buf[0]! & 0x80) !== 0;
        const op = buf[0]! & 0x0f;
        buf = buf.subarray(off + 4 + len);
        if (op === 8) {
          send(8, payload);
          socket.end();
          return;
        }
        if (op === 9) send(10, payload);
        if (op === 1 || op === 2 || op === 0) {
          if (op !== 0) opcode = op;
          message.push(payload);
          if (fin) {
            send(opcode, Buffer.concat(message));
            message = [];
          }
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  cleanup.add(() => new Promise<void>((done) => server.close(() => done())));
  return `ws://${HOST}:${(server.address() as net.AddressInfo).port}`;
}

describe('the ladder against a server that echoes any close code', () => {
  it('fails every invalid-code case (7.9.x) and passes every valid-code case (7.7.x)', async () => {
    const url = await closeEchoServer();
    const report = await runServerCases({ url, cases: '7.7,7.9' });
    expect(byVerdict(report, 'PASS')).toEqual(ids('7.7'));
    expect(byVerdict(report, 'FAIL')).toEqual(ids('7.9'));
    const zero = report.cases.find((c) => c.id === '7.9.1')!;
    expect(zero.behaviorClose).toMatchObject({ verdict: 'WRONG CODE', clientCode: 0, serverCode: 0 });
    expect(zero.observed).toMatch(/^The server sent close 0; the case wants 1002/);
  }, 120_000);
});

describe('the ladder serving a client (--client)', () => {
  it('ws\'s WebSocket client, walking the cases by number, gets the same verdicts as ws\'s server', async () => {
    const results: CaseResult[] = [];
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (allDone = r));
    const srv = await serveClientCases({
      port: 0,
      cases: '1-7',
      onResult: (r) => {
        results.push(r);
        if (results.length === srv.ids.length) allDone();
      },
    });
    cleanup.add(() => srv.close());
    const count = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://${HOST}:${srv.port}/getCaseCount`);
      ws.on('message', (d) => resolve(Number(d.toString())));
    });
    expect(count).toBe(ids('1-7').length);
    for (let i = 1; i <= count; i++) {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(`ws://${HOST}:${srv.port}/runCase?case=${i}`);
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
        ws.on('error', () => undefined);
        ws.on('close', () => resolve());
      });
    }
    await done;
    const report = srv.report();
    expect(report.cases.map((c) => c.id)).toEqual(ids('1-7'));
    expect(byVerdict(report, 'FAIL')).toEqual([]);
    expect(byVerdict(report, 'NON-STRICT')).toEqual(['6.4.1', '6.4.2', '6.4.3', '6.4.4']);
    expect(byVerdict(report, 'INFORMATIONAL')).toEqual(['7.1.6', '7.13.1', '7.13.2']);
    // Roles are the RFC's: here the runner is the server and the client fails the connection.
    expect(report.cases.find((c) => c.id === '3.1')!.behaviorClose).toMatchObject({ closedBy: 'client', clientCode: 1002 });
  }, 240_000);
});

describe('wsplay conformance', () => {
  it('runs the cases through a wiretap: the summary table, the JSON report, the recording with each case\'s connection, exit code 0', async () => {
    const url = await wsEcho();
    const json = path.join(dir, 'ok.json');
    const rec = path.join(dir, 'ok.jsonl');
    const p = runCli(['conformance', '--target', url, '--cases', '1.1,3.1', '--json', json, '--record', rec]);
    cleanup.add(() => p.kill());
    expect((await p.exited).code).toBe(0);
    expect(p.stdout()).toMatch(/^1 Framing\s+8\s+8\s+0\s+0\s+0\s+0/m);
    expect(p.stdout()).toMatch(/^3 Reserved bits\s+1\s+1\s/m);
    expect(p.stdout()).toContain('No case failed.');
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(report.cases.map((c) => [c.id, c.verdict])).toEqual([...ids('1.1'), '3.1'].map((id) => [id, 'PASS']));
    for (const key of ['id', 'group', 'description', 'expectation', 'verdict', 'observed', 'behaviorClose', 'durationMs']) expect(report.cases[0]).toHaveProperty(key);
    // Each case's connection is in the recording: its open event's client port is the case's localPort.
    const opens = readFileSync(rec, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'open');
    const case31 = report.cases.find((c) => c.id === '3.1')!;
    const conn = opens.find((e) => e.client.endsWith(`:${case31.localPort}`));
    expect(conn).toBeDefined();
  }, 120_000);

  it('exits 1 and names the failed cases when a case fails', async () => {
    const url = await closeEchoServer();
    const json = path.join(dir, 'bad.json');
    const p = runCli(['conformance', '--target', url, '--cases', '7.9.1-7.9.3', '--json', json]);
    cleanup.add(() => p.kill());
    expect((await p.exited).code).toBe(1);
    expect(p.stdout()).toMatch(/^7\.9\.1\s+FAIL .*The server sent close 0; the case wants 1002/m);
    expect(p.stdout()).toContain('3 cases failed: 7.9.1, 7.9.2, 7.9.3');
    expect((JSON.parse(readFileSync(json, 'utf8')) as Report).cases.map((c) => c.verdict)).toEqual(['FAIL', 'FAIL', 'FAIL']);
  }, 120_000);

  it('--client serves the cases through a wiretap to a client that just reconnects, then ends with the table', async () => {
    const p = runCli(['conformance', '--client', '--port', '0', '--cases', '1.1.1,2.1,7.9.1']);
    cleanup.add(() => p.kill());
    // A generous wait: the command's start-up (tsx, the bundle) is slow on a loaded machine.
    const [, url] = await p.line(/^Serving 3 cases on (ws:\/\/127\.0\.0\.1:\d+):/, 90_000);
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(`${url}/next`);
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
        ws.on('error', () => undefined);
        ws.on('close', () => resolve());
      });
    }
    expect((await p.exited).code).toBe(0);
    expect(p.stdout()).toMatch(/^all\s+3\s+3\s+0\s+0\s+0\s+0/m);
  }, 120_000);

  it('refuses a case list it cannot read, saying how to write one', async () => {
    const p = runCli(['conformance', '--target', 'ws://127.0.0.1:9', '--cases', '8']);
    cleanup.add(() => p.kill());
    expect((await p.exited).code).toBe(2);
    expect(p.stderr()).toContain('--cases: No case matches "8"');
  });
});
