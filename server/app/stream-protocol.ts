import type { WireEvent, WireEventType } from '../capture/events.ts';

/**
 * What the dashboard's event stream (/api/events) carries, server → page, one JSON object per
 * WebSocket message. Shared by server/app/event-stream.ts and the UI.
 */
export interface TopologyInfo {
  /** Where clients connect: the wiretap. */
  tap: { host: string; port: number };
  /** Where the wiretap relays to: the server. */
  target: { host: string; port: number };
  /** What the target is: the tutorial's echo server, or a server of the learner's choosing. */
  targetLabel: string;
  /** `wsplay tap` runs the wiretap only: no workspace, server.js or lessons (absent: the playground). */
  mode?: 'tap';
  /**
   * `wsplay proxy` / `wsplay browser`: the clients are browsers using this HTTP proxy, each
   * connection to the host it asked for (its `open.target`); `tap` and `target` are not used.
   */
  proxy?: { host: string; port: number };
  /**
   * A lesson's reverse proxy in front of the wiretap (lesson 13): where it listens, and the
   * public port client.js writes for it (the page maps one to the other). Absent: none runs.
   */
  lessonProxy?: { port: number; publicPort: number; idleMs: number; tls?: { port: number; publicPort: number } };
  /**
   * Lesson 20's server processes behind the wiretap (round robin, in this order), each on its
   * internal port of `target.host`, and the Redis they share (absent: none runs). Absent: one server.
   */
  cluster?: { instances: Array<{ instance: string; port: number }>; redis?: { host: string; port: number } };
}

export interface StoreStatus {
  /** Events held by the store now. */
  size: number;
  /** Events the store's bound pushed out since the start. */
  dropped: number;
  /** Events ever captured, by type. */
  counts: Record<WireEventType, number>;
  /** TCP connections open through the wiretap now. */
  connections: number;
  /** The wiretap's clock (ms since it started, like event times) when this was sent. */
  now?: number;
}

/** One line of output: the learner's server (stdout, stderr) or wsplay's notes about it. */
export interface ConsoleLine {
  source: 'server' | 'wsplay';
  stream: 'stdout' | 'stderr' | 'info';
  text: string;
  /**
   * The line's true length in characters when it was too long to keep: `text` then holds its
   * start and its end with a note of what was cut between them (server/runner/console-lines.ts).
   */
  length?: number;
  /** Milliseconds since the wiretap started, like event times. */
  t: number;
}

export type RunnerStatus = 'starting' | 'running' | 'crashed' | 'stopped' | 'not-listening';

/** The learner's server process, as the playground runs it. */
export interface RunnerState {
  status: RunnerStatus;
  file: string;
  /** The internal port it really listens on (the wiretap forwards to it). */
  port?: number;
  pid?: number;
  /** One or two sentences for the learner. */
  message?: string;
  /** A crash's stack, from the process's stderr. */
  stack?: string;
}

export interface FileInfo {
  name: string;
  size: number;
  mtime: number;
}

export type StreamMessage =
  | ({ kind: 'hello'; version: 1; topology: TopologyInfo; nextSeq: number } & StoreStatus)
  /**
   * Events in capture order; `from` is the sequence number of the first. Those numbered below
   * the hello's `nextSeq` are the history the store held when the page connected, the rest live
   * ones: both come through the same acknowledged window, in batches shared by every page.
   */
  | { kind: 'events'; from: number; events: WireEvent[] }
  /** This page was too slow to keep up: `count` events were not sent to it (they are still in the store). */
  | { kind: 'shed'; count: number; total: number }
  | ({ kind: 'status' } & StoreStatus)
  /** Output lines, batched; `skipped` counts lines not sent because the server printed too fast. */
  | { kind: 'console'; lines: ConsoleLine[]; skipped?: number }
  | ({ kind: 'runner' } & RunnerState)
  /** A workspace file changed on disk from outside the dashboard (another editor). */
  | ({ kind: 'file'; origin: 'disk' } & FileInfo)
  | { kind: 'topology'; topology: TopologyInfo }
  /**
   * The learner's files are now another folder: a lesson's (`lesson`: its folder name,
   * `03-first-conversation`) or the free playground's (`lesson: null`). Pages load the new files.
   */
  | { kind: 'workspace'; lesson: string | null; files: FileInfo[] };

/**
 * Page → server. `flow` turns on acknowledgements: the server then keeps at most `window` events
 * (history or live) unacknowledged, and the page sends `ack` with the sequence number after the last
 * event it has applied. A page that does not ask for flow control gets socket back-pressure only.
 */
export type StreamCommand = { kind: 'flow'; window: number } | { kind: 'ack'; seq: number };
