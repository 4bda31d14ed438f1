/**
 * Insights on the wire (server/insights/): real `ws` clients and servers talk through a wiretap
 * on port 0; each rule fires on traffic written to make the mistake, citing the frames and
 * messages that prove it, and says nothing about the same traffic done right.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { InsightEvent, InsightRule, WireEvent } from '../../server/capture/events.ts';
import { STORM_RECONNECTS } from '../../server/insights/engine.ts';
import { Cleanup, connect, startEchoServer, startTap, startWsServer, unusedPort, type TapHandle } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function echoBehindTap(): Promise<TapHandle> {
  const server = await startEchoServer();
  cleanup.add(() => server.close());
  const tap = await startTap(server.port);
  cleanup.add(() => tap.close());
  return tap;
}

async function client(url: string, options = {}) {
  const c = await connect(url, options);
  cleanup.add(() => c.ws.terminate());
  return c;
}

const insights = (tap: TapHandle): InsightEvent[] => tap.events.filter((e): e is InsightEvent => e.type === 'insight');
const rules = (tap: TapHandle): InsightRule[] => insights(tap).map((i) => i.rule);
const ended = (tap: TapHandle, conn: number) => tap.waitFor('end', (e) => e.conn === conn);
/** The connection id of the newest `open`. */
const lastConn = (tap: TapHandle) => tap.events.filter((e) => e.type === 'open').at(-1)!.conn;

/** Wait until `n` connections have ended, then every insight so far (the rules run as events arrive). */
async function settle(tap: TapHandle, n = 1): Promise<InsightEvent[]> {
  await tap.waitForCount('end', n);
  return insights(tap);
}

describe('object-payload', () => {
  it('fires on "[object Object]" sent as text, citing that frame and message once (not the echo of it)', async () => {
    const tap = await echoBehindTap();
    const c = await client(tap.url);
    expect(await c.next()).toBe('Hello webSocket');
    c.ws.send(String({ name: 'Ada' }));
    expect(await c.next()).toBe('I heard you say "[object Object]"');
    c.ws.send(String({ again: true }));
    expect(await c.next()).toBe('I heard you say "[object Object]"');
    const conn = lastConn(tap);
    const sent = tap.of(conn, 'message').find((m) => m.dir === 'client')!;
    c.ws.close(1000);
    const found = await settle(tap);
    expect(found.map((i) => i.rule)).toEqual(['object-payload']);
    expect(found[0]).toMatchObject({ conn, severity: 'error', lesson: '07-text-binary-json', frames: { client: [sent.firstFrame], server: [] } });
    expect(found[0]!.messages).toEqual([{ conn, dir: 'client', firstFrame: sent.firstFrame }]);
    expect(found[0]!.message).toContain('JSON.stringify');
    // The insight comes right after the message that proved it.
    const at = tap.events.indexOf(found[0]!);
    expect(tap.events[at - 1]).toBe(sent);
  });

  it('is silent on JSON.stringify of the same object', async () => {
    const tap = await echoBehindTap();
    const c = await client(tap.url);
    await c.next();
    c.ws.send(JSON.stringify({ name: 'Ada' }));
    expect(await c.next()).toBe('I heard you say "{"name":"Ada"}"');
    c.ws.close(1000, 'done');
    expect(await settle(tap)).toEqual([]);
  });
});

describe('token-in-url', () => {
  it('fires on a credential in the upgrade request, without repeating the secret', async () => {
    const tap = await echoBehindTap();
    const c = await client(`${tap.url}/chat?room=7&access_token=eyJhbGciOi.secret.part`);
    await c.next();
    c.ws.close(1000);
    const found = await settle(tap);
    expect(found.map((i) => i.rule)).toEqual(['token-in-url']);
    expect(found[0]!.message).toContain('access_token=ey…');
    expect(found[0]!.message).not.toContain('secret.part');
    expect(found[0]!.lesson).toBe('12-security');
  });

  it('is silent on ordinary query parameters', async () => {
    const tap = await echoBehindTap();
    const c = await client(`${tap.url}/chat?room=7&name=ada&keyboard=fr`);
    await c.next();
    c.ws.close(1000);
    expect(await settle(tap)).toEqual([]);
  });
});

