/**
 * Fuzz and bounds of the application-protocol decoders (Socket.IO/Engine.IO, JSON-RPC) and of
 * the stage that runs them: any bytes, and damaged packets of each grammar, never make them
 * throw; what they keep per connection stays within their bounds however many messages a peer
 * sends (unanswered requests, attachments announced by the billion); a recording's `app` is
 * checked like the rest of a line.
 *
 * Replaying a failure: fixed seed below (FC_SEED=<n> overrides); pass fast-check's printed
 * `{ seed, path }` to `fc.assert` to replay that case.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction, HandshakeEvent, MessageEvent, WireEvent } from '../../server/capture/events.ts';
import { parseLine } from '../../server/capture/recording-format.ts';
import { appOf, type AppMessage } from '../../server/protocol/app/decoder.ts';
import { JsonRpcDecoder, PENDING_IDS } from '../../server/protocol/app/jsonrpc.ts';
import { decodePollingBody, MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES, SocketIoDecoder } from '../../server/protocol/app/socketio.ts';
import { AppStage } from '../../server/protocol/app/stage.ts';

const SEED = Number(process.env.FC_SEED ?? 0xa99);
const RUNS = 300;

let frame = 0;
function msg(dir: Direction, data: Buffer, opcode: 1 | 2 = 1, truncated = false): AppMessage {
  frame++;
  return { dir, opcode, data, truncated, length: data.length + (truncated ? 100 : 0), ref: { conn: 1, dir, firstFrame: frame }, t: frame };
}

/** Text shaped like Socket.IO on Engine.IO: a type digit or two, maybe attachments, a namespace, an ack id, some JSON. */
const socketIoTextArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('', '0', '1', '2', '3', '4', '5', '6', '9', 'b', '2probe', '3probe'),
    fc.constantFrom('', '0', '1', '2', '3', '4', '5', '6', '7', 'x'),
    fc.constantFrom('', '1-', '2-', '99999999999999999-', '-', '0-', '1e9-'),
    fc.constantFrom('', '/', '/admin,', '/a', '/,'),
    fc.constantFrom('', '1', '12', '99999999999999999999'),
    fc.oneof(fc.json(), fc.string(), fc.constant('["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":7}]'), fc.constant('{"__proto__":{"x":1}}')),
  )
  .map((parts) => parts.join(''));

