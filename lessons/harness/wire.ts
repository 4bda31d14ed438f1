/**
 * Questions a check asks about what the wiretap saw: pure functions over its events, in the
 * words of the lessons ("the client's first frame came after the 101", "every client frame is
 * masked", "the message from A reached B and C and not A").
 */
import type { Direction, EndEvent, FrameEvent, HandshakeEvent, MessageEvent, WireEvent } from '../../server/capture/events.ts';
import { describeEvent } from '../../server/capture/describe.ts';

export type EventOf<T extends WireEvent['type']> = Extract<WireEvent, { type: T }>;

/** Everything seen on one TCP connection through the wiretap. */
export interface Connection {
  conn: number;
  /** The HTTP exchanges, in order: one for a WebSocket, one per request for keep-alive HTTP. */
  handshakes: HandshakeEvent[];
  /** The upgrade that succeeded (101), if any. */
  upgrade: HandshakeEvent | null;
  frames: FrameEvent[];
  messages: MessageEvent[];
  events: WireEvent[];
  end: EndEvent | null;
}

/** Time the 101 arrived (the client can open from then on). */
export function upgradedAt(h: HandshakeEvent): number | null {
  return h.outcome === 'upgraded' ? (h.response?.t ?? h.t) : null;
}

/** Bytes a frame took on the wire: its header and its payload. */
export function frameBytes(f: FrameEvent): number {
  return f.headerLength + f.length;
}

export class Wire {
  constructor(readonly events: readonly WireEvent[]) {}

  ofType<T extends WireEvent['type']>(type: T, conn?: number): EventOf<T>[] {
    return this.events.filter((e): e is EventOf<T> => e.type === type && (conn === undefined || e.conn === conn));
  }

  connections(): Connection[] {
    const byConn = new Map<number, Connection>();
    for (const e of this.events) {
      let c = byConn.get(e.conn);
      if (!c) {
        c = { conn: e.conn, handshakes: [], upgrade: null, frames: [], messages: [], events: [], end: null };
        byConn.set(e.conn, c);
      }
      c.events.push(e);
      if (e.type === 'handshake') {
        c.handshakes.push(e);
        if (e.outcome === 'upgraded') c.upgrade = e;
      } else if (e.type === 'frame') c.frames.push(e);
      else if (e.type === 'message') c.messages.push(e);
      else if (e.type === 'end') c.end = e;
    }
    return [...byConn.values()].sort((a, b) => a.conn - b.conn);
  }

  connection(conn: number): Connection | undefined {
    return this.connections().find((c) => c.conn === conn);
  }

  /** Connections that became WebSockets (a 101 was seen). */
  websockets(): Connection[] {
    return this.connections().filter((c) => c.upgrade !== null);
  }

  /** Plain HTTP requests and their answers (a fetch, a browser tab, a poll): not upgrades. */
  httpRequests(): HandshakeEvent[] {
    return this.ofType('handshake').filter((h) => h.outcome === 'plain-http');
  }

  frames(dir?: Direction, conn?: number): FrameEvent[] {
    return this.ofType('frame', conn).filter((f) => !dir || f.dir === dir);
  }

  messages(dir?: Direction, conn?: number): MessageEvent[] {
    return this.ofType('message', conn).filter((m) => !dir || m.dir === dir);
  }

  /**
   * When a message had wholly arrived: its last frame's last byte (a message's own `t` is its
   * first byte). An answer to it starts after this; a big message is still arriving when the
   * other side's earlier words (a greeting) pass the other way.
   */
  endOf(m: MessageEvent): number {
    const last = this.events.find((e): e is FrameEvent => e.type === 'frame' && e.conn === m.conn && e.dir === m.dir && e.seq === m.lastFrame);
    return last ? last.tEnd : m.t;
  }

  /** Data frames only (text, binary, continuation): what the applications said. */
  dataFrames(dir?: Direction, conn?: number): FrameEvent[] {
    return this.frames(dir, conn).filter((f) => f.opcode < 8);
  }

  /**
   * The client's first frame on a connection and how long after the 101 it came: `gapMs` is
   * negative when the frame's first byte arrived before the 101 (a client that sent too early;
   * a browser cannot, its `send` throws instead).
   */
  firstClientFrame(conn: number): { frame: FrameEvent; gapMs: number | null } | undefined {
    const frame = this.frames('client', conn)[0];
    if (!frame) return undefined;
    const hs = this.ofType('handshake', conn).find((h) => h.outcome === 'upgraded');
    const at = hs ? upgradedAt(hs) : null;
    return { frame, gapMs: at === null ? null : frame.t - at };
  }

