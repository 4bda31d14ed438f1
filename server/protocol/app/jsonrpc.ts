/**
 * JSON-RPC 2.0 over WebSocket (https://www.jsonrpc.org/specification): each text message is a
 * request, a notification, a response, an error response, or a batch of them (an array).
 *
 * No subprotocol names it: the stage (select.ts) recognizes a connection as JSON-RPC by its
 * first message, which must be a whole JSON-RPC object or batch (`"jsonrpc": "2.0"` and the
 * shape of a request or a response), never by a message that could be anything.
 *
 * A response's `replyTo` is the request with the same id sent the other way, found in a table
 * of the requests still unanswered: bounded (PENDING_IDS per direction, the oldest forgotten
 * first), as a peer may send requests that are never answered.
 */
import type { AppInfo, AppUnit, Direction, MessageRef } from '../../capture/events.ts';
import type { AppDecoder, AppMaker, AppMessage, AppResult, AppRuleBroken } from './decoder.ts';
import { broken, cutNote, isRecord, parseJson, preview, quote, textOf } from './util.ts';
import { ABSENT, ARRAY, jsonTop, keyEscaped, memberEnd, memberEscaped, memberKind, memberStart, NULL, NUMBER, OBJECT, STRING, text, TOP_OBJECT, topKeys } from './json-head.ts';
import { PendingIds } from './pending.ts';

/** Unanswered requests remembered per direction, for `replyTo`. */
export const PENDING_IDS = 1024;
/** Units of a batch decoded one by one; the rest are counted in the summary. */
export const BATCH_UNITS = 100;

const SPEC = 'JSON-RPC 2.0';

/**
 * Is `value` JSON-RPC beyond doubt: an object (or a non-empty array of objects) each with
 * `"jsonrpc": "2.0"` and the shape of a request, a notification or a response?
 */
export function looksLikeJsonRpc(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0 && value.length <= BATCH_UNITS && value.every(isUnit);
  return isUnit(value);
}

function isUnit(v: unknown): boolean {
  if (!isRecord(v) || v.jsonrpc !== '2.0') return false;
  if (typeof v.method === 'string') return v.params === undefined || typeof v.params === 'object';
  return 'id' in v && validId(v.id) && ('result' in v) !== ('error' in v);
}

const validId = (id: unknown): id is string | number | null => id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

/**
 * How `unit` reads the table of pending requests: `live` updates it (the decoder's pass, in
 * order) and records each response's replyTo in `replies`; a replay (making `app` again when a
 * held event is read) takes them from `replies` in the same order and changes nothing.
 */
/** Where a message was: its direction and reference. */
type At = Pick<AppMessage, 'dir' | 'ref'>;

interface Pass {
  live: boolean;
  replies: Array<MessageRef | undefined>;
  next: number;
}

/** The members the relay's pass reads (json-head.ts's scan), by index. */
const KEYS = topKeys(['jsonrpc', 'id', 'method', 'params', 'result', 'error']);
const JSONRPC = 0;
const ID = 1;
const METHOD = 2;
const PARAMS = 3;
const RESULT = 4;
const ERROR = 5;

/**
 * A decoder of JSON-RPC 2.0. `lazy: false` reads every message with JSON.parse on the decoder's
 * pass: the reference the relay's pass (a scan of the message's top-level members, json-head.ts,
 * for the shapes that break no rule) is checked against.
 */
export class JsonRpcDecoder implements AppDecoder {
  readonly protocol = 'json-rpc' as const;

  constructor(private readonly lazy = true) {}

  /** Unanswered requests by the direction that sent them, keyed by the id itself (a Map tells 1 from "1": no key string per message). */
  private readonly pending: Record<Direction, PendingIds<string | number, MessageRef>> = { client: new PendingIds(PENDING_IDS), server: new PendingIds(PENDING_IDS) };

