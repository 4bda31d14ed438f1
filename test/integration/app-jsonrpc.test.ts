/**
 * JSON-RPC 2.0 through the wiretap, spoken by a real implementation (json-rpc-2.0's
 * JSONRPCServer and JSONRPCClient over `ws`): what each side's library sent is what the decoded
 * `app` of its message says (method, id, params, result, error), and every response points at
 * the request it answers (`replyTo`).
 */
import { JSONRPCClient, JSONRPCServer, type JSONRPCRequest } from 'json-rpc-2.0';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { MessageEvent } from '../../server/capture/events.ts';
import { CaptureStore } from '../../server/capture/store.ts';
import { Cleanup, startTap, startWsServer, until, type TapHandle } from '../helpers/net.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const WAIT = 20_000;

/** A JSON-RPC server (add, fail) behind a wiretap, and a JSON-RPC client connected through it. */
async function rpcThroughTap(tapOptions: Parameters<typeof startTap>[1] = {}): Promise<{ tap: TapHandle; client: JSONRPCClient; sent: unknown[]; answered: unknown[]; ws: WebSocket }> {
  // The server logs what a method throws; the test expects `fail` to throw.
  const server = new JSONRPCServer({ errorListener: () => {} });
  server.addMethod('add', ({ a, b }: { a: number; b: number }) => a + b);
  server.addMethod('fail', () => {
    throw new Error('it failed on purpose');
  });
  server.addMethod('log', () => undefined);
  const answered: unknown[] = [];
  const wsServer = await startWsServer({}, (ws) => {
    ws.on('message', async (data) => {
      const response = await server.receiveJSON(data.toString());
      if (response) {
        answered.push(response);
        ws.send(JSON.stringify(response));
      }
    });
  });
  cleanup.add(() => wsServer.close());
  const tap = await startTap(wsServer.port, tapOptions);
  cleanup.add(() => tap.close());
  const ws = new WebSocket(tap.url);
  cleanup.add(() => ws.terminate());
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const sent: unknown[] = [];
  const client = new JSONRPCClient((request) => {
    sent.push(request);
    ws.send(JSON.stringify(request));
  });
  ws.on('message', (data) => {
    const v = JSON.parse(data.toString()) as unknown;
    if (Array.isArray(v)) for (const r of v) client.receive(r);
    else client.receive(v as Parameters<JSONRPCClient['receive']>[0]);
  });
  return { tap, client, sent, answered, ws };
}

const refOf = (m: MessageEvent) => ({ conn: m.conn, dir: m.dir, firstFrame: m.firstFrame });

