/**
 * `wsplay proxy`: an HTTP proxy on 127.0.0.1 whose connections the wiretap decodes. A browser
 * pointed at it (wsplay browser) sends
 * - `CONNECT host:port` for https:// and wss:// (and for ws://: RFC 6455 §4.1 has clients tunnel
 *   WebSockets through a proxy with CONNECT). The proxy connects to host:port first (a host that
 *   cannot be reached gets a 502 with the reason, and nothing else happens), answers 200, then
 *   looks at the tunnel's first byte: a TLS ClientHello is answered with a certificate for the
 *   host signed by the local CA (server/tap/local-ca.ts; ALPN http/1.1 only, so a browser
 *   upgrades with HTTP/1.1 and never with RFC 8441's extended CONNECT), and the wiretap speaks
 *   TLS to the real host, verified as for `tap --target wss://`. Anything else is relayed as is.
 * - `GET http://host:port/path` (absolute-form) for plain http://: relayed to that host with
 *   the request-target in origin-form.
 * Each tunnel is handed to Wiretap.adopt: the same decoder, events, store, dashboard, recording
 * and exports as a connection to the wiretap's own port, its `target` the host:port asked for.
 *
 * Everything a browser (or a page it loads) sends is hostile: the request head is bounded in
 * bytes, the number of connections is bounded, certificates are cached per host up to a bound,
 * and host names are checked before they go into a certificate or a connect.
 */
import net from 'node:net';
import tls from 'node:tls';
import { CaError, normalizeHost, type LocalCa } from './local-ca.ts';
import type { TlsSession } from '../capture/events.ts';
import { HeadRewriter, type TlsUpstream } from './upstream.ts';
import type { Wiretap } from './wiretap.ts';

export interface ProxyOptions {
  /** 0 picks a free port. */
  port: number;
  /** Loopback unless a caller insists: everything through it is shown in the dashboard. */
  host?: string;
  /** Adopts every tunnel (its decoder, store, dashboard, recording). */
  tap: Wiretap;
  ca: LocalCa;
  /** --ca: one more CA (PEM) trusted upstream, for a server with a private CA. */
  upstreamCa?: string;
  /**
   * Connect to loopback hosts only; any other gets a 502 without a connection being tried.
   * Tests set it (browsers probe their vendors' hosts, and nothing may leave the machine).
   */
  loopbackOnly?: boolean;
  /** Open connections at most (browsers open ~6 per host); past it new ones are closed at once. */
  maxConnections?: number;
  /** How long a host may take to accept the TCP connection before the browser gets a 502. */
  connectTimeoutMs?: number;
  /** A browser refused the local CA's certificate for `host` (one line is worth printing). */
  onBrowserTlsError?: (host: string, err: Error) => void;
}

/** The request head a browser sends a proxy is small; 16 KiB is the wiretap's handshake bound too. */
export const MAX_PROXY_HEAD = 16 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 512;
/** How long a client may take to send its request head. */
const HEAD_TIMEOUT_MS = 30_000;
/** Certificates' secure contexts kept (the local CA keeps the certificates themselves). */
const MAX_CONTEXTS = 256;

interface Requested {
  host: string;
  port: number;
  /** CONNECT (a tunnel) or an absolute-form request for plain http://. */
  kind: 'connect' | 'absolute';
}