  message(m: AppMessage): AppResult {
    if (m.opcode !== 1) {
      return {
        app: { protocol: 'json-rpc', type: 'binary', summary: `binary message of ${m.length ?? m.data.length} bytes: not JSON-RPC` },
        violations: [broken('json-rpc-binary', `${SPEC}, 1 Overview (JSON text)`, 'A binary message on a JSON-RPC connection: JSON-RPC messages are JSON text.')],
      };
    }
    if (m.truncated) {
      return { app: { protocol: 'json-rpc', type: 'unknown', summary: `JSON-RPC message${cutNote(m)}` } };
    }
    if (this.lazy) {
      const r = this.scan(m);
      if (r !== null) return r;
    }
    const text = textOf(m);
    const parsed = parseJson(text);
    if (parsed.ok) {
      const violations: AppRuleBroken[] = [];
      const pass: Pass = { live: true, replies: [], next: 0 };
      this.decode(parsed.value, m, violations, pass);
      // Made again from the text and what it answers when read: at most one response (the
      // common case), its request's frame is all that is kept (AppResult.maker); a batch
      // answering several keeps their list (a closure, made rarely).
      let r: AppResult;
      if (pass.replies.length <= 1) r = { maker: replayOne, arg: pass.replies[0]?.firstFrame ?? -1 };
      else {
        const replies = pass.replies;
        const at: At = { dir: m.dir, ref: m.ref };
        r = {
          make: (): AppInfo => {
            const again = parseJson(text);
            return REPLAY.decode(again.ok ? again.value : null, at, [], { live: false, replies, next: 0 });
          },
        };
      }
      if (violations.length) r.violations = violations;
      return r;
    }
    {
      return {
        app: { protocol: 'json-rpc', type: 'invalid', summary: `not JSON: ${quote(text)}` },
        violations: [broken('json-rpc-parse-error', `${SPEC}, 5.1 Error object (-32700 Parse error)`, `The message is not JSON (${parsed.error}); a JSON-RPC peer answers it with error -32700.`)],
      };
    }
  }

  /** The app of a parsed message (a unit or a batch), its violations into `violations`. */
  decode(value: unknown, m: At, violations: AppRuleBroken[], pass: Pass): AppInfo {
    if (Array.isArray(value)) {
      if (value.length === 0) {
        violations.push(broken('json-rpc-empty-batch', `${SPEC}, 6 Batch`, 'An empty batch ([]): a batch holds at least one request or response; the peer answers -32600 Invalid Request.'));
        return { protocol: 'json-rpc', type: 'batch', summary: 'empty batch []', parts: [] };
      }
      const parts: AppUnit[] = [];
      for (let i = 0; i < value.length && i < BATCH_UNITS; i++) parts.push(this.unit(value[i], m, violations, pass));
      const more = value.length > BATCH_UNITS ? `, … ${value.length - BATCH_UNITS} more not decoded` : '';
      const info: AppInfo = Object.assign({}, parts[0]!, {
        summary: pass.live ? '' : `batch of ${value.length}: ${parts.map((p) => p.summary).join(', ').slice(0, 200)}${more}`,
        parts,
      });
      return info;
    }
    return this.unit(value, m, violations, pass);
  }

