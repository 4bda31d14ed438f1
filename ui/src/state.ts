import { computed, signal } from '@preact/signals';
import type {
  AppProtocol,
  AppViolationEvent,
  CloseEvent,
  ControlEvent,
  Direction,
  EndEvent,
  FrameEvent,
  HandshakeEvent,
  InsightEvent,
  MessageEvent,
  OpenEvent,
  ViolationEvent,
  WireEvent,
} from '../../server/capture/events.ts';
import { NO_APP_FILTER, type AppFilter } from './lib/app-layer.ts';
import { FrameIndex } from './lib/frame-index.ts';
import { EventList, EventLog, reparsed } from './lib/event-log.ts';
import type { ConsoleLine, FileInfo, RunnerState, StoreStatus, StreamMessage, TopologyInfo } from '../../server/app/stream-protocol.ts';

/**
 * The dashboard's state. Events arrive in batches over /api/events and are applied to the model
 * (frames and messages held compactly in lib/event-log.ts, the rest in plain arrays and maps);
 * one `version` signal then tells every view to re-render. Views read; only the stream writes (DESIGN.md: bytes → events → store → views).
 */

export type ConnStatus = 'connecting' | 'open' | 'closing' | 'closed';

export interface Conn {
  id: number;
  client: string;
  target: string;
  /** Which server process the wiretap handed it to, when it spreads connections over several (lesson 20: a, b). */
  instance?: string;
  openedAt: number;
  status: ConnStatus;
  handshake: HandshakeEvent | null;
  frames: Record<Direction, number>;
  messages: Record<Direction, number>;
  /**
   * Bytes of the frames seen so far, headers and payloads (the HTTP handshake not included):
   * one meaning from the first frame to the end. The TCP totals, handshake included, arrive
   * with the end event (`end.bytes`) and are shown apart from these.
   */
  bytes: Record<Direction, number>;
  closes: CloseEvent[];
  end: EndEvent | null;
  violations: number;
  /** Rules of an application protocol broken on the connection (`appViolation` events). */
  appViolations: number;
  /**
   * The connection's HTTP request/response exchanges when it was not upgraded (plain HTTP, a
   * refused upgrade), in order: a kept-alive polling client makes many. Bounded per connection
   * (MAX_EXCHANGES, the oldest go); `httpCount` counts them all.
   */
  exchanges: HttpExchange[];
  /** Every HTTP exchange seen on the connection, those not kept (or not reported) included. */
  httpCount: number;
  /** A stable colour per connection, shared by every view. */
  color: string;
}

/** A timeline row: a frame, or (in message mode) a message, ping, pong or close. */
export type MessageRow = MessageEvent | ControlEvent | CloseEvent;

/** An HTTP request/response exchange of a connection that was never upgraded: a timeline row in both modes. */
export type HttpExchange = HandshakeEvent & { outcome: 'plain-http' | 'refused' };
export const isExchange = (e: WireEvent): e is HttpExchange => e.type === 'handshake' && (e.outcome === 'plain-http' || e.outcome === 'refused');

/** HTTP exchanges a connection keeps for the Handshake view; older ones are counted. */
export const MAX_EXCHANGES = 1000;

/** The insights list holds at most this many (a client opening connections in a loop makes one each). */
export const MAX_INSIGHTS = 1000;

/**
 * Views hold at most this many frames and as many messages; older ones are counted, not kept.
 * 10 s of 10,000 frames a second (issue 19) is 100,000 frames and as many messages: the page
 * holds twice that, as the server's store does (server/capture/store.ts).
 */
export const MAX_ROWS = 250_000;
/**
 * A list past its bound loses this many more of its oldest items at once: cutting the front of
 * a 250,000-item array moves all the rest, so it is done now and then, not on every batch.
 */
const TRIM_SLACK = MAX_ROWS / 16;

const PALETTE = ['#2f7de1', '#d9480f', '#2b8a3e', '#9c36b5', '#c2255c', '#0b7285', '#e67700', '#5c7cfa'];

/**
 * A frame's identity as one number (connection, direction, index): no string per frame to
 * allocate and collect, which matters at 10,000 frames a second.
 */
export type FrameKey = number;
export const frameKey = (conn: number, dir: Direction, seq: number): FrameKey => conn * 2 ** 32 + seq * 2 + (dir === 'server' ? 1 : 0);

/** A frame (or message) by its key, made from the event log when asked (lib/event-log.ts). */
export interface ByKey<T> {
  get(key: FrameKey): T | undefined;
  has(key: FrameKey): boolean;
}

