import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StreamMessage } from '../../server/app/stream-protocol.ts';
import { runCli, until, type CliProcess } from '../helpers/net.ts';

const dir = mkdtempSync(join(tmpdir(), 'wsplay-start-stream-'));
const procs: CliProcess[] = [];
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Open the dashboard's event stream as the page does, and collect what it sends. */
async function openStream(dashboardUrl: string): Promise<{ messages: StreamMessage[]; ws: WebSocket }> {
  const url = new URL(dashboardUrl);
  const ws = new WebSocket(`ws://${url.host}/api/events?token=${url.searchParams.get('token')}`, { origin: url.origin });
  const messages: StreamMessage[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as StreamMessage));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { messages, ws };
}

describe('wsplay start and the dashboard stream', () => {
  it("gives a page that (re)loads the server's state and its recent output after the history", async () => {
    const p = runCli(['start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', join(dir, 'ws')], { WSPLAY_SKIP_UI_BUILD: '1' });
    procs.push(p);
    const [, dashboardUrl] = await p.line(/^Dashboard: (\S+)$/, 20_000);
    const { messages, ws } = await openStream(dashboardUrl!);
    const runner = await until(() => messages.find((m) => m.kind === 'runner'), 5000, () => `a runner message; got ${JSON.stringify(messages)}`);
    expect(runner).toMatchObject({ status: 'running', file: 'server.js' });
    const consoleMsg = await until(() => messages.find((m) => m.kind === 'console'), 5000, () => 'a console message');
    expect(consoleMsg.kind === 'console' && consoleMsg.lines.map((l) => l.text).join('\n')).toMatch(/moved to internal port \d+ behind the wiretap/);
    // The order a page relies on: hello first, then history, then the extras.
    expect(messages[0]!.kind).toBe('hello');
    ws.close();
  });
});
