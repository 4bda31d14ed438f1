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
import type { AppDecoder, AppMessage, AppResult, AppRuleBroken } from './decoder.ts';
import { broken, cutNote, isRecord, parseJson, preview, quote, textOf } from './util.ts';

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

export class JsonRpcDecoder implements AppDecoder {
  readonly protocol = 'json-rpc' as const;
  /** Unanswered requests by the direction that sent them, keyed by id (typed: 1 and "1" differ). */
  private readonly pending: Record<Direction, Map<string, MessageRef>> = { client: new Map(), server: new Map() };

  message(m: AppMessage): AppResult {
    if (m.opcode !== 1) {
      return {
        app: { protocol: 'json-rpc', type: 'binary', summary: `binary message of ${m.length ?? m.data.length} bytes: not JSON-RPC` },
        violations: [broken('json-rpc-binary', `${SPEC}, 1 Overview (JSON text)`, 'A binary message on a JSON-RPC connection: JSON-RPC messages are JSON text.')],
      };
    }
    const text = textOf(m);
    if (m.truncated) {
      return { app: { protocol: 'json-rpc', type: 'unknown', summary: `JSON-RPC message${cutNote(m)}` } };
    }
    const parsed = parseJson(text);
    if (!parsed.ok) {
      return {
        app: { protocol: 'json-rpc', type: 'invalid', summary: `not JSON: ${quote(text)}` },
        violations: [broken('json-rpc-parse-error', `${SPEC}, 5.1 Error object (-32700 Parse error)`, `The message is not JSON (${parsed.error}); a JSON-RPC peer answers it with error -32700.`)],
      };
    }
    const violations: AppRuleBroken[] = [];
    const value = parsed.value;
    if (Array.isArray(value)) {
      if (value.length === 0) {
        violations.push(broken('json-rpc-empty-batch', `${SPEC}, 6 Batch`, 'An empty batch ([]): a batch holds at least one request or response; the peer answers -32600 Invalid Request.'));
        return { app: { protocol: 'json-rpc', type: 'batch', summary: 'empty batch []', parts: [] }, violations };
      }
      const parts: AppUnit[] = [];
      for (let i = 0; i < value.length && i < BATCH_UNITS; i++) parts.push(this.unit(value[i], m, violations));
      const more = value.length > BATCH_UNITS ? `, … ${value.length - BATCH_UNITS} more not decoded` : '';
      const first = parts[0]!;
      const info: AppInfo = {
        ...first,
        summary: `batch of ${value.length}: ${parts.map((p) => p.summary).join(', ').slice(0, 200)}${more}`,
        parts,
      };
      return violations.length ? { app: info, violations } : { app: info };
    }
    const info: AppInfo = this.unit(value, m, violations);
    return violations.length ? { app: info, violations } : { app: info };
  }

  /** One request, notification or response (of a batch, or alone). */
  private unit(v: unknown, m: AppMessage, violations: AppRuleBroken[]): AppUnit {
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
      const args = v.params === undefined ? '' : ` ${preview(v.params, 60)}`;
      if (!hasId) {
        return { protocol: 'json-rpc', type: 'notification', kind: 'notification', method: v.method, ...(v.params !== undefined ? { params: v.params } : {}), summary: `notification ${JSON.stringify(v.method.slice(0, 60))}${args}` };
      }
      if (id !== undefined && id !== null) this.remember(m.dir, id, m.ref);
      return {
        protocol: 'json-rpc', type: 'request', kind: 'request', method: v.method, ...(id !== undefined ? { id } : {}),
        ...(v.params !== undefined ? { params: v.params } : {}),
        summary: `request ${JSON.stringify(v.method.slice(0, 60))} id ${preview(id ?? v.id, 30)}${args}`,
      };
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
    const replyTo = id !== undefined && id !== null ? this.answer(m.dir, id) : undefined;
    const base = { protocol: 'json-rpc' as const, ...(id !== undefined ? { id } : {}), ...(replyTo ? { replyTo } : {}) };
    if (hasError) {
      const e = v.error;
      const ok = isRecord(e) && Number.isSafeInteger(e.code) && typeof e.message === 'string';
      if (!ok) violations.push(broken('json-rpc-bad-error', `${SPEC}, 5.1 Error object`, `The error ${preview(e, 40)} is not an object with a whole-number "code" and a "message" string.`));
      const error = ok ? { code: e.code as number, message: e.message as string, ...(e.data !== undefined ? { data: e.data } : {}) } : undefined;
      return {
        ...base, type: 'error', kind: 'error', ...(error ? { error } : {}),
        summary: `error id ${preview(id ?? null, 30)}: ${error ? `${error.code} ${error.message.slice(0, 80)}` : preview(e, 60)}`,
      };
    }
    return { ...base, type: 'response', kind: 'response', result: v.result, summary: `response id ${preview(id ?? null, 30)}: ${preview(v.result, 60)}` };
  }

  private remember(dir: Direction, id: string | number, ref: MessageRef): void {
    const table = this.pending[dir];
    const key = keyOf(id);
    table.delete(key);
    table.set(key, ref);
    // Bounded: the oldest unanswered request is forgotten first (Map keeps insertion order).
    if (table.size > PENDING_IDS) table.delete(table.keys().next().value!);
  }

  /** The request a response sent by `dir` answers: sent the other way, with the same id. */
  private answer(dir: Direction, id: string | number): MessageRef | undefined {
    const table = this.pending[dir === 'client' ? 'server' : 'client'];
    const key = keyOf(id);
    const ref = table.get(key);
    if (ref) table.delete(key);
    return ref;
  }
}

const keyOf = (id: string | number) => (typeof id === 'number' ? `n${id}` : `s${id}`);

export const jsonRpc = (): JsonRpcDecoder => new JsonRpcDecoder();
