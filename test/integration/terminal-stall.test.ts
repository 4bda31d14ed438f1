// A terminal or pipe that stops reading wsplay's output must not stop the wiretap: every echo
// comes back and the dashboard keeps receiving; when it reads again, one line says what was lost,
// and the lines it was shown are whole and in order.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StreamMessage } from '../../server/app/stream-protocol.ts';
import { alive, ROOT, until } from '../helpers/net.ts';

const dir = mkdtempSync(join(tmpdir(), 'wsplay-terminal-stall-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Messages sent; each makes a server.js line of ~230 bytes: several times what a pipe, a terminal and wsplay's queue hold. */
const MESSAGES = 12_000;
const PAD = 'x'.repeat(200);
/** Round trips in flight at once: a client sending as fast as echoes come back, a few thousand a second. */
const IN_FLIGHT = 64;

interface Wsplay {
  child: ChildProcess;
  /** What was read of its terminal (or pipe) so far, \r\n as \n. */
  text(): string;
}

/**
 * `wsplay start` writing to a pipe the test reads, or to a terminal (a pty, through script(1))
 * whose output the test reads: pausing the pipe stops the reader, and through script the pty's
 * reader too (script blocks writing to the pipe and stops reading the pty).
 */
function startWsplay(terminal: boolean, workspace: string): Wsplay {
  const args = ['server/bin/wsplay.js', 'start', '--port', '0', '--dashboard-port', '0', '--no-open', '--workspace', workspace];
  const env = { ...process.env, DEBUG: '', WSPLAY_SKIP_UI_BUILD: '1', WSPLAY_LESSON_PROXY_PORT: '0' };
  const command = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = terminal
    ? spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  // A terminal ends lines with \r\n, which a read may split between two chunks.
  let cr = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    s = cr + s;
    cr = s.endsWith('\r') ? '\r' : '';
    out += s.slice(0, s.length - cr.length).replace(/\r\n/g, '\n');
  });
  child.stderr!.on('data', () => {});
  return { child, text: () => out };
}

/** The page's event stream, counting what the dashboard receives. */
async function openStream(dashboardUrl: string) {
  const url = new URL(dashboardUrl);
  const ws = new WebSocket(`ws://${url.host}/api/events?token=${url.searchParams.get('token')}`, { origin: url.origin });
  const seen = { clientMessages: 0, lastClientText: '', consoleLines: [] as string[] };
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as StreamMessage;
    if (m.kind === 'events') {
      for (const e of m.events) {
        if (e.type !== 'message' || e.dir !== 'client') continue;
        seen.clientMessages++;
        seen.lastClientText = e.text ?? '';
      }
    }
    if (m.kind === 'console') for (const l of m.lines) if (l.source === 'server') seen.consoleLines.push(l.text);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, seen };
}

/** Sends MESSAGES messages, IN_FLIGHT at a time; resolves the count of echoes as they come. */
async function drive(port: number): Promise<{ echoes: () => number; ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let sent = 0;
  let echoes = 0;
  const send = () => ws.send(`m${sent++} ${PAD}`);
  ws.on('message', (data) => {
    const text = data.toString();
    if (!text.startsWith('I heard you say "m')) return;
    echoes++;
    if (sent < MESSAGES) send();
  });
  for (let i = 0; i < IN_FLIGHT; i++) send();
  return { echoes: () => echoes, ws };
}

const LOST = /^wsplay: ([\d,]+) lines of server\.js output were not shown: for (\d+\.\d) s the terminal did not keep up .* The wiretap and the dashboard kept running; server\.js's recent output is in the dashboard's Console\.$/m;

/** Waits for the start-up lines: the dashboard's address and the wiretap's port. */
function started(w: Wsplay): Promise<{ dashboardUrl: string; tapPort: number }> {
  return until(
    () => {
      const dash = /^Dashboard: (\S+)$/m.exec(w.text());
      const tap = /^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/m.exec(w.text());
      return dash && tap ? { dashboardUrl: dash[1]!, tapPort: Number(tap[1]) } : undefined;
    },
    30_000,
    () => `the Dashboard: and Wiretap lines; got ${JSON.stringify(w.text())}`,
  );
}

