/**
 * GraphQL over WebSocket decoded from real traffic: the `graphql-ws` library's server and client
 * (`graphql-transport-ws`) and `subscriptions-transport-ws` (the legacy `graphql-ws`) talk
 * through a wiretap; the `app` its decoding stage set on each message names what the libraries' own
 * APIs sent and received. The rules a decoder reports are checked against what the real server
 * does when they are broken (the close code it sends).
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type net from 'node:net';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { SubscriptionClient, SubscriptionServer } from 'subscriptions-transport-ws';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_APP_LIMITS } from '../../server/protocol/app/stage.ts';
import { connectWithSubprotocol, decodedByTap, textOf } from '../helpers/app-wire.ts';
import { Cleanup, HOST, startTap, type TapHandle } from '../helpers/net.ts';

// The libraries load graphql's CommonJS build (Node's resolution); the test must use the same
// instance (graphql refuses a schema made by another copy of itself), not the ESM one vite picks.
const { buildSchema, execute, subscribe } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SDL = `
  type Query { hello(name: String): String }
  type Subscription { greetings: String, forever: String }
`;
const GREETINGS = ['Hi', 'Bonjour', 'Hola', 'Ciao', 'Zdravo'];

/** A graphql-ws server (graphql-transport-ws) on port 0 with a wiretap in front of it. */
async function graphqlWsBehindTap(): Promise<TapHandle> {
  const wss = new WebSocketServer({ host: HOST, port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const server = useServer(
    {
      schema: buildSchema(SDL),
      roots: {
        query: { hello: ({ name }: { name?: string }) => `Hello ${name ?? 'world'}` },
        subscription: {
          greetings: async function* () {
            for (const g of GREETINGS) yield { greetings: g };
          },
          // Active until the client completes it or the socket closes.
          forever: async function* () {
            yield { forever: 'tick' };
            await new Promise(() => {});
          },
        },
      },
    },
    wss,
  );
  cleanup.add(async () => {
    for (const c of wss.clients) c.terminate();
    await server.dispose();
    await new Promise((resolve) => wss.close(resolve));
  });
  const tap = await startTap((wss.address() as net.AddressInfo).port);
  cleanup.add(() => tap.close());
  return tap;
}

describe('graphql-transport-ws (graphql-ws server and client)', () => {
  it('names each message, the subscription by its operation, and points every next at its subscribe', async () => {
    const tap = await graphqlWsBehindTap();
    let n = 0;
    const client = createClient({ url: tap.url, webSocketImpl: WebSocket, generateID: () => `op-${++n}`, retryAttempts: 0, lazy: false });
    // lazy: false keeps one socket for both operations (a lazy client closes it after each).
    cleanup.add(() => client.dispose());

    const run = <T>(payload: { query: string; operationName?: string; variables?: Record<string, unknown> }) =>
      new Promise<T[]>((resolve, reject) => {
        const got: T[] = [];
        client.subscribe<T>(payload, { next: (v) => got.push(v as T), error: reject, complete: () => resolve(got) });
      });
    const greetings = await run<unknown>({ query: '# say hi\nsubscription OnGreet { greetings }' });
    expect(greetings).toHaveLength(GREETINGS.length);
    // Two operations in one document: operationName picks the second.
    const hello = await run<unknown>({
      query: 'query First { hello } query Named($who: String = "{ not a brace }") { hello(name: $who) }',
      operationName: 'Named',
      variables: { who: 'Ada' },
    });
    await client.dispose();
    const end = await tap.waitFor('end');

    const decoded = decodedByTap(tap, end.conn);
    const at = (i: number) => decoded[i]!;
    expect(decoded.map((d) => `${d.msg.dir} ${d.result.app?.type}`)).toEqual([
      'client connection_init',
      'server connection_ack',
      'client subscribe',
      ...GREETINGS.map(() => 'server next'),
      'server complete',
      'client subscribe',
      'server next',
      'server complete',
    ]);
    expect(decoded.flatMap((d) => d.result.violations ?? [])).toEqual([]);

    const sub = at(2);
    expect(sub.result.app).toMatchObject({ protocol: 'graphql-transport-ws', id: 'op-1', operationName: 'OnGreet', operationKind: 'subscription' });
    expect(sub.result.app!.summary).toBe('subscribe "op-1" subscription OnGreet');
    greetings.forEach((value, i) => {
      const next = at(3 + i).result.app!;
      expect(next.id).toBe('op-1');
      expect(next.replyTo).toEqual(sub.msg.ref);
      expect(next.summary).toBe(`next "op-1" ${JSON.stringify(value)}`);
    });
    expect(at(3 + GREETINGS.length).result.app).toMatchObject({ type: 'complete', id: 'op-1', replyTo: sub.msg.ref });

    const q = at(4 + GREETINGS.length);
    expect(q.result.app).toMatchObject({ id: 'op-2', operationName: 'Named', operationKind: 'query' });
    const answer = at(5 + GREETINGS.length).result.app!;
    expect(answer).toMatchObject({ id: 'op-2', replyTo: q.msg.ref });
    expect(answer.summary).toBe(`next "op-2" ${JSON.stringify(hello[0])}`);
    expect(hello).toEqual([{ data: { hello: 'Hello Ada' } }]);
    // The layer the Message view highlights covers the whole JSON message.
    expect(sub.result.app!.layers).toEqual([{ name: 'graphql-transport-ws message', start: 0, end: sub.msg.data.length, label: 'subscribe' }]);
  });

  it('names a result longer than the stage decodes by its type and id, and still points it at its subscribe', async () => {
    const tap = await graphqlWsBehindTap();
    const client = createClient({ url: tap.url, webSocketImpl: WebSocket, generateID: () => 'big', retryAttempts: 0, lazy: false });
    cleanup.add(() => client.dispose());
    const name = 'y'.repeat(DEFAULT_APP_LIMITS.decodeBytes * 2);
    const result = await new Promise<unknown>((resolve, reject) => {
      client.subscribe({ query: 'query Big($n: String) { hello(name: $n) }', variables: { n: name } }, { next: resolve, error: reject, complete: () => {} });
    });
    expect(result).toEqual({ data: { hello: `Hello ${name}` } });
    await client.dispose();
    const end = await tap.waitFor('end');
    const decoded = decodedByTap(tap, end.conn);
    const subscribe = decoded.find((d) => d.result.app?.type === 'subscribe')!;
    const next = decoded.find((d) => d.result.app?.type === 'next')!;
    // Both are cut by the stage: the subscribe (its variables) and the result.
    expect(Math.min(subscribe.msg.data.length, next.msg.data.length)).toBeGreaterThan(DEFAULT_APP_LIMITS.decodeBytes);
    expect(subscribe.result.app!.summary).toBe(`subscribe "big" (${subscribe.msg.length!.toLocaleString('en-US')} bytes, too long to decode)`);
    expect(next.result.app).toMatchObject({ id: 'big', replyTo: subscribe.msg.ref });
    expect(next.result.app!.summary).toBe(`next "big" (${next.msg.length!.toLocaleString('en-US')} bytes, too long to decode)`);
    expect(decoded.flatMap((d) => d.result.violations ?? [])).toEqual([]);
  });

  /**
   * Each broken rule, sent by a plain `ws` client, with what the graphql-ws server does about it:
   * the close code the protocol prescribes proves the rule is the server's too.
   */
  const cases: Array<{ rule: string; code: number; send: string[] }> = [
    { rule: 'graphql-second-connection-init', code: 4429, send: [`{"type":"connection_init"}`, `{"type":"connection_init"}`] },
    { rule: 'graphql-subscribe-before-ack', code: 4401, send: [`{"type":"subscribe","id":"1","payload":{"query":"{ hello }"}}`] },
    { rule: 'graphql-missing-id', code: 4400, send: [`{"type":"connection_init"}`, `{"type":"subscribe","payload":{"query":"{ hello }"}}`] },
    {
      rule: 'graphql-duplicate-id',
      code: 4409,
      send: [`{"type":"connection_init"}`, `{"type":"subscribe","id":"a","payload":{"query":"subscription { forever }"}}`, `{"type":"subscribe","id":"a","payload":{"query":"subscription { forever }"}}`],
    },
    { rule: 'graphql-unknown-type', code: 4400, send: [`{"type":"connection_init"}`, `{"type":"start","id":"1","payload":{"query":"{ hello }"}}`] },
    // The protocol's "Invalid message" says 4400; graphql-ws throws on it and closes with 4500.
    { rule: 'graphql-wrong-direction', code: 4500, send: [`{"type":"connection_init"}`, `{"type":"next","id":"1","payload":{}}`] },
    { rule: 'graphql-not-json', code: 4400, send: [`{"type":"connection_init"`] },
  ];
  for (const { rule, code, send } of cases) {
    it(`reports ${rule} on the message the graphql-ws server closes the socket for (${code})`, async () => {
      const tap = await graphqlWsBehindTap();
      const c = await connectWithSubprotocol(tap.url, 'graphql-transport-ws');
      cleanup.add(() => c.ws.terminate());
      for (const [i, m] of send.entries()) {
        c.ws.send(m);
        // Wait for the ack (or the first tick) so the next message meets the state it is meant to.
        if (i < send.length - 1 && m.includes('connection_init') && !send[i + 1]!.includes('connection_init')) await c.next();
        if (i < send.length - 1 && m.includes('forever')) await c.next();
      }
      expect((await c.closed).code).toBe(code);
      const end = await tap.waitFor('end');
      const decoded = decodedByTap(tap, end.conn);
      const last = decoded.filter((d) => d.msg.dir === 'client').at(-1)!;
      expect(last.result.violations?.map((v) => v.rule), textOf(last)).toContain(rule);
      expect(last.result.violations![0]!.section).toMatch(/^GraphQL over WebSocket Protocol \(graphql-transport-ws\), /);
      // Nothing before the message that broke the rule is reported.
      for (const d of decoded.filter((d) => d !== last)) expect(d.result.violations, textOf(d)).toBeUndefined();
    });
  }
});

describe('graphql-ws, the legacy subprotocol (subscriptions-transport-ws server and client)', () => {
  it('names start, data and complete, with the operation and each data pointing at its start', async () => {
    const httpServer = http.createServer();
    await new Promise<void>((resolve) => httpServer.listen(0, HOST, resolve));
    const schema = buildSchema(SDL);
    const rootValue = {
      hello: () => 'Hello world',
      greetings: async function* () {
        for (const g of GREETINGS) yield { greetings: g };
      },
    };
    const server = SubscriptionServer.create({ schema, execute, subscribe, rootValue }, { server: httpServer, path: '/graphql' });
    cleanup.add(async () => {
      server.close();
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    });
    const tap = await startTap((httpServer.address() as net.AddressInfo).port);
    cleanup.add(() => tap.close());

    const client = new SubscriptionClient(`${tap.url}/graphql`, { reconnect: false }, WebSocket);
    cleanup.add(() => client.close());
    const got = await new Promise<unknown[]>((resolve, reject) => {
      const values: unknown[] = [];
      client.request({ query: 'subscription Legacy { greetings }' }).subscribe({ next: (v) => values.push(v), error: reject, complete: () => resolve(values) });
    });
    expect(got).toHaveLength(GREETINGS.length);
    client.close();
    const end = await tap.waitFor('end');

    const decoded = decodedByTap(tap, end.conn);
    expect(decoded.flatMap((d) => d.result.violations ?? [])).toEqual([]);
    const start = decoded.find((d) => d.result.app?.type === 'start')!;
    expect(start.result.app).toMatchObject({ protocol: 'graphql-ws', id: '1', operationName: 'Legacy', operationKind: 'subscription' });
    const data = decoded.filter((d) => d.result.app?.type === 'data').map((d) => d.result.app!);
    expect(data.map((a) => a.summary)).toEqual(got.map((v) => `data "1" ${JSON.stringify(v)}`));
    for (const a of data) expect(a.replyTo).toEqual(start.msg.ref);
    expect(decoded.map((d) => d.result.app?.type)).toEqual(expect.arrayContaining(['connection_init', 'connection_ack', 'complete']));
  });
});