  /** Client frames whose first byte reached the wiretap before the server's 101. */
  clientFramesBefore101(conn?: number): FrameEvent[] {
    const at = new Map<number, number>();
    for (const h of this.ofType('handshake', conn)) {
      const t = upgradedAt(h);
      if (t !== null) at.set(h.conn, t);
    }
    return this.frames('client', conn).filter((f) => f.t < (at.get(f.conn) ?? Infinity));
  }

  /** Client frames sent without a masking key (RFC 6455 §5.1: every client frame is masked). */
  unmaskedClientFrames(conn?: number): FrameEvent[] {
    return this.frames('client', conn).filter((f) => !f.masked);
  }

  /** Server frames sent with a masking key (§5.1: a server never masks). */
  maskedServerFrames(conn?: number): FrameEvent[] {
    return this.frames('server', conn).filter((f) => f.masked);
  }

  /** Connections a text message matching `match` was delivered to (server → client). */
  reached(match: string | RegExp | ((m: MessageEvent) => boolean)): number[] {
    return [...new Set(this.messages('server').filter(matcher(match)).map((m) => m.conn))].sort((a, b) => a - b);
  }

  /** Connections a text message matching `match` was sent from (client → server). */
  sentFrom(match: string | RegExp | ((m: MessageEvent) => boolean)): number[] {
    return [...new Set(this.messages('client').filter(matcher(match)).map((m) => m.conn))].sort((a, b) => a - b);
  }

  /**
   * What crossed the wire, counted the way lesson 1 compares polling with push: plain HTTP
   * requests and their bytes (request and response heads and bodies), and WebSocket
   * connections, frames and their bytes (the handshake counted apart).
   */
  stats(): { http: { requests: number; bytes: number }; websocket: { connections: number; handshakeBytes: number; frames: number; frameBytes: number } } {
    let httpBytes = 0;
    let handshakeBytes = 0;
    let frames = 0;
    let framesBytes = 0;
    for (const c of this.connections()) {
      for (const h of c.handshakes) {
        const size = headBytes(h);
        if (h.outcome === 'upgraded') handshakeBytes += size;
        else httpBytes += size;
      }
      for (const f of c.frames) {
        frames++;
        framesBytes += frameBytes(f);
      }
    }
    return {
      http: { requests: this.httpRequests().length, bytes: httpBytes },
      websocket: { connections: this.websockets().length, handshakeBytes, frames, frameBytes: framesBytes },
    };
  }

  /** The wire as a learner reads it in the inspector, one line per event (for failure messages). */
  transcript(opts: { conn?: number; max?: number; types?: WireEvent['type'][] } = {}): string {
    const types = opts.types ?? ['handshake', 'message', 'close', 'violation', 'end'];
    const lines = this.events.filter((e) => types.includes(e.type) && (opts.conn === undefined || e.conn === opts.conn)).map((e) => `  ${describeEvent(e)}`);
    const max = opts.max ?? 12;
    if (lines.length === 0) return '  (nothing: no connection reached the wiretap)';
    return lines.length > max ? [...lines.slice(0, max), `  … and ${lines.length - max} more`].join('\n') : lines.join('\n');
  }
}

function matcher(match: string | RegExp | ((m: MessageEvent) => boolean)): (m: MessageEvent) => boolean {
  if (typeof match === 'function') return match;
  if (typeof match === 'string') return (m) => m.text === match;
  return (m) => m.text !== undefined && match.test(m.text);
}

/** Bytes of an HTTP exchange: request head, response head, and the response body seen. */
function headBytes(h: HandshakeEvent): number {
  const raw = (s: string | undefined) => (s ? Buffer.from(s, 'base64').length : 0);
  const body = h.response?.body ? Buffer.byteLength(h.response.body) : 0;
  return raw(h.request?.raw) + raw(h.response?.raw) + body + contentLengthOf(h.request?.headers);
}

function contentLengthOf(headers: [string, string][] | undefined): number {
  const v = headers?.find(([name]) => name.toLowerCase() === 'content-length')?.[1];
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
