/**
 * The decoding stage of application protocols on the wiretap's event path: after inflation
 * (server/tap/inflation.ts), before `onEvents`. Per connection it picks a decoder from the
 * handshake (select.ts), hands it each message in order, sets `app` on the message event and
 * puts an `appViolation` event after a message that breaks its protocol. Plain HTTP exchanges of
 * Engine.IO's long-polling transport get their bodies' packets (`HandshakeEvent.app`).
 *
 * The relay's promises hold:
 * - a connection with no recognized protocol costs a Map lookup per message (and one look at
 *   the first message's first byte, for JSON-RPC): nothing is kept for it;
 * - only a message's first `decodeBytes` are handed to a decoder (its summary says when there
 *   was more); decoders keep bounded state (see each);
 * - JSON-RPC is recognized only from messages that are JSON-RPC beyond doubt, looking at no more
 *   than DETECT_MESSAGES messages.
 */
import type { AppInfo, AppProtocol, AppViolationEvent, HandshakeEvent, MessageEvent, WireEvent } from '../../capture/events.ts';
import type { AppDecoder, AppMaker, AppMessage, AppRuleBroken } from './decoder.ts';
import { JsonRpcDecoder, looksLikeJsonRpc } from './jsonrpc.ts';
import { MismatchStage } from './mismatch.ts';
import { engineIoQuery, selectForUpgrade } from './select.ts';
import { decoderFailure } from './failure.ts';
import { decodePollingBody, type PollingCarry } from './socketio.ts';
import { parseJson } from './util.ts';

export interface AppStageLimits {
  /** Bytes of a message's data a decoder reads (the rest is counted in its summary). */
  decodeBytes: number;
}

export const DEFAULT_APP_LIMITS: AppStageLimits = { decodeBytes: 16 * 1024 };

/** Messages looked at to recognize JSON-RPC on a connection that negotiated no subprotocol. */
export const DETECT_MESSAGES = 4;

/**
 * Long-polling sessions with a binary packet still waiting for attachments in a later body (a
 * client POSTs the packet and its attachments in separate requests), by session id and side;
 * the oldest forgotten first.
 */
export const POLLING_SESSIONS = 256;

/** A connection being looked at for JSON-RPC, or read by its decoder. */
interface ConnApp {
  decoder: AppDecoder | null;
  /** Messages still to look at before giving up on recognizing JSON-RPC. */
  detectLeft: number;
}

const EMPTY = new Uint8Array(0);

export class AppStage {
  private readonly conns = new Map<number, ConnApp>();
  /** `${side} ${sid}` → the session's packet waiting for attachments (bounded: POLLING_SESSIONS). */
  private readonly polling = new Map<string, PollingCarry>();
  private readonly limits: AppStageLimits;
  /** A client and a server that speak different protocols on top (mismatch.ts). */
  private readonly mismatch = new MismatchStage();
  private readonly lazyMakers = new WeakMap<AppMaker, (e: MessageEvent) => AppInfo>();
  /** The last maker asked for and its function (a connection's messages ask for the same one in a row); keeps at most one ended connection's decoder alive. */
  private lastMaker: AppMaker | null = null;
  private lastLazy: ((e: MessageEvent) => AppInfo) | null = null;

  constructor(
    private readonly emit: (events: WireEvent[]) => void,
    limits: Partial<AppStageLimits> = {},
  ) {
    this.limits = { ...DEFAULT_APP_LIMITS, ...limits };
  }

  /** Connections with a decoder or still being looked at (for tests and stats). */
  get tracked(): number {
    return this.conns.size;
  }

