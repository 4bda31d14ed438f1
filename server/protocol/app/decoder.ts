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
  violations?: AppRuleBroken[];
}

export interface AppDecoder {
  readonly protocol: AppProtocol;
  /** The connection's next message. Never throws. */
  message(m: AppMessage): AppResult;
}

/** Makes a decoder for one connection. */
export type AppDecoderFactory = () => AppDecoder;