/** A key's event through an index of absolute positions in the event log. */
function byKey<T extends WireEvent>(index: FrameIndex<number>, events: EventLog): ByKey<T> {
  return {
    get: (k) => {
      const abs = index.get(k);
      return abs === undefined ? undefined : (events.get(abs) as T | undefined);
    },
    has: (k) => index.has(k),
  };
}

class Model {
  conns = new Map<number, Conn>();
  /**
   * Every event in arrival order (bounded: twice MAX_ROWS), held compactly: the lists below are
   * absolute indices into it, and an event's object is made when a view reads it (issue 19).
   */
  events = new EventLog();
  frames = new EventList<FrameEvent>(this.events);
  messages = new EventList<MessageRow>(this.events);
  /** The Timeline's rows in frame mode: frames and HTTP exchanges, in arrival order (bounded like `frames`). */
  frameRows = new EventList<FrameEvent | HttpExchange>(this.events);
  /** The same in message mode: messages, pings, pongs, closes and HTTP exchanges. */
  messageRows = new EventList<MessageRow | HttpExchange>(this.events);
  /** Rows the bound pushed out of `frameRows` and `messageRows` (the absolute index of their first). */
  frameRowsTrimmed = 0;
  messageRowsTrimmed = 0;
  /** Each frame's absolute index in `events` by its key, without a Map's rehash of every frame as it doubles (lib/frame-index.ts). */
  private frameIndex = new FrameIndex<number>();
  framesByKey = byKey<FrameEvent>(this.frameIndex, this.events);
  violationsByFrame = new Map<FrameKey, ViolationEvent[]>();
  violations: ViolationEvent[] = [];
  /** Application-protocol violations, and those of each message (by `appMessageKey`). */
  appViolations: AppViolationEvent[] = [];
  appViolationsByMessage = new Map<string, AppViolationEvent[]>();
  /** A connection's own story at the application layer: mismatches and violations found in no message (at most 16 each). */
  appViolationsByConn = new Map<number, AppViolationEvent[]>();
  /** Messages with an application layer (their absolute index in `events`), by the key of each of their frames (Frames mode shows and filters by it). */
  private appIndex = new FrameIndex<number>();
  appByFrame = byKey<MessageEvent>(this.appIndex, this.events);
  /** Application protocols seen (the Timeline offers its protocol filter once one is). */
  appProtocols = new Set<AppProtocol>();
  /** What the programs got wrong (server/insights/), in order, and by each frame they cite. */
  insights: InsightEvent[] = [];
  insightsByFrame = new Map<FrameKey, InsightEvent[]>();
  /** Insights past MAX_INSIGHTS, the oldest, no longer listed (counted). */
  insightsTrimmed = 0;
  /** Frames the view bound pushed out (the absolute index of `frames[0]`). */
  trimmed = 0;
  /** The same for `messages`. */
  messagesTrimmed = 0;
  /** The same for `events` (the absolute index of `events[0]`: incremental views count from it). */
  get eventsTrimmed(): number {
    return this.events.base;
  }
  /** Bumped by each reset: views that cache per-index work start over (a recording replaced the live events). */
  generation = 0;

  reset(): void {
    this.generation++;
    this.conns.clear();
    this.frames.clear();
    this.messages.clear();
    this.events.clear();
    this.frameIndex.clear();
    this.violationsByFrame.clear();
    this.violations = [];
    this.appViolations = [];
    this.appViolationsByMessage.clear();
    this.appViolationsByConn.clear();
    this.appIndex.clear();
    this.appProtocols.clear();
    this.insights = [];
    this.insightsByFrame.clear();
    this.insightsTrimmed = 0;
    this.trimmed = 0;
    this.messagesTrimmed = 0;
    this.frameRows.clear();
    this.messageRows.clear();
    this.frameRowsTrimmed = 0;
    this.messageRowsTrimmed = 0;
  }