  /** One batch of events, in order, from the inflation stage. */
  push(events: WireEvent[]): void {
    let out: WireEvent[] | null = null;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      let after: AppViolationEvent[] | null = null;
      switch (e.type) {
        case 'message': {
          const c = this.conns.get(e.conn);
          if (c !== undefined) after = this.message(c, e);
          after = withMismatch(after, this.mismatch.message(e));
          break;
        }
        case 'handshake':
          after = withMismatch(this.handshake(e), this.mismatch.handshake(e));
          break;
        case 'close':
          after = withMismatch(null, this.mismatch.close(e));
          break;
        case 'end':
          this.conns.delete(e.conn);
          this.mismatch.end(e.conn);
          break;
        default:
          break;
      }
      if (after !== null && after.length > 0) {
        // The batch is copied only when something is added to it.
        out ??= events.slice(0, i);
        out.push(e, ...after);
      } else if (out !== null) out.push(e);
    }
    this.emit(out ?? events);
  }

  private handshake(h: HandshakeEvent): AppViolationEvent[] | null {
    if (h.outcome === 'upgraded') {
      const sel = selectForUpgrade(h.subprotocol, h.request);
      if (sel === null) this.conns.delete(h.conn);
      else this.conns.set(h.conn, sel === 'detect' ? { decoder: null, detectLeft: DETECT_MESSAGES } : { decoder: sel.decoder, detectLeft: 0 });
      return null;
    }
    if (h.outcome !== 'plain-http' || !h.request) return null;
    const q = engineIoQuery(h.request.path);
    if (!q || q.transport !== 'polling') return null;
    const app: NonNullable<HandshakeEvent['app']> = {};
    const found: AppViolationEvent[] = [];
    const bodies = [
      ['request', 'client', h.request.body, h.request.bodyTruncated === true, h.request.headers],
      ['response', 'server', h.response?.body, h.response?.bodyTruncated === true, h.response?.headers ?? []],
    ] as const;
    for (const [side, dir, body, cut, headers] of bodies) {
      if (body === undefined || body === '') continue;
      if (side === 'response' && h.request.method === 'POST') {
        // A POST carries the client's packets; its answer is a plain "ok", no packets.
        app.response = [{ protocol: 'socket.io', type: body === 'ok' ? 'ok' : 'answer', summary: body === 'ok' ? 'ok: the server took the packets' : `answer to the POST: ${JSON.stringify(body.slice(0, 40))}` }];
        continue;
      }
      const encoding = headers.find(([n]) => n.toLowerCase() === 'content-encoding')?.[1].trim().toLowerCase();
      if (encoding && encoding !== 'identity') {
        app[side] = [{ protocol: 'socket.io', type: 'compressed', summary: `body compressed (${encoding.slice(0, 20)}): its Engine.IO packets are not decoded` }];
        continue;
      }
      const key = q.sid === null ? null : `${side} ${q.sid.slice(0, 64)}`;
      const before = key === null ? null : (this.polling.get(key) ?? null);
      if (key !== null) this.polling.delete(key);
      const { units, violations, carry } = decodePollingBody(body, cut, q.eio, before);
      if (key !== null && carry !== null) {
        this.polling.set(key, carry);
        if (this.polling.size > POLLING_SESSIONS) this.polling.delete(this.polling.keys().next().value!);
      }
      app[side] = units;
      for (const v of violations) found.push(this.violation(h.conn, h.t, dir, 'socket.io', v));
    }
    if (app.request || app.response) h.app = app;
    return found;
  }

  private message(c: ConnApp, e: MessageEvent): AppViolationEvent[] | null {
    if (e.inflateError !== undefined) return null;
    const m = this.view(e);
    if (c.decoder === null) {
      c.detectLeft--;
      const verdict = detectJsonRpc(m);
      if (verdict === 'no' || (verdict === 'maybe' && c.detectLeft <= 0)) {
        this.conns.delete(e.conn);
        return null;
      }
      if (verdict === 'maybe') return null;
      c.decoder = new JsonRpcDecoder();
    }
    let r;
    try {
      r = c.decoder.message(m);
    } catch (err) {
      // Decoders are written not to throw; one that does stops decoding its connection only.
      this.conns.delete(e.conn);
      return [this.violation(e.conn, e.t, e.dir, c.decoder.protocol, { rule: 'decoder-failure', section: 'wsplay', message: `The ${c.decoder.protocol} decoder failed on this message (${(err as Error).message}); the connection's later messages are not decoded.` }, m)];
    }
    if (r.maker) {
      // A lazy event keeps the connection's maker and one number until it is made (materialize);
      // a made one gets app now.
      const arg = r.arg ?? -1;
      if (e._bytes !== undefined) {
        e._app = this.lazyMaker(r.maker, c.decoder.protocol);
        if (arg >= 0) e._appArg = arg;
      } else e.app = r.maker(m, arg);
    } else if (r.make) {
      if (e._bytes !== undefined) e._app = r.make;
      else e.app = r.make();
    } else if (r.app) e.app = r.app;
    if (!r.violations || r.violations.length === 0) return null;
    const protocol = c.decoder.protocol;
    return r.violations.map((v) => this.violation(e.conn, e.t, e.dir, protocol, v, m));
  }

  private violation(conn: number, t: number, dir: MessageEvent['dir'], protocol: AppProtocol, v: AppRuleBroken, m?: AppMessage): AppViolationEvent {
    return { type: 'appViolation', conn, t, dir, protocol, rule: v.rule, section: v.section, message: v.message, ...(m ? { at: m.ref } : {}) };
  }

  /**
   * The function a lazy event keeps for its app: the maker, handed the event's view once its data
   * is made. One per maker (cached; a maker lives as long as an event that holds it).
   */
  private lazyMaker(maker: AppMaker, protocol: AppProtocol): (e: MessageEvent) => AppInfo {
    if (maker === this.lastMaker) return this.lastLazy!;
    let f = this.lazyMakers.get(maker);
    if (f === undefined) {
      f = (e: MessageEvent) => {
        // Read long after the decoder's pass: a maker that throws must not break the reader.
        try {
          return maker(this.view(e), e._appArg ?? -1);
        } catch (err) {
          return { protocol, type: 'invalid', summary: decoderFailure(protocol, err).message };
        }
      };
      this.lazyMakers.set(maker, f);
    }
    this.lastMaker = maker;
    this.lastLazy = f;
    return f;
  }

  /** The decoder's view of a message: its data's first `decodeBytes`, lazy or made. */
  private view(e: MessageEvent): AppMessage {
    const cap = this.limits.decodeBytes;
    let data: Uint8Array;
    if (e._bytes !== undefined) data = e._bytes;
    else if (e.text !== undefined) data = Buffer.from(e.text.length > cap ? e.text.slice(0, cap) : e.text, 'utf8');
    else if (e.base64 !== undefined) data = Buffer.from(e.base64.length > (cap / 3) * 4 + 4 ? e.base64.slice(0, Math.ceil(cap / 3) * 4) : e.base64, 'base64');
    else data = EMPTY;
    const cut = data.length > cap;
    if (cut) data = data.subarray(0, cap);
    return {
      dir: e.dir,
      opcode: e.opcode,
      data,
      truncated: cut || e.truncated === true || data.length < e.length,
      length: e.length,
      ref: { conn: e.conn, dir: e.dir, firstFrame: e.firstFrame },
      t: e.t,
    };
  }
}

