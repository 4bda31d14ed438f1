/**
 * The event types: the contract between the decoders, the wiretap, the store, the recording
 * (JSON Lines) and the dashboard. Every event is a plain JSON-ready object, discriminated by
 * `type`, so what the store holds is exactly what a recording line or the UI receives.
 *
 * The recording format (README, "Record format") is these objects, one per line. Add fields,
 * never rename or remove one: recordings must stay readable.
 *
 * One exception to "JSON-ready", for speed: the wiretap's decoders may hand out frame, message,
 * ping and pong events whose strings are not made yet (`payload`, `header`, `maskKey`, `text`,
 * `base64`); the bytes they are made from wait in `_bytes` (and `_mask`). The CaptureStore
 * and the Recorder make them (server/capture/materialize.ts) before anyone reads or writes an
 * event, so only code that takes events straight from a lazy decoder ever sees one unmade.
 */

/**
 * The bytes a lazy event's strings are made from, until they are made; then undefined, so
 * `JSON.stringify` leaves them out. Never part of a recording.
 */
interface LazyBytes {
  _bytes?: Uint8Array | undefined;
  /**
   * Only while something records (DecoderLimits.recordBytes): the whole payload (a frame's as on
   * the wire, a message's data) when it is longer than the preview in `_bytes`, up to the
   * recording's cap; `cut` when it is longer than that too. The CaptureStore takes it off
   * before holding the event (the spill file keeps it): never held, never part of a line as is.
   */
  _whole?: WholePayload | undefined;
}

/** A payload collected whole for a recording (LazyBytes._whole). */
export interface WholePayload {
  bytes: Buffer;
  /** The payload was longer than the recording's cap (`--max-payload`): `bytes` is its start. */
  cut: boolean;
}

/** Who sent the bytes: `client` is client → server, `server` is server → client. */
export type Direction = 'client' | 'server';

interface EventBase {
  /** Connection id, unique for the life of a wiretap (1, 2, 3, ...). */
  conn: number;
  /** Milliseconds since the wiretap started, fractional (high-resolution clock). */
  t: number;
}

/** A TCP connection accepted by the wiretap. */
export interface OpenEvent extends EventBase {
  type: 'open';
  /** The client's address and port as seen by the wiretap, e.g. `127.0.0.1:53122`. */
  client: string;
  /** Where the wiretap relays the connection to, e.g. `127.0.0.1:9901`. */
  target: string;
  /**
   * Which server process the connection went to when the wiretap spreads connections over
   * several (lesson 20 runs server.js twice: `a` and `b`, in turn); absent with one server.
   */
  instance?: string;
  /**
   * Wall-clock time (epoch milliseconds, fractional) when the wiretap accepted the connection:
   * the one absolute time in a recording. `wall - t` is the wall-clock time of t = 0, the same
   * for every connection of one wiretap, which the exports (HAR, pcapng) anchor their times to.
   * Absent in recordings made before it was added; exports then estimate that anchor.
   */
  wall?: number;
}

/** One header line as sent: name and value with their case and order kept. */
export type HeaderPair = [name: string, value: string];

export interface ExtensionOffer {
  name: string;
  /** Parameters in order; a parameter without a value is `true`. */
  params: Array<[name: string, value: string | true]>;
}

export interface PerMessageDeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** LZ77 window the server compresses with (8-15); 15 when not negotiated. */
  serverMaxWindowBits: number;
  /** LZ77 window the client compresses with (8-15); 15 when not negotiated. */
  clientMaxWindowBits: number;
}

/**
 * How the opening handshake ended:
 * - `upgraded`: 101 Switching Protocols; frames follow.
 * - `refused`: the client asked for an upgrade and the server answered something else (400, 403).
 * - `plain-http`: not an upgrade request at all (a browser GET); typically answered 426.
 * - `incomplete`: the connection ended before a request and its response were both seen.
 * - `not-http`: the client's first bytes are not an HTTP request.
 */
export type HandshakeOutcome = 'upgraded' | 'refused' | 'plain-http' | 'incomplete' | 'not-http';

export interface HttpRequestHead {
  method: string;
  path: string;
  version: string;
  headers: HeaderPair[];
  /** The request head exactly as sent, base64 (up to the handshake size bound). */
  raw: string;
  /** Time the head was complete. */
  t: number;
  /** Body bytes that followed the head (a POST), as text, capped (a polling client's packets). */
  body?: string;
  /** Present and true when `body` holds only the body's first bytes. */
  bodyTruncated?: true;
}