  /**
   * Apply one event; `chunk` and `index` say which batch the log holds (EventLog.addChunk) it is
   * in, and where in it, so the log need not keep its object.
   */
  apply(e: WireEvent, chunk = -1, index = 0): void {
    const abs = this.events.push(e, chunk, index);
    switch (e.type) {
      case 'open':
        this.open(e);
        break;
      case 'handshake': {
        const c = this.conn(e.conn);
        c.handshake = e;
        if (isExchange(e)) {
          c.exchanges.push(e);
          if (c.exchanges.length > MAX_EXCHANGES) c.exchanges.splice(0, c.exchanges.length - MAX_EXCHANGES);
          c.httpCount = Math.max(c.httpCount + 1, e.exchange ?? 0);
          this.frameRows.push(abs);
          this.messageRows.push(abs);
        }
        // Plain HTTP keeps its TCP connection open for more requests (keep-alive) until `end`.
        c.status = e.outcome === 'upgraded' ? 'open' : e.outcome === 'incomplete' ? c.status : e.outcome === 'plain-http' && !c.end ? 'open' : 'closed';
        break;
      }
      case 'frame': {
        const c = this.conn(e.conn);
        c.frames[e.dir]++;
        c.bytes[e.dir] += e.headerLength + (e.complete === false ? 0 : e.length);
        this.frames.push(abs);
        this.frameRows.push(abs);
        this.frameIndex.set(frameKey(e.conn, e.dir, e.seq), abs);
        break;
      }
      case 'message':
      case 'ping':
      case 'pong':
        if (e.type === 'message') {
          this.conn(e.conn).messages[e.dir]++;
          // Bounded: a message names at most its own frames, and those leave with their frames (trim).
          if (e.app && this.appProtocols.size < 16) this.appProtocols.add(e.app.protocol);
          if (e.app) for (let s = e.firstFrame; s <= e.lastFrame && s - e.firstFrame < 4096; s++) this.appIndex.set(frameKey(e.conn, e.dir, s), abs);
        }
        this.messages.push(abs);
        this.messageRows.push(abs);
        break;
      case 'close': {
        const c = this.conn(e.conn);
        c.closes.push(e);
        if (c.status === 'open') c.status = 'closing';
        this.messages.push(abs);
        this.messageRows.push(abs);
        break;
      }
      case 'violation': {
        this.conn(e.conn).violations++;
        this.violations.push(e);
        if (e.frame !== undefined) {
          const k = frameKey(e.conn, e.dir, e.frame);
          const list = this.violationsByFrame.get(k) ?? [];
          list.push(e);
          this.violationsByFrame.set(k, list);
        }
        break;
      }
      case 'appViolation': {
        this.conn(e.conn).appViolations++;
        this.appViolations.push(e);
        if (!e.at || e.rule === 'protocol-mismatch') {
          const list = this.appViolationsByConn.get(e.conn) ?? [];
          if (list.length < 16) list.push(e);
          this.appViolationsByConn.set(e.conn, list);
        }
        if (e.at) {
          const k = appMessageKey(e.at.conn, e.at.dir, e.at.firstFrame);
          const list = this.appViolationsByMessage.get(k) ?? [];
          if (list.length < 16) list.push(e);
          this.appViolationsByMessage.set(k, list);
        }
        break;
      }
      case 'insight':
        // One per rule and connection at most; a flood of connections is bounded in trim().
        this.insights.push(e);
        for (const dir of ['client', 'server'] as const) {
          for (const seq of e.frames[dir]) {
            const k = frameKey(e.conn, dir, seq);
            const list = this.insightsByFrame.get(k) ?? [];
            list.push(e);
            this.insightsByFrame.set(k, list);
          }
        }
        break;
      case 'end': {
        const c = this.conn(e.conn);
        c.end = e;
        c.status = 'closed';
        if (e.httpExchanges !== undefined) c.httpCount = Math.max(c.httpCount, e.httpExchanges);
        break;
      }
    }
  }

  private open(e: OpenEvent): void {
    this.conns.set(e.conn, {
      id: e.conn,
      client: e.client,
      target: e.target,
      ...(e.instance ? { instance: e.instance } : {}),
      openedAt: e.t,
      status: 'connecting',
      handshake: null,
      frames: { client: 0, server: 0 },
      messages: { client: 0, server: 0 },
      bytes: { client: 0, server: 0 },
      closes: [],
      end: null,
      violations: 0,
      appViolations: 0,
      exchanges: [],
      httpCount: 0,
      color: PALETTE[(e.conn - 1) % PALETTE.length]!,
    });
  }

  /** The connection, created from a later event when its `open` was dropped from history. */
  conn(id: number): Conn {
    let c = this.conns.get(id);
    if (!c) {
      this.open({ type: 'open', conn: id, t: 0, client: '?', target: '?' });
      c = this.conns.get(id)!;
    }
    return c;
  }

