/**
 * The mismatch detector: a client and a server that do not speak the same protocol on top of
 * WebSocket, told in one sentence with the bytes that prove it. The cases a learner meets:
 *
 * - a plain WebSocket client against a Socket.IO server (Engine.IO's 400 "Transport unknown" to
 *   an upgrade without `?EIO=4&transport=websocket`; or the Engine.IO open packet `0{"sid":…}`
 *   answered with something that is no Engine.IO packet);
 * - a Socket.IO client against a plain WebSocket server (its long-polling start answered 426;
 *   or a 101 followed by a first message that is not the open packet the client waits for);
 * - a GraphQL over WebSocket client whose subprotocol the server does not speak (no
 *   Sec-WebSocket-Protocol in the 101, a close with 4406, or a subprotocol agreed by a server
 *   whose first message is no GraphQL over WebSocket message).
 *
 * Sans-I/O and judged only on evidence: a case is told when the bytes prove it (a status and
 * a body Engine.IO writes, a packet that cannot be Engine.IO), never from a hang-up alone. The
 * decoding stage calls it with the handshake, the first messages of each direction and the
 * close frames; it keeps a few small strings, whatever the connection carries, and tells at most
 * one mismatch per connection. The finding becomes an `appViolation` with rule
 * `protocol-mismatch` (see `mismatchEvent`).
 */
import type { AppProtocol, AppViolationEvent, CloseEvent, Direction, HandshakeEvent, MessageEvent, MessageRef } from '../../capture/events.ts';

export const MISMATCH_RULE = 'protocol-mismatch';

/** Messages per direction the detector looks at: the evidence is in the first ones. */
export const MISMATCH_MESSAGES = 4;

/** Bytes of a payload or body quoted in a sentence. */
const QUOTE = 60;

export interface Mismatch {
  protocol: AppProtocol;
  /** The side whose bytes prove it. */
  dir: Direction;
  section: string;
  /** One sentence: what the bytes show, why it fails, the way out. */
  message: string;
  /** The message that proves it, when one does (not for an HTTP answer). */
  at?: MessageRef;
}

/** One message as the detector needs it: its direction, opcode and first bytes. */
export interface MismatchMessage {
  dir: Direction;
  opcode: 1 | 2;
  data: Uint8Array;
  ref: MessageRef;
}

/** What Engine.IO writes as the body of its 400 to a request it refuses (engine.io's Server.errorMessages). */
const ENGINE_IO_ERRORS = ['Transport unknown', 'Session ID unknown', 'Bad handshake method', 'Bad request', 'Forbidden', 'Unsupported protocol version'];

const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** A payload's start, quoted for a sentence: printable, cut at QUOTE characters. */
export function quote(bytes: Uint8Array | string): string {
  const text = typeof bytes === 'string' ? bytes.slice(0, QUOTE * 4) : textDecoder.decode(bytes.subarray(0, QUOTE * 4));
  // Control characters would break the sentence (and a terminal that prints it): shown as ·.
  const clean = text.replace(/[\x00-\x1f\x7f]/g, '·');
  // Typographic quotes: the bytes stay as they were (JSON's escaping would add backslashes to every ").
  return `“${clean.length > QUOTE ? `${clean.slice(0, QUOTE - 1)}…` : clean}”`;
}

function param(path: string, name: string): string | null {
  const q = path.indexOf('?');
  if (q < 0) return null;
  for (const part of path.slice(q + 1, q + 1 + 2048).split('&')) {
    const eq = part.indexOf('=');
    if ((eq < 0 ? part : part.slice(0, eq)) === name) return eq < 0 ? '' : part.slice(eq + 1);
  }
  return null;
}

/**
 * `GET /socket.io/?EIO=4&transport=…`: Engine.IO's handshake request, whoever sends it. With a
 * `sid` it upgrades a session opened by long-polling: no open packet comes then, the client
 * probes first (`2probe`, answered `3probe`).
 */
function engineIoRequest(h: HandshakeEvent): { transport: string; upgrade: boolean } | null {
  const path = h.request?.path ?? '';
  const eio = param(path, 'EIO');
  const transport = param(path, 'transport');
  return eio !== null && /^\d{1,2}$/.test(eio) && transport !== null ? { transport, upgrade: param(path, 'sid') !== null } : null;
}

/** An Engine.IO open packet: `0{"sid":…`. */
function isEngineOpen(data: Uint8Array): boolean {
  return data.length >= 3 && data[0] === 0x30 && data[1] === 0x7b && textDecoder.decode(data.subarray(0, 64)).includes('"sid"');
}

