/**
 * Messages between the page (run-client.ts) and the client runtime worker (client-runtime.ts).
 * Types only: the worker is bundled on its own, as a classic script.
 */

/** Page → worker: run the learner's file (importScripts of its stable URL). */
export interface StartCommand {
  kind: 'start';
  /** Absolute URL of the learner's client file, e.g. http://127.0.0.1:9901/workspace/client.js. */
  url: string;
  peer: number;
  /**
   * The course's code connects to ws://localhost:9900, the wiretap's usual port. When the
   * wiretap listens elsewhere (npm start -- --port N), connections to `from` on localhost go
   * to `to` instead, so the learner's code runs unchanged.
   */
  portMap?: { from: number; to: number };
  /** More ports mapped the same way (lesson 13: the reverse proxy's public port to where it listens). */
  morePorts?: { from: number; to: number }[];
}

/** A place in client.js (1-based line and column), found in a stack trace. */
export interface SourcePos {
  line: number;
  column: number;
}

export type ConsoleLevel = 'log' | 'info' | 'warn' | 'error' | 'debug';

export type RuntimeMessage =
  /** The runtime is up and its instrumentation installed; client.js is being loaded. */
  | { kind: 'loading'; t: number }
  /** importScripts returned: client.js ran to its end (its callbacks may still run). */
  | { kind: 'loaded'; t: number }
  | { kind: 'console'; level: ConsoleLevel; text: string; pos: SourcePos | null; t: number }
  /**
   * An uncaught error or unhandled rejection. `pos` is where it was thrown in client.js (null
   * when the stack does not go through client.js, e.g. a network error loading it).
   */
  | { kind: 'error'; what: 'error' | 'rejection'; name: string; message: string; stack: string; pos: SourcePos | null; t: number }
  /**
   * One `WebSocket.prototype.send` call. `socket` numbers the WebSockets this worker created
   * (0 = the first). `state` is readyState at the call: only a send in OPEN (1) puts a frame on
   * the wire. `threw` is set when the browser threw (InvalidStateError before open).
   */
  | {
      kind: 'send';
      id: number;
      socket: number;
      state: number;
      pos: SourcePos | null;
      t: number;
      /** 1 text, 2 binary. */
      opcode: 1 | 2;
      /** Bytes the message has (UTF-8 for text). */
      size: number;
      /** Text: the string (its first MAX_SEND_COPY characters when longer). */
      text?: string;
      /** Binary: the bytes (the first MAX_SEND_COPY when longer); absent for a Blob it could not read. */
      bytes?: Uint8Array;
      /** True when text/bytes hold only the start of the data. */
      partial?: boolean;
      threw?: { name: string; message: string };
    }
  /**
   * The worker stopped reporting some calls because there were too many (a loop): `count` more
   * console lines, or sends on `socket` (those sends are then never linked to frames).
   */
  | { kind: 'dropped'; what: 'console' | 'send'; count: number; socket?: number; t: number }
  /** client.js called close() on a WebSocket: where, and with what (the close autopsy names the line). */
  | { kind: 'closeCall'; socket: number; code?: number; reason?: string; pos: SourcePos | null; t: number }
  /** A WebSocket this worker created changed state. */
  | { kind: 'socket'; socket: number; event: 'created' | 'open' | 'close' | 'error'; url: string; code?: number; reason?: string; t: number };

/** At most this many console lines and as many send reports a second, per worker. */
export const MAX_REPORTS_PER_SECOND = 1000;

/** Sends longer than this are reported by their first bytes and their size. */
export const MAX_SEND_COPY = 256 * 1024;