function withMismatch(after: AppViolationEvent[] | null, found: AppViolationEvent | null): AppViolationEvent[] | null {
  if (found === null) return after;
  return after === null ? [found] : [...after, found];
}

/**
 * Is this message JSON-RPC (`yes`), surely not (`no`: not JSON, binary, a JSON that is no
 * JSON-RPC), or can it not tell (`maybe`: JSON naming "jsonrpc" without being a whole request or
 * response, or cut short)?
 */
function detectJsonRpc(m: AppMessage): 'yes' | 'no' | 'maybe' {
  if (m.opcode !== 1 || m.data.length === 0) return 'no';
  // The first byte that is not JSON whitespace must open an object or an array.
  let i = 0;
  while (i < m.data.length && (m.data[i] === 0x20 || m.data[i] === 0x0a || m.data[i] === 0x0d || m.data[i] === 0x09)) i++;
  const c = m.data[i];
  if (c !== 0x7b && c !== 0x5b) return 'no';
  const text = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString('utf8');
  if (!text.includes('"jsonrpc"')) return 'no';
  if (m.truncated) return 'maybe';
  const p = parseJson(text);
  if (!p.ok) return 'no';
  return looksLikeJsonRpc(p.value) ? 'yes' : 'maybe';
}

export type { AppRuleBroken };