/** Could this message be an Engine.IO packet? Text starts with a packet type 0-6; binary is an attachment. */
function couldBeEngineIo(m: MismatchMessage): boolean {
  if (m.opcode === 2) return true;
  return m.data.length > 0 && m.data[0]! >= 0x30 && m.data[0]! <= 0x36;
}

/** Is this a GraphQL over WebSocket message: a JSON object with a string `type`? */
function isGraphqlMessage(m: MismatchMessage): boolean {
  if (m.opcode !== 1) return false;
  // Its start is enough to refuse text that is no JSON object; a whole parse only of what fits the bound.
  const text = textDecoder.decode(m.data.subarray(0, 64 * 1024));
  if (!/^\s*\{/.test(text)) return false;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
  } catch {
    // Cut at the bound, or broken: a `"type"` key near the start still says it tries.
    return m.data.length > 64 * 1024 && /"type"\s*:/.test(text.slice(0, 200));
  }
}

const GRAPHQL: ReadonlyMap<string, AppProtocol> = new Map([
  ['graphql-transport-ws', 'graphql-transport-ws'],
  ['graphql-ws', 'graphql-ws'],
]);

function requestLine(h: HandshakeEvent): string {
  const r = h.request!;
  const path = r.path.length > QUOTE ? `${r.path.slice(0, QUOTE - 1)}…` : r.path;
  return `${r.method} ${path}`;
}

function statusLine(h: HandshakeEvent): string {
  const r = h.response!;
  return `${r.status} ${r.reason}`.trim();
}

/**
 * Watches one connection. Each call returns the mismatch once the bytes prove it, then never
 * again (one sentence per connection is enough, and a repeat would bury it).
 */
export class MismatchWatch {
  private told = false;
  private engineClient: { transport: string; upgrade: boolean } | null = null;
  private engineServer = false;
  private clientSpokeEngine = false;
  private graphql: { offered: string; protocol: AppProtocol; agreed: boolean } | null = null;
  private seen: Record<Direction, number> = { client: 0, server: 0 };
  private request = '';
  private serverOpen = '';

  /** Nothing more can be told: a mismatch was, or the first messages of both sides went by. */
  get done(): boolean {
    return this.told || (this.seen.client >= MISMATCH_MESSAGES && this.seen.server >= MISMATCH_MESSAGES && this.graphql === null);
  }

  /**
   * Is the connection worth watching after this handshake? Only Engine.IO requests and offers
   * of a GraphQL subprotocol can turn out mismatched later; every other connection is judged on
   * its handshake alone and keeps nothing.
   */
  static concerns(h: HandshakeEvent): boolean {
    return (h.request !== null && engineIoRequest(h) !== null) || h.offeredSubprotocols.some((p) => GRAPHQL.has(p.toLowerCase()));
  }

  /** Each HTTP exchange of the connection (a polling client makes several), the upgrade included. */
  handshake(h: HandshakeEvent): Mismatch | null {
    if (this.told || !h.request) return null;
    this.request = requestLine(h);
    this.engineClient = engineIoRequest(h);
    const offered = h.offeredSubprotocols.find((p) => GRAPHQL.has(p.toLowerCase()));
    if (offered) {
      const agreed = h.subprotocol !== null && h.subprotocol.toLowerCase() === offered.toLowerCase();
      this.graphql = { offered, protocol: GRAPHQL.get(offered.toLowerCase())!, agreed };
    }
    const res = h.response;
    if (!res) return null;
    const body = (res.body ?? '').trim();

    // A plain WebSocket client refused by Engine.IO: its 400 carries one of its own messages.
    if (!this.engineClient && h.outcome === 'refused' && res.status === 400 && engineIoRefusal(body)) {
      return this.tell({
        protocol: 'socket.io',
        dir: 'server',
        section: 'Engine.IO protocol v4, Handshake',
        message: `The server speaks Socket.IO, not plain WebSocket: it answered the upgrade request ${this.request} with ${statusLine(h)} and the body ${quote(body)}, which is Engine.IO refusing a request that does not say ?EIO=4&transport=websocket. Connect with a Socket.IO client (io(url)), or have the server accept plain WebSocket on another path.`,
      });
    }
    // A Socket.IO client's long-polling start answered by a server that only upgrades.
    if (this.engineClient && h.outcome === 'plain-http' && this.engineClient.transport === 'polling' && (res.status === 426 || (res.status >= 400 && !engineIoRefusal(body)))) {
      return this.tell({
        protocol: 'socket.io',
        dir: 'server',
        section: 'Engine.IO protocol v4, Handshake',
        message: `The client speaks Socket.IO: it starts with Engine.IO long-polling (${this.request}), and the server answered ${statusLine(h)}${body ? ` ${quote(body)}` : ''}, as a plain WebSocket server answers any request that is not an upgrade, so the client reports "xhr poll error". Point the client at a Socket.IO server, or use a plain WebSocket client (new WebSocket(url)).`,
      });
    }
    // A GraphQL client's subprotocol that the 101 does not name: the server does not speak it.
    if (this.graphql && h.outcome === 'upgraded' && h.subprotocol === null) {
      const g = this.graphql;
      return this.tell({
        protocol: g.protocol,
        dir: 'server',
        section: 'RFC 6455 §4.2.2 (Sec-WebSocket-Protocol); GraphQL over WebSocket, Communication',
        message: `The client offered the subprotocol "${g.offered}" (Sec-WebSocket-Protocol: ${h.offeredSubprotocols.join(', ')}) and the server's ${statusLine(h)} names none, so the server does not speak it: a client that needs it fails the connection (ws: "Server sent no subprotocol") and a graphql-ws server closes with 4406.${oldOrNew(g.protocol)}`,
      });
    }
    return null;
  }

