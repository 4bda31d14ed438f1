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
import type { AppDecoder, AppMessage, AppResult, AppRuleBroken } from './decoder.ts';
import { decoderFailure } from './failure.ts';
import { findOperation, type OperationInfo } from './graphql-operation.ts';

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

/** A decoder for `graphql-transport-ws` (the graphql-ws library). */
export function graphqlTransportWs(): AppDecoder {
  return new GraphqlDecoder(TRANSPORT_WS);
}

/** A decoder for the legacy `graphql-ws` subprotocol (subscriptions-transport-ws). */
export function graphqlWsLegacy(): AppDecoder {
  return new GraphqlDecoder(LEGACY_WS);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

class GraphqlDecoder implements AppDecoder {
  readonly protocol: AppProtocol;
  private inits = 0;
  private acked = false;
  /** id → the subscribe (start) message, in order of arrival. */
  private readonly operations = new Map<string, MessageRef>();

  constructor(private readonly d: Dialect) {
    this.protocol = d.protocol;
  }

  message(m: AppMessage): AppResult {
    try {
      return this.decode(m);
    } catch (err) {
      return { violations: [decoderFailure(this.d.protocol, err)] };
    }
  }

  private decode(m: AppMessage): AppResult {
    const d = this.d;
    const violations: AppRuleBroken[] = [];
    const broken = (rule: string, section: string, message: string) => violations.push({ rule, section: `${d.spec}, ${section}`, message });

    if (m.truncated || m.data.length > MAX_JSON_BYTES) return { app: this.cut(m) };
    const text = utf8.decode(m.data);
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      broken('graphql-not-json', 'Communication', `This ${m.dir} message is not JSON; every ${d.protocol} message is a JSON object with a "type".`);
      return { app: this.unit('invalid', `not JSON: ${elide(text)}`, m), violations };
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') {
      broken('graphql-no-type', 'Communication', `This ${m.dir} message has no "type" string; every ${d.protocol} message is a JSON object with one.`);
      return { app: this.unit('invalid', `no "type": ${elide(text)}`, m), violations };
    }
    const o = msg as { type: string; id?: unknown; payload?: unknown };
    const type = o.type.slice(0, 64);
    const sender = d.types[type];
    const info: AppInfo = this.unit(type, type, m);

    if (sender === undefined) {
      broken('graphql-unknown-type', d.strictInit ? 'Invalid message' : 'Client-server communication', `"${type}" is not a ${d.protocol} message type; a ${d.protocol} peer closes the connection${d.strictInit ? ' with 4400' : ''}.`);
      return { app: info, violations };
    }
    if (sender !== 'both' && sender !== m.dir) {
      broken('graphql-wrong-direction', `${type}`, `"${type}" is sent by the ${sender}, but the ${m.dir} sent it${d.strictInit ? '; the receiver closes the connection with 4400' : ''}.`);
    }

    let id: string | undefined;
    if (o.id !== undefined && o.id !== null) {
      id = typeof o.id === 'string' ? o.id.slice(0, MAX_ID_CHARS) : typeof o.id === 'number' ? String(o.id) : undefined;
      if (id !== undefined) info.id = id;
    }
    if (d.withId.has(type) && (typeof o.id !== 'string' || o.id === '')) {
      broken(
        'graphql-missing-id',
        type,
        `This "${type}" has no id (a non-empty string); ${d.strictInit ? 'the receiver closes the connection with 4400, and ' : ''}without one no reply can be matched to its operation.`,
      );
    }

    switch (type) {
      case 'connection_init':
        this.inits++;
        if (this.inits > 1 && d.strictInit) {
          broken('graphql-second-connection-init', 'ConnectionInit', 'A second connection_init on the same socket: the server closes it with 4429 "Too many initialisation requests".');
        }
        info.summary = withPayload('connection_init', o.payload);
        break;
      case 'connection_ack':
        this.acked = true;
        info.summary = withPayload('connection_ack', o.payload);
        break;
      case 'connection_error':
        info.summary = withPayload('connection_error', o.payload);
        break;
      case 'ping':
      case 'pong':
        info.summary = withPayload(type, o.payload);
        break;
      case d.start: {
        if (d.strictInit && !this.acked) {
          broken('graphql-subscribe-before-ack', 'Subscribe', 'A subscribe before the server sent connection_ack: the server closes the socket with 4401 "Unauthorized".');
        }
        const p = (o.payload ?? {}) as { query?: unknown; operationName?: unknown };
        const wanted = typeof p.operationName === 'string' ? p.operationName : null;
        let op: OperationInfo | null = null;
        if (typeof p.query === 'string') op = findOperation(p.query, wanted);
        info.operationName = op?.name ?? wanted;
        info.operationKind = op?.kind ?? null;
        if (id !== undefined) {
          if (d.strictInit && this.operations.has(id)) {
            broken('graphql-duplicate-id', 'Subscribe', `A subscribe with id "${id}" while the operation with that id is still active: the server closes the socket with 4409 "Subscriber for ${id} already exists".`);
          }
          this.remember(id, m.ref);
        }
        const what = op ? `${op.kind} ${op.name ?? '(anonymous)'}` : typeof p.query === 'string' ? 'an operation the scan could not read' : 'no query';
        info.summary = `${type} ${id !== undefined ? JSON.stringify(id) + ' ' : ''}${what}`;
        break;
      }
      default: {
        if (id !== undefined && m.dir === 'server' && d.replies.has(type)) {
          const ref = this.operations.get(id);
          if (ref !== undefined) info.replyTo = ref;
        }
        if (id !== undefined && d.ends.has(type)) this.operations.delete(id);
        const idText = id !== undefined ? ` ${JSON.stringify(id)}` : '';
        info.summary = o.payload === undefined ? `${type}${idText}` : `${type}${idText} ${elide(safeStringify(o.payload))}`;
        break;
      }
    }
    return violations.length > 0 ? { app: info, violations } : { app: info };
  }

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
    this.operations.delete(id);
    this.operations.set(id, ref);
    if (this.operations.size > MAX_OPERATIONS) {
      const oldest = this.operations.keys().next().value;
      if (oldest !== undefined) this.operations.delete(oldest);
    }
  }

  private unit(type: string, summary: string, m: AppMessage): AppInfo {
    const layers: AppLayerSpan[] = [{ name: `${this.d.protocol} message`, start: 0, end: m.data.length, label: type }];
    return { protocol: this.d.protocol, type, summary, layers };
  }
}

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
