import type {
  CloseEvent,
  ControlEvent,
  Direction,
  EndEvent,
  FrameEvent,
  HandshakeEvent,
  InsightEvent,
  InsightRule,
  MessageEvent,
  MessageRef,
  OpenEvent,
  WireEvent,
} from '../capture/events.ts';
import { CONFORMANCE_USER_AGENT } from '../conformance/types.ts';
import { isValidCloseCodeOnWire } from '../protocol/close-codes.ts';
import { INSIGHT_RULES } from './rules.ts';

/**
 * The insight engine: what a learner's program got wrong, read off the wire alone. Sans-I/O:
 * it takes the wiretap's events in order (`push`) and gives them back with `insight` events
 * inserted right after the event that proved each one. No timers: every rule about time reads
 * the events' own timestamps (`t`), so a recording replays to the same insights.
 *
 * Bounded: per connection a fixed set of fields, a few frame numbers and at most a few short
 * byte patterns; connections are forgotten at their `end` (and the oldest ones past
 * `maxConnections`); clients (for reconnect storms) past `maxHosts` likewise. Nothing loops
 * over a number a peer wrote: the only work proportional to a payload is one `indexOf` over a
 * message's preview, which the decoder already bounds.
 *
 * Each rule fires at most once per connection (and direction), so a program that repeats its
 * mistake a thousand times gets one insight, not a thousand.
 */

export interface InsightLimits {
  /** Connections tracked at once; past it the oldest is forgotten (it then gets no insight). */
  maxConnections: number;
  /** Client hosts whose reconnects are followed; past it the least recent is forgotten. */
  maxHosts: number;
}

export const DEFAULT_INSIGHT_LIMITS: InsightLimits = { maxConnections: 10_000, maxHosts: 256 };

/**
 * Reconnects in a row (each within RECONNECT_WINDOW_MS of the last end) that make a storm, at
 * least. Not fewer: on a loaded machine full jitter from 100 ms (lesson 09's right answer) measured
 * 518, 162, 141, 182, 225, 452 ms over its first six, flat; by the eighth its ceiling is seconds.
 */
export const STORM_RECONNECTS = 8;
/** A new connection this soon after the client's previous one ended is a reconnect. */
const RECONNECT_WINDOW_MS = 3000;
/** A storm's reconnects all fall within this span. */
const STORM_SPAN_MS = 10_000;
/** Reconnect delays remembered per client (enough to judge growth). */
const CHAIN_MAX = 16;
/**
 * A server's TCP ending this soon after a client frame it never answered, with no close frame,
 * is a crash on that frame. Not shorter: the course's server takes 1.7 s to die of a 1 MiB
 * message (String.fromCharCode(...data) spreads a million arguments before the stack overflows).
 */
const CRASH_WINDOW_MS = 5000;
/** A stop of the server on purpose explains the ends of its connections this long after it (SIGKILL comes at 1.5 s). */
const STOP_WINDOW_MS = 5000;
/** A ping unanswered for this long when the pinger pings again (or ends) was left unanswered. */
const PONG_PATIENCE_MS = 1000;
/** Silences shorter than this are not an idle timeout. */
const IDLE_MIN_MS = 4500;
/** Patterns of text kept per direction to spot the peer reading it byte by byte (utf8-read-as-bytes). */
const MANGLE_PATTERNS = 4;
/** Bytes around a message's first non-ASCII character that make its pattern. */
const MANGLE_BEFORE = 8;
const MANGLE_AFTER = 24;
/** Bytes of a message scanned for a non-ASCII character (a pattern comes from the start of a message). */
const MANGLE_SCAN = 256;

interface FrameRef {
  dir: Direction;
  seq: number;
  opcode: number;
  t: number;
  tEnd: number;
  length: number;
}

