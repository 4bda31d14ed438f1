import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import type { Direction, EndEvent, HandshakeEvent, TlsSession, WireEvent } from '../capture/events.ts';
import { ConnectionDecoder } from '../protocol/connection-decoder.ts';
import { DEFAULT_LIMITS, type DecoderLimits } from '../protocol/message-assembler.ts';
import { buildFrame } from './crafter.ts';
import { InsightEngine } from '../insights/engine.ts';
import { FaultTable, Lane, NO_FAULTS, type ConnFaults, type LaneStats } from './faults.ts';
import { InflationStage, type InflationLimits, type InflationStats } from './inflation.ts';
import { AppStage, type AppStageLimits } from '../protocol/app/stage.ts';
import { connectTls, describeSession, explainTlsError, HeadRewriter, hostHeaderFor, isTapOrigin, type TlsUpstream } from './upstream.ts';

export interface WiretapOptions {
  /** Port to listen on; 0 picks a free one. The tutorial's clients use 9900. */
  port: number;
  /** Always loopback unless a caller insists; the wiretap shows everything it relays. */
  host?: string;
  target: { host: string; port: number };
  limits?: Partial<DecoderLimits>;
  /** Every batch of decoded events, in order. */
  onEvents?: (events: WireEvent[]) => void;
  /** The target could not be reached for a connection (ECONNREFUSED, EHOSTUNREACH ...). */
  onTargetError?: (err: NodeJS.ErrnoException, explained?: string) => void;
  /**
   * A wss:// target: connect over TLS (server/tap/upstream.ts) and forward the request head with
   * Host (and an Origin naming the wiretap) rewritten for the target. The decoder still sees the
   * client's bytes as sent.
   */
  tls?: TlsUpstream;
  /** Decode nothing: relay bytes only (the baseline the benchmark measures against). */
  decode?: boolean;
  /** The faults to apply (shared with the dashboard's control API); a new, empty table by default. */
  faults?: FaultTable;
  /**
   * Hand `onEvents` lazy events, whose strings are made when first read (server/capture/events.ts):
   * for a consumer that stores events and reads few of them, a CaptureStore. Off by default.
   */
  lazyEvents?: boolean;
  /** Bounds of inflation off the relay's path (server/tap/inflation.ts); the defaults otherwise. */
  inflation?: Partial<InflationLimits>;
  /** Bounds of the decoding of application protocols (server/protocol/app/stage.ts). */
  app?: Partial<AppStageLimits>;
  /** Add `insight` events (server/insights/): what the programs on either side got wrong. On by default. */
  insights?: boolean;
}

/** What the faults did on one connection, for GET /api/faults. */
export interface ConnFaultStatus {
  conn: number;
  client: LaneStats;
  server: LaneStats;
}

/**
 * Where one adopted connection goes (Wiretap.adopt): the wiretap's own target, or, for the
 * proxy (server/tap/proxy.ts), the host:port a browser asked for.
 */
export interface UpstreamSpec {
  target: { host: string; port: number };
  /** Which of several servers the target is (Wiretap.setTargets), for the `open` event. */
  instance?: string;
  /** Speak TLS to the target (verified as for a wss:// target). */
  tls?: TlsUpstream;
  /**
   * A TCP connection to the target already made (the proxy connects before it answers CONNECT,
   * so an unreachable host gets a 502); the wiretap connects otherwise.
   */
  socket?: net.Socket;
  /** Rewrites the client's first request head on its way upstream; none: bytes pass as sent. */
  rewriter?: HeadRewriter | null;
  /** The proxy terminated the client's TLS: that session, shown beside the upstream one. */
  clientTls?: TlsSession['intercepted'];
}

