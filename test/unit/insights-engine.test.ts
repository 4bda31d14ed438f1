/**
 * The insight engine without sockets (server/insights/engine.ts is sans-I/O): events written by
 * hand, with the timestamps that matter, so the rules about time (idle-cut, reconnect-storm,
 * no-pong) are judged exactly, and the bounds are held against a flood.
 */
import { describe, expect, it } from 'vitest';
import type { Direction, EndEvent, FrameEvent, HandshakeEvent, InsightEvent, WireEvent } from '../../server/capture/events.ts';
import { InsightEngine, STORM_RECONNECTS } from '../../server/insights/engine.ts';

const open = (conn: number, t: number, client = '127.0.0.1:5000'): WireEvent => ({ type: 'open', conn, t, client, target: '127.0.0.1:9901' });

function handshake(conn: number, t: number, headers: Array<[string, string]> = [['Host', '127.0.0.1:9900']], path = '/'): HandshakeEvent {
  return {
    type: 'handshake',
    conn,
    t,
    outcome: 'upgraded',
    request: { method: 'GET', path, version: 'HTTP/1.1', headers, raw: '', t },
    response: { status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1', headers: [], raw: '', t },
    key: null,
    expectedAccept: null,
    accept: null,
    acceptValid: true,
    offeredExtensions: [],
    extensions: [],
    offeredSubprotocols: [],
    subprotocol: null,
    deflate: null,
    problems: [],
  };
}

function frame(conn: number, dir: Direction, seq: number, t: number, opcode = 1, length = 5): FrameEvent {
  return {
    type: 'frame', conn, t, dir, fin: true, rsv1: false, rsv2: false, rsv3: false, opcode, masked: dir === 'client', maskKey: null,
    length, lengthEncoding: 7, payload: '', offset: 0, header: '', headerLength: 2, tEnd: t, seq,
  };
}

function end(conn: number, t: number, by: EndEvent['by'], more: Partial<EndEvent> = {}): EndEvent {
  return { type: 'end', conn, t, by, clean: false, code: 1006, serverCode: 1006, explanation: '', bytes: { client: 0, server: 0 }, frames: { client: 0, server: 0 }, ...more };
}

const ping = (conn: number, dir: Direction, seq: number, t: number): WireEvent => ({ type: 'ping', conn, t, dir, payload: '', frame: seq });

function run(events: WireEvent[], engine = new InsightEngine()): InsightEvent[] {
  return engine.push(events).filter((e): e is InsightEvent => e.type === 'insight');
}

/** A connection that opens, says hello (server frame 0 at `t`) and ends by `by` at `endT`, with no close frame. */
const silentThenCut = (endT: number, by: EndEvent['by'] = 'server') => [open(1, 0), handshake(1, 10), frame(1, 'server', 0, 20), end(1, endT, by)];

describe('idle-cut', () => {
  it('fires on a cut after a round 30 s of silence, from the last frame', () => {
    const found = run(silentThenCut(20 + 30_000 + 80));
    expect(found.map((i) => i.rule)).toEqual(['idle-cut']);
    expect(found[0]!.frames).toEqual({ client: [], server: [0] });
    expect(found[0]!.message).toContain('a round 30 s');
  });

  it('is silent on 31.7 s (no timer), on a client leaving, on a short silence and on the wiretap stopping', () => {
    expect(run(silentThenCut(20 + 31_700))).toEqual([]);
    expect(run(silentThenCut(20 + 30_000, 'client'))).toEqual([]);
    expect(run(silentThenCut(20 + 1_000))).toEqual([]);
    expect(run(silentThenCut(20 + 60_000, 'wiretap'))).toEqual([]);
  });
});

describe('no-pong', () => {
  it('fires when the pinger pings again 1 s later with the first ping unanswered, not before', () => {
    const engine = new InsightEngine();
    expect(run([open(1, 0), handshake(1, 1), ping(1, 'server', 0, 100), ping(1, 'server', 1, 600)], engine)).toEqual([]);
    const found = run([ping(1, 'server', 2, 1200)], engine);
    expect(found.map((i) => i.rule)).toEqual(['no-pong']);
    expect(found[0]!.frames.server).toEqual([0, 1, 2]);
  });

  it('is silent when pongs answer, however late the next ping', () => {
    const pong = (seq: number, t: number): WireEvent => ({ type: 'pong', conn: 1, t, dir: 'client', payload: '', frame: seq });
    expect(run([open(1, 0), handshake(1, 1), ping(1, 'server', 0, 100), pong(0, 105), ping(1, 'server', 1, 30_100), pong(1, 30_102), ping(1, 'server', 2, 60_100)])).toEqual([]);
  });
});

describe('reconnect-storm', () => {
  /** Connections from one client, each failing (target unreachable), the next `waits[i]` ms after. */
  function attempts(waits: number[]): WireEvent[] {
    const events: WireEvent[] = [];
    let t = 0;
    for (let i = 0; i <= waits.length; i++) {
      events.push(open(i + 1, t), end(i + 1, t + 5, 'wiretap', { error: 'ECONNREFUSED: could not reach the target', code: null, serverCode: null }));
      t += 5 + (waits[i] ?? 0);
    }
    return events;
  }

  it('fires once on waits that stay flat, naming the connections', () => {
    const found = run(attempts(new Array(STORM_RECONNECTS + 4).fill(250)));
    expect(found).toHaveLength(1);
    expect(found[0]!.conns).toEqual(Array.from({ length: STORM_RECONNECTS }, (_, i) => i + 2));
  });

  it('is silent on doubling waits and on full jitter under a doubling ceiling', () => {
    expect(run(attempts([100, 200, 400, 800, 1600, 3000, 3000, 3000, 3000]))).toEqual([]);
    // Random waits under ceilings 100, 200, 400 ..., measured on a loaded machine: a later one is long.
    expect(run(attempts([518, 162, 141, 182, 225, 452, 1900, 800, 2400]))).toEqual([]);
    // Full jitter whose draws all fell low for a while (lesson 09's right entry, seen in CI).
    expect(run(attempts([43, 44, 23, 152, 233, 411, 387, 282, 700]))).toEqual([]);
    expect(run(attempts([10, 17, 39, 66, 262, 159, 74, 211, 700]))).toEqual([]);
  });

  it('starts afresh after a connection that carried data both ways, and still fires on the failures after it', () => {
    // Two connections that worked, each cut (1006) and followed 20 ms later by the next; then flat failures.
    const cut = (conn: number, t: number): WireEvent[] => [
      open(conn, t),
      handshake(conn, t + 1),
      frame(conn, 'client', 0, t + 2),
      frame(conn, 'server', 0, t + 3),
      end(conn, t + 5, 'wiretap', { error: 'reset by wsplay', code: 1006, serverCode: 1006 }),
    ];
    const flat = attempts(new Array(STORM_RECONNECTS - 1).fill(250)).map((e) => ({ ...e, conn: e.conn + 2, t: e.t + 50 }));
    expect(run([...cut(1, 0), ...cut(2, 25), ...flat]).map((i) => i.rule)).toEqual([]);
    const more = attempts(new Array(STORM_RECONNECTS).fill(250)).map((e) => ({ ...e, conn: e.conn + 2, t: e.t + 50 }));
    expect(run([...cut(1, 0), ...cut(2, 25), ...more]).map((i) => i.conns)).toEqual([Array.from({ length: STORM_RECONNECTS }, (_, i) => i + 4)]);
  });

  it('is silent on refused handshakes one after another (probes, not reconnects)', () => {
    const events: WireEvent[] = [];
    for (let i = 1; i <= 10; i++) {
      const h = handshake(i, i * 10 + 1);
      h.outcome = 'refused';
      h.response!.status = 403;
      events.push(open(i, i * 10), h, end(i, i * 10 + 2, 'server', { code: null, serverCode: null }));
    }
    expect(run(events)).toEqual([]);
  });
});

describe("wsplay's own conformance runner", () => {
  /**
   * Case after case, as the runner goes: a connection that sends close code 1005 (group 7 does,
   * on purpose), gets the server's 1002 and ends failed, and the next case 20 ms later.
   */
  function cases(headers: Array<[string, string]>): WireEvent[] {
    const events: WireEvent[] = [];
    for (let i = 1; i <= STORM_RECONNECTS + 4; i++) {
      const t = i * 100;
      events.push(
        open(i, t, '127.0.0.1:6000'),
        handshake(i, t + 1, headers),
        frame(i, 'client', 0, t + 2, 8, 2),
        { type: 'close', conn: i, t: t + 2, dir: 'client', code: 1005, reason: '', explanation: '', frame: 0 },
        end(i, t + 80, 'server', { code: 1002, serverCode: 1002 }),
      );
    }
    return events;
  }

  it('is no learner whose close codes or reconnects earn an insight', () => {
    const runner = cases([['Host', '127.0.0.1:9900'], ['User-Agent', 'wsplay-conformance']]);
    expect(run(runner).map((i) => i.rule)).toEqual([]);
  });

  it('is told apart by its User-Agent only: the same traffic from any other client fires both rules', () => {
    const rules = run(cases([['Host', '127.0.0.1:9900'], ['User-Agent', 'my-client']])).map((i) => i.rule);
    expect(rules).toContain('close-code-misused');
    expect(rules).toContain('reconnect-storm');
  });
});

describe('origin-not-checked and token-in-url', () => {
  it("judge the Origin against the request's Host, loopback names alike", () => {
    const at = (origin: string, host = '127.0.0.1:9900') => run([open(1, 0), handshake(1, 1, [['Host', host], ['Origin', origin]])]).map((i) => i.rule);
    expect(at('http://localhost:9901')).toEqual([]);
    expect(at('https://app.example.com', 'app.example.com')).toEqual([]);
    expect(at('https://app.example.com.evil.example', 'app.example.com')).toEqual(['origin-not-checked']);
    expect(at('null')).toEqual(['origin-not-checked']);
  });

  it('reads at most 64 query parameters, however many a client sends', () => {
    const many = `/?${Array.from({ length: 100_000 }, (_, i) => `p${i}=1`).join('&')}&token=abcdefgh`;
    expect(run([open(1, 0), handshake(1, 1, [['Host', 'x']], many)])).toEqual([]);
    expect(run([open(1, 0), handshake(1, 1, [['Host', 'x']], '/?a=1&token=abcdefgh')]).map((i) => i.rule)).toEqual(['token-in-url']);
  });
});

describe('server-crashed-on-frame', () => {
  const spoke = (engine: InsightEngine) => run([open(1, 0), handshake(1, 1), frame(1, 'client', 0, 100)], engine);

  it("fires when the server's TCP ends 2 s after a client message it never answered", () => {
    const engine = new InsightEngine();
    spoke(engine);
    expect(run([end(1, 2100, 'server')], engine).map((i) => i.rule)).toEqual(['server-crashed-on-frame']);
  });

  it('is silent when the runner stopped the server on purpose just before (a restart after a save), or the server answered', () => {
    const stopped = new InsightEngine();
    spoke(stopped);
    stopped.serverStopping(150);
    expect(run([end(1, 200, 'server')], stopped)).toEqual([]);
    // A heartbeat that gave up on a slow client: its ping was waiting when the client spoke,
    // and the pong came on its way as the server ended the connection.
    const heartbeat = new InsightEngine();
    run([open(1, 0), handshake(1, 1), ping(1, 'server', 0, 50), frame(1, 'client', 0, 100)], heartbeat);
    expect(run([{ type: 'pong', conn: 1, t: 300, dir: 'client', payload: '', frame: 1 }, end(1, 350, 'server', { error: 'server EPIPE' })], heartbeat)).toEqual([]);
    const answered = new InsightEngine();
    spoke(answered);
    expect(run([frame(1, 'server', 0, 120), end(1, 200, 'server')], answered)).toEqual([]);
  });
});

describe('bounds', () => {
  it('forgets the oldest connections past maxConnections, and hands back the same batch when nothing fired', () => {
    const engine = new InsightEngine({ maxConnections: 10 });
    const batch: WireEvent[] = [];
    for (let i = 1; i <= 1000; i++) batch.push(open(i, i), handshake(i, i));
    expect(engine.push(batch)).toBe(batch);
    expect((engine as unknown as { conns: Map<number, unknown> }).conns.size).toBe(10);
    // A forgotten connection gets no insight, and costs nothing.
    expect(run([frame(1, 'client', 0, 2000), end(1, 2001, 'server')], engine)).toEqual([]);
  });
});