  trim(): void {
    const over = (list: { length: number }, max = MAX_ROWS) => (list.length > max ? list.length - max + TRIM_SLACK : 0);
    // The log first decides what it lets go; the lists then let go of those too (a flood of
    // connections with no frames can push frames out of the log before their own bound).
    const log = this.events;
    const logBase = log.base + over(log, 2 * MAX_ROWS);
    const f = Math.max(over(this.frames), this.frames.countBelow(logBase));
    if (f > 0) {
      for (let i = 0; i < f; i++) {
        const abs = this.frames.abs(i);
        const k = frameKey(log.conn(abs), log.dir(abs), log.seq(abs));
        this.frameIndex.delete(k);
        this.violationsByFrame.delete(k);
        this.appIndex.delete(k);
        this.insightsByFrame.delete(k);
      }
      this.frames.dropFront(f);
      this.trimmed += f;
    }
    const m = Math.max(over(this.messages), this.messages.countBelow(logBase));
    if (m > 0) {
      for (let i = 0; i < m; i++) {
        const abs = this.messages.abs(i);
        if (log.type(abs) === 'message') this.appViolationsByMessage.delete(appMessageKey(log.conn(abs), log.dir(abs), log.seq(abs)));
      }
      this.messages.dropFront(m);
      this.messagesTrimmed += m;
    }
    const fr = Math.max(over(this.frameRows), this.frameRows.countBelow(logBase));
    if (fr > 0) {
      this.frameRows.dropFront(fr);
      this.frameRowsTrimmed += fr;
    }
    const mr = Math.max(over(this.messageRows), this.messageRows.countBelow(logBase));
    if (mr > 0) {
      this.messageRows.dropFront(mr);
      this.messageRowsTrimmed += mr;
    }
    log.dropFront(logBase - log.base);
    const v = over(this.violations);
    if (v > 0) this.violations.splice(0, v);
    const av = over(this.appViolations);
    if (av > 0) for (const old of this.appViolations.splice(0, av)) if (old.at) this.appViolationsByMessage.delete(appMessageKey(old.at.conn, old.at.dir, old.at.firstFrame));
    const ins = Math.max(0, this.insights.length - MAX_INSIGHTS);
    if (ins > 0) {
      this.insights.splice(0, ins);
      this.insightsTrimmed += ins;
    }
  }
}

/** A message's identity for its application-layer violations: connection, direction, first frame (`MessageRef`). */
export const appMessageKey = (conn: number, dir: Direction, firstFrame: number): string => `${conn}:${dir}:${firstFrame}`;

export const model = new Model();

/** Bumped once per applied batch: every view that reads it re-renders. */
export const version = signal(0);
export const topology = signal<TopologyInfo | null>(null);
export const storeStatus = signal<StoreStatus | null>(null);
/** The wiretap's clock as last reported, and when (performance.now()) the page heard it. */
export const wiretapClock = signal<{ now: number; at: number } | null>(null);

/** The wiretap's time now (ms since it started), estimated from its last report; null before one. */
export function wiretapNow(): number | null {
  const c = wiretapClock.value;
  return c ? c.now + (performance.now() - c.at) : null;
}
export const streamState = signal<'connecting' | 'live' | 'refused' | 'lost'>('connecting');
export const streamError = signal<string>('');
/** Events the server did not send to this page because it was too slow (back-pressure). */
export const shed = signal(0);

/** The learner's server process (wsplay start): its state and its recent output. */
export const runnerStatus = signal<RunnerState | null>(null);
/** Output lines of the learner's server and wsplay's notes about it, newest last (bounded). */
export const serverConsole = signal<ConsoleLine[]>([]);
/** Lines the server printed too fast to send (counted, not shown). */
export const serverConsoleSkipped = signal(0);
/** The last workspace file changed on disk from outside the dashboard. */
export const fileChanges = signal<FileInfo | null>(null);
/**
 * The files in use (the stream's `workspace` message): an open lesson's (its folder name) or the
 * free playground's (lesson null), with their names in the editor's order. Null before the first.
 */
export const activeWorkspace = signal<{ lesson: string | null; files: string[] } | null>(null);
const MAX_CONSOLE_LINES = 1000;

// What the learner is looking at.
export type Selection =
  | { kind: 'frame'; key: FrameKey }
  | { kind: 'message'; row: MessageRow; conn: number }
  | { kind: 'handshake'; conn: number; exchange?: HttpExchange }
  | null;
export const selection = signal<Selection>(null);

/**
 * Whether two message rows are the same row: the model makes a row's object again from its text
 * when a view reads it after it left the cache (lib/event-log.ts), so identity alone can miss.
 */