  /**
   * Does the next message of `dir` get looked at? A GraphQL connection stays watched for its
   * whole life (a 4406 close can come at any time), but past its first messages nothing in them
   * matters: the stage then makes no view of them.
   */
  wants(dir: Direction): boolean {
    return !this.told && this.seen[dir] < MISMATCH_MESSAGES;
  }

  /** Each message, in order; only the first few of each direction are looked at. */
  message(m: MismatchMessage): Mismatch | null {
    if (this.told) return null;
    const n = ++this.seen[m.dir];
    if (n > MISMATCH_MESSAGES) return null;
    if (m.dir === 'server' && n === 1) {
      this.engineServer = m.opcode === 1 && isEngineOpen(m.data);
      if (this.engineServer) this.serverOpen = quote(m.data);
      // A Socket.IO client waits for the open packet (or, upgrading, the answer to its probe); anything else means no Engine.IO here.
      const c = this.engineClient;
      if (c && c.transport === 'websocket' && (c.upgrade ? !couldBeEngineIo(m) : !this.engineServer)) {
        return this.tell({
          protocol: 'socket.io',
          dir: 'server',
          at: m.ref,
          section: 'Engine.IO protocol v4, Handshake',
          message: `The client speaks Socket.IO (its request ${this.request} asks for Engine.IO), but the server is plain WebSocket: its first message ${quote(m.data)} is not the Engine.IO open packet 0{"sid":…} a Socket.IO client waits for, so the client gives up ("server error"). Point the client at a Socket.IO server, or use a plain WebSocket client.`,
        });
      }
      if (this.graphql?.agreed && !isGraphqlMessage(m)) return this.graphqlNotSpoken(m);
    }
    // A client that spoke Engine.IO before and then sends a bad packet breaks the protocol (the
    // decoder's appViolation), it does not speak another one.
    if (m.dir === 'client' && couldBeEngineIo(m)) this.clientSpokeEngine = true;
    if (m.dir === 'client' && this.engineServer && !this.clientSpokeEngine) {
      return this.tell({
        protocol: 'socket.io',
        dir: 'client',
        at: m.ref,
        section: 'Engine.IO protocol v4, Packet encoding',
        message: `The server speaks Socket.IO: its first message ${this.serverOpen} is an Engine.IO open packet, and the client answered ${quote(m.data)}, which is no Engine.IO packet (those start with a type digit, e.g. 42["chat","hi"]), so the server closes the connection. Use a Socket.IO client (io(url)), or a server that speaks plain WebSocket.`,
      });
    }
    if (m.dir === 'server' && this.graphql?.agreed && n > 1 && !isGraphqlMessage(m)) return this.graphqlNotSpoken(m);
    return null;
  }

  /** Each close frame. */
  close(c: { dir: Direction; code: number; reason: string; ref?: MessageRef }): Mismatch | null {
    if (this.told || c.dir !== 'server' || c.code !== 4406 || !this.graphql) return null;
    const g = this.graphql;
    return this.tell({
      protocol: g.protocol,
      dir: 'server',
      at: c.ref,
      section: 'GraphQL over WebSocket (graphql-transport-ws), Communication',
      message: `The server closed with 4406${c.reason ? ` ${quote(c.reason)}` : ''}: it does not speak the subprotocol "${g.offered}" the client offered.${oldOrNew(g.protocol)}`,
    });
  }