interface ConnState {
  conn: number;
  host: string;
  upgraded: boolean;
  /** When the 101 came (or the connection opened): the start of the first silence. */
  since: number;
  lastFrame: FrameRef | null;
  /** The client's last data frame (not a close frame), and whether the server sent one after it. */
  lastClientData: FrameRef | null;
  serverAnswered: boolean;
  /** Data frames went both ways: the connection worked, and a reconnect after it starts afresh. */
  talked: Record<Direction, boolean>;
  /** A ping of the server's was waiting for its pong when the client's last data frame came. */
  pingPendingAtData: boolean;
  /** The last frame per direction, to read a close frame's length. */
  lastOf: Record<Direction, FrameRef | null>;
  /** The last message per direction, for citing the message a frame ended. */
  lastMessage: Record<Direction, (MessageRef & { lastFrame: number }) | null>;
  closeSeen: Record<Direction, boolean>;
  /** Pings from this direction not answered yet: frame seq and time (a few). */
  pending: Record<Direction, Array<{ seq: number; t: number }>>;
  /** Rules fired on this connection, `rule` or `rule:dir`. */
  fired: Set<string>;
  /** Patterns per direction: a message's UTF-8 as the peer would mangle it reading bytes as characters. */
  mangled: Record<Direction, Array<{ pattern: Buffer; ref: MessageRef }>>;
  /**
   * The client is wsplay's own conformance runner (its handshake's User-Agent): it sends
   * reserved close codes and reconnects case after case on purpose, so what it does is no
   * insight about the learner's program. What the server does to it still is.
   */
  probe: boolean;
}

interface HostState {
  /**
   * The client's last connection to end: when, and whether it failed (a WebSocket that ended
   * other than by a clean 1000, or a server that could not be reached): what a reconnect follows.
   */
  lastEnd: { t: number; conn: number; failed: boolean } | null;
  /** The current run of reconnects: connection and the wait before it. */
  chain: Array<{ conn: number; delay: number; t: number }>;
  /** The chain already fired (one insight per storm). */
  fired: boolean;
}

const OTHER: Record<Direction, Direction> = { client: 'server', server: 'client' };

/** `[object Object]`, `[object Blob]` ...: what String(x) makes of an object without its own toString. */
const DEFAULT_TO_STRING = /\[object ([A-Z][A-Za-z0-9]*)\]/;
const OBJECT_MARK = Buffer.from('[object ');

/** Query parameters whose value is a credential. */
const CREDENTIAL_PARAM = /^(?:token|access[_-]?token|id[_-]?token|auth|auth[_-]?token|authorization|bearer|jwt|api[_-]?key|apikey|key|secret|client[_-]?secret|password|passwd|pwd|session|session[_-]?id|sessionid|sid|credentials?)$/i;