interface Relay {
  id: number;
  /** Where this connection is relayed to (the wiretap's target when it was accepted). */
  target: { host: string; port: number };
  tls: TlsUpstream | undefined;
  clientTls: TlsSession['intercepted'] | undefined;
  client: net.Socket;
  upstream: net.Socket;
  decoder: ConnectionDecoder | null;
  firstEnd: EndEvent['by'] | null;
  error: string | undefined;
  closed: number;
  upstreamConnected: boolean;
  /** The TCP connection to the target is up (for a TLS target: the TLS handshake may still fail). */
  tcpConnected: boolean;
  /** wss:// target: rewrites the client's request head on its way upstream. */
  rewriter: HeadRewriter | null;
  /** wss:// target: the TLS session, once established. */
  session: TlsSession | null;
  /** The forwarded head and TLS session went onto the first handshake event. */
  annotated: boolean;
  /**
   * Set while a fault applies to the connection or a frame is being injected: every byte then
   * goes through a Lane per direction. Null on the plain path (the relay's hot path).
   */
  lanes: Record<Direction, Lane> | null;
  /** Counters of lanes that were let go (the connection went back to the plain path). */
  pastStats: Record<Direction, LaneStats> | null;
}

/**
 * A raw TCP relay between WebSocket clients and a target server. Bytes are forwarded untouched
 * in both directions (so a malformed frame reaches the server as sent, and the learner sees
 * what the server does with it), and every chunk is also handed, with its arrival time, to a
 * sans-I/O ConnectionDecoder whose events go to `onEvents`.
 */
export class Wiretap {
  private server: net.Server | null = null;
  private readonly relays = new Map<number, Relay>();
  private readonly drainWaiters: Array<() => void> = [];
  private nextId = 1;
  private readonly t0 = performance.now();
  private readonly limits: DecoderLimits;
  port = 0;
  /** Faults on this wiretap's connections; changes apply at once to open ones. */
  readonly faults: FaultTable;
  /**
   * Compressed messages are inflated here, not in the decoders: on the spot when small, on the
   * thread pool when large, each connection's events kept in order (server/tap/inflation.ts).
   */
  private readonly inflation: InflationStage;
  /** What the programs got wrong (server/insights/); null with `insights: false`. */
  private readonly insights: InsightEngine | null;

  constructor(private readonly opts: WiretapOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    // Application protocols (Socket.IO, JSON-RPC ...) are decoded after inflation, in order;
    // insights read the events as they leave that stage, in each connection's order.
    const insights = opts.insights === false ? null : new InsightEngine();
    this.insights = insights;
    const app = new AppStage((events) => this.opts.onEvents?.(insights ? insights.push(events) : events), opts.app);
    this.inflation = new InflationStage((events) => app.push(events), opts.inflation, opts.lazyEvents === true);
    this.faults = opts.faults ?? new FaultTable();
    this.faults.onChange(() => this.applyFaults());
  }

  /** Milliseconds since the wiretap was created, to the microsecond. */
  now(): number {
    return Math.round((performance.now() - this.t0) * 1000) / 1000;
  }

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  get target(): { host: string; port: number } {
    return this.opts.target;
  }

  /**
   * The server is being stopped on purpose (a restart after a save, the end of a check): the
   * connections it drops without close frames in the next seconds are not a crash or a timeout.
   */
  serverStopping(): void {
    this.insights?.serverStopping(this.now());
  }

  /** Relay new connections elsewhere (the learner's server restarted on a new internal port). */
  setTarget(target: { host: string; port: number }): void {
    this.opts.target = target;
  }

  /** Round robin (lesson 20): new connections alternate between these; null: the one target. */
  private pool: { targets: Array<{ host: string; port: number; instance: string }>; next: number } | null = null;

  /**
   * Relay new connections to several servers in turn, each named (`a`, `b`: the learner's
   * server.js run as two processes), the way a load balancer spreads them; an empty list or
   * null goes back to the one target. The name is on each connection's `open` event.
   */
  setTargets(targets: ReadonlyArray<{ host: string; port: number; instance: string }> | null): void {
    this.pool = targets && targets.length > 0 ? { targets: targets.map((t) => ({ ...t })), next: 0 } : null;
  }