describe('origin-not-checked', () => {
  it('fires when the server upgrades a page from another site, and for Origin null', async () => {
    const tap = await echoBehindTap();
    for (const origin of ['https://evil.example', 'null']) {
      const c = await client(tap.url, { origin });
      await c.next();
      c.ws.close(1000);
    }
    const found = await settle(tap, 2);
    expect(found.map((i) => [i.conn, i.rule])).toEqual([
      [1, 'origin-not-checked'],
      [2, 'origin-not-checked'],
    ]);
    expect(found[0]!.message).toContain('https://evil.example');
    expect(found[1]!.message).toContain('Origin null');
  });

  it("is silent on the page's own host (another port of it, localhost for 127.0.0.1) and on a server that answers 403", async () => {
    const tap = await echoBehindTap();
    for (const origin of [`http://127.0.0.1:5173`, 'http://localhost:9901']) {
      const c = await client(tap.url, { origin });
      await c.next();
      c.ws.close(1000);
    }
    const strict = await startWsServer({ verifyClient: ({ origin }: { origin: string }) => origin === 'http://127.0.0.1:9901' }, () => {});
    cleanup.add(() => strict.close());
    const tap2 = await startTap(strict.port);
    cleanup.add(() => tap2.close());
    const refusedWith = await new Promise<number>((resolve) => {
      const ws = new WebSocket(tap2.url, { origin: 'https://evil.example' });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
      ws.on('error', () => {});
    });
    expect(refusedWith).toBe(401);
    expect(await settle(tap, 2)).toEqual([]);
    expect(await settle(tap2)).toEqual([]);
  });
});

describe('close-code-misused', () => {
  it('fires on 1006 and a reserved code on the wire, and on 1000 with an error for a reason', async () => {
    // A server that listens for errors (the course's echo server would crash on these frames).
    const server = await startWsServer({}, (ws) => {
      ws.on('error', () => {});
      ws.send('Hello webSocket');
    });
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    // ws refuses to send 1006 or 2999 (as a browser does): the frame is written by hand.
    const raw = async (code: number) => {
      const c = await client(tap.url);
      await c.next();
      const body = Buffer.alloc(2);
      body.writeUInt16BE(code);
      const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
      const mask = Buffer.from([1, 2, 3, 4]);
      socket.write(Buffer.concat([Buffer.from([0x88, 0x80 | 2]), mask, Buffer.from(body.map((b, i) => b ^ mask[i]!))]));
      return lastConn(tap);
    };
    const c1006 = await raw(1006);
    const c2999 = await raw(2999);
    const c = await client(tap.url);
    await c.next();
    const cErr = lastConn(tap);
    c.ws.close(1000, 'error: the database is down');
    const found = await settle(tap, 3);
    const byConn = new Map(found.map((i) => [i.conn, i]));
    expect(found.every((i) => i.rule === 'close-code-misused')).toBe(true);
    expect(byConn.get(c1006)!.message).toContain('1006 is for reporting only');
    expect(byConn.get(c2999)!.message).toContain('close code 2999');
    expect(byConn.get(cErr)).toMatchObject({ severity: 'warning' });
    expect(byConn.get(cErr)!.message).toContain('"error: the database is down"');
    const closeFrame = tap.of(c1006, 'close').find((e) => e.dir === 'client')!.frame;
    expect(byConn.get(c1006)!.frames).toEqual({ client: [closeFrame], server: [] });
  });

  it('is silent on 1000 with a plain reason, 4000-4999 codes, and a close without a code', async () => {
    const tap = await echoBehindTap();
    for (const close of [(ws: WebSocket) => ws.close(1000, 'bye'), (ws: WebSocket) => ws.close(4001, 'invalid token'), (ws: WebSocket) => ws.close()]) {
      const c = await client(tap.url);
      await c.next();
      close(c.ws);
      await c.closed;
    }
    expect(await settle(tap, 3)).toEqual([]);
  });
});

describe('server-crashed-on-frame', () => {
  it("fires when the server's TCP ends right after a client frame, without a close frame, citing the frame", async () => {
    // What a crash looks like from outside: the socket goes, no close frame.
    const server = await startWsServer({}, (ws) => ws.on('message', () => ws.terminate()));
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const c = await client(tap.url);
    c.ws.send('boom');
    await c.closed;
    const found = await settle(tap);
    const frame = tap.of(1, 'frame').find((f) => f.dir === 'client')!;
    expect(found.map((i) => i.rule)).toEqual(['server-crashed-on-frame']);
    expect(found[0]).toMatchObject({ frames: { client: [frame.seq], server: [] }, messages: [{ conn: 1, dir: 'client', firstFrame: frame.seq }] });
  });

  it('is silent on a server that listens for errors and fails a bad frame with 1007', async () => {
    const server = await startWsServer({}, (ws) => ws.on('error', () => {}));
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const c = await client(tap.url);
    const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    const mask = Buffer.from([9, 8, 7, 6]);
    const payload = Buffer.from([0x68, 0x69, 0xff, 0xfe]);
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]));
    expect((await c.closed).code).toBe(1007);
    expect(await settle(tap)).toEqual([]);
  });

  it('is silent when the server closes with 1011 instead', async () => {
    const server = await startWsServer({}, (ws) => ws.on('message', () => ws.close(1011, 'cannot handle that')));
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const c = await client(tap.url);
    c.ws.send('boom');
    expect((await c.closed).code).toBe(1011);
    expect(await settle(tap)).toEqual([]);
  });
});