export interface HttpResponseHead {
  status: number;
  reason: string;
  version: string;
  headers: HeaderPair[];
  raw: string;
  t: number;
  /** Body bytes that followed the head (for a 426 or 400), as text, capped. */
  body?: string;
  /** Present and true when `body` holds only the body's first bytes. */
  bodyTruncated?: true;
}

export interface HandshakeEvent extends EventBase {
  type: 'handshake';
  outcome: HandshakeOutcome;
  request: HttpRequestHead | null;
  response: HttpResponseHead | null;
  /** Sec-WebSocket-Key as sent by the client, or null. */
  key: string | null;
  /** base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)), or null without a key. */
  expectedAccept: string | null;
  /** Sec-WebSocket-Accept as sent by the server, or null. */
  accept: string | null;
  /** True when the server's Accept equals the expected one. */
  acceptValid: boolean;
  /** Extensions the client offered, in order. */
  offeredExtensions: ExtensionOffer[];
  /** Extensions the server accepted (its Sec-WebSocket-Extensions). */
  extensions: ExtensionOffer[];
  /** Subprotocols the client offered. */
  offeredSubprotocols: string[];
  /** The subprotocol the server picked, or null. */
  subprotocol: string | null;
  /** permessage-deflate as negotiated, or null when not in use. */
  deflate: PerMessageDeflateParams | null;
  /** Why the handshake is not a valid WebSocket upgrade, one sentence each (empty when fine). */
  problems: string[];
  /**
   * Which request/response exchange of its connection this is, from 1: a kept-alive HTTP
   * connection (a polling client) carries many, each its own `handshake` event, in order.
   * Absent on `incomplete` and `not-http` events and in recordings made before it was added.
   */
  exchange?: number;
  /**
   * `tap --target wss://`: the request head as the wiretap forwarded it (Host set to the target's
   * host, an Origin naming the wiretap set to https://HOST); `request` stays as the client sent it.
   * Only on the connection's first exchange, and only when the target is wss://.
   */
  forwardedRequest?: HttpRequestHead;
  /** `tap --target wss://`: the upstream TLS session the request and response went through. */
  tls?: TlsSession;
  /**
   * The application protocol the exchange's bodies carry (Engine.IO's long-polling transport:
   * the packets of the request's and of the response's body), decoded. Absent otherwise.
   */
  app?: { request?: AppUnit[]; response?: AppUnit[] };
}

/** The wiretap's TLS session with a wss:// target, as the dashboard shows it. */
export interface TlsSession {
  /** e.g. TLSv1.3 */
  version: string;
  /** OpenSSL's name of the cipher suite, e.g. TLS_AES_256_GCM_SHA384 */
  cipher: string;
  /** The protocol agreed by ALPN (http/1.1), or null when the server chose none. */
  alpn: string | null;
  /** The name sent by SNI and checked against the certificate. */
  servername: string;
  /** The certificate's subject and issuer, as `CN=..., O=...`. */
  subject: string;
  issuer: string;
  subjectAltName: string | null;
  validFrom: string | null;
  validTo: string | null;
  /** The chain leads to a trusted CA and the certificate names `servername`. */
  verified: boolean;
  /** --insecure: verification was skipped; the session went on whatever the certificate. */
  insecure: boolean;
  /** Why it is not verified (with --insecure). */
  problem?: string;
  /**
   * wsplay proxy: the client spoke TLS too, to the proxy, which answered with a certificate from
   * the local CA (server/tap/local-ca.ts); that session's version, cipher and ALPN.
   */
  intercepted?: { version: string; cipher: string; alpn: string | null };
}

export type LengthEncoding = 7 | 16 | 64;