  /** One request, notification or response (of a batch, or alone). */
  private unit(v: unknown, m: At, violations: AppRuleBroken[], pass: Pass): AppUnit {
    if (!isRecord(v)) {
      violations.push(broken('json-rpc-invalid-request', `${SPEC}, 4 Request object`, `${preview(v, 40)} is not a JSON-RPC object: a request or a response is a JSON object.`));
      return { protocol: 'json-rpc', type: 'invalid', summary: `invalid ${preview(v, 40)}` };
    }
    if (v.jsonrpc !== '2.0') {
      violations.push(
        broken('json-rpc-version', `${SPEC}, 4 Request object`, `"jsonrpc" is ${v.jsonrpc === undefined ? 'missing' : preview(v.jsonrpc, 20)}: every JSON-RPC 2.0 object says "jsonrpc": "2.0".`),
      );
    }
    const hasId = 'id' in v;
    if (hasId && !validId(v.id)) {
      violations.push(broken('json-rpc-bad-id', `${SPEC}, 4 Request object (id)`, `The id ${preview(v.id, 30)} is neither a string, a number nor null.`));
    }
    const id = hasId && validId(v.id) ? v.id : undefined;
    if (typeof v.method === 'string') {
      if (v.params !== undefined && (v.params === null || typeof v.params !== 'object')) {
        violations.push(broken('json-rpc-bad-params', `${SPEC}, 4.2 Parameter Structures`, `"params" is ${preview(v.params, 30)}: it must be an array or an object, or be left out.`));
      }
      // The decoder's pass makes no summaries: only a replay's app is read (AppResult).
      const args = pass.live || v.params === undefined ? '' : ` ${preview(v.params, 60)}`;
      // Plain literals with fields added after, not spreads: spreads made slow (dictionary-mode)
      // objects, which cost the relay tens of µs a message.
      if (!hasId) {
        const unit: AppUnit = { protocol: 'json-rpc', type: 'notification', summary: pass.live ? '' : `notification ${JSON.stringify(v.method.slice(0, 60))}${args}`, kind: 'notification', method: v.method };
        if (v.params !== undefined) unit.params = v.params;
        return unit;
      }
      if (pass.live && id !== undefined && id !== null) this.remember(m.dir, id, m.ref);
      const unit: AppUnit = { protocol: 'json-rpc', type: 'request', summary: pass.live ? '' : `request ${JSON.stringify(v.method.slice(0, 60))} id ${preview(id ?? v.id, 30)}${args}`, kind: 'request', method: v.method };
      if (id !== undefined) unit.id = id;
      if (v.params !== undefined) unit.params = v.params;
      return unit;
    }
    if ('method' in v) {
      violations.push(broken('json-rpc-bad-method', `${SPEC}, 4 Request object (method)`, `"method" is ${preview(v.method, 30)}: a method's name is a string.`));
      return { protocol: 'json-rpc', type: 'invalid', summary: `invalid request ${preview(v, 60)}` };
    }
    const hasResult = 'result' in v;
    const hasError = 'error' in v;
    if (!hasResult && !hasError) {
      violations.push(broken('json-rpc-invalid-request', `${SPEC}, 4 Request object`, `${preview(v, 60)} has neither "method" (a request) nor "result" or "error" (a response).`));
      return { protocol: 'json-rpc', type: 'invalid', summary: `invalid ${preview(v, 60)}` };
    }
    if (!hasId) violations.push(broken('json-rpc-response-without-id', `${SPEC}, 5 Response object`, 'A response without "id": it must name the request it answers (null when that id could not be read).'));
    if (hasResult && hasError) violations.push(broken('json-rpc-result-and-error', `${SPEC}, 5 Response object`, 'A response with both "result" and "error": exactly one of them is sent.'));
    let replyTo: MessageRef | undefined;
    if (!pass.live) replyTo = pass.replies[pass.next++];
    else {
      replyTo = id !== undefined && id !== null ? this.answer(m.dir, id) : undefined;
      pass.replies.push(replyTo);
    }
    let unit: AppUnit;
    if (hasError) {
      const e = v.error;
      const ok = isRecord(e) && Number.isSafeInteger(e.code) && typeof e.message === 'string';
      if (!ok) violations.push(broken('json-rpc-bad-error', `${SPEC}, 5.1 Error object`, `The error ${preview(e, 40)} is not an object with a whole-number "code" and a "message" string.`));
      const error: AppUnit['error'] = ok ? { code: e.code as number, message: e.message as string } : undefined;
      if (error && isRecord(e) && e.data !== undefined) error.data = e.data;
      unit = { protocol: 'json-rpc', type: 'error', summary: pass.live ? '' : `error id ${preview(id ?? null, 30)}: ${error ? `${error.code} ${error.message.slice(0, 80)}` : preview(e, 60)}`, kind: 'error' };
      if (error) unit.error = error;
    } else {
      unit = { protocol: 'json-rpc', type: 'response', summary: pass.live ? '' : `response id ${preview(id ?? null, 30)}: ${preview(v.result, 60)}`, kind: 'response', result: v.result };
    }
    if (id !== undefined) unit.id = id;
    if (replyTo) unit.replyTo = replyTo;
    return unit;
  }

