import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Direction, EndEvent, WireEvent } from '../capture/events.ts';
import { ConnectionDecoder } from '../protocol/connection-decoder.ts';
import { DEFAULT_LIMITS, type DecoderLimits } from '../protocol/message-assembler.ts';

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
  onTargetError?: (err: NodeJS.ErrnoException) => void;
  /** Decode nothing: relay bytes only (the baseline the benchmark measures against). */
  decode?: boolean;
}

interface Relay {
  id: number;
  client: net.Socket;
  upstream: net.Socket;
  decoder: ConnectionDecoder | null;
  firstEnd: EndEvent['by'] | null;
  error: string | undefined;
  closed: number;
  upstreamConnected: boolean;
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

  constructor(private readonly opts: WiretapOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
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

  /** Relay new connections elsewhere (the learner's server restarted on a new internal port). */
  setTarget(target: { host: string; port: number }): void {
    this.opts.target = target;
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
    return Promise.all([stopped, drained]).then(() => undefined);
  }

  private emit(events: WireEvent[]): void {
    if (events.length > 0) this.opts.onEvents?.(events);
  }

  private accept(client: net.Socket): void {
    const id = this.nextId++;
    const { host, port } = this.opts.target;
    const upstream = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    const decode = this.opts.decode !== false;
    const relay: Relay = {
      id,
      client,
      upstream,
      decoder: decode ? new ConnectionDecoder(id, this.limits) : null,
      firstEnd: null,
      error: undefined,
      closed: 0,
      upstreamConnected: false,
    };
    this.relays.set(id, relay);
    if (decode) {
      this.emit([
        { type: 'open', conn: id, t: this.now(), client: `${client.remoteAddress}:${client.remotePort}`, target: `${host}:${port}` },
      ]);
    }
    // Hold the client's bytes in the kernel until the target answers.
    client.pause();
    upstream.once('connect', () => {
      relay.upstreamConnected = true;
      client.resume();
    });
    this.pipe(relay, client, upstream, 'client');
    this.pipe(relay, upstream, client, 'server');
  }

  private pipe(r: Relay, from: net.Socket, to: net.Socket, dir: Direction): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      if (r.decoder) this.emit(r.decoder.receive(dir, chunk, this.now()));
    });
    from.on('end', () => {
      r.firstEnd ??= dir;
      // Half-close: pass the FIN on, so each side sees exactly what the other did.
      if (!to.destroyed) to.end();
    });
    from.on('error', (err: NodeJS.ErrnoException) => {
      if (dir === 'server' && !r.upstreamConnected) {
        // The target never answered: nothing was relayed, the wiretap ends the client.
        r.error ??= `${err.code ?? 'error'}: could not reach the target ${this.opts.target.host}:${this.opts.target.port}`;
        r.firstEnd ??= 'wiretap';
        this.opts.onTargetError?.(err);
      }
      r.error ??= `${dir} ${err.code ?? err.message}`;
      r.firstEnd ??= dir;
      // Pass a reset on as a reset, so the other side sees an abnormal end too.
      if (!to.destroyed) {
        if (err.code === 'ECONNRESET') to.resetAndDestroy();
        else to.destroy();
      }
    });
    from.on('close', () => {
      if (++r.closed === 2) this.finish(r);
      else if (!to.destroyed && !to.writableEnded) to.end();
    });
  }

  private finish(r: Relay): void {
    this.relays.delete(r.id);
    if (r.decoder) this.emit(r.decoder.end(this.now(), r.firstEnd ?? 'wiretap', r.error));
    if (this.relays.size === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