export interface FrameEvent extends EventBase, LazyBytes {
  type: 'frame';
  dir: Direction;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** Masking key as 8 hex digits, or null for an unmasked frame. */
  maskKey: string | null;
  /** Payload length as announced in the header (a number: up to 2^53 exactly). */
  length: number;
  /** The exact decimal length when it is above 2^53 (a frame announcing up to 2^63-1 bytes). */
  lengthExact?: string;
  /** Which length field carried it: 7-bit, 16-bit (126) or 64-bit (127). */
  lengthEncoding: LengthEncoding;
  /** base64 of the unmasked payload as on the wire (still compressed where RSV1 is set). */
  payload: string;
  /** Present and true when `payload` holds only the first bytes (the preview bound). */
  truncated?: boolean;
  /** Present and false when the connection ended before the whole frame arrived. */
  complete?: boolean;
  /** Byte offset of the frame's first byte in this direction's stream (handshake included). */
  offset: number;
  /** The header bytes (2 to 14) as hex, for the anatomy view. */
  header: string;
  /** Header length in bytes: 2 + 0/2/8 (extended length) + 0/4 (masking key). */
  headerLength: number;
  /** Time the last byte of the frame arrived (t is when its first byte arrived). */
  tEnd: number;
  /** Index of this frame in its direction (0-based), for linking frames and messages. */
  seq: number;
  /**
   * Lazy events only: the masking key (big-endian) while `header` is '' (not made yet); the
   * header is then made from the fields, which determine it exactly.
   */
  _mask?: number | undefined;
  /**
   * Present and true when the wiretap sent this frame, not the peer: a frame from the
   * dashboard's crafter ("Break it") or a close frame of the "close with code" fault. Absent on
   * every frame a real client or server sent, and in recordings made before it was added.
   */
  injected?: true;
}

export interface MessageEvent extends EventBase, LazyBytes {
  type: 'message';
  /**
   * Lazy events only: makes `app` (server/protocol/app/decoder.ts, AppResult) from the event
   * itself, once its data is made, and `_appArg`; then undefined. Shared by many events (a
   * connection's), so a held event keeps no object of its own for it. Never part of a recording.
   */
  _app?: ((e: MessageEvent) => AppInfo) | undefined;
  /** Lazy events only: the one number the decoder's pass kept for `_app` (a request's frame for replyTo); -1 or absent: none. */
  _appArg?: number | undefined;
  dir: Direction;
  /** 1 text or 2 binary. */
  opcode: 1 | 2;
  /** Length after inflation (the application's view), or the payload length if uncompressed. */
  length: number;
  /** Text messages: the text (a preview when `truncated`). */
  text?: string;
  /** Binary messages: base64 of the data (a preview when `truncated`). */
  base64?: string;
  truncated?: boolean;
  /** True when RSV1 was set: the message was sent compressed (permessage-deflate). */
  compressed: boolean;
  /** Compressed messages: bytes on the wire (sum of the fragments' payloads). */
  wireLength?: number;
  /** Compressed messages: why it could not be inflated (bound reached, corrupt data). */
  inflateError?: string;
  /** Number of frames the message came in (1 when not fragmented). */
  frames: number;
  /** `seq` of the first and last frame of the message. */
  firstFrame: number;
  lastFrame: number;
  /** False when the text is not valid UTF-8 (a violation event says where). */
  utf8Valid?: boolean;
  /** True when one of its frames was sent by the wiretap (`FrameEvent.injected`), not the peer. */
  injected?: true;
  /**
   * The application protocol this message carries, decoded (server/protocol/app/): present only
   * on connections whose protocol was negotiated (Sec-WebSocket-Protocol) or recognized (the
   * Engine.IO handshake path, JSON-RPC's first messages). Absent in older recordings.
   */
  app?: AppInfo;
}

/** Application protocols that ride on WebSocket and that the wiretap decodes. */
export type AppProtocol = 'socket.io' | 'graphql-transport-ws' | 'graphql-ws' | 'stomp' | 'mqtt' | 'json-rpc';

/** Where one message (or HTTP body) is found again: a message's connection, direction and first frame. */
export interface MessageRef {
  conn: number;
  dir: Direction;
  /** `MessageEvent.firstFrame` of the message. */
  firstFrame: number;
}

/**
 * One layer inside a message's data, for the Message view (TCP bytes, frame, Engine.IO packet,
 * Socket.IO event, JSON arguments ...): a name, the bytes of the message's data it covers
 * (`start` inclusive, `end` exclusive, offsets in the unmasked, inflated data) and a one-line
 * label. Layers nest by their ranges, outermost first.
 */
export interface AppLayerSpan {
  name: string;
  start: number;
  end: number;
  label: string;
}