describe('JSON-RPC 2.0 through the wiretap (json-rpc-2.0)', () => {
  it('decodes requests, notifications, results and errors as the libraries sent them, each response pointing at its request', async () => {
    const { tap, client, sent, answered } = await rpcThroughTap();
    expect(await client.request('add', { a: 2, b: 3 })).toBe(5);
    await expect(client.request('fail', {})).rejects.toThrow('it failed on purpose');
    await expect(client.request('nope', [1])).rejects.toThrow(/not found/i);
    client.notify('log', { line: 'hello' });
    expect(await client.request('add', { a: 40, b: 2 })).toBe(42);

    const messages = await tap.waitForCount('message', 9, undefined, WAIT);
    const clientMsgs = messages.filter((m) => m.dir === 'client');
    const serverMsgs = messages.filter((m) => m.dir === 'server');
    expect(clientMsgs).toHaveLength(5);
    expect(serverMsgs).toHaveLength(4);

    // What the client library sent, message by message.
    expect(clientMsgs.map((m) => m.app)).toEqual(
      (sent as JSONRPCRequest[]).map((r) =>
        expect.objectContaining({
          protocol: 'json-rpc',
          kind: r.id === undefined ? 'notification' : 'request',
          type: r.id === undefined ? 'notification' : 'request',
          method: r.method,
          params: r.params,
          ...(r.id === undefined ? {} : { id: r.id }),
        }),
      ),
    );
    expect(clientMsgs.find((m) => m.app?.kind === 'notification')?.app).not.toHaveProperty('id');
    expect(clientMsgs[0]!.app!.summary).toBe('request "add" id 1 {"a":2,"b":3}');

    // What the server library answered, each reply to the request with its id.
    const byId = new Map(clientMsgs.filter((m) => m.app?.id !== undefined).map((m) => [m.app!.id, refOf(m)]));
    expect(serverMsgs.map((m) => m.app)).toEqual(
      (answered as Array<{ id: number; result?: unknown; error?: { code: number; message: string } }>).map((r) =>
        expect.objectContaining({
          protocol: 'json-rpc',
          id: r.id,
          kind: r.error ? 'error' : 'response',
          ...(r.error ? { error: expect.objectContaining({ code: r.error.code, message: r.error.message }) } : { result: r.result }),
          replyTo: byId.get(r.id),
        }),
      ),
    );
    expect(serverMsgs.map((m) => m.app!.summary)).toEqual([
      'response id 1: 5',
      'error id 2: 0 it failed on purpose',
      'error id 3: -32601 Method not found',
      'response id 4: 42',
    ]);
    expect(tap.events.filter((e) => e.type === 'appViolation')).toEqual([]);
  });

  it('decodes a batch, each part with its own request and reply', async () => {
    const { tap, client, answered } = await rpcThroughTap();
    const batch: JSONRPCRequest[] = [
      { jsonrpc: '2.0', method: 'add', params: { a: 1, b: 1 }, id: 10 },
      { jsonrpc: '2.0', method: 'log', params: { line: 'x' } },
      { jsonrpc: '2.0', method: 'add', params: { a: 2, b: 2 }, id: 'eleven' },
    ];
    const responses = await client.requestAdvanced(batch);
    expect(responses.map((r) => r.result)).toEqual([2, 4]);
    const [req, res] = await tap.waitForCount('message', 2, undefined, WAIT);
    expect(req!.app).toMatchObject({ type: 'request', method: 'add', id: 10 });
    expect(req!.app!.parts!.map((p) => [p.kind, p.method, p.id])).toEqual([
      ['request', 'add', 10],
      ['notification', 'log', undefined],
      ['request', 'add', 'eleven'],
    ]);
    expect(req!.app!.summary).toMatch(/^batch of 3: request "add" id 10/);
    const sentBack = answered[0] as Array<{ id: number | string; result: unknown }>;
    expect(res!.app!.parts!.map((p) => [p.kind, p.id, p.result, p.replyTo])).toEqual(sentBack.map((r) => ['response', r.id, r.result, refOf(req!)]));
  });

  it('reports a message that claims JSON-RPC and breaks it, once the connection is known to speak it', async () => {
    const { tap, client, ws } = await rpcThroughTap();
    expect(await client.request('add', { a: 1, b: 2 })).toBe(3);
    ws.send(JSON.stringify({ jsonrpc: '2.0', result: 1, error: { code: 1, message: 'x' }, id: 7 }));
    ws.send('[]');
    const v = await tap.waitForCount('appViolation', 2, undefined, WAIT);
    expect(v.map((x) => [x.protocol, x.dir, x.rule])).toEqual([
      ['json-rpc', 'client', 'json-rpc-result-and-error'],
      ['json-rpc', 'client', 'json-rpc-empty-batch'],
    ]);
    const msgs = tap.events.filter((e): e is MessageEvent => e.type === 'message' && e.dir === 'client');
    expect(v[0]!.at).toEqual(refOf(msgs[1]!));
  });

  it('keeps app through the capture store, as npm start runs the wiretap (lazy events, small messages packed)', async () => {
    const store = new CaptureStore();
    const { client, sent, answered } = await rpcThroughTap({ lazyEvents: true, onEvents: (events) => store.add(events) });
    expect(await client.request('add', { a: 1, b: 1 })).toBe(2);
    await until(() => (store.all().filter((e) => e.type === 'message').length >= 2 ? true : undefined), WAIT, () => 'two messages in the store');
    const held = store.all().filter((e): e is MessageEvent => e.type === 'message');
    expect(held.map((m) => [m.text, m.app?.summary])).toEqual([
      [JSON.stringify(sent[0]), 'request "add" id 1 {"a":1,"b":1}'],
      [JSON.stringify(answered[0]), 'response id 1: 2'],
    ]);
  });

  it('leaves a connection alone whose first message is not JSON-RPC', async () => {
    const wsServer = await startWsServer({}, (ws) => ws.on('message', (d) => ws.send(d.toString())));
    cleanup.add(() => wsServer.close());
    const tap = await startTap(wsServer.port);
    cleanup.add(() => tap.close());
    const ws = new WebSocket(tap.url);
    cleanup.add(() => ws.terminate());
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send('{"hello":"world"}');
    // Later messages are JSON-RPC, but the first said otherwise: nothing is guessed.
    ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'add', id: 1 }));
    const msgs = await tap.waitForCount('message', 4, undefined, WAIT);
    expect(msgs.map((m) => m.app)).toEqual([undefined, undefined, undefined, undefined]);
  });
});