describe.each([
  ['a pipe', false],
  ['a terminal (pty)', true],
])("wsplay start writing to %s that stops reading", (_name, terminal) => {
  it('keeps relaying and streaming, then says how many lines were not shown; the lines shown are whole and in order', async () => {
    const w = startWsplay(terminal, join(dir, terminal ? 'tty' : 'pipe'));
    const { dashboardUrl, tapPort } = await started(w);
    // The reader stops: from here wsplay's writes fill the pipe (and the pty behind script).
    w.child.stdout!.pause();
    const page = await openStream(dashboardUrl);
    const client = await drive(tapPort);

    await until(() => (client.echoes() === MESSAGES ? true : undefined), 90_000, () => `${MESSAGES} echoes through the wiretap while the terminal does not read; ${client.echoes()} came back`);
    // The page got the live events up to the last message (a page too slow for the stream may be
    // sent fewer, which it is told: the last arrives all the same).
    await until(
      () => (page.seen.lastClientText.startsWith(`m${MESSAGES - 1} `) ? true : undefined),
      30_000,
      () => `the dashboard's stream to have the last client message; it has ${page.seen.clientMessages} client messages, the last ${JSON.stringify(page.seen.lastClientText.slice(0, 20))}`,
    );
    expect(w.text()).not.toMatch(LOST);

    // The reader is back.
    w.child.stdout!.resume();
    const lost = await until(() => LOST.exec(w.text()) ?? undefined, 60_000, () => `the line about lost lines; the terminal shows ${JSON.stringify(w.text().slice(-2000))}`);
    const count = Number(lost[1]!.replace(/,/g, ''));
    expect(count).toBeGreaterThan(0);
    // Every line of server.js's is either shown, whole, or counted.
    const shown = () => w.text().split('\n').filter((l) => l.startsWith('[server.js] received: m'));
    await until(
      () => (shown().length + count >= MESSAGES ? true : undefined),
      30_000,
      () => `${MESSAGES - count} server.js lines shown besides the ${count} lost; ${shown().length} are`,
    );
    const numbers = shown().map((l) => {
      const m = /^\[server\.js\] received: m(\d+) (x+)$/.exec(l);
      expect(m, `a whole line: ${JSON.stringify(l)}`).not.toBeNull();
      expect(m![2]).toBe(PAD);
      return Number(m![1]);
    });
    expect(numbers.length + count).toBe(MESSAGES);
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBeGreaterThan(numbers[i - 1]!);

    // The dashboard's Console has its own copy of server.js's output: it got lines the terminal
    // did not show. (Under a flood it keeps the first 500 lines of each of its batches, so not
    // every one.)
    const beforeGap = w.text().slice(0, lost.index).split('\n').filter((l) => l.startsWith('[server.js] received: m')).length;
    const lastShown = numbers[beforeGap - 1] ?? -1;
    const inConsole = () => Math.max(-1, ...page.seen.consoleLines.map((t) => Number(/^received: m(\d+) /.exec(t)?.[1] ?? -1)));
    await until(
      () => (inConsole() > lastShown ? true : undefined),
      30_000,
      () => `the dashboard's Console to have a line after m${lastShown}, the last the terminal showed before the gap; its last is m${inConsole()}`,
    );

    client.ws.close();
    page.ws.close();
    const exited = new Promise((resolve) => w.child.once('exit', resolve));
    w.child.kill('SIGTERM');
    await exited;
  }, 240_000);
});

describe('wsplay start on a terminal that never reads again', () => {
  it('still stops on SIGTERM (Ctrl-C): what waits for the terminal is given a bounded time, not forever', async () => {
    const w = startWsplay(true, join(dir, 'exit'));
    const { tapPort } = await started(w);
    // script(1)'s child is wsplay: the process to stop, as Ctrl-C in that terminal would.
    const pid = Number(readFileSync(`/proc/${w.child.pid}/task/${w.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('wsplay.js');
    w.child.stdout!.pause();
    const client = await drive(tapPort);
    await until(() => (client.echoes() === MESSAGES ? true : undefined), 90_000, () => `${MESSAGES} echoes through the wiretap while the terminal does not read; ${client.echoes()} came back`);
    client.ws.close();
    process.kill(pid, 'SIGTERM');
    await until(() => (alive(pid) ? undefined : true), 30_000, () => `wsplay (pid ${pid}) to exit after SIGTERM while its terminal does not read`);
  }, 240_000);
});

describe('wsplay start writing to a file', () => {
  it('writes every line to it, in order: a file always takes what it is given, nothing is dropped', async () => {
    const file = join(dir, 'out.txt');
    const fd = openSync(file, 'w');
    const args = ['server/bin/wsplay.js', 'start', '--port', '0', '--no-dashboard', '--no-open', '--workspace', join(dir, 'file')];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, DEBUG: '', WSPLAY_SKIP_UI_BUILD: '1' }, stdio: ['ignore', fd, 'ignore'] });
    children.push(child);
    closeSync(fd);
    const text = () => readFileSync(file, 'utf8');
    const tapPort = await until(() => /^Wiretap listening on ws:\/\/127\.0\.0\.1:(\d+)/m.exec(text())?.[1], 30_000, () => `the Wiretap line; the file has ${JSON.stringify(text())}`);
    const client = await drive(Number(tapPort));
    await until(() => (client.echoes() === MESSAGES ? true : undefined), 90_000, () => `${MESSAGES} echoes; ${client.echoes()} came back`);
    client.ws.close();
    const shown = () => text().split('\n').filter((l) => l.startsWith('[server.js] received: m'));
    await until(() => (shown().length >= MESSAGES ? true : undefined), 30_000, () => `${MESSAGES} server.js lines in the file; it has ${shown().length}`);
    expect(shown()).toEqual(Array.from({ length: MESSAGES }, (_, i) => `[server.js] received: m${i} ${PAD}`));
    expect(text()).not.toContain('were not shown');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }, 240_000);
});
