/**
 * GraphQL over WebSocket, both subprotocols that carry the name:
 *
 * - `graphql-transport-ws`: the protocol of the `graphql-ws` library (its PROTOCOL.md, "GraphQL
 *   over WebSocket Protocol"): connection_init, connection_ack, ping, pong, subscribe, next,
 *   error, complete;
 * - `graphql-ws`: the older protocol of `subscriptions-transport-ws` (its PROTOCOL.md):
 *   connection_init, connection_ack, connection_error, ka, connection_terminate, start, data,
 *   error, complete, stop. Same words, different rules: the subprotocol decides which.
 *
 * Each message is one JSON object with a `type`; operations carry an `id`. A subscribe (start)
 * names its operation in `payload.query`: its kind and name are read with a bounded tokenizer
 * (graphql-operation.ts). A server's reply (next, error, complete; data in the old protocol)
 * points back at the subscribe with the same id (`replyTo`), from a bounded table of the
 * operations in flight.
 */
import type { AppInfo, AppLayerSpan, AppProtocol, Direction, MessageRef } from '../../capture/events.ts';
import type { AppDecoder, AppMaker, AppMessage, AppResult, AppRuleBroken } from './decoder.ts';
import { decoderFailure } from './failure.ts';
import { findOperation, type OperationInfo } from './graphql-operation.ts';
import { FALLBACK, jsonHead, NO_TYPE, NOT_JSON } from './json-head.ts';
import { SteadyMap } from './pending.ts';

/** Operations in flight remembered for `replyTo` (oldest forgotten first). */
export const MAX_OPERATIONS = 256;
/** An id longer than this is shown and remembered by its start only. */
const MAX_ID_CHARS = 128;
/** Longest message text parsed as JSON; a longer one is named by its size only. */
const MAX_JSON_BYTES = 1024 * 1024;
/** Characters of a payload shown in a summary. */
const SUMMARY_PAYLOAD_CHARS = 80;

interface Dialect {
  protocol: AppProtocol;
  /** The spec's title, for `section`. */
  spec: string;
  /** Who may send each type. */
  types: Record<string, Direction | 'both'>;
  /** The types that name an operation and must carry an id. */
  withId: ReadonlySet<string>;
  /** The type that starts an operation. */
  start: string;
  /** Server types that answer an operation (and get `replyTo`). */
  replies: ReadonlySet<string>;
  /** Types after which the operation is over (its id may be used again). */
  ends: ReadonlySet<string>;
  /** graphql-transport-ws: a second connection_init, and a subscribe before the ack, close the socket. */
  strictInit: boolean;
}

const TRANSPORT_WS: Dialect = {
  protocol: 'graphql-transport-ws',
  spec: 'GraphQL over WebSocket Protocol (graphql-transport-ws)',
  types: {
    connection_init: 'client',
    connection_ack: 'server',
    ping: 'both',
    pong: 'both',
    subscribe: 'client',
    next: 'server',
    error: 'server',
    complete: 'both',
  },
  withId: new Set(['subscribe', 'next', 'error', 'complete']),
  start: 'subscribe',
  replies: new Set(['next', 'error', 'complete']),
  ends: new Set(['error', 'complete']),
  strictInit: true,
};

const LEGACY_WS: Dialect = {
  protocol: 'graphql-ws',
  spec: 'subscriptions-transport-ws protocol (graphql-ws)',
  types: {
    connection_init: 'client',
    connection_ack: 'server',
    connection_error: 'server',
    ka: 'server',
    connection_terminate: 'client',
    start: 'client',
    data: 'server',
    error: 'server',
    complete: 'server',
    stop: 'client',
  },
  // The old server sends `error` without an id when a message cannot be parsed at all.
  withId: new Set(['start', 'stop', 'data', 'complete']),
  start: 'start',
  replies: new Set(['data', 'error', 'complete']),
  ends: new Set(['error', 'complete', 'stop']),
  strictInit: false,
};

/**
 * A decoder for `graphql-transport-ws` (the graphql-ws library). `lazy: false` parses each message
 * with JSON.parse on the decoder's pass and makes `app` at once: the reference the relay's pass
 * (a scan for `type` and `id`, json-head.ts) is checked against.
 */