/** A reason that says something went wrong. */
const ERROR_REASON = /\b(?:error|errors|fail|failed|failure|crash|crashed|exception|invalid|denied|unauthori[sz]ed|forbidden|timeout|timed out|refused|too big|too large|bad)\b/i;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export class InsightEngine {
  private readonly conns = new Map<number, ConnState>();
  private readonly hosts = new Map<string, HostState>();
  private readonly limits: InsightLimits;
  /** When the server was last stopped on purpose (Wiretap.serverStopping), or null. */
  private stoppedAt: number | null = null;

  constructor(limits: Partial<InsightLimits> = {}) {
    this.limits = { ...DEFAULT_INSIGHT_LIMITS, ...limits };
  }

  /**
   * The server is being stopped on purpose at `t` (the playground's restart, a check's end): ends
   * in the next STOP_WINDOW_MS are what a stop looks like (FIN without close frames), not a crash
   * on the last frame or an idle timeout. Only a runner that starts the server knows; under
   * `wsplay tap` the wire is all there is.
   */
  serverStopping(t: number): void {
    this.stoppedAt = t;
  }

  /**
   * One batch of events in, the same events out with insights inserted after the events that
   * proved them. The same array when there is none (the common case costs no copy).
   */
  push(events: WireEvent[]): WireEvent[] {
    let out: WireEvent[] | null = null;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const found = this.see(e);
      if (found.length > 0) {
        out ??= events.slice(0, i);
        out.push(e, ...found);
      } else if (out) {
        out.push(e);
      }
    }
    return out ?? events;
  }

  private see(e: WireEvent): InsightEvent[] {
    switch (e.type) {
      case 'open':
        return this.onOpen(e);
      case 'handshake':
        return this.onHandshake(e);
      case 'frame':
        this.onFrame(e);
        return NONE;
      case 'message':
        return this.onMessage(e);
      case 'ping':
        return this.onPing(e);
      case 'pong':
        this.onPong(e);
        return NONE;
      case 'close':
        return this.onClose(e);
      case 'end':
        return this.onEnd(e);
      default:
        return NONE;
    }
  }

  // ---- per event ---------------------------------------------------------------------------

  private onOpen(e: OpenEvent): InsightEvent[] {
    const host = hostOf(e.client);
    if (this.conns.size >= this.limits.maxConnections) {
      const oldest = this.conns.keys().next().value;
      if (oldest !== undefined) this.conns.delete(oldest);
    }
    this.conns.set(e.conn, {
      conn: e.conn,
      host,
      upgraded: false,
      since: e.t,
      lastFrame: null,
      lastClientData: null,
      serverAnswered: false,
      talked: { client: false, server: false },
      pingPendingAtData: false,
      lastOf: { client: null, server: null },
      lastMessage: { client: null, server: null },
      closeSeen: { client: false, server: false },
      pending: { client: [], server: [] },
      fired: new Set(),
      mangled: { client: [], server: [] },
      probe: false,
    });
    return this.reconnect(e, host);
  }

  /** reconnect-storm: a client coming back again and again, soon after each failure, the waits not growing. */
  private reconnect(e: OpenEvent, host: string): InsightEvent[] {
    let h = this.hosts.get(host);
    if (h) {
      this.hosts.delete(host); // re-inserted below: the map's order is least recent first
    } else {
      if (this.hosts.size >= this.limits.maxHosts) {
        const stale = this.hosts.keys().next().value;
        if (stale !== undefined) this.hosts.delete(stale);
      }
      h = { lastEnd: null, chain: [], fired: false };
    }
    this.hosts.set(host, h);
    const last = h.lastEnd;
    const delay = last ? e.t - last.t : Infinity;
    if (!last || !last.failed || delay > RECONNECT_WINDOW_MS || delay < 0) {
      h.chain = [];
      h.fired = false;
      return NONE;
    }
    h.lastEnd = null; // one reconnect per ended connection (parallel connections are not reconnects)
    if (h.chain.length < CHAIN_MAX) h.chain.push({ conn: e.conn, delay, t: e.t });
    if (h.fired || h.chain.length < STORM_RECONNECTS) return NONE;
    const recent = h.chain.slice(-STORM_RECONNECTS);
    if (recent.at(-1)!.t - recent[0]!.t > STORM_SPAN_MS) return NONE;
    // Growth judged on the envelope, as lesson 09's check does: with jitter any one wait may be
    // short, but growing waits always show a long one later next to the early ones.
    const waits = h.chain.map((c) => c.delay);
    // A floor of 100 ms under the first waits: reconnects with no wait at all measure a few ms,
    // and a loaded machine must not make their scheduling noise look like growth.
    const ref = Math.max(100, Math.min(waits[0]!, waits[1]!));
    const longest = Math.max(...waits.slice(2));
    if (longest >= 3 * ref + 200) return NONE;
    // Full jitter under a doubling ceiling can keep every wait under that mark for a while
    // (measured: 43, 44, 23, 152, 233, 411, 387, 282 ms), yet its later half is several times
    // its earlier one; flat waits keep the halves alike.
    // Or its later half's longest wait is twice the earlier half's (seen: 10, 17, 39, 66, 262, 159, 74, 211 ms).
    const half = waits.length >> 1;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const early = waits.slice(0, half);
    const later = waits.slice(half);
    if (mean(later) >= 2 * Math.max(100, mean(early))) return NONE;
    if (Math.max(...later) >= 2 * Math.max(100, ...early)) return NONE;
    h.fired = true;
    const shown = waits.slice(0, 8).map((w) => `${Math.round(w)} ms`).join(', ');
    return [
      this.insight(e, 'reconnect-storm', 'warning', {
        message: `This client came back ${h.chain.length} times in ${((recent.at(-1)!.t - h.chain[0]!.t) / 1000).toFixed(1)} s, each time soon after its connection failed, and the waits do not grow (${shown}${waits.length > 8 ? ', …' : ''}). Every client of a server that restarts does the same, all at once: wait before reconnecting, and double the wait after each failure (with a random part, up to a few seconds).`,
        conns: h.chain.map((c) => c.conn),
      }),
    ];
  }

  private onHandshake(e: HandshakeEvent): InsightEvent[] {
    const c = this.conns.get(e.conn);
    if (!c || !e.request) return NONE;
    if (header(e, 'user-agent')?.trim() === CONFORMANCE_USER_AGENT) c.probe = true;
    const out: InsightEvent[] = [];
    if (e.outcome === 'upgraded') {
      c.upgraded = true;
      c.since = e.response?.t ?? e.t;
    }
    const token = credentialIn(e.request.path);
    if (token && once(c, 'token-in-url')) {
      out.push(
        this.insight(e, 'token-in-url', 'warning', {
          message: `The upgrade request carries a credential in its URL (${token}): URLs are written to server and proxy logs and kept in the browser's history, so the secret outlives the connection. Send it in the first message after open (or rely on a cookie) and check it before answering anything else.`,
        }),
      );
    }
    if (e.outcome === 'upgraded') {
      const problem = foreignOrigin(e);
      if (problem && once(c, 'origin-not-checked')) {
        out.push(
          this.insight(e, 'origin-not-checked', 'error', {
            message: `The server accepted (101) a handshake from ${problem}: any web page its users visit can open this WebSocket with their cookies and talk to it in their name (cross-site WebSocket hijacking). Check the Origin header against an allow-list (ws: verifyClient) and answer 403 to the rest.`,
          }),
        );
      }
    }
    return out;
  }

  private onFrame(e: FrameEvent): void {
    const c = this.conns.get(e.conn);
    if (!c) return;
    const f: FrameRef = { dir: e.dir, seq: e.seq, opcode: e.opcode, t: e.t, tEnd: e.tEnd, length: e.length };
    c.lastFrame = f;
    c.lastOf[e.dir] = f;
    // Data frames only from the client (a pong right before a heartbeat's terminate() is no
    // message the server choked on); any frame from the server, pings included, shows it alive.
    if (e.opcode <= 0x2) c.talked[e.dir] = true;
    if (e.opcode !== 0x8 && (e.dir === 'server' || e.opcode <= 0x2)) {
      if (e.dir === 'client') {
        c.lastClientData = f;
        c.serverAnswered = false;
        c.pingPendingAtData = c.pending.server.length > 0;
      } else {
        c.serverAnswered = true;
      }
    }
  }

  private onMessage(e: MessageEvent): InsightEvent[] {
    const c = this.conns.get(e.conn);
    if (!c) return NONE;
    // Updated in place (it is only read, and copied, when the connection ends): no object per
    // message on the relay's path.
    const last = c.lastMessage[e.dir];
    if (last === null) c.lastMessage[e.dir] = { conn: e.conn, dir: e.dir, firstFrame: e.firstFrame, lastFrame: e.lastFrame };
    else {
      last.firstFrame = e.firstFrame;
      last.lastFrame = e.lastFrame;
    }
    if (e.opcode !== 1) return NONE;
    const ref: MessageRef = { conn: e.conn, dir: e.dir, firstFrame: e.firstFrame };
    const bytes = previewOf(e);
    if (bytes === null) return NONE;
    const out: InsightEvent[] = [];
    const at = bytes.indexOf(OBJECT_MARK);
    // A server echoing the client's "[object Object]" is not a second mistake.
    if (at >= 0 && !c.fired.has(`object-payload:${OTHER[e.dir]}`)) {
      const m = DEFAULT_TO_STRING.exec(bytes.subarray(at, at + 64).toString('latin1'));
      if (m && once(c, `object-payload:${e.dir}`)) {
        const what = m[1] === 'Object' ? 'an object' : m[1] === 'Array' ? 'an array' : `a ${m[1]}`;
        const fix =
          m[1] === 'Blob' || m[1] === 'ArrayBuffer' || m[1].endsWith('Array')
            ? `Send the ${m[1]} itself (a binary message), or its text (await blob.text(), new TextDecoder().decode(buffer)).`
            : 'Send JSON.stringify(value), and JSON.parse(event.data) on the other side.';
        out.push(
          this.insight(e, 'object-payload', 'error', {
            message: `The ${e.dir} sent the text "${m[0]}": ${what} turned into a string by JavaScript's default toString, which keeps none of its content. ${fix}`,
            frames: framesOf(e.dir, e.firstFrame, e.lastFrame),
            messages: [ref],
          }),
        );
      }
    }
    // utf8-read-as-bytes: a server message holds the client's text as it reads when its UTF-8
    // bytes are taken one by one as characters (String.fromCharCode(...data), the course's
    // server). One way only: it halves the cost on the relay's thread, and a client echoing
    // the server's text back is not a program anyone writes.
    const theirs = c.mangled.client;
    if (e.dir === 'server' && theirs.length > 0 && !c.fired.has('utf8-read-as-bytes:server')) {
      for (const p of theirs) {
        if (bytes.indexOf(p.pattern) < 0) continue;
        once(c, 'utf8-read-as-bytes:server');
        out.push(
          this.insight(e, 'utf8-read-as-bytes', 'error', {
            message: `The ${e.dir} sent back the ${OTHER[e.dir]}'s text with every non-ASCII character broken into several ("${visible(p.pattern.toString('utf8'))}"): it read the UTF-8 bytes one by one as characters, as String.fromCharCode(...data) does. Decode the bytes as UTF-8: data.toString('utf8') in Node (or the isBinary flag of ws's message event), new TextDecoder().decode(bytes) in a browser.`,
            frames: framesOf(e.dir, e.firstFrame, e.lastFrame, p.ref.dir === e.dir ? [] : [p.ref.firstFrame]),
            messages: [p.ref, ref],
          }),
        );
        break;
      }
    }
    const pattern = e.dir === 'client' && !c.fired.has('utf8-read-as-bytes:server') ? manglePattern(bytes) : null;
    if (pattern) {
      const list = c.mangled[e.dir];
      if (list.length >= MANGLE_PATTERNS) list.shift();
      list.push({ pattern, ref });
    }
    return out;
  }

  private onPing(e: ControlEvent): InsightEvent[] {
    const c = this.conns.get(e.conn);
    if (!c || e.injected) return NONE;
    const pending = c.pending[e.dir];
    const first = pending[0];
    if (pending.length < 4) pending.push({ seq: e.frame, t: e.t });
    if (first && e.t - first.t >= PONG_PATIENCE_MS) return this.noPong(c, e, e.dir, 'pinged again');
    return NONE;
  }

  private onPong(e: ControlEvent): void {
    const c = this.conns.get(e.conn);
    // A pong answers the other side's pings (RFC 6455 §5.5.3: the most recent one is enough).
    if (c) c.pending[OTHER[e.dir]] = [];
  }

  private noPong(c: ConnState, at: WireEvent, pinger: Direction, then: string): InsightEvent[] {
    if (!once(c, `no-pong:${pinger}`)) return NONE;
    const pings = c.pending[pinger];
    const peer = OTHER[pinger];
    const waited = ((at.t - pings[0]!.t) / 1000).toFixed(1);
    const why =
      peer === 'client'
        ? 'Browsers answer pings on their own, so a client that does not is gone (its network dropped, the laptop slept) or something between eats the pongs.'
        : 'ws answers pings on its own (autoPong), so a server that does not is stuck (a busy loop blocks its event loop), has autoPong off, or something between eats the pongs.';
    return [
      this.insight(at, 'no-pong', 'warning', {
        message: `The ${pinger} sent ${pings.length === 1 ? 'a ping' : `${pings.length} pings`} (frame ${pings.map((p) => `#${p.seq}`).join(', ')}) and the ${peer} had not answered with a pong ${waited} s later, when the ${pinger} ${then}. An endpoint must answer a ping with a pong as soon as it can (RFC 6455 §5.5.2). ${why}`,
        frames: { client: pinger === 'client' ? pings.map((p) => p.seq) : [], server: pinger === 'server' ? pings.map((p) => p.seq) : [] },
      }),
    ];
  }

  private onClose(e: CloseEvent): InsightEvent[] {
    const c = this.conns.get(e.conn);
    if (!c) return NONE;
    c.closeSeen[e.dir] = true;
    if (e.injected || (c.probe && e.dir === 'client')) return NONE;
    const frame = c.lastOf[e.dir];
    // An empty close frame reports 1005 without carrying it: only a code on the wire is judged.
    const codeOnWire = frame !== null && frame.seq === e.frame && frame.length >= 2;
    let message: string | null = null;
    let severity: InsightEvent['severity'] = 'error';
    if (codeOnWire && (e.code === 1005 || e.code === 1006 || e.code === 1015)) {
      message = `The ${e.dir} sent close code ${e.code} in a close frame. ${e.code} is for reporting only (RFC 6455 §7.4.1): an application sees ${e.code} when ${e.code === 1015 ? 'the TLS handshake failed' : e.code === 1005 ? 'a close frame came without a code' : 'the connection dropped without a close frame'}; no endpoint may send it. Send 1000 for a normal end, 1011 for an error in the server, or a code of your own from 4000-4999.`;
    } else if (codeOnWire && !isValidCloseCodeOnWire(e.code)) {
      message = `The ${e.dir} sent close code ${e.code}, which no application may send (RFC 6455 §7.4: below 1000, 1004, 1016-2999 and above 4999 are reserved or unused); the other side fails the connection with 1002 instead of reading it. Use 1000, one of the codes the RFC defines, or your own from 4000-4999.`;
    } else if (e.code === 1000 && ERROR_REASON.test(e.reason)) {
      severity = 'warning';
      message = `The ${e.dir} closed with 1000 (normal closure) and the reason "${e.reason}": the other side's code sees a normal, clean end and will not treat it as an error (1000 also tells a client not to reconnect). Say what went wrong with the code: 1008 (policy violation), 1009 (message too big), 1011 (server error), or 4000-4999 for your own.`;
    }
    if (message === null || !once(c, `close-code-misused:${e.dir}`)) return NONE;
    return [this.insight(e, 'close-code-misused', severity, { message, frames: framesOf(e.dir, e.frame, e.frame) })];
  }

  private onEnd(e: EndEvent): InsightEvent[] {
    const c = this.conns.get(e.conn);
    this.conns.delete(e.conn);
    const h = c ? this.hosts.get(c.host) : undefined;
    // A refused handshake (401, 403) is an answer, not a failure: a check's (or a scanner's)
    // probes one after the other are not a client reconnecting.
    // The conformance runner's connections follow each other by design: never a reconnect storm.
    // A connection that carried data both ways worked: clients rightly start their backoff afresh
    // after it (lesson 09's check cuts such connections on purpose), so it starts no chain.
    const worked = c !== undefined && c.talked.client && c.talked.server;
    const failed = c && !c.probe && !worked ? (c.upgraded ? !(e.clean && e.code === 1000) : e.by === 'wiretap' && e.error !== undefined) : false;
    if (h) h.lastEnd = { t: e.t, conn: e.conn, failed };
    if (!c || !c.upgraded) return NONE;
    const out: InsightEvent[] = [];
    const last = c.lastFrame;
    const noClose = !c.closeSeen.client && !c.closeSeen.server;
    // server-crashed-on-frame: right after a client frame it never answered, the server's side of
    // TCP went first without a close frame, or was reset (a process that dies with bytes unread
    // resets: ws sends its close frame for a bad frame, then emits 'error', which kills a
    // process that does not listen for it; the client's close reply then meets a dead socket).
    const reset = /^server ECONNRESET/.test(e.error ?? '');
    const data = c.lastClientData;
    const stopped = this.stoppedAt !== null && e.t >= this.stoppedAt && e.t - this.stoppedAt <= STOP_WINDOW_MS;
    if (
      !stopped &&
      // A server ping unanswered then or now: its heartbeat may have ended a slow peer (a pong
      // on its way when the server gave up looks like this), not a crash.
      c.pending.server.length === 0 &&
      !c.pingPendingAtData &&
      data !== null &&
      !c.serverAnswered &&
      e.t - data.tEnd <= CRASH_WINDOW_MS &&
      (reset || (e.by === 'server' && !c.closeSeen.server))
    ) {
      const msg = c.lastMessage.client;
      const last = data;
      out.push(
        this.insight(e, 'server-crashed-on-frame', 'error', {
          message: `The server's side of the connection ${reset ? 'was reset (TCP RST)' : 'ended (TCP FIN) without a close frame'} ${Math.max(0, Math.round(e.t - last.tEnd))} ms after client frame #${last.seq}, which it never answered: the server most likely crashed on it (its console has the stack). With ws, an error on one connection (invalid UTF-8, a frame too big, an unmasked frame) is an 'error' event, and one nobody listens to throws and takes the whole process down: add ws.on('error', ...) on every connection, and catch what your message handler throws.`,
          frames: framesOf('client', last.seq, last.seq),
          messages: msg && msg.lastFrame === last.seq ? [{ conn: msg.conn, dir: msg.dir, firstFrame: msg.firstFrame }] : [],
        }),
      );
    }
    // no-pong: the pinger gave up on a peer that never answered.
    for (const pinger of ['client', 'server'] as const) {
      const p = c.pending[pinger];
      if (p.length > 0 && e.by === pinger && e.t - p[0]!.t >= PONG_PATIENCE_MS) out.push(...this.noPong(c, e, pinger, 'ended the connection'));
    }
    // idle-cut: silence, then an end without a close frame after a round number of seconds: a timer
    // (a proxy's or load balancer's idle timeout, or the server's own) cut it. A last frame that
    // is a ping is the heartbeat's own doing (no-pong's case).
    // Only the server's side: a client's end after a silence is a person closing a tab, and a
    // timer that cuts connections lives in the server or in a proxy in front of it.
    if (!stopped && noClose && e.by === 'server' && (last === null || last.opcode !== 0x9)) {
      const from = last ? Math.max(last.tEnd, c.since) : c.since;
      const idle = e.t - from;
      const n = Math.round((idle - 200) / 5000) * 5;
      // Timers fire late, never early: a window from a little before the round number to a
      // little after it (more after, for a loaded machine).
      if (idle >= IDLE_MIN_MS && n > 0 && idle >= n * 1000 - 150 && idle <= n * 1000 + 500 + idle * 0.005) {
        out.push(
          this.insight(e, 'idle-cut', 'warning', {
            message: `Connection #${e.conn} was silent for ${(idle / 1000).toFixed(1)} s, then the ${e.by} ended it without a close frame: a round ${n} s, the mark of an idle timeout (a proxy's, a load balancer's, or the server's own). Keep the connection busy more often than that (a ping every ${Math.max(1, Math.floor(n / 2))} s or so), and reconnect when it drops anyway.`,
            frames: last ? framesOf(last.dir, last.seq, last.seq) : undefined,
          }),
        );
      }
    }
    return out;
  }

  private insight(
    at: WireEvent,
    rule: InsightRule,
    severity: InsightEvent['severity'],
    more: { message: string; frames?: InsightEvent['frames'] | undefined; messages?: MessageRef[]; conns?: number[] },
  ): InsightEvent {
    return {
      type: 'insight',
      conn: at.conn,
      t: at.t,
      rule,
      severity,
      message: more.message,
      frames: more.frames ?? { client: [], server: [] },
      messages: more.messages ?? [],
      ...(more.conns ? { conns: more.conns } : {}),
      lesson: INSIGHT_RULES[rule].lesson,
    };
  }
}

