/**
 * The TLS front door of `wsplay tap --target wss://HOST[:PORT][/PATH]`: the client speaks plain
 * ws:// to the wiretap, and the wiretap speaks TLS to the server. Everything here ends in plain
 * byte streams handed to the same ConnectionDecoder as a ws:// target; no TLS reaches protocol/.
 *
 * Two pieces: the upstream connection (SNI, ALPN http/1.1, verification against Node's CA store
 * plus an optional --ca, or none with --insecure) and the rewrite of the client's request head
 * (Host, and an Origin naming the wiretap), since a server behind a virtual-hosting proxy routes
 * by Host and a browser-facing server checks Origin.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { HttpRequestHead, TlsSession } from '../capture/events.ts';
import { parseRequestHead } from '../protocol/handshake.ts';

export interface TlsUpstream {
  /** The name the certificate must carry and the SNI sent (the target's host). */
  servername: string;
  /** Extra CA certificates (PEM), trusted as well as Node's store. */
  ca?: string;
  /** Skip verification (the session still shows what the certificate is). */
  insecure?: boolean;
  /** Replaces a request-target of "/" (keeping its query), when the target named a path. */
  path?: string;
}

export class CaFileError extends Error {}

/** Read --ca FILE: one or more PEM certificates; a clear sentence when it is not that. */
export function readCaFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CaFileError(`--ca "${file}" cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}): give the path of the CA's certificate in PEM.`);
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(text)) {
    throw new CaFileError(`--ca "${file}" holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" line): give the CA's certificate in PEM, not its key or a DER file.`);
  }
  return text;
}

/** Connect to the target over TLS; the caller waits for 'secureConnect' before relaying. */
export function connectTls(host: string, port: number, up: TlsUpstream, socket?: net.Socket): tls.TLSSocket {
  const options = {
    // SNI takes a DNS name only (RFC 6066 §3): an IP address is checked against the certificate's IP SANs.
    servername: net.isIP(up.servername) ? undefined : up.servername,
    ALPNProtocols: ['http/1.1'],
    ca: up.ca ? [...tls.rootCertificates, up.ca] : undefined,
    rejectUnauthorized: up.insecure !== true,
    allowHalfOpen: true,
    noDelay: true,
  } as tls.ConnectionOptions;
  // Over a TCP connection already made (the proxy's, server/tap/proxy.ts), or a new one.
  return tls.connect(socket ? { ...options, socket } : { ...options, host, port });
}

/** What the dashboard shows of the upstream TLS session. */
export function describeSession(socket: tls.TLSSocket, up: TlsUpstream): TlsSession {
  const cert = socket.getPeerCertificate();
  const name = (o: Record<string, unknown> | undefined) =>
    o
      ? Object.entries(o)
          .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
          .join(', ')
      : '';
  let verified = socket.authorized;
  const code = socket.authorizationError ? String(socket.authorizationError) : null;
  let problem = code === null ? null : `${shortCause(code)} (${code})`;
  // With --insecure Node checks the chain (authorized) but not the name: check it too, to say so.
  if (verified && cert && Object.keys(cert).length > 0) {
    const nameErr = tls.checkServerIdentity(up.servername, cert);
    if (nameErr) {
      verified = false;
      problem = nameErr.message;
    }
  }
  return {
    version: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher()?.name ?? 'unknown',
    alpn: socket.alpnProtocol || null,
    servername: up.servername,
    subject: name(cert?.subject as unknown as Record<string, unknown>),
    issuer: name(cert?.issuer as unknown as Record<string, unknown>),
    subjectAltName: cert?.subjectaltname ?? null,
    validFrom: cert?.valid_from ?? null,
    validTo: cert?.valid_to ?? null,
    verified,
    insecure: up.insecure === true,
    ...(problem && !verified ? { problem } : {}),
  };
}

const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/** What an OpenSSL verification code means, in a few words. */
function shortCause(code: string): string {
  if (UNKNOWN_CA.has(code)) return 'signed by a CA this machine does not trust';
  if (code === 'CERT_HAS_EXPIRED') return 'the certificate has expired';
  if (code === 'CERT_NOT_YET_VALID') return 'the certificate is not valid yet';
  return 'the certificate was refused';
}

/** A TLS failure as a person reads it: the cause and the way out (--ca, --insecure). */
export function explainTlsError(err: NodeJS.ErrnoException, host: string, port: number): string {
  const at = `${host}:${port}`;
  const code = err.code ?? '';
  const out = `, or --insecure to skip verification (the wiretap then cannot tell you are talking to the real server)`;
  if (UNKNOWN_CA.has(code)) {
    return `TLS to ${at} failed: its certificate is signed by a CA this machine does not trust (${code}). Give that CA's certificate with --ca FILE (PEM)${out}.`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `TLS to ${at} failed: wrong host name, the certificate is not for "${host}" (${err.message}). Point --target at a name the certificate carries${out}.`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    const when = code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet';
    return `TLS to ${at} failed: the server's certificate ${when} (${code}). Renew it on the server (or check this machine's clock)${out}.`;
  }
  if (code.startsWith('CERT_') || code.includes('CERT')) {
    return `TLS to ${at} failed: the certificate was refused (${code}: ${err.message}). Trust its CA with --ca FILE (PEM)${out}.`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return `TLS to ${at} failed: handshake failure, the server does not answer in TLS (${code}). If it is a plain server, give --target ws://${at}; for a certificate problem use --ca FILE (PEM)${out}.`;
  }
  // OpenSSL's own messages run over several lines with source paths: the first line says enough.
  const said = err.message.split('\n')[0]!.slice(0, 200);
  return `TLS to ${at} failed: handshake failure (${code && !code.startsWith('ERR_SSL') ? `${code}: ${said}` : code || said}). Check that ${at} speaks TLS (a plain server takes --target ws://); for a certificate problem use --ca FILE (PEM)${out}.`;
}