  get connections(): number {
    return this.relays.size;
  }

  /** Listen; rejects with the socket error (EADDRINUSE ...) if the port cannot be had. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
      server.once('error', reject);
      server.listen(this.opts.port, this.host, () => {
        server.off('error', reject);
        this.server = server;
        this.port = (server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  /** Stop listening and end every relayed connection. */
  close(): Promise<void> {
    for (const r of this.relays.values()) {
      r.firstEnd ??= 'wiretap';
      r.client.destroy();
      r.upstream.destroy();
    }
    const server = this.server;
    this.server = null;
    const stopped = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    // Resolve only after every relay has finished, so each connection's `end` event has been
    // emitted (a recording closed right after this promise has them all).
    const drained = new Promise<void>((resolve) => (this.relays.size === 0 ? resolve() : this.drainWaiters.push(resolve)));
    return Promise.all([stopped, drained]).then(() => {
      // Messages still inflating would hold their connections' last events (the `end`) back.
      this.inflation.flush('the wiretap closed before it was inflated');
    });
  }

  // ---- faults and injection ---------------------------------------------------------------

  /** Open connections, oldest first. */
  connectionIds(): number[] {
    return [...this.relays.keys()];
  }

  /** A connection's lanes, created (and synced with its decoder) on first need. */
  private lanesOf(r: Relay, fx: ConnFaults | null = this.faults.effective(r.id)): Record<Direction, Lane> {
    if (r.lanes) return r.lanes;
    const lane = (dir: Direction, from: net.Socket, to: net.Socket) =>
      new Lane(
        dir,
        {
          write: (bytes, injected) => {
            if (to.destroyed || to.writableEnded) return true;
            const ok = this.forward(r, dir, to, bytes);
            if (r.decoder) this.emit(r, injected ? r.decoder.receiveInjected(dir, bytes, this.now()) : r.decoder.receive(dir, bytes, this.now()));
            return ok;
          },
          onDrain: (fn) => to.once('drain', fn),
          end: () => {
            if (!to.destroyed && !to.writableEnded) to.end();
          },
          pauseSender: () => from.pause(),
          resumeSender: () => {
            if (dir === 'server' || r.upstreamConnected) from.resume();
          },
          framing: () => r.decoder?.framing(dir) ?? null,
          now: () => this.now(),
          idle: () => this.maybePlain(r),
        },
        fx?.[dir] ?? { ...NO_FAULTS },
        from.bytesRead,
      );
    r.lanes = { client: lane('client', r.client, r.upstream), server: lane('server', r.upstream, r.client) };
    return r.lanes;
  }

  /** Back to the plain path once no fault applies and nothing is queued. */
  private maybePlain(r: Relay): void {
    const lanes = r.lanes;
    if (!lanes || this.faults.effective(r.id) !== null || !lanes.client.idle || !lanes.server.idle) return;
    r.lanes = null;
    r.pastStats = { client: sumStats(r.pastStats?.client, lanes.client.stats), server: sumStats(r.pastStats?.server, lanes.server.stats) };
    // An idle lane has resumed any sender it paused (its queue is empty).
    lanes.client.dispose();
    lanes.server.dispose();
  }

  private applyFaults(): void {
    for (const r of this.relays.values()) {
      const fx = this.faults.effective(r.id);
      if (fx) {
        const lanes = this.lanesOf(r, fx);
        lanes.client.settings = fx.client;
        lanes.server.settings = fx.server;
      } else if (r.lanes) {
        r.lanes.client.settings = { ...NO_FAULTS };
        r.lanes.server.settings = { ...NO_FAULTS };
        this.maybePlain(r);
      }
    }
  }