export function sameRow(a: MessageRow, b: MessageRow): boolean {
  if (a === b) return true;
  if (a.type !== b.type || a.conn !== b.conn || a.dir !== b.dir || a.t !== b.t) return false;
  if (a.type === 'message' && b.type === 'message') return a.firstFrame === b.firstFrame;
  if ((a.type === 'ping' || a.type === 'pong') && (b.type === 'ping' || b.type === 'pong')) return a.frame === b.frame;
  return true;
}
export const selectedConn = signal<number | null>(null);
export const rowMode = signal<'frames' | 'messages'>('frames');
export const paused = signal(false);
export const centerView = signal<'timeline' | 'diagram' | 'stats' | 'editor' | 'break' | 'conformance'>('timeline');
export const detailTab = signal<'lesson' | 'handshake' | 'frame' | 'message'>('lesson');

export interface Filters {
  conn: number | null;
  dir: Direction | 'both';
  /** `http`: plain HTTP request/response exchanges (a polling client's); `data` and `control`: WebSocket frames or messages. */
  kind: 'all' | 'data' | 'control' | 'http';
  text: string;
  regex: boolean;
  /** By the application layer (ui/src/lib/app-layer.ts): protocol, event name / method / topic / command, id. */
  app: AppFilter;
}
export const filters = signal<Filters>({ conn: null, dir: 'both', kind: 'all', text: '', regex: false, app: NO_APP_FILTER });

export const selectedFrame = computed(() => {
  version.value;
  const s = selection.value;
  return s?.kind === 'frame' ? model.framesByKey.get(s.key) ?? null : null;
});

// ---- the stream ------------------------------------------------------------------------

/**
 * Events received and not applied yet, from `pendingHead` on: a batch is applied as it arrives,
 * a slice at a time (SLICE_MS), so only the rest of a large one waits here.
 */
let pending: WireEvent[] = [];
/** Where each pending event is: its batch's chunk id in the log and its index there (two numbers an event). */
let pendingSrc: number[] = [];
let pendingHead = 0;
/** A continuation of `drain` is scheduled (the pending events did not fit one slice). */
let draining = false;
let renderScheduled = false;
let lastRender = 0;
let appliedSinceRender = 0;
/** Events the last render showed for the first time. */
let lastRenderEvents = 0;
/** Until when (performance.now()) renders count as busy: one with a batch's worth was less than a second ago. */
let busyUntil = 0;

/**
 * Under a heavy stream (hundreds of events between two frames) views re-render at most four
 * times a second: a render lays out the visible rows, the diagram's arrows or the Stats cards,
 * and at 60 renders a second the page would have no time left for the learner. A quiet stream
 * renders every frame. Applying events to the model is not held back with it: it is cheap
 * (a few µs an event), and holding it back would hold back the acknowledgements, so a 4,000-event
 * window per render would cap the page at 16,000 events a second (issue 19).
 */
const BUSY_EVENTS = 500;
const BUSY_INTERVAL_MS = 250;
/**
 * A flood is known by its rate too, from its first batches: at 20,000 events a second a render
 * per animation frame has ~330 events, under BUSY_EVENTS, so the page drew 60 times a second
 * (each draw with its layout and paint) until its frames had slowed enough to pass it, and those
 * first frames were its longest tasks. FLOOD_EVENTS in the last 100-200 ms is 2,000+ a second.
 */
const FLOOD_EVENTS = 400;
let rateWindowStart = 0;
let rateWindowEvents = 0;
let ratePreviousEvents = 0;

function noteRate(n: number, now: number): void {
  if (now - rateWindowStart >= 100) {
    ratePreviousEvents = now - rateWindowStart < 200 ? rateWindowEvents : 0;
    rateWindowEvents = 0;
    rateWindowStart = now;
  }
  rateWindowEvents += n;
}

const flooding = (): boolean => rateWindowEvents + ratePreviousEvents >= FLOOD_EVENTS;

/**
 * Which scheduling a runner belongs to. A render is asked for by two runners at once (an animation
 * frame and a timer for hidden tabs): the one left over after the other ran must not run a later
 * scheduling's render early. It did: under a flood each left-over timer became a render of its
 * own, and the page drew 10 to 20 times a second instead of 4 (issue 19).
 */
let renderTicket = 0;