export function graphqlTransportWs(options: { lazy?: boolean } = {}): AppDecoder {
  return new GraphqlDecoder(TRANSPORT_WS, options.lazy ?? true);
}

/** A decoder for the legacy `graphql-ws` subprotocol (subscriptions-transport-ws); `lazy` as above. */
export function graphqlWsLegacy(options: { lazy?: boolean } = {}): AppDecoder {
  return new GraphqlDecoder(LEGACY_WS, options.lazy ?? true);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

class GraphqlDecoder implements AppDecoder {
  readonly protocol: AppProtocol;
  private inits = 0;
  private acked = false;
  /** id → the subscribe (start) message, oldest first. */
  private readonly operations = new Operations();

  constructor(
    private readonly d: Dialect,
    private readonly lazy = true,
  ) {
    this.protocol = d.protocol;
  }

  message(m: AppMessage): AppResult {
    try {
      const r = this.decode(m);
      if (this.lazy || !r.maker) return r;
      const out: AppResult = { app: r.maker(m, r.arg ?? -1) };
      if (r.violations) out.violations = r.violations;
      return out;
    } catch (err) {
      return { violations: [decoderFailure(this.d.protocol, err)] };
    }
  }

  /**
   * The decoder's pass: the rules a message breaks and what it changes (the ack, the operations
   * in flight), and the subscribe a reply points at, kept as one number (`arg`). Its `app` is
   * made by `make` when the event is read: this pass builds no summary.
   */
  private decode(m: AppMessage): AppResult {
    const d = this.d;
    if (m.truncated || m.data.length > MAX_JSON_BYTES) return { app: this.cut(m) };
    const violations: AppRuleBroken[] = [];
    const o = this.lazy ? headOf(m) : parseMessage(m);
    if (o === null || typeof o === 'string') {
      // Not JSON, or no "type": rare, made now.
      const app = this.make(m, -1);
      if (o === null) broke(violations, d, 'graphql-not-json', 'Communication', `This ${m.dir} message is not JSON; every ${d.protocol} message is a JSON object with a "type".`);
      else broke(violations, d, 'graphql-no-type', 'Communication', `This ${m.dir} message has no "type" string; every ${d.protocol} message is a JSON object with one.`);
      return { app, violations };
    }
    const type = o.type.slice(0, 64);
    const sender = d.types[type];

    if (sender === undefined) {
      broke(violations, d, 'graphql-unknown-type', d.strictInit ? 'Invalid message' : 'Client-server communication', `"${type}" is not a ${d.protocol} message type; a ${d.protocol} peer closes the connection${d.strictInit ? ' with 4400' : ''}.`);
      return this.done(violations);
    }
    if (sender !== 'both' && sender !== m.dir) {
      broke(violations, d, 'graphql-wrong-direction', `${type}`, `"${type}" is sent by the ${sender}, but the ${m.dir} sent it${d.strictInit ? '; the receiver closes the connection with 4400' : ''}.`);
    }
    const id = idOf(o);
    if (d.withId.has(type) && (typeof o.id !== 'string' || o.id === '')) {
      broke(violations, d,
        'graphql-missing-id',
        type,
        `This "${type}" has no id (a non-empty string); ${d.strictInit ? 'the receiver closes the connection with 4400, and ' : ''}without one no reply can be matched to its operation.`,
      );
    }

    switch (type) {
      case 'connection_init':
        this.inits++;
        if (this.inits > 1 && d.strictInit) {
          broke(violations, d, 'graphql-second-connection-init', 'ConnectionInit', 'A second connection_init on the same socket: the server closes it with 4429 "Too many initialisation requests".');
        }
        return this.done(violations);
      case 'connection_ack':
        this.acked = true;
        return this.done(violations);
      case d.start:
        if (d.strictInit && !this.acked) {
          broke(violations, d, 'graphql-subscribe-before-ack', 'Subscribe', 'A subscribe before the server sent connection_ack: the server closes the socket with 4401 "Unauthorized".');
        }
        if (id !== undefined) {
          if (d.strictInit && this.operations.has(id)) {
            broke(violations, d, 'graphql-duplicate-id', 'Subscribe', `A subscribe with id "${id}" while the operation with that id is still active: the server closes the socket with 4409 "Subscriber for ${id} already exists".`);
          }
          this.remember(id, m.ref);
        }
        return this.done(violations);
      default: {
        let arg = -1;
        if (id !== undefined && m.dir === 'server' && d.replies.has(type)) {
          const ref = this.operations.get(id);
          if (ref !== undefined) arg = refArg(ref);
        }
        if (id !== undefined && d.ends.has(type)) this.operations.delete(id);
        return this.done(violations, arg);
      }
    }
  }

  /** The pass's result: the shared maker, the subscribe's number, the rules broken. */
  private done(violations: AppRuleBroken[], arg = -1): AppResult {
    return violations.length > 0 ? { maker: this.make, arg, violations } : { maker: this.make, arg };
  }

  /** A message's app, from its text and the subscribe it answers (`arg`, refArg's number; -1 none). Shared: held events keep no app of their own. */
  private readonly make: AppMaker = (m, arg) => {
    const d = this.d;
    const o = parseMessage(m);
    if (o === null || typeof o === 'string') {
      const text = utf8.decode(m.data);
      return o === null ? this.unit('invalid', `not JSON: ${elide(text)}`, m) : this.unit('invalid', `no "type": ${elide(text)}`, m);
    }
    const type = o.type.slice(0, 64);
    const info: AppInfo = this.unit(type, type, m);
    if (d.types[type] === undefined) return info;
    const id = idOf(o);
    if (id !== undefined) info.id = id;
    switch (type) {
      case 'connection_init':
      case 'connection_ack':
      case 'connection_error':
      case 'ping':
      case 'pong':
        info.summary = withPayload(type, o.payload);
        break;
      case d.start: {
        const p = (o.payload ?? {}) as { query?: unknown; operationName?: unknown };
        const wanted = typeof p.operationName === 'string' ? p.operationName : null;
        let op: OperationInfo | null = null;
        if (typeof p.query === 'string') op = findOperation(p.query, wanted);
        info.operationName = op?.name ?? wanted;
        info.operationKind = op?.kind ?? null;
        const what = op ? `${op.kind} ${op.name ?? '(anonymous)'}` : typeof p.query === 'string' ? 'an operation the scan could not read' : 'no query';
        info.summary = `${type} ${id !== undefined ? JSON.stringify(id) + ' ' : ''}${what}`;
        break;
      }
      default: {
        if (arg >= 0) info.replyTo = refOf(m.ref.conn, arg);
        const idText = id !== undefined ? ` ${JSON.stringify(id)}` : '';
        info.summary = o.payload === undefined ? `${type}${idText}` : `${type}${idText} ${elide(safeStringify(o.payload))}`;
        break;
      }
    }
    return info;
  };

  /**
   * A message longer than the stage decodes (a big `next` result): its type and id are read from
   * its first bytes, where both libraries write them ({"id":..,"type":..,"payload":..}), so the
   * reply still points at its subscribe; the payload is not parsed.
   */
  private cut(m: AppMessage): AppInfo {
    const head = utf8.decode(m.data.subarray(0, 512));
    const type = /^\s*\{\s*(?:"id"\s*:\s*"[^"\\]{0,128}"\s*,\s*)?"type"\s*:\s*"([a-z_]{1,32})"/.exec(head)?.[1];
    const id = /^\s*\{\s*(?:"type"\s*:\s*"[a-z_]{1,32}"\s*,\s*)?"id"\s*:\s*"([^"\\]{0,128})"/.exec(head)?.[1];
    const size = `${(m.length ?? m.data.length).toLocaleString('en-US')} bytes`;
    if (type === undefined) return this.unit('message', `a message too long to decode (${size})`, m);
    const info = this.unit(type, `${type}${id !== undefined ? ` ${JSON.stringify(id)}` : ''} (${size}, too long to decode)`, m);
    if (id !== undefined) {
      info.id = id;
      if (m.dir === 'server' && this.d.replies.has(type)) {
        const ref = this.operations.get(id);
        if (ref !== undefined) info.replyTo = ref;
      }
      if (this.d.ends.has(type)) this.operations.delete(id);
      if (type === this.d.start && m.dir === 'client') this.remember(id, m.ref);
    }
    return info;
  }

  private remember(id: string, ref: MessageRef): void {
    this.operations.set(id, ref);
  }

  private unit(type: string, summary: string, m: AppMessage): AppInfo {
    const layers: AppLayerSpan[] = [{ name: `${this.d.protocol} message`, start: 0, end: m.data.length, label: type }];
    return { protocol: this.d.protocol, type, summary, layers };
  }
}

type Parsed = { type: string; id?: unknown; payload?: unknown };

/** A rule `d`'s protocol says the message broke (no closure per message: the relay's path). */
function broke(violations: AppRuleBroken[], d: Dialect, rule: string, section: string, message: string): void {
  violations.push({ rule, section: `${d.spec}, ${section}`, message });
}

/** UTF-8 text of a message's data (Buffer's decoder: cheaper than TextDecoder on short messages). */
function textOfData(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
}

/**
 * The operations in flight, by id, at most MAX_OPERATIONS: past it the oldest is forgotten, in
 * constant time (a list in order of arrival beside the Map; a Map's first key is found by
 * stepping over the entries deleted before it, and a client that never completes its
 * operations makes one eviction per message). A SteadyMap (pending.ts): one operation at a
 * time, subscribed then completed, would reallocate a bare Map's table on every complete.
 */
class Operations {
  private readonly byId = new SteadyMap<string, OperationNode>();
  private oldest: OperationNode | null = null;
  private newest: OperationNode | null = null;

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): MessageRef | undefined {
    return this.byId.get(id)?.ref;
  }

  /** Remembers `id` as the newest (again, if it was known), forgetting the oldest past the bound. */
  set(id: string, ref: MessageRef): void {
    this.delete(id);
    const node: OperationNode = { id, ref, older: this.newest, newer: null };
    if (this.newest !== null) this.newest.newer = node;
    else this.oldest = node;
    this.newest = node;
    this.byId.set(id, node);
    if (this.byId.size > MAX_OPERATIONS && this.oldest !== null) this.delete(this.oldest.id);
  }

  delete(id: string): void {
    const node = this.byId.get(id);
    if (node === undefined) return;
    this.byId.delete(id);
    if (node.older !== null) node.older.newer = node.newer;
    else this.oldest = node.newer;
    if (node.newer !== null) node.newer.older = node.older;
    else this.newest = node.older;
  }
}