const NONE: InsightEvent[] = [];

function once(c: ConnState, key: string): boolean {
  if (c.fired.has(key)) return false;
  c.fired.add(key);
  return true;
}

/** Frames `first..last` of one direction, at most 8 (a message in thousands of fragments cites its ends). */
function framesOf(dir: Direction, first: number, last: number, others: number[] = []): InsightEvent['frames'] {
  const seqs: number[] = [];
  if (last - first < 8) for (let s = first; s <= last; s++) seqs.push(s);
  else seqs.push(first, last);
  const frames = { client: [] as number[], server: [] as number[] };
  frames[dir] = seqs;
  frames[OTHER[dir]] = others;
  return frames;
}

/** The client's host without its port: `127.0.0.1:53122` → `127.0.0.1`, `[::1]:5000` → `[::1]`. */
function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  return i > 0 ? address.slice(0, i) : address;
}

/** A message's data as bytes (its preview), lazy or made. */
function previewOf(e: MessageEvent): Buffer | null {
  if (e._bytes !== undefined) return Buffer.isBuffer(e._bytes) ? e._bytes : Buffer.from(e._bytes.buffer, e._bytes.byteOffset, e._bytes.byteLength);
  if (e.text !== undefined) return Buffer.from(e.text, 'utf8');
  return null;
}