describe('no-pong', () => {
  /** A server that pings each client twice, the second ping 1.1 s after the first. */
  async function pinger() {
    const server = await startWsServer({}, (ws) => {
      ws.ping('one');
      const t = setTimeout(() => ws.ping('two'), 1100);
      ws.on('close', () => clearTimeout(t));
    });
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    return tap;
  }

  it('fires when a client leaves pings unanswered, citing the pings', async () => {
    const tap = await pinger();
    const c = await client(tap.url, { autoPong: false });
    await tap.waitForCount('ping', 2);
    c.ws.close(1000);
    const found = await settle(tap);
    const pings = tap.of(1, 'ping').map((p) => p.frame);
    expect(found.map((i) => i.rule)).toEqual(['no-pong']);
    expect(found[0]!.frames).toEqual({ client: [], server: pings });
    expect(found[0]!.lesson).toBe('10-heartbeats');
  });

  it('is silent when the client answers', async () => {
    const tap = await pinger();
    const c = await client(tap.url);
    await tap.waitForCount('pong', 2);
    c.ws.close(1000);
    expect(await settle(tap)).toEqual([]);
  });
});

describe('reconnect-storm', () => {
  /** Connect to a wiretap whose server is down, `waits[i]` ms after attempt i failed. */
  async function attempts(tap: TapHandle, waits: number[]): Promise<void> {
    for (let i = 0; i <= waits.length; i++) {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(tap.url);
        ws.on('error', () => {});
        ws.on('close', () => resolve());
      });
      await tap.waitForCount('end', i + 1);
      if (i < waits.length) await new Promise((resolve) => setTimeout(resolve, waits[i]));
    }
  }

  it('fires on a client that reconnects at once after every failure, citing the connections', async () => {
    const tap = await startTap(await unusedPort());
    cleanup.add(() => tap.close());
    await attempts(tap, new Array(STORM_RECONNECTS).fill(0));
    const found = insights(tap);
    expect(found.map((i) => i.rule)).toEqual(['reconnect-storm']);
    const storm = Array.from({ length: STORM_RECONNECTS }, (_, i) => i + 2);
    expect(found[0]!.conns).toEqual(storm);
    expect(found[0]!.conn).toBe(storm.at(-1));
  });

  it('is silent on a client whose waits double', async () => {
    const tap = await startTap(await unusedPort());
    cleanup.add(() => tap.close());
    await attempts(tap, [50, 100, 200, 400, 800, 800, 800, 800]);
    expect(rules(tap)).toEqual([]);
  });
});

describe('idle-cut', () => {
  it('fires when the server cuts a silent connection after 5 s, citing the last frame', async () => {
    const server = await startWsServer({}, (ws) => {
      ws.send('hello');
      const t = setTimeout(() => ws.terminate(), 5000);
      ws.on('close', () => clearTimeout(t));
    });
    cleanup.add(() => server.close());
    const tap = await startTap(server.port);
    cleanup.add(() => tap.close());
    const c = await client(tap.url);
    await c.closed;
    const found = await settle(tap);
    expect(found.map((i) => i.rule)).toEqual(['idle-cut']);
    expect(found[0]!.message).toContain('a round 5 s');
    expect(found[0]!.frames).toEqual({ client: [], server: [0] });
  }, 20_000);
});

describe('healthy traffic', () => {
  it("the course's echo server with a correct client, greeting, echoes, ping and a clean close: no insight", async () => {
    const tap = await echoBehindTap();
    const c = await client(tap.url, { origin: 'http://127.0.0.1:9901' });
    expect(await c.next()).toBe('Hello webSocket');
    // ASCII only: the course's server reads bytes as characters (lesson 06; see the starters' test).
    for (const text of ['I am listening', '{"type":"chat","text":"hi"}']) {
      c.ws.send(text);
      expect(await c.next()).toBe(`I heard you say "${text}"`);
    }
    c.ws.ping('are you there');
    await tap.waitFor('pong');
    c.ws.close(1000, 'bye');
    await ended(tap, 1);
    const all: WireEvent[] = tap.events;
    expect(all.filter((e) => e.type === 'insight')).toEqual([]);
  });

  it('many clients coming and going cleanly are not a storm', async () => {
    const tap = await echoBehindTap();
    for (let i = 0; i < STORM_RECONNECTS + 3; i++) {
      const c = await client(tap.url);
      await c.next();
      c.ws.close(1000);
      await ended(tap, i + 1);
    }
    expect(rules(tap)).toEqual([]);
  });
});