interface OperationNode {
  id: string;
  ref: MessageRef;
  older: OperationNode | null;
  newer: OperationNode | null;
}

/** The message's type and id, scanned (json-head.ts): null when it is not JSON, its text when it has no "type" string. */
function headOf(m: AppMessage): Parsed | string | null {
  const head = jsonHead(m.data);
  if (head === NOT_JSON) return null;
  if (head === NO_TYPE) return textOfData(m.data);
  if (head === FALLBACK) return parseMessage(m);
  return head;
}

/** The message as JSON; null when it is not JSON, its text when it has no "type" string. */
function parseMessage(m: AppMessage): Parsed | string | null {
  const text = textOfData(m.data);
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') return text;
  return msg as Parsed;
}

/** The id as shown and remembered: a string's start, a number as text. */
function idOf(o: Parsed): string | undefined {
  if (o.id === undefined || o.id === null) return undefined;
  return typeof o.id === 'string' ? o.id.slice(0, MAX_ID_CHARS) : typeof o.id === 'number' ? String(o.id) : undefined;
}

/** A subscribe's place as one number (its frame, and its direction in the lowest bit), for AppResult.arg. */
const refArg = (ref: MessageRef): number => ref.firstFrame * 2 + (ref.dir === 'server' ? 1 : 0);
const refOf = (conn: number, arg: number): MessageRef => ({ conn, dir: arg % 2 === 1 ? 'server' : 'client', firstFrame: Math.floor(arg / 2) });

function withPayload(type: string, payload: unknown): string {
  return payload === undefined || payload === null ? type : `${type} ${elide(safeStringify(payload))}`;
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** The start of a long text, with its length, like `{"data":{"msg":"…"}}… (2,345 chars)`. */
function elide(s: string): string {
  return s.length <= SUMMARY_PAYLOAD_CHARS ? s : `${s.slice(0, SUMMARY_PAYLOAD_CHARS)}… (${s.length.toLocaleString('en-US')} chars)`;
}