const jsonRpcArb: fc.Arbitrary<string> = fc.oneof(
  fc.json(),
  fc
    .record(
      {
        jsonrpc: fc.constantFrom('2.0', '1.0', 2),
        method: fc.oneof(fc.string(), fc.integer()),
        params: fc.oneof(fc.jsonValue(), fc.constant(undefined)),
        id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.jsonValue()),
        result: fc.jsonValue(),
        error: fc.oneof(fc.record({ code: fc.integer(), message: fc.string() }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    )
    .chain((o) => fc.oneof(fc.constant(JSON.stringify(o)), fc.constant(JSON.stringify([o, o])))),
);

const anyMessageArb = fc.record({
  dir: fc.constantFrom<Direction>('client', 'server'),
  opcode: fc.constantFrom<1 | 2>(1, 2),
  truncated: fc.boolean(),
  data: fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    socketIoTextArb.map((s) => Buffer.from(s)),
    jsonRpcArb.map((s) => Buffer.from(s)),
  ),
});

/** What must hold of any decoder result: plain JSON, bounded summaries. */
function checkResult(r: ReturnType<SocketIoDecoder['message']>, m: AppMessage): void {
  const app = appOf(r, m);
  expect(JSON.parse(JSON.stringify({ app, violations: r.violations }))).toBeTruthy();
  if (app) {
    expect(typeof app.summary).toBe('string');
    expect(app.summary.length).toBeLessThan(2000);
  }
  for (const v of r.violations ?? []) expect(v.message.length).toBeLessThan(1000);
}

describe('the application decoders never throw', () => {
  it('Socket.IO (EIO 4 and 3, upgrading or not) on any sequence of messages', () => {
    fc.assert(
      fc.property(fc.array(anyMessageArb, { maxLength: 30 }), fc.constantFrom(3, 4), fc.option(fc.string()), (ms, eio, sid) => {
        const d = new SocketIoDecoder({ eio, sid });
        for (const m of ms) {
          const one = msg(m.dir, m.data, m.opcode, m.truncated);
          checkResult(d.message(one), one);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('JSON-RPC on any sequence of messages', () => {
    fc.assert(
      fc.property(fc.array(anyMessageArb, { maxLength: 30 }), (ms) => {
        const d = new JsonRpcDecoder();
        for (const m of ms) {
          const one = msg(m.dir, m.data, m.opcode, m.truncated);
          checkResult(d.message(one), one);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('Engine.IO long-polling bodies of any text, joined across bodies or not', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.array(socketIoTextArb, { maxLength: 8 }).map((p) => p.join('\x1e'))), { maxLength: 6 }), fc.boolean(), (bodies, cut) => {
        let carry = null;
        for (const body of bodies) {
          const r = decodePollingBody(body, cut, 4, carry);
          carry = r.carry;
          expect(JSON.parse(JSON.stringify(r.units))).toHaveLength(r.units.length);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('the stage, on handshakes and messages of any kind and order', () => {
    const handshakeArb = fc.record({
      conn: fc.integer({ min: 1, max: 3 }),
      outcome: fc.constantFrom('upgraded', 'plain-http', 'refused'),
      path: fc.oneof(fc.string(), fc.constantFrom('/socket.io/?EIO=4&transport=websocket', '/?EIO=4&transport=polling&sid=x', '/x?EIO=99&transport=', '/?EIO=3&transport=websocket')),
      subprotocol: fc.option(fc.constantFrom('mqtt', 'graphql-ws', 'nope')),
      method: fc.constantFrom('GET', 'POST'),
      reqBody: fc.option(socketIoTextArb),
      resBody: fc.option(fc.oneof(socketIoTextArb, fc.string())),
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(handshakeArb, fc.tuple(fc.integer({ min: 1, max: 3 }), anyMessageArb)), { maxLength: 40 }), (items) => {
        const out: WireEvent[] = [];
        const stage = new AppStage((events) => out.push(...events), { decodeBytes: 64 });
        let seq = 0;
        for (const item of items) {
          if (Array.isArray(item)) {
            const [conn, m] = item;
            const e: MessageEvent = {
              type: 'message', conn, t: ++seq, dir: m.dir, opcode: m.opcode, length: m.data.length, compressed: false, frames: 1, firstFrame: seq, lastFrame: seq,
              ...(m.opcode === 1 ? { text: m.data.toString('utf8') } : { base64: m.data.toString('base64') }),
            };
            stage.push([e]);
          } else {
            const h = item;
            const e = {
              type: 'handshake', conn: h.conn, t: ++seq, outcome: h.outcome, key: null, expectedAccept: null, accept: null, acceptValid: false,
              offeredExtensions: [], extensions: [], offeredSubprotocols: [], subprotocol: h.subprotocol, deflate: null, problems: [],
              request: { method: h.method, path: h.path, version: '1.1', headers: [], raw: '', t: seq, ...(h.reqBody !== null ? { body: h.reqBody } : {}) },
              response: { status: 200, reason: 'OK', version: '1.1', headers: [], raw: '', t: seq, ...(h.resBody !== null ? { body: h.resBody } : {}) },
            } as HandshakeEvent;
            stage.push([e]);
          }
        }
        for (const e of out) {
          // Whatever the stage adds is a line a recording accepts.
          const line = parseLine(JSON.stringify(e), 1, false);
          expect(line && 'event' in line ? null : line).toBeNull();
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('what the decoders keep stays bounded', () => {
  it('JSON-RPC remembers at most PENDING_IDS unanswered requests per direction, the newest', () => {
    const d = new JsonRpcDecoder();
    const n = PENDING_IDS * 5;
    const refs: AppMessage[] = [];
    for (let i = 0; i < n; i++) {
      const m = msg('client', Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'never-answered', id: i })));
      refs.push(m);
      d.message(m);
    }
    const pending = (d as unknown as { pending: Record<Direction, Map<string, unknown>> }).pending;
    expect(pending.client.size).toBe(PENDING_IDS);
    // The newest are still answered; the oldest forgotten (no replyTo rather than unbounded memory).
    const answer = (id: number) => {
      const m = msg('server', Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: 0, id })));
      return appOf(d.message(m), m)!.replyTo;
    };
    expect(answer(n - 1)).toEqual(refs[n - 1]!.ref);
    expect(answer(0)).toBeUndefined();
  });

  it('Socket.IO: a billion announced attachments allocate nothing by that number; what is kept stays under its bounds', () => {
    const d = new SocketIoDecoder({ eio: 4, sid: null });
    const r = d.message(msg('client', Buffer.from('451000000000-["big",{"_placeholder":true,"num":0}]')));
    expect(appOf(r)!.summary).toContain('waiting for 1000000000 attachments');
    const chunk = Buffer.alloc(16 * 1024, 7);
    for (let i = 0; i < 1000; i++) d.message(msg('client', chunk, 2));
    const w = (d as unknown as { waiting: Record<Direction, { kept: unknown[]; keptBytes: number; refs: unknown[] } | null> }).waiting.client!;
    expect(w.kept.length).toBeLessThanOrEqual(MAX_ATTACHMENTS);
    expect(w.keptBytes).toBeLessThanOrEqual(MAX_ATTACHMENT_BYTES);
    expect(w.refs.length).toBeLessThanOrEqual(MAX_ATTACHMENTS + 1);
    // A text packet ends the wait (Socket.IO's decoder fails there too), and says so.
    const next = msg('client', Buffer.from('42["next"]'));
    const after = d.message(next);
    expect(after.violations!.map((v) => v.rule)).toEqual(['socket.io-missing-attachments']);
    expect(appOf(after, next)!.event).toBe('next');
  });

  it('the stage keeps nothing for a connection that speaks no protocol it knows', () => {
    const out: WireEvent[] = [];
    const stage = new AppStage((events) => out.push(...events));
    for (let conn = 1; conn <= 1000; conn++) {
      stage.push([
        {
          type: 'handshake', conn, t: 0, outcome: 'upgraded', key: null, expectedAccept: null, accept: null, acceptValid: true, offeredExtensions: [], extensions: [],
          offeredSubprotocols: [], subprotocol: null, deflate: null, problems: [], request: { method: 'GET', path: '/', version: '1.1', headers: [], raw: '', t: 0 }, response: null,
        },
        { type: 'message', conn, t: 1, dir: 'client', opcode: 1, length: 5, compressed: false, frames: 1, firstFrame: 0, lastFrame: 0, text: 'hello' },
      ]);
    }
    expect(stage.tracked).toBe(0);
    expect(out.filter((e) => e.type === 'message' && e.app !== undefined)).toEqual([]);
  });
});

describe('a recording’s app is checked like the rest of its line', () => {
  const base = { type: 'message', conn: 1, t: 1, dir: 'client', opcode: 1, length: 2, text: 'hi', compressed: false, frames: 1, firstFrame: 0, lastFrame: 0 };
  it.each([
    { protocol: 'socket.io', type: 'EVENT' },
    { protocol: 'carrier-pigeon', type: 'x', summary: 'x' },
    { protocol: 'socket.io', type: 'EVENT', summary: 'x', args: 'not a list' },
    { protocol: 'json-rpc', type: 'response', summary: 'x', replyTo: { conn: -1, dir: 'up', firstFrame: 0 } },
    { protocol: 'socket.io', type: 'EVENT', summary: 'x', layers: [{ name: 'x', start: -5, end: 1e300, label: 'x' }] },
    { protocol: 'json-rpc', type: 'batch', summary: 'x', parts: [{ protocol: 'json-rpc', type: 7 }] },
    'EVENT',
  ])('a message whose app is %j is a bad line, saying so', (app) => {
    const v = parseLine(JSON.stringify({ ...base, app }), 3, false);
    expect(v && 'error' in v ? v.error.message : 'accepted').toMatch(/^line 3 is not a valid message event: `app` should be an application layer \(protocol, type, summary\)/);
  });

  it('a message with a well-formed app is read as is', () => {
    const app = { protocol: 'socket.io', type: 'EVENT', summary: 'EVENT "a" []', socketType: 'EVENT', nsp: '/', event: 'a', args: [], layers: [{ name: 'Engine.IO packet', start: 0, end: 2, label: 'x' }] };
    const v = parseLine(JSON.stringify({ ...base, app }), 3, false);
    expect(v && 'event' in v ? v.event : v).toEqual({ ...base, app });
  });
});