export class InterceptingProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly contexts = new Map<string, tls.SecureContext>();
  port = 0;

  constructor(private readonly opts: ProxyOptions) {}

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  get ca(): LocalCa {
    return this.opts.ca;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
      server.maxConnections = this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
      server.once('error', reject);
      server.listen(this.opts.port, this.host, () => {
        server.off('error', reject);
        this.server = server;
        this.port = (server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  /** Stop listening; tunnels already handed to the wiretap end when the wiretap closes. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private accept(socket: net.Socket): void {
    // Sockets still in the proxy's hands (reading the head, connecting); the wiretap owns the rest.
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const chunks: Buffer[] = [];
    let size = 0;
    // A connection that never finishes its request head holds a slot of maxConnections: it gets
    // HEAD_TIMEOUT_MS (browsers send the head at once), then it is closed.
    socket.setTimeout(HEAD_TIMEOUT_MS, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      const end = all.indexOf('\r\n\r\n');
      if (end === -1) {
        if (size >= MAX_PROXY_HEAD) {
          socket.off('data', onData);
          answer(socket, 431, `The request head is larger than ${MAX_PROXY_HEAD} bytes: wsplay's proxy reads no more.`);
        }
        return;
      }
      if (end + 4 > MAX_PROXY_HEAD) {
        socket.off('data', onData);
        answer(socket, 431, `The request head is larger than ${MAX_PROXY_HEAD} bytes: wsplay's proxy reads no more.`);
        return;
      }
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      const head = all.subarray(0, end + 4);
      const rest = all.subarray(end + 4);
      this.route(socket, head, rest);
    };
    socket.on('data', onData);
  }

  private route(socket: net.Socket, head: Buffer, rest: Buffer): void {
    let req: Requested;
    try {
      req = parseProxyRequest(head);
    } catch (err) {
      answer(socket, 400, (err as Error).message);
      return;
    }
    if (this.opts.loopbackOnly && !isLoopback(req.host)) {
      answer(socket, 502, `wsplay's proxy connects to this machine only (loopbackOnly): ${req.host}:${req.port} was not tried.`);
      return;
    }
    const upstream = net.connect({ host: req.host, port: req.port, allowHalfOpen: true, noDelay: true });
    const timeoutMs = this.opts.connectTimeoutMs ?? 15_000;
    upstream.setTimeout(timeoutMs);
    const fail = (reason: string) => {
      upstream.destroy();
      // Quietly: browsers probe their vendors' hosts, and an offline machine must not fill the
      // terminal. The browser (and a person reading its error page) gets the reason.
      answer(socket, 502, `wsplay's proxy could not reach ${req.host}:${req.port}: ${reason}.`);
    };
    upstream.once('timeout', () => fail(`no answer within ${timeoutMs / 1000} s (ETIMEDOUT)`));
    upstream.once('error', (err: NodeJS.ErrnoException) => fail(reachError(err)));
    const gone = () => upstream.destroy();
    socket.once('close', gone);
    upstream.once('connect', () => {
      socket.off('close', gone);
      upstream.setTimeout(0);
      upstream.removeAllListeners('timeout');
      upstream.removeAllListeners('error');
      if (socket.destroyed) {
        upstream.destroy();
        return;
      }
      if (req.kind === 'absolute') {
        // The head goes through the wiretap (decoded as sent, forwarded in origin-form).
        socket.unshift(Buffer.concat([head, rest]));
        this.handOver(socket, req, upstream, null, true);
        return;
      }
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (rest.length > 0) socket.unshift(rest);
      this.tunnel(socket, req, upstream);
    });
  }

  /** After 200: a TLS ClientHello (first byte 0x16, a handshake record) or plain bytes. */
  private tunnel(socket: net.Socket, req: Requested, upstream: net.Socket): void {
    const gone = () => upstream.destroy();
    const first = (chunk: Buffer) => {
      socket.off('end', ended);
      socket.off('close', gone);
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === 0x16) this.terminateTls(socket, req, upstream);
      else this.handOver(socket, req, upstream, null, false);
    };
    const ended = () => {
      socket.off('data', first);
      socket.destroy();
      upstream.destroy();
    };
    socket.once('data', first);
    socket.once('end', ended);
    socket.once('close', gone);
    socket.resume();
  }

  private terminateTls(socket: net.Socket, req: Requested, upstream: net.Socket): void {
    let context: tls.SecureContext;
    try {
      context = this.contextFor(req.host);
    } catch (err) {
      socket.destroy();
      upstream.destroy();
      this.opts.onBrowserTlsError?.(req.host, err as Error);
      return;
    }
    // The bytes already read (the ClientHello, unshifted) are fed to TLS by the TLSSocket.
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ['http/1.1'] });
    const failed = (err: Error) => {
      secure.destroy();
      upstream.destroy();
      this.opts.onBrowserTlsError?.(req.host, err);
    };
    const gone = () => upstream.destroy();
    secure.once('error', failed);
    secure.once('close', gone);
    secure.once('secure', () => {
      secure.off('error', failed);
      secure.off('close', gone);
      const clientTls = { version: secure.getProtocol() ?? 'unknown', cipher: secure.getCipher()?.name ?? 'unknown', alpn: secure.alpnProtocol || null };
      this.handOver(secure, req, upstream, { servername: req.host, ca: this.opts.upstreamCa }, false, clientTls);
    });
  }

  private handOver(client: net.Socket, req: Requested, upstream: net.Socket, up: TlsUpstream | null, absolute: boolean, clientTls?: TlsSession['intercepted']): void {
    this.sockets.delete(client);
    this.opts.tap.adopt(client, {
      target: { host: req.host, port: req.port },
      socket: upstream,
      ...(up ? { tls: up } : {}),
      ...(clientTls ? { clientTls } : {}),
      rewriter: absolute ? new HeadRewriter(hostPort(req.host, req.port, 80), () => false, undefined, true) : null,
    });
  }

  private contextFor(host: string): tls.SecureContext {
    const name = normalizeHost(host);
    let ctx = this.contexts.get(name);
    if (ctx) {
      this.contexts.delete(name);
    } else {
      ctx = tls.createSecureContext(this.opts.ca.issue(name));
      if (this.contexts.size >= MAX_CONTEXTS) this.contexts.delete(this.contexts.keys().next().value!);
    }
    this.contexts.set(name, ctx);
    return ctx;
  }
}

