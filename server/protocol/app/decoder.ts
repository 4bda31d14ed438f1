/**
 * The contract of an application-protocol decoder (Socket.IO, GraphQL over WebSocket, STOMP,
 * MQTT, JSON-RPC): sans-I/O, like the frame decoder. It is handed one connection's messages in
 * order, already reassembled and inflated, and says what each carries at the application layer.
 *
 * Every decoder holds the wiretap's promises: it never throws, whatever the bytes; it keeps
 * bounded state (in bytes and in items) however long the connection; and it never does work
 * proportional to a number the peer wrote (a length field, a count of attachments).
 */
import type { AppInfo, AppProtocol, Direction, MessageRef } from '../../capture/events.ts';

/** One message of the connection, as the decoder sees it. */
export interface AppMessage {
  dir: Direction;
  /** 1 text, 2 binary. */
  opcode: 1 | 2;
  /** The message's data (unmasked, inflated); only its start when `truncated`. */
  data: Uint8Array;
  truncated: boolean;
  /** The whole message's length in bytes (more than `data.length` when `truncated`). */
  length?: number;
  /** Where the message is found again (its connection, direction and first frame). */
  ref: MessageRef;
  t: number;
}

/** A rule of the protocol the message broke (becomes an `appViolation` event). */
export interface AppRuleBroken {
  rule: string;
  /** The specification and its section, e.g. "Socket.IO protocol v5, Packet encoding". */
  section: string;
  message: string;
}

export interface AppResult {
  /** What the message carries; undefined when it carries nothing this decoder can name yet. */
  app?: AppInfo;
  /**
   * Instead of `app`: a function that makes it, the same each call, from what it holds (the
   * message's text, the few refs it needs). The stage keeps it on a held event and calls it
   * when the event is read. Measured on the echo bench: an `app` object graph held for each of
   * the store's 100,000 events cost the wiretap more CPU in garbage collection than decoding.
   */
  make?: () => AppInfo;
  /**
   * Instead of `app` or `make`, the way most messages go: a maker shared by the connection's
   * messages (one per decoder, or per state such as STOMP's agreed version), which makes `app`
   * from the message as the event holds it and `arg`, when the event is read. A held event then
   * keeps no object of its own for its app: measured on the echo bench, a closure per message
   * (`make`) held by the store's 100,000 events cost the wiretap 3-8 µs a message in garbage
   * collection, more than decoding it.
   */
  maker?: AppMaker;
  /** The one number the decoder's pass kept for `maker` (e.g. the frame of the request a response answers); -1 or absent: none. */
  arg?: number;
  violations?: AppRuleBroken[];
}

/**
 * Makes a message's `app` again from the message alone (the same data the decoder's pass read)
 * and `arg`. Must give the same `app` every time, whatever the decoder saw since: what spans
 * messages is in `arg` or in the maker's own, unchanging, state.
 */
export type AppMaker = (m: AppMessage, arg: number) => AppInfo;

export interface AppDecoder {
  readonly protocol: AppProtocol;
  /** The connection's next message. Never throws. */
  message(m: AppMessage): AppResult;
}

/** Makes a decoder for one connection. */
export type AppDecoderFactory = () => AppDecoder;

/** A result's `app`, made when the decoder left a function for it (a maker needs the message it decoded). */
export function appOf(r: AppResult, m?: AppMessage): AppInfo | undefined {
  if (r.maker) {
    if (!m) throw new TypeError('appOf: this result has a maker; pass the message it was decoded from');
    return r.maker(m, r.arg ?? -1);
  }
  return r.make ? r.make() : r.app;
}
