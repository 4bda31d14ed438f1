/**
 * Frames the wiretap writes into a connection itself (the crafter's, the close frames of a close
 * from the middle) carry `injected: true`, and the peers' own frames never do: over real
 * sockets, through a Wiretap on port 0 handing lazy events to a CaptureStore as the playground
 * does, and through a recording written and read back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloseEvent, FrameEvent, MessageEvent, ViolationEvent, WireEvent } from '../../server/capture/events.ts';
import { Recorder } from '../../server/capture/recorder.ts';
import { readRecordingFile } from '../../server/capture/recording-reader.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { buildFrame } from '../../server/tap/crafter.ts';
import { Cleanup, connect, frameBytes, rawUpgrade, startTap, startWsServer, until, type TapHandle } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const crafted = (text: string, mask: boolean) =>
  buildFrame({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 0x1, mask, payload: { kind: 'text', text } }).bytes;

/** An echo server behind a wiretap whose lazy events go to a CaptureStore, as in `wsplay start`. */
async function setup(): Promise<{ tap: TapHandle; store: CaptureStore }> {
  // The tutorial's echo server, with an error listener (ws fails an unmasked client frame).
  const echo = await startWsServer({}, (ws) => {
    ws.on('message', (d) => ws.send(`I heard you say "${d.toString()}"`));
    ws.send('Hello webSocket');
  });
  cleanup.add(() => echo.close());
  const store = new CaptureStore();
  const tap = await startTap(echo.port, { lazyEvents: true, onEvents: (batch) => store.add(batch) });
  cleanup.add(() => tap.close());
  return { tap, store };
}

const payloadText = (f: FrameEvent) => Buffer.from(f.payload, 'base64').toString('utf8');
const of = <T extends WireEvent>(events: WireEvent[], type: T['type'], conn: number) => events.filter((e) => e.type === type && e.conn === conn) as T[];

describe('injected frames', () => {
  it('marks exactly the frame injected between two of the client\'s frames, with its message and violation', async () => {
    const { tap, store } = await setup();
    const client = await rawUpgrade(tap.port);
    cleanup.add(() => client.socket.destroy());
    const conn = 1;
    const clientFrames = () => tap.of(conn, 'frame').filter((f) => f.dir === 'client').length;
    client.socket.write(frameBytes(0x1, Buffer.from('one')));
    await until(() => (clientFrames() === 1 ? true : undefined), 5000, () => 'the first client frame');
    expect(tap.tap.inject(conn, 'client', crafted('crafted', true))).toBe('sent');
    await until(() => (clientFrames() === 2 ? true : undefined), 5000, () => 'the crafted frame');
    client.socket.write(frameBytes(0x1, Buffer.from('two')));
    await until(() => (clientFrames() === 3 ? true : undefined), 5000, () => 'the second client frame');
    // An unmasked one: the rule it breaks is the wiretap's doing, not the client's.
    expect(tap.tap.inject(conn, 'client', crafted('unmasked', false))).toBe('sent');
    await tap.waitFor('violation', (v) => v.conn === conn && v.rule === 'unmasked-client-frame');
    await tap.waitFor('close', (c) => c.conn === conn && c.dir === 'server');

    const events = store.all();
    const frames = of<FrameEvent>(events, 'frame', conn);
    const client4 = frames.filter((f) => f.dir === 'client');
    expect(client4.map((f) => [payloadText(f), f.injected ?? false])).toEqual([
      ['one', false],
      ['crafted', true],
      ['two', false],
      ['unmasked', true],
    ]);
    expect(client4.map((f) => f.masked)).toEqual([true, true, true, false]);
    // The field is there only when true (the client's frames have no `injected` at all).
    expect(client4.filter((f) => 'injected' in f).map(payloadText)).toEqual(['crafted', 'unmasked']);
    // The server's echoes of the crafted text are the server's own frames.
    const serverFrames = frames.filter((f) => f.dir === 'server');
    expect(serverFrames.map(payloadText)).toContain('I heard you say "crafted"');
    expect(serverFrames.filter((f) => f.injected)).toEqual([]);
    const messages = of<MessageEvent>(events, 'message', conn).filter((m) => m.dir === 'client');
    expect(messages.map((m) => [m.text, m.injected ?? false])).toEqual([
      ['one', false],
      ['crafted', true],
      ['two', false],
      ['unmasked', true],
    ]);
    const violations = of<ViolationEvent>(events, 'violation', conn);
    expect(violations.map((v) => [v.rule, v.injected ?? false])).toEqual([['unmasked-client-frame', true]]);
    // ws answers the unmasked frame with 1002: the server's close is its own.
    const closes = of<CloseEvent>(events, 'close', conn);
    expect(closes.map((c) => [c.dir, c.code, c.injected ?? false])).toEqual([['server', 1002, false]]);
  });

  it('marks an injected frame written a byte at a time (split fault), and none of the client\'s', async () => {
    const { tap, store } = await setup();
    const c = await connect(tap.url);
    cleanup.add(() => c.ws.terminate());
    expect(await c.next()).toBe('Hello webSocket');
    tap.tap.faults.add({ kind: 'split', value: 1, dir: 'client' });
    c.ws.send('before');
    expect(await c.next()).toBe('I heard you say "before"');
    tap.tap.inject(1, 'client', crafted('crafted in pieces', true));
    expect(await c.next()).toBe('I heard you say "crafted in pieces"');
    c.ws.send('after');
    expect(await c.next()).toBe('I heard you say "after"');
    const frames = of<FrameEvent>(store.all(), 'frame', 1).filter((f) => f.dir === 'client');
    expect(frames.map((f) => [payloadText(f), f.injected ?? false])).toEqual([
      ['before', false],
      ['crafted in pieces', true],
      ['after', false],
    ]);
  });

  it("marks both close frames of a close from the middle, and keeps the mark through the store and a recording", async () => {
    const { tap, store } = await setup();
    const c = await connect(tap.url);
    cleanup.add(() => c.ws.terminate());
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send('hello');
    expect(await c.next()).toBe('I heard you say "hello"');
    tap.tap.closeWith(1, 4001, 'wiretap says bye');
    expect(await c.closed).toEqual({ code: 4001, reason: 'wiretap says bye' });
    await tap.waitFor('end', (e) => e.conn === 1);

    const check = (events: WireEvent[]) => {
      const frames = of<FrameEvent>(events, 'frame', 1);
      // The peers' text frames (greeting, hello, its echo), then the wiretap's two close frames:
      // masked toward the server, as a client's must be.
      expect(frames.map((f) => `${f.dir} ${f.opcode} ${f.masked} ${f.injected ?? false}`).sort()).toEqual([
        'client 1 true false',
        'client 8 true true',
        'server 1 false false',
        'server 1 false false',
        'server 8 false true',
      ]);
      const closes = of<CloseEvent>(events, 'close', 1);
      expect(closes.map((x) => `${x.dir} ${x.code} ${x.injected ?? false}`).sort()).toEqual(['client 4001 true', 'server 4001 true']);
    };
    check(store.all());

    const dir = mkdtempSync(join(tmpdir(), 'wsplay-injected-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'session.jsonl');
    const recorder = new Recorder(path);
    recorder.write(store.all());
    recorder.close();
    const read = readRecordingFile(path);
    expect(read.errors).toEqual([]);
    check(read.events);
  });
});