/** `host` or `host:port` as a Host header (port left out when it is the scheme's default). */
function hostPort(host: string, port: number, defaultPort: number): string {
  const h = net.isIPv6(host) ? `[${host}]` : host;
  return port === defaultPort ? h : `${h}:${port}`;
}

/**
 * The proxy request's first line: `CONNECT host:port HTTP/1.1` or `METHOD http://host[:port]/...
 * HTTP/1.1`. Throws with a sentence for the 400's body otherwise.
 */
export function parseProxyRequest(head: Buffer): Requested {
  const line = head.subarray(0, Math.max(0, head.indexOf('\r\n'))).toString('latin1');
  const m = /^([A-Z]{1,20}) (\S{1,8000}) HTTP\/1\.[01]$/.exec(line);
  if (!m) throw new Error(`"${line.slice(0, 80)}" is not an HTTP/1.1 request line: this is wsplay's proxy, for browsers (wsplay browser).`);
  const [, method, target] = m as unknown as [string, string, string];
  if (method === 'CONNECT') {
    const a = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/]+):(\d{1,5})$/.exec(target);
    if (!a || Number(a[2]) < 1 || Number(a[2]) > 65535) throw new Error(`CONNECT "${target.slice(0, 200)}" is not host:port.`);
    return { host: checkedHost(a[1]!), port: Number(a[2]), kind: 'connect' };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    url = new URL('about:blank');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'ws:') {
    throw new Error(`${method} ${target.slice(0, 200)}: a proxy takes CONNECT host:port or an absolute http:// URL. Point a browser at this proxy (wsplay browser) rather than opening it as a page.`);
  }
  return { host: checkedHost(url.hostname), port: url.port === '' ? 80 : Number(url.port), kind: 'absolute' };
}

function checkedHost(host: string): string {
  try {
    return normalizeHost(host);
  } catch (err) {
    if (err instanceof CaError) throw new Error(err.message);
    throw err;
  }
}

/** localhost, 127.0.0.0/8, ::1 (and ::ffff:127.x): this machine, without asking DNS. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

function reachError(err: NodeJS.ErrnoException): string {
  const code = err.code ?? 'error';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the name does not resolve (${code})`;
  if (code === 'ECONNREFUSED') return `nothing listens there (${code})`;
  if (code === 'ENETUNREACH' || code === 'EHOSTUNREACH') return `no route to it, is this machine offline? (${code})`;
  return `${code}: ${err.message.split('\n')[0]!.slice(0, 200)}`;
}

/** A short answer, then the connection is closed (a proxy error ends the browser's connection). */
function answer(socket: net.Socket, status: number, text: string): void {
  if (socket.destroyed) return;
  const reason = status === 400 ? 'Bad Request' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Gateway';
  const body = `${text}\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  // A client that never reads its answer must not hold the socket.
  socket.setTimeout(10_000, () => socket.destroy());
}