/** A request head is read up to this many bytes (the decoder's handshake bound); past it, bytes pass unchanged. */
export const MAX_REWRITE_HEAD = 16 * 1024;

/**
 * Rewrites the first request head of the client → server stream: Host becomes the target's host
 * (added when the client sent none), an Origin naming the wiretap's own address becomes
 * https://HOST, and a request-target of "/" becomes the target's path. Sans-I/O: bytes in, bytes
 * out. Bytes after the head pass untouched (every frame byte for byte). A head that does not end
 * within MAX_REWRITE_HEAD passes unchanged, as does a stream that is not HTTP.
 */
export class HeadRewriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private done = false;
  /** The head as forwarded, once it has been (null when nothing was rewritten or no head came). */
  forwarded: HttpRequestHead | null = null;

  constructor(
    private readonly hostHeader: string,
    private readonly tapAddresses: (origin: string) => boolean,
    private readonly path?: string,
    /**
     * A request to a proxy (`GET http://host/path HTTP/1.1`, server/tap/proxy.ts): the target
     * becomes origin-form (RFC 7230 §5.3.1), Proxy-* headers are dropped, and a request that is
     * not an upgrade gets `Connection: close`, since the next request on the browser's
     * connection may be for another host and this relay goes to one.
     */
    private readonly proxyForm = false,
  ) {}

  /** Feed client bytes; returns what to write upstream now (possibly nothing yet). */
  push(chunk: Buffer, t: number): Buffer {
    if (this.done) return chunk;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const all = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    const end = all.indexOf('\r\n\r\n');
    if (end === -1 || end + 4 > MAX_REWRITE_HEAD) {
      if (this.pendingBytes < MAX_REWRITE_HEAD && end === -1) return Buffer.alloc(0);
      // Too large: pass everything as received; the decoder reports the oversized head.
      return this.release(all);
    }
    const head = all.subarray(0, end + 4);
    const rewritten = this.rewrite(head);
    const rest = all.subarray(end + 4);
    if (rewritten !== null) this.forwarded = parseRequestHead(rewritten, t);
    this.done = true;
    this.pending = [];
    this.pendingBytes = 0;
    return rewritten === null ? all : Buffer.concat([rewritten, rest]);
  }

  /** The client ended: whatever is held goes on as it came. */
  flush(): Buffer {
    return this.release(this.pending.length ? Buffer.concat(this.pending) : Buffer.alloc(0));
  }

  private release(all: Buffer): Buffer {
    this.done = true;
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  /** The rewritten head, or null when it is not an HTTP request (passed unchanged). */
  private rewrite(head: Buffer): Buffer | null {
    const lines = head.toString('latin1').slice(0, -4).split('\r\n');
    const first = /^(\S+) (\S+) (HTTP\/\d\.\d)$/.exec(lines[0] ?? '');
    if (!first) return null;
    if (this.path && this.path !== '/' && (first[2] === '/' || first[2]!.startsWith('/?'))) {
      lines[0] = `${first[1]} ${this.path}${first[2]!.slice(1)} ${first[3]}`;
    }
    if (this.proxyForm) this.originForm(lines, first);
    let sawHost = false;
    for (let i = 1; i < lines.length; i++) {
      const m = /^([^:]+):[ \t]*(.*?)[ \t]*$/.exec(lines[i]!);
      if (!m) continue;
      const name = m[1]!.toLowerCase();
      if (name === 'host') {
        lines[i] = `${m[1]}: ${this.hostHeader}`;
        sawHost = true;
      } else if (name === 'origin' && this.tapAddresses(m[2]!)) {
        lines[i] = `${m[1]}: https://${this.hostHeader}`;
      }
    }
    if (!sawHost) lines.splice(1, 0, `Host: ${this.hostHeader}`);
    return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  }

  private originForm(lines: string[], first: RegExpExecArray): void {
    const target = first[2]!;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      try {
        const url = new URL(target);
        lines[0] = `${first[1]} ${url.pathname}${url.search} ${first[3]}`;
      } catch {
        // Not a URL: passed as sent; the server answers it.
      }
    }
    const header = (l: string) => /^([^:]+):/.exec(l)?.[1]!.toLowerCase();
    const upgrade = lines.some((l, i) => i > 0 && header(l) === 'upgrade');
    for (let i = lines.length - 1; i > 0; i--) {
      const name = header(lines[i]!);
      if (name === 'proxy-connection' || name === 'proxy-authorization' || (!upgrade && name === 'connection')) lines.splice(i, 1);
    }
    if (!upgrade) lines.push('Connection: close');
  }
}

/** The Host header for a target: the port only when not 443, IPv6 in brackets (RFC 7230 §5.4). */
export function hostHeaderFor(host: string, port: number): string {
  const h = net.isIPv6(host) ? `[${host}]` : host;
  return port === 443 ? h : `${h}:${port}`;
}

/** True for an Origin naming the wiretap's own address (http://127.0.0.1:9900, http://localhost:9900). */
export function isTapOrigin(origin: string, tapPort: () => number): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  return loopback && (url.protocol === 'http:' || url.protocol === 'ws:') && Number(url.port || 80) === tapPort();
}