/**
 * The text around a message's first non-ASCII character as a peer reading its UTF-8 bytes one
 * by one (each byte a character, then sent as UTF-8 again) would send it; null for ASCII text.
 */
function manglePattern(bytes: Buffer): Buffer | null {
  const end = Math.min(bytes.length, MANGLE_SCAN);
  let i = 0;
  while (i < end && bytes[i]! < 0x80) i++;
  if (i === end) return null;
  let from = Math.max(0, i - MANGLE_BEFORE);
  let to = Math.min(bytes.length, i + MANGLE_AFTER);
  // Whole code points only: no continuation byte at either edge.
  while (from < i && (bytes[from]! & 0xc0) === 0x80) from++;
  while (to < bytes.length && (bytes[to]! & 0xc0) === 0x80) to++;
  const source = bytes.subarray(from, to);
  const mangled = Buffer.from(source.toString('latin1'), 'utf8');
  return mangled.equals(source) ? null : mangled;
}

/** `token=ab…` for the first credential-looking query parameter with a value, or null. */
function credentialIn(path: string): string | null {
  const q = path.indexOf('?');
  if (q < 0) return null;
  const params = path.slice(q + 1, q + 1 + 4096).split('&', 64);
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    let name = p.slice(0, eq);
    try {
      name = decodeURIComponent(name);
    } catch {
      // A name that is not valid percent-encoding is read as it is.
    }
    const value = p.slice(eq + 1);
    if (value.length >= 4 && CREDENTIAL_PARAM.test(name)) return `${name}=${value.slice(0, 2)}…`;
  }
  return null;
}