  private graphqlNotSpoken(m: MismatchMessage): Mismatch | null {
    const g = this.graphql!;
    return this.tell({
      protocol: g.protocol,
      dir: 'server',
      at: m.ref,
      section: 'GraphQL over WebSocket, Message types',
      message: `The server agreed to "${g.offered}" in its 101 but does not speak it: its message ${quote(m.data)} is no GraphQL over WebSocket message (a JSON object with a "type", e.g. {"type":"connection_ack"}). A ws server picks the client's first subprotocol unless told otherwise (handleProtocols): serve GraphQL there (graphql-ws's useServer), or let the server refuse the subprotocol.`,
    });
  }

  private tell(m: Mismatch): Mismatch {
    this.told = true;
    return m;
  }
}

function engineIoRefusal(body: string): boolean {
  if (ENGINE_IO_ERRORS.includes(body)) return true;
  // Its polling transport says the same as JSON: {"code":0,"message":"Transport unknown"}.
  if (body.length < 200 && body.startsWith('{')) {
    try {
      const v = JSON.parse(body) as { code?: unknown; message?: unknown };
      return typeof v.code === 'number' && typeof v.message === 'string' && ENGINE_IO_ERRORS.includes(v.message);
    } catch {
      return false;
    }
  }
  return false;
}

function oldOrNew(p: AppProtocol): string {
  return p === 'graphql-ws'
    ? ' "graphql-ws" is the old subscriptions-transport-ws protocol; today\'s graphql-ws library speaks "graphql-transport-ws": use a client and server of the same library.'
    : ' "graphql-transport-ws" is the graphql-ws library\'s protocol; a subscriptions-transport-ws server speaks "graphql-ws": use a client and server of the same library.';
}

/** The finding as the event the wiretap records. */
export function mismatchEvent(conn: number, t: number, m: Mismatch): AppViolationEvent {
  return { type: 'appViolation', conn, t, dir: m.dir, protocol: m.protocol, rule: MISMATCH_RULE, section: m.section, message: m.message, ...(m.at ? { at: m.at } : {}) };
}

/** Connections watched at once; the oldest is let go first (a flood of Engine.IO requests keeps no more). */
export const MISMATCH_CONNECTIONS = 4096;

/** Bytes of a message handed to the detector: the evidence is in the first ones. */
const MESSAGE_BYTES = 64 * 1024;

/**
 * The detector on the wiretap's event path (called by the decoding stage, stage.ts): one watch
 * per connection that needs one, each event in order, an `appViolation` when a mismatch shows.
 */
export class MismatchStage {
  private readonly watches = new Map<number, MismatchWatch>();

  handshake(h: HandshakeEvent): AppViolationEvent | null {
    let w = this.watches.get(h.conn);
    if (!w) {
      w = new MismatchWatch();
      const found = w.handshake(h);
      if (found) return mismatchEvent(h.conn, h.t, found);
      if (!MismatchWatch.concerns(h) || w.done) return null;
      this.watches.set(h.conn, w);
      if (this.watches.size > MISMATCH_CONNECTIONS) this.watches.delete(this.watches.keys().next().value!);
      return null;
    }
    return this.after(h.conn, h.t, w, w.handshake(h));
  }

  message(e: MessageEvent): AppViolationEvent | null {
    const w = this.watches.get(e.conn);
    if (!w || !w.wants(e.dir)) return null;
    let data: Uint8Array;
    if (e._bytes !== undefined) data = e._bytes.subarray(0, MESSAGE_BYTES);
    else if (e.text !== undefined) data = Buffer.from(e.text.length > MESSAGE_BYTES ? e.text.slice(0, MESSAGE_BYTES) : e.text, 'utf8');
    else data = Buffer.from((e.base64 ?? '').slice(0, (MESSAGE_BYTES / 3) * 4), 'base64');
    return this.after(e.conn, e.t, w, w.message({ dir: e.dir, opcode: e.opcode, data, ref: { conn: e.conn, dir: e.dir, firstFrame: e.firstFrame } }));
  }

  close(e: CloseEvent): AppViolationEvent | null {
    const w = this.watches.get(e.conn);
    return w ? this.after(e.conn, e.t, w, w.close({ dir: e.dir, code: e.code, reason: e.reason })) : null;
  }

  end(conn: number): void {
    this.watches.delete(conn);
  }

  /** Connections watched now (tests). */
  get size(): number {
    return this.watches.size;
  }

  private after(conn: number, t: number, w: MismatchWatch, found: Mismatch | null): AppViolationEvent | null {
    if (w.done) this.watches.delete(conn);
    return found ? mismatchEvent(conn, t, found) : null;
  }
}