  private relay(conn: number): Relay {
    const r = this.relays.get(conn);
    if (!r) throw new RangeError(`No open connection #${conn} (open: ${this.connectionIds().map((c) => `#${c}`).join(', ') || 'none'}).`);
    return r;
  }

  /**
   * Write bytes into a live connection as if `dir` had sent them: `client` toward the server,
   * `server` toward the client. They go between two of the real sender's frames (waiting, if
   * needed, for the frame in progress to end) and through the decoder like any other bytes, so
   * they show in the timeline with the violations they commit, marked `injected` (sent by the
   * wiretap, not by `dir`). Throws RangeError for a connection that is not open.
   */
  inject(conn: number, dir: Direction, bytes: Uint8Array): 'sent' | 'waiting' {
    const r = this.relay(conn);
    return this.lanesOf(r)[dir].insert(Buffer.from(bytes));
  }

  /** Reset connections (one, or all when null): RST to both sides, as a crashed middlebox would. */
  reset(conn: number | null): number[] {
    const targets = conn === null ? [...this.relays.values()] : [this.relay(conn)];
    for (const r of targets) {
      r.error ??= 'reset by the wiretap (fault)';
      r.firstEnd ??= 'wiretap';
      resetSocket(r.client);
      resetSocket(r.upstream);
    }
    return targets.map((r) => r.id);
  }

  /**
   * Close connections from the middle: the wiretap sends each side a close frame with `code`
   * (masked toward the server, as a client must; unmasked toward the client), then ends both.
   * What either side sends after that is not passed on.
   */
  closeWith(conn: number | null, code: number, reason = ''): number[] {
    const targets = conn === null ? [...this.relays.values()] : [this.relay(conn)];
    const frame = (mask: boolean) =>
      Buffer.from(
        buildFrame({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 0x8, mask, payload: { kind: 'close', code, reason } }).bytes,
      );
    for (const r of targets) {
      r.firstEnd ??= 'wiretap';
      const lanes = this.lanesOf(r);
      lanes.client.insert(frame(true), true, 'end');
      lanes.server.insert(frame(false), true, 'end');
    }
    return targets.map((r) => r.id);
  }

  /** What the faults did on each open connection (or did before it went back to the plain path). */
  faultStatus(): ConnFaultStatus[] {
    const out: ConnFaultStatus[] = [];
    for (const r of this.relays.values()) {
      if (!r.lanes && !r.pastStats) continue;
      out.push({
        conn: r.id,
        client: sumStats(r.pastStats?.client, r.lanes?.client.stats),
        server: sumStats(r.pastStats?.server, r.lanes?.server.stats),
      });
    }
    return out;
  }

  /** Inflation on the spot and on the thread pool, and the messages it held back (InflationStats). */
  get inflationStats(): InflationStats {
    return this.inflation.stats;
  }

  /** A relay's decoded events, through the inflation stage (which keeps each connection's order). */
  private emit(r: Relay, events: WireEvent[]): void {
    if ((r.rewriter || r.tls) && !r.annotated) this.annotate(r, events);
    this.inflation.push(r.id, events, r.decoder!.takeInflations());
  }

  /** wss://: the first handshake event carries the head as forwarded and the TLS session. */
  private annotate(r: Relay, events: WireEvent[]): void {
    for (const e of events) {
      if (e.type !== 'handshake') continue;
      const h = e as HandshakeEvent;
      if (r.rewriter?.forwarded) h.forwardedRequest = r.rewriter.forwarded;
      if (r.session) h.tls = r.clientTls ? { ...r.session, intercepted: r.clientTls } : r.session;
      r.annotated = true;
      return;
    }
  }

  /**
   * Write bytes on toward `to`; client bytes to a wss:// target go through the head rewrite
   * first (the decoder is handed the bytes as the client sent them). False: `to` is full.
   */
  private forward(r: Relay, dir: Direction, to: net.Socket, bytes: Buffer): boolean {
    if (dir === 'client' && r.rewriter) {
      const out = r.rewriter.push(bytes, this.now());
      return out.length === 0 ? true : to.write(out);
    }
    return to.write(bytes);
  }

  private accept(client: net.Socket): void {
    const pick = this.pool ? this.pool.targets[this.pool.next++ % this.pool.targets.length]! : null;
    const { host, port } = pick ?? this.opts.target;
    const up = this.opts.tls;
    this.adopt(client, {
      target: { host, port },
      ...(pick ? { instance: pick.instance } : {}),
      tls: up,
      rewriter: up ? new HeadRewriter(hostHeaderFor(up.servername, port), (o) => isTapOrigin(o, () => this.port), up.path) : null,
    });
  }

  /**
   * Relay and decode a client connection accepted elsewhere (the proxy hands over each tunnel,
   * its TLS already terminated) to `spec`'s target, exactly as a connection to the wiretap's own
   * port: same decoder, events, faults and store. Returns the connection's number.
   */
  adopt(client: net.Socket, spec: UpstreamSpec): number {
    const id = this.nextId++;
    const { host, port } = spec.target;
    const up = spec.tls;
    const given = spec.socket;
    const upstream: net.Socket = up
      ? connectTls(host, port, up, given)
      : (given ?? net.connect({ host, port, allowHalfOpen: true, noDelay: true }));
    const decode = this.opts.decode !== false;
    const relay: Relay = {
      id,
      target: { host, port },
      tls: up,
      clientTls: spec.clientTls,
      client,
      upstream,
      decoder: decode ? new ConnectionDecoder(id, this.limits, this.opts.lazyEvents === true, undefined, true) : null,
      firstEnd: null,
      error: undefined,
      closed: 0,
      upstreamConnected: false,
      tcpConnected: given !== undefined,
      rewriter: spec.rewriter ?? null,
      session: null,
      annotated: false,
      lanes: null,
      pastStats: null,
    };
    this.relays.set(id, relay);
    if (decode) {
      const t = this.now();
      // `wall`: t = 0 on the wall clock (performance.timeOrigin, the process start as epoch ms,
      // plus t0, this wiretap's start on the same monotonic clock as every `t`) plus t. Anchored
      // once, not Date.now() per connection: `wall - t` is then the same for every connection of
      // this wiretap (to the microsecond), so an export maps all its times with one consistent
      // offset, and a system clock step while the tap runs cannot reorder connections. The price:
      // such a step (or NTP slewing over a long run) is not followed, as no `t` follows it either.
      const wall = Math.round((performance.timeOrigin + this.t0 + t) * 1000) / 1000;
      this.emit(relay, [
        { type: 'open', conn: id, t, wall, client: `${client.remoteAddress}:${client.remotePort}`, target: `${host}:${port}`, ...(spec.instance ? { instance: spec.instance } : {}) },
      ]);
    }
    // Hold the client's bytes in the kernel until the target answers.
    client.pause();
    if (given && !up) {
      relay.upstreamConnected = true;
      client.resume();
    }
    upstream.once('connect', () => {
      relay.tcpConnected = true;
      if (up) return;
      relay.upstreamConnected = true;
      client.resume();
    });
    if (up) {
      upstream.once('secureConnect', () => {
        relay.session = describeSession(upstream as tls.TLSSocket, up);
        relay.upstreamConnected = true;
        client.resume();
      });
    }
    this.pipe(relay, client, upstream, 'client');
    this.pipe(relay, upstream, client, 'server');
    const fx = this.faults.effective(id);
    if (fx) this.lanesOf(relay, fx);
    return id;
  }

  private pipe(r: Relay, from: net.Socket, to: net.Socket, dir: Direction): void {
    from.on('data', (chunk: Buffer) => {
      // Faults (and injected frames) take the slow path; everything else is a plain write.
      if (r.lanes !== null) {
        r.lanes[dir].receive(chunk);
        return;
      }
      if (!this.forward(r, dir, to, chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      if (r.decoder) this.emit(r, r.decoder.receive(dir, chunk, this.now()));
    });
    from.on('end', () => {
      if (dir === 'server' && !r.upstreamConnected && r.tls) {
        // The server hung up inside the TLS handshake: nothing was relayed, and the client
        // (still paused) would never learn of it. End both, with the cause.
        const err: NodeJS.ErrnoException = Object.assign(new Error('the server closed the connection during the TLS handshake'), { code: 'ECONNRESET' });
        const explained = explainTlsError(err, r.tls.servername, r.target.port);
        r.error ??= explained;
        r.firstEnd ??= 'wiretap';
        this.opts.onTargetError?.(err, explained);
        from.destroy();
        to.destroy();
        return;
      }
      r.firstEnd ??= dir;
      // Half-close: pass the FIN on, so each side sees exactly what the other did (after the
      // bytes a fault still holds).
      // A head still held by the rewrite goes on as it came.
      if (dir === 'client' && r.rewriter && !to.destroyed && !to.writableEnded) {
        const held = r.rewriter.flush();
        if (held.length > 0) to.write(held);
      }
      if (r.lanes) r.lanes[dir].end();
      else if (!to.destroyed) to.end();
    });
    from.on('error', (err: NodeJS.ErrnoException) => {
      if (dir === 'server' && !r.upstreamConnected && r.error === undefined) {
        const { host, port } = r.target;
        if (r.tls && r.tcpConnected) {
          // TCP is up but TLS failed (unknown CA, wrong name, expired, handshake failure): the
          // client's connection ends with the cause and the way out; the wiretap keeps serving.
          const explained = explainTlsError(err, r.tls.servername, port);
          r.error ??= explained;
          r.firstEnd ??= 'wiretap';
          this.opts.onTargetError?.(err, explained);
        } else {
          // The target never answered: nothing was relayed, the wiretap ends the client.
          r.error ??= `${err.code ?? 'error'}: could not reach the target ${host}:${port}`;
          r.firstEnd ??= 'wiretap';
          this.opts.onTargetError?.(err);
        }
      }
      r.error ??= `${dir} ${err.code ?? err.message}`;
      r.firstEnd ??= dir;
      // Pass a reset on as a reset, so the other side sees an abnormal end too.
      if (!to.destroyed) {
        if (err.code === 'ECONNRESET') resetSocket(to);
        else to.destroy();
      }
    });
    from.on('close', () => {
      if (++r.closed === 2) this.finish(r);
      else if (r.lanes) r.lanes[dir].end();
      else if (!to.destroyed && !to.writableEnded) to.end();
    });
  }

  private finish(r: Relay): void {
    this.relays.delete(r.id);
    if (r.lanes) {
      r.lanes.client.dispose();
      r.lanes.server.dispose();
    }
    this.faults.forget(r.id);
    if (r.decoder) this.emit(r, r.decoder.end(this.now(), r.firstEnd ?? 'wiretap', r.error));
    if (this.relays.size === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}

/**
 * RST on a TCP socket. A TLS socket (a wss:// target, a proxy's tunnel) has a TLS handle, which
 * Node cannot reset (ERR_INVALID_HANDLE_TYPE, thrown): the TCP socket under it is reset when we
 * hold it, else the socket is destroyed (a FIN, the closest it has).
 */
function resetSocket(s: net.Socket): void {
  try {
    s.resetAndDestroy();
  } catch {
    const under = (s as net.Socket & { _parent?: net.Socket | null })._parent;
    if (under && under !== s) resetSocket(under);
    s.destroy();
  }
}

function sumStats(a: LaneStats | undefined, b: LaneStats | undefined): LaneStats {
  return {
    droppedPongs: (a?.droppedPongs ?? 0) + (b?.droppedPongs ?? 0),
    heldPongs: (a?.heldPongs ?? 0) + (b?.heldPongs ?? 0),
    swallowed: (a?.swallowed ?? 0) + (b?.swallowed ?? 0),
    injected: (a?.injected ?? 0) + (b?.injected ?? 0),
    holding: b?.holding ?? false,
  };
}