function scheduleRender(): void {
  if (renderScheduled) return;
  renderScheduled = true;
  const ticket = ++renderTicket;
  const run = () => {
    if (!renderScheduled || ticket !== renderTicket) return;
    renderScheduled = false;
    lastRender = performance.now();
    lastRenderEvents = appliedSinceRender;
    appliedSinceRender = 0;
    version.value++;
  };
  // Busy: this render or the one before has a batch's worth (the server's batches are 500 events),
  // or one had within the last second: a render right after a busy one may have few events so far,
  // and in an animation frame's callback it would add its cost to the frame's layout and paint.
  const now = performance.now();
  if (Math.max(appliedSinceRender, lastRenderEvents) >= BUSY_EVENTS || flooding()) busyUntil = now + 1000;
  if (now < busyUntil) {
    // A task of its own, not an animation frame's callback: the views' render (a few ms of
    // JavaScript) and the frame's style, layout and paint that follow are then two tasks, not
    // one twice as long (issue 19: on 2 busy cores a task's length is what the learner feels).
    setTimeout(run, Math.max(0, BUSY_INTERVAL_MS - (now - lastRender)));
    return;
  }
  // Once per animation frame; a hidden tab gets no frames, so a timer takes over there. The render
  // is a task of its own right after the frame's callbacks, never in them: there it put the
  // views' JavaScript and the frame's style, layout and paint in one task (at a flood's start,
  // with the page's code not yet compiled, 20 ms of CPU and 70 ms on two busy cores: issue 19).
  // Its changes are painted in the next frame, 16 ms later. A flood that began since (a batch's
  // worth applied by the frame) makes the page busy, as above.
  requestAnimationFrame(() => {
    if (appliedSinceRender >= BUSY_EVENTS || flooding()) busyUntil = performance.now() + 1000;
    nextTask(run);
  });
  setTimeout(run, 250);
}

/**
 * Run `fn` in the next animation frame's callbacks, where the browser lays the page out anyway:
 * a view that must set a scroll position after it rendered does it there, not in the render's
 * task, where setting `scrollTop` would make the browser lay out the whole page at once, and
 * again for the frame. A hidden tab gets no frames: a timer does it there.
 */
export function inNextFrame(fn: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    fn();
  };
  requestAnimationFrame(once);
  setTimeout(once, 250);
}

/**
 * Run `fn` in a task of its own soon: a message to ourselves is not clamped to 4 ms the way a
 * nested setTimeout(0) is, and input and paint still get their turn between the two tasks.
 */
const nextTask: (fn: () => void) => void = (() => {
  if (typeof MessageChannel === 'undefined') return (fn) => void setTimeout(fn, 0);
  const channel = new MessageChannel();
  const queue: Array<() => void> = [];
  channel.port1.onmessage = () => queue.shift()?.();
  return (fn) => {
    queue.push(fn);
    channel.port2.postMessage(null);
  };
})();

/** A page applies events for at most this long per task, so input and paint get their turn. */
const SLICE_MS = 8;
/**
 * Events (history and live) the server may send ahead of what this page has applied (flow
 * control). The page applies a batch as it arrives, so the window bounds what waits in `pending`
 * (a few MB at most); it also caps the stream at a window per round trip, and on a busy machine a
 * round trip through the server's event loop and back can take a few hundred ms: 16,000 events
 * keep 20,000 events a second (10,000 frames and their messages) flowing through that (issue 19).
 */
const FLOW_WINDOW = 16_000;
let stream: WebSocket | null = null;
/** Sequence number after the last event received. */
let receivedUpTo = 0;
/**
 * Where each received batch ends: its sequence number and the count of events received up to
 * it. Once that many are applied the batch is acknowledged, while the rest is still being
 * applied: the server sends the next batches meanwhile, and a page loading 100,000 events of
 * history is not held to one window per render.
 */
let batchEnds: Array<{ seq: number; total: number }> = [];
let receivedTotal = 0;
let appliedTotal = 0;
let ackedUpTo = 0;

/** The end of the last batch applied whole: what the next acknowledgement says. */
let ackable = 0;
let ackTimer: ReturnType<typeof setTimeout> | null = null;
/**
 * Acknowledge once ACK_EVENTS more events are applied, or ACK_MS after the first one not yet
 * acknowledged: one per batch was a WebSocket send per ~200 events under a flood, 3 % of the main
 * thread (issue 19). Either keeps the server's window (FLOW_WINDOW) far from closing.
 */
const ACK_EVENTS = 2_000;
const ACK_MS = 50;