  /**
   * The relay's pass over a request, a notification or a result that breaks no rule, from its
   * top-level members alone: no JSON.parse, no object for its params or result (on the relay's
   * path they cost more than the rest of the decoder). It remembers and answers ids as `unit`
   * does, and gives what `message` would. Anything else (a batch, an error response, a rule
   * broken, an escape in a key or an id) is null: `message` parses it.
   */
  private scan(m: AppMessage): AppResult | null {
    const b = m.data;
    if (jsonTop(b, KEYS) !== TOP_OBJECT || keyEscaped) return null;
    if (memberKind[JSONRPC] !== STRING || !isV2(b, memberStart[JSONRPC]!, memberEnd[JSONRPC]!)) return null;
    let id: string | number | null | undefined;
    switch (memberKind[ID]) {
      case ABSENT:
        id = undefined;
        break;
      case STRING:
        if (memberEscaped[ID] === 1) return null;
        id = text(b, memberStart[ID]!, memberEnd[ID]!);
        break;
      case NUMBER:
        id = Number(text(b, memberStart[ID]!, memberEnd[ID]!));
        if (!Number.isFinite(id)) return null;
        break;
      case NULL:
        id = null;
        break;
      default:
        return null;
    }
    const method = memberKind[METHOD];
    if (method === STRING) {
      const params = memberKind[PARAMS];
      if (params !== ABSENT && params !== OBJECT && params !== ARRAY) return null;
      if (id !== undefined && id !== null) this.remember(m.dir, id, m.ref);
      return { maker: replayOne, arg: -1 };
    }
    // A response: its result and its id, no method, no error.
    if (method !== ABSENT || memberKind[ERROR] !== ABSENT || memberKind[RESULT] === ABSENT || id === undefined) return null;
    const replyTo = id !== null ? this.answer(m.dir, id) : undefined;
    return { maker: replayOne, arg: replyTo?.firstFrame ?? -1 };
  }

  private remember(dir: Direction, id: string | number, ref: MessageRef): void {
    // Bounded: the oldest unanswered request is forgotten first.
    this.pending[dir].remember(id, ref);
  }

  /** The request a response sent by `dir` answers: sent the other way, with the same id. */
  private answer(dir: Direction, id: string | number): MessageRef | undefined {
    return this.pending[dir === 'client' ? 'server' : 'client'].take(id);
  }
}


export const jsonRpc = (options: { lazy?: boolean } = {}): JsonRpcDecoder => new JsonRpcDecoder(options.lazy ?? true);

/** b[start, end) is exactly 2.0 (the value of "jsonrpc", without its quotes). */
const isV2 = (b: Uint8Array, start: number, end: number) => end - start === 3 && b[start] === 0x32 && b[start + 1] === 0x2e && b[start + 2] === 0x30;

/** Makes `app` again for held events (its tables are never read or written in a replay). */
const REPLAY = new JsonRpcDecoder();

/** A message with at most one response in it: `arg` is the frame of the request it answers (sent the other way), or -1. */
const replayOne: AppMaker = (m, arg) => {
  const again = parseJson(textOf(m));
  const replies = arg >= 0 ? [{ conn: m.ref.conn, dir: m.dir === 'client' ? ('server' as const) : ('client' as const), firstFrame: arg }] : [];
  return REPLAY.decode(again.ok ? again.value : null, m, [], { live: false, replies, next: 0 });
};