/**
 * One unit of an application protocol: an Engine.IO/Socket.IO packet, a GraphQL-over-WebSocket
 * message, a STOMP frame, an MQTT control packet, a JSON-RPC request or response. Fields beyond
 * the first three belong to one protocol each (see its decoder) and are absent otherwise.
 */
export interface AppUnit {
  protocol: AppProtocol;
  /** The protocol's own name for the unit: `EVENT`, `subscribe`, `SEND`, `PUBLISH`, `request` ... */
  type: string;
  /** One line for a person, as the Timeline badge shows it, e.g. `EVENT "chat" ["hi"]`. */
  summary: string;
  /** The unit's layers inside the message's data, outermost first (Message view highlights). */
  layers?: AppLayerSpan[];

  // Socket.IO (protocol 'socket.io')
  engineType?: 'open' | 'close' | 'ping' | 'pong' | 'message' | 'upgrade' | 'noop';
  socketType?: 'CONNECT' | 'DISCONNECT' | 'EVENT' | 'ACK' | 'CONNECT_ERROR' | 'BINARY_EVENT' | 'BINARY_ACK';
  nsp?: string;
  event?: string;
  /** The event's (or ack's) arguments without the name, binary attachments joined in. */
  args?: unknown[];
  ackId?: number;

  // GraphQL over WebSocket ('graphql-transport-ws', 'graphql-ws'); JSON-RPC's id too
  id?: string | number | null;
  operationName?: string | null;
  operationKind?: 'query' | 'mutation' | 'subscription' | null;

  // STOMP ('stomp')
  command?: string;
  headers?: HeaderPair[];
  body?: string;

  // MQTT ('mqtt')
  packetType?: string;
  topic?: string;
  packetId?: number;
  qos?: 0 | 1 | 2;
  /** MQTT's payload (base64); STOMP's is `body`. */
  payload?: string;

  // JSON-RPC 2.0 ('json-rpc')
  method?: string;
  kind?: 'request' | 'response' | 'notification' | 'error';
  /** A request's or notification's params, as sent. */
  params?: unknown;
  /** A response's result, as sent. */
  result?: unknown;
  /** An error response's error object. */
  error?: { code: number; message: string; data?: unknown };
  /** What this unit answers, when it was seen: a response's request (JSON-RPC), a reply's subscribe (GraphQL), an ack's packet (MQTT, by Packet Identifier), a RECEIPT's frame or a MESSAGE's SUBSCRIBE (STOMP). */
  replyTo?: MessageRef;
}

/**
 * What a message carries at the application layer: its unit, or, when one message carries
 * several (STOMP frames, MQTT packets), the first unit's fields with all of them in `parts`
 * and a summary of all. A unit that spans messages (an MQTT packet in two, Socket.IO binary
 * attachments) is reported on the message that completes it, with `spans` naming the others.
 */
export interface AppInfo extends AppUnit {
  parts?: AppUnit[];
  spans?: MessageRef[];
}

/** A message that claims an application protocol and breaks it (as `violation` is for frames). */
export interface AppViolationEvent extends EventBase {
  type: 'appViolation';
  dir: Direction;
  protocol: AppProtocol;
  /** Stable rule id, e.g. `socket.io-bad-packet-type`. */
  rule: string;
  /** The specification and its section, e.g. "graphql-transport-ws, Subscribe". */
  section: string;
  /** One sentence for a person. */
  message: string;
  /** The message that broke the rule, when one did (not for an HTTP body). */
  at?: MessageRef;
}

export interface ControlEvent extends EventBase, LazyBytes {
  type: 'ping' | 'pong';
  dir: Direction;
  /** The control frame's payload as base64 (at most 125 bytes). */
  payload: string;
  frame: number;
  /** True when the wiretap sent the frame (`FrameEvent.injected`), not the peer. */
  injected?: true;
}

export interface CloseEvent extends EventBase {
  type: 'close';
  dir: Direction;
  /** Close code from the body, or 1005 (no status) for an empty body. */
  code: number;
  reason: string;
  /** One line: what the code means, e.g. "1000 normal closure". */
  explanation: string;
  frame: number;
  /** True when the wiretap sent the close frame (`FrameEvent.injected`), not the peer. */
  injected?: true;
}