function acknowledge(now = false): void {
  while (batchEnds.length > 0 && batchEnds[0]!.total <= appliedTotal) ackable = batchEnds.shift()!.seq;
  if (ackable <= ackedUpTo || !stream || stream.readyState !== WebSocket.OPEN) return;
  if (!now && ackable - ackedUpTo < ACK_EVENTS) {
    ackTimer ??= setTimeout(() => {
      ackTimer = null;
      acknowledge(true);
    }, ACK_MS);
    return;
  }
  if (ackTimer !== null) clearTimeout(ackTimer);
  ackTimer = null;
  ackedUpTo = ackable;
  stream.send(JSON.stringify({ kind: 'ack', seq: ackable }));
}

function resetAcks(): void {
  batchEnds = [];
  receivedTotal = 0;
  appliedTotal = 0;
  ackedUpTo = 0;
  ackable = 0;
  if (ackTimer !== null) clearTimeout(ackTimer);
  ackTimer = null;
}
/** A recording is on view (ui/src/recording.ts): live events are not applied to the model. */
let viewingRecording = false;
/** Close the stream and open it at once: the server sends the whole history again. */
let restartStream: (() => void) | null = null;

/**
 * While a recording is viewed the model holds the recording: live events are received and
 * acknowledged (so the server does not shed them) but not applied. Back to live, the stream is
 * opened again and the history (with what came meanwhile) replaces the recording.
 */
export function setViewingRecording(on: boolean): void {
  if (on === viewingRecording) return;
  viewingRecording = on;
  pending = [];
  pendingSrc = [];
  pendingHead = 0;
  resetAcks();
  // What was received and will not be applied now is acknowledged, so the server sends on.
  if (on && receivedUpTo > 0 && stream && stream.readyState === WebSocket.OPEN) stream.send(JSON.stringify({ kind: 'ack', seq: receivedUpTo }));
  if (!on) restartStream?.();
}

/**
 * What the page's intake has cost so far: events received, ms spent parsing their batches (JSON)
 * and applying them to the model. `npm run bench` reads it (as `wsplayIntake` in the page) to
 * report the page's cost per event; rendering is the rest of the main thread's time.
 */
export const intake = { events: 0, decodeMs: 0, applyMs: 0, reparsed };
(globalThis as { wsplayIntake?: typeof intake }).wsplayIntake = intake;

/**
 * Work that keeps up with the events as they are applied, whether or not its view is open (the
 * sequence diagram's arrow tally, the Stats view's activity bins): done in a task of its own
 * after each slice the intake applied. Done on the render's `version` change, a flood's 5,000
 * events a render made that render's task twice as long (issue 19). Each follower takes up from
 * where it stopped, so the same work on `version` (kept for resets and recordings) finds none.
 */
const followers: Array<() => void> = [];
let followScheduled = false;
export function followApplied(fn: () => void): void {
  followers.push(fn);
}
function scheduleFollow(): void {
  if (followScheduled || followers.length === 0) return;
  followScheduled = true;
  nextTask(() => {
    followScheduled = false;
    for (const f of followers) f();
  });
}

/** Apply the pending events for at most SLICE_MS, acknowledge them, and go on in the next task. */
function drain(): void {
  if (draining) return;
  const start = performance.now();
  let i = pendingHead;
  while (i < pending.length) {
    const e = pending[i]!;
    if (eventScope(e)) model.apply(e, pendingSrc[2 * i]!, pendingSrc[2 * i + 1]!);
    i++;
    if ((i & 255) === 0 && performance.now() - start > SLICE_MS) break;
  }
  const n = i - pendingHead;
  if (i === pending.length) {
    pending = [];
    pendingSrc = [];
    pendingHead = 0;
  } else {
    pendingHead = i;
  }
  if (n === 0) return;
  appliedTotal += n;
  appliedSinceRender += n;
  noteRate(n, performance.now());
  // What is applied is acknowledged now, also while more waits: the server can send the next.
  acknowledge();
  model.trim();
  intake.applyMs += performance.now() - start;
  scheduleFollow();
  scheduleRender();
  if (pendingHead < pending.length) {
    draining = true;
    nextTask(() => {
      draining = false;
      drain();
    });
  }
}

/**
 * Which live events the model takes (ui/src/capture-scope.ts: the open lesson's connections).
 * Every live event passes through it, kept or not, in order, when it is applied (so events
 * received before a new lesson's view began, and applied after, are judged by the new view).
 */
let eventScope: (e: WireEvent) => boolean = () => true;
export function setEventScope(fn: (e: WireEvent) => boolean): void {
  eventScope = fn;
}

