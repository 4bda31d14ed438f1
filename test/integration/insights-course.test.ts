/**
 * The course's server.js (server/runner/starters/), run as written the way the playground runs
 * it (LearnerServer, its port 9900 moved to an internal one) behind a wiretap on port 0: its two
 * bugs show as insights. `String.fromCharCode(...data)` sends non-ASCII text back mangled
 * (utf8-read-as-bytes), and without an 'error' listener one invalid frame takes the process
 * down (server-crashed-on-frame), each citing the frames that prove it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { InsightEvent } from '../../server/capture/events.ts';
import { LearnerServer } from '../../server/runner/learner-server.ts';
import { Workspace } from '../../server/runner/workspace.ts';
import { Cleanup, connect, startTap, type TapHandle } from '../helpers/net.ts';

const base = mkdtempSync(join(tmpdir(), 'wsplay-insights-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The course's server.js, verbatim, behind a wiretap. */
async function courseServer(): Promise<{ tap: TapHandle; learner: LearnerServer }> {
  const workspace = new Workspace(join(base, `ws-${Date.now()}-${Math.random().toString(36).slice(2)}`));
  cleanup.add(() => workspace.close());
  const learner = new LearnerServer({ cwd: workspace.root, publicPort: 9900 });
  cleanup.add(() => learner.stop(false));
  const state = await learner.start();
  expect(state.status).toBe('running');
  const tap = await startTap(state.port!);
  cleanup.add(() => tap.close());
  return { tap, learner };
}

const insights = (tap: TapHandle): InsightEvent[] => tap.events.filter((e): e is InsightEvent => e.type === 'insight');

describe("the course's server.js, run as written", () => {
  it('sends non-ASCII text back mangled: utf8-read-as-bytes cites the message and its mangled echo', async () => {
    const { tap } = await courseServer();
    const c = await connect(tap.url);
    cleanup.add(() => c.ws.terminate());
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('Grüße, José');
    const echo = await c.next();
    expect(echo).toBe('I heard you say "GrÃ¼Ã\u009fe, JosÃ©"');
    c.ws.close(1000);
    await tap.waitFor('end');
    const found = insights(tap);
    expect(found.map((i) => i.rule)).toEqual(['utf8-read-as-bytes']);
    const [sent, back] = [tap.of(1, 'message').find((m) => m.dir === 'client')!, tap.of(1, 'message').find((m) => m.dir === 'server' && m.text === echo)!];
    expect(found[0]).toMatchObject({ conn: 1, lesson: '06-utf8-and-fromcharcode', frames: { server: [back.firstFrame], client: [sent.firstFrame] } });
    expect(found[0]!.messages).toEqual([
      { conn: 1, dir: 'client', firstFrame: sent.firstFrame },
      { conn: 1, dir: 'server', firstFrame: back.firstFrame },
    ]);
    expect(found[0]!.message).toContain('String.fromCharCode');
  });

  it('crashes on a text frame that is not UTF-8: server-crashed-on-frame cites that frame', async () => {
    const { tap, learner } = await courseServer();
    const c = await connect(tap.url);
    cleanup.add(() => c.ws.terminate());
    expect(await c.next()).toBe('Hello webSocket');
    // A text frame whose payload is not UTF-8, masked as a client must (ws would not send it).
    const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    const mask = Buffer.from([9, 8, 7, 6]);
    const payload = Buffer.from([0x68, 0x69, 0xff, 0xfe]);
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]));
    const crashed = new Promise((resolve) => learner.on('state', (s: { status: string }) => s.status === 'crashed' && resolve(s)));
    // ws answers the bad frame with a close frame (1007) and then emits 'error', which nobody
    // listens for: the process dies with the client's close reply unread.
    expect((await c.closed).code).toBe(1007);
    await crashed;
    await tap.waitFor('end');
    const found = insights(tap);
    const frame = tap.of(1, 'frame').find((f) => f.dir === 'client')!;
    expect(found.map((i) => i.rule)).toEqual(['server-crashed-on-frame']);
    expect(found[0]).toMatchObject({ severity: 'error', lesson: '12-security', frames: { client: [frame.seq], server: [] } });
    expect(found[0]!.message).toContain("ws.on('error'");
  });
});