export interface ViolationEvent extends EventBase {
  type: 'violation';
  dir: Direction;
  /** Stable rule id, e.g. `unmasked-client-frame`. */
  rule: ViolationRule;
  /** RFC section, e.g. "RFC 6455 §5.1". */
  section: string;
  /** The close code a conforming endpoint sends when it sees this. */
  closeCode: number;
  /** One sentence for a person. */
  message: string;
  /** `seq` of the frame that broke the rule, when there is one. */
  frame?: number;
  /** Byte offset in the direction's stream where the offending field starts. */
  offset?: number;
  /** True when the frame that broke the rule was sent by the wiretap (`FrameEvent.injected`). */
  injected?: true;
}

/** Rules of the insight engine (server/insights/): what the learner got wrong, read off the wire. */
export type InsightRule =
  | 'object-payload'
  | 'token-in-url'
  | 'origin-not-checked'
  | 'reconnect-storm'
  | 'server-crashed-on-frame'
  | 'no-pong'
  | 'idle-cut'
  | 'close-code-misused'
  | 'utf8-read-as-bytes';

/**
 * What the learner's program got wrong, proven by the wire alone (server/insights/): one event
 * per mistake, after the event that proved it, with the frames and messages it cites as
 * evidence and the lesson that teaches it. A correct program never causes one.
 */
export interface InsightEvent extends EventBase {
  type: 'insight';
  rule: InsightRule;
  /** `error`: the program is broken (it crashed, or leaks a secret); `warning`: it will be. */
  severity: 'error' | 'warning';
  /** One or two sentences for a person: what happened, why, and what to do instead. */
  message: string;
  /** `seq` of the frames it cites, per direction, on connection `conn` (a few at most). */
  frames: { client: number[]; server: number[] };
  /** Messages it cites (possibly on other connections). */
  messages: MessageRef[];
  /** Other connections it cites (reconnect-storm: the connections of the storm, oldest first). */
  conns?: number[];
  /** The lesson that teaches it, by folder name (e.g. `07-text-binary-json`). */
  lesson: string;
}

/** The TCP connection is gone (both directions closed, or reset, or the target refused). */
export interface EndEvent extends EventBase {
  type: 'end';
  /** Who ended first: `client`, `server`, or `wiretap` (target unreachable, tap stopped). */
  by: Direction | 'wiretap';
  /** True when a close frame was seen in both directions before TCP ended. */
  clean: boolean;
  /**
   * The close code the client application reports (its `onclose` event's `code`): the code of
   * the server's close frame, 1005 when that frame had no code, 1006 (abnormal closure) when TCP
   * ended without one. Null when no WebSocket was established (plain HTTP, refused upgrade).
   */
  code: number | null;
  /** The same from the server application's side: the code of the client's close frame. */
  serverCode: number | null;
  explanation: string;
  /** Socket error, if any (ECONNRESET, ECONNREFUSED ...). */
  error?: string;
  bytes: { client: number; server: number };
  frames: { client: number; server: number };
  /**
   * HTTP request/response exchanges the connection carried, when more than one (keep-alive)
   * or when some were not reported; absent otherwise and in older recordings.
   */
  httpExchanges?: number;
  /**
   * Exchanges past the decoder's bound (1000 per connection) that got no `handshake` event:
   * counted, not reported. Absent when none.
   */
  httpExchangesOmitted?: number;
}

export type ViolationRule =
  | 'unmasked-client-frame'
  | 'masked-server-frame'
  | 'rsv-without-extension'
  | 'rsv1-on-control-frame'
  | 'rsv1-on-continuation'
  | 'reserved-opcode'
  | 'control-frame-too-long'
  | 'fragmented-control-frame'
  | 'unexpected-continuation'
  | 'data-frame-mid-message'
  | 'non-minimal-length'
  | 'length-top-bit-set'
  | 'invalid-utf8'
  | 'invalid-close-code'
  | 'close-body-one-byte'
  | 'invalid-close-reason-utf8'
  | 'invalid-compressed-data'
  | 'frame-after-close'
  | 'data-before-handshake'
  | 'handshake-too-large'
  | 'decoder-failure';

export type WireEvent =
  | OpenEvent
  | HandshakeEvent
  | FrameEvent
  | MessageEvent
  | ControlEvent
  | CloseEvent
  | ViolationEvent
  | AppViolationEvent
  | InsightEvent
  | EndEvent;

export type WireEventType = WireEvent['type'];