function header(e: HandshakeEvent, name: string): string | null {
  const lower = name.toLowerCase();
  for (const [n, v] of e.request?.headers ?? []) if (n.toLowerCase() === lower) return v;
  return null;
}

/** Origin `null`, or an Origin on another host than the request's Host: "Origin X (this server is Y)". */
function foreignOrigin(e: HandshakeEvent): string | null {
  const origin = header(e, 'origin');
  if (origin === null) return null; // not a browser: nothing to hijack
  if (origin.trim() === 'null') return 'Origin null (a sandboxed iframe, a file:// page or a redirect)';
  const host = header(e, 'host');
  if (host === null) return null;
  let originHost: string;
  try {
    originHost = new URL(origin.trim()).hostname.toLowerCase();
  } catch {
    return `Origin ${JSON.stringify(origin.slice(0, 80))}, which is not even a URL`;
  }
  const own = hostnameOf(host.trim());
  if (originHost === own || (LOOPBACK.has(originHost) && LOOPBACK.has(own))) return null;
  return `Origin ${origin.slice(0, 120)}, a page on ${originHost}, not on this server's host (${own})`;
}

/** The hostname of a Host header: `example.com:8080` → `example.com`, `[::1]:9900` → `[::1]`. */
function hostnameOf(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  const i = lower.indexOf(':');
  return i < 0 ? lower : lower.slice(0, i);
}

/** C0 and C1 control characters (a mangled "ß" holds U+009F) as \u escapes, so a person sees them. */
function visible(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