/** Build the model again from the wiretap's history (another capture view is on show). */
export function replayHistory(): void {
  if (!viewingRecording) restartStream?.();
}

/** Apply events at once (tests and recordings). */
export function applyEvents(events: WireEvent[]): void {
  for (const e of events) model.apply(e);
  model.trim();
  version.value++;
}

export function tokenFromUrl(): string {
  return new URLSearchParams(location.search).get('token') ?? '';
}

export function connectStream(token = tokenFromUrl()): void {
  // The window in the address too: the history is paced by acknowledgements from its first batch.
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events?token=${encodeURIComponent(token)}&window=${FLOW_WINDOW}`;
  let retry = 500;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const open = () => {
    streamState.value = 'connecting';
    const ws = new WebSocket(url);
    stream = ws;
    let helloSeen = false;
    ws.onopen = () => ws.send(JSON.stringify({ kind: 'flow', window: FLOW_WINDOW }));
    ws.onmessage = (ev) => {
      const parseStart = performance.now();
      const msg = JSON.parse(ev.data as string) as StreamMessage;
      intake.decodeMs += performance.now() - parseStart;
      switch (msg.kind) {
        case 'hello':
          helloSeen = true;
          retry = 500;
          // A (re)connect sends the whole history again: start from a clean slate.
          if (!viewingRecording) model.reset();
          pending = [];
          pendingSrc = [];
          pendingHead = 0;
          resetAcks();
          shed.value = 0;
          serverConsole.value = [];
          topology.value = msg.topology;
          storeStatus.value = { size: msg.size, dropped: msg.dropped, counts: msg.counts, connections: msg.connections };
          if (msg.now !== undefined) wiretapClock.value = { now: msg.now, at: performance.now() };
          streamState.value = 'live';
          version.value++;
          break;
        case 'events':
          receivedUpTo = msg.from + msg.events.length;
          if (viewingRecording) {
            ws.send(JSON.stringify({ kind: 'ack', seq: receivedUpTo }));
            break;
          }
          {
            // The batch's text stays, one string: the log keeps a frame or message as a few
            // numbers and its index here, and parses the batch again when a view reads one of
            // its events (lib/event-log.ts).
            const chunk = model.events.addChunk(ev.data as string);
            for (let j = 0; j < msg.events.length; j++) {
              pending.push(msg.events[j]!);
              pendingSrc.push(chunk, j);
            }
          }
          intake.events += msg.events.length;
          receivedTotal += msg.events.length;
          batchEnds.push({ seq: receivedUpTo, total: receivedTotal });
          drain();
          break;
        case 'shed':
          shed.value = msg.total;
          break;
        case 'status':
          storeStatus.value = { size: msg.size, dropped: msg.dropped, counts: msg.counts, connections: msg.connections };
          if (msg.now !== undefined) wiretapClock.value = { now: msg.now, at: performance.now() };
          break;
        case 'console': {
          const lines = serverConsole.value.concat(msg.lines);
          serverConsole.value = lines.length > MAX_CONSOLE_LINES ? lines.slice(lines.length - MAX_CONSOLE_LINES) : lines;
          if (msg.skipped) serverConsoleSkipped.value += msg.skipped;
          break;
        }
        case 'runner': {
          const { kind: _kind, ...state } = msg;
          runnerStatus.value = state;
          break;
        }
        case 'file': {
          const { kind: _kind, origin: _origin, ...info } = msg;
          fileChanges.value = info;
          break;
        }
        case 'topology':
          topology.value = msg.topology;
          break;
        case 'workspace': {
          const files = msg.files.map((f) => f.name);
          const now = activeWorkspace.value;
          if (!now || now.lesson !== msg.lesson || now.files.join('\n') !== files.join('\n')) activeWorkspace.value = { lesson: msg.lesson, files };
          break;
        }
      }
    };
    ws.onclose = () => {
      if (ws !== stream) return;
      if (!helloSeen) {
        streamState.value = 'refused';
        streamError.value = 'The dashboard refused this page: open the address printed by `npm start` (it carries the session token).';
      } else {
        streamState.value = 'lost';
        streamError.value = 'Lost the connection to the playground; reconnecting…';
      }
      retryTimer = setTimeout(open, retry);
      retry = Math.min(retry * 2, 10_000);
    };
  };
  restartStream = () => {
    clearTimeout(retryTimer);
    const old = stream;
    stream = null;
    if (old) {
      old.onmessage = null;
      old.close();
    }
    open();
  };
  open();
}
