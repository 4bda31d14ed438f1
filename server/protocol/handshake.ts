import { createHash } from 'node:crypto';
import type {
  ExtensionOffer,
  HandshakeEvent,
  HandshakeOutcome,
  HeaderPair,
  HttpRequestHead,
  HttpResponseHead,
  PerMessageDeflateParams,
} from '../capture/events.ts';

/** The GUID of RFC 6455 §1.3, appended to Sec-WebSocket-Key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)) (§1.3, §4.2.2). */
export function computeAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Gathers one HTTP head (request or response) from a byte stream, up to a bound. Sans-I/O:
 * push bytes, get back the head and whatever followed it.
 */
export class HttpHeadReader {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  get buffered(): number {
    return this.size;
  }

  /**
   * Returns `{ head, rest }` once the blank line is seen, `'too-large'` once more than the bound
   * arrived without one, or null while more bytes are needed.
   */
  push(chunk: Buffer): { head: Buffer; rest: Buffer } | 'too-large' | null {
    // Start the search 3 bytes back: the blank line may straddle two chunks.
    const from = Math.max(0, this.size - 3);
    this.parts.push(chunk);
    this.size += chunk.length;
    const all = this.parts.length === 1 ? chunk : Buffer.concat(this.parts);
    this.parts = [all];
    const end = all.indexOf(CRLFCRLF, from);
    // A head longer than the bound is too large even when it ends within this chunk: the
    // verdict must not depend on where TCP cut the stream.
    if (end === -1 || end + 4 > this.limit) {
      if (this.size > this.limit) {
        this.parts = [];
        this.size = 0;
        return 'too-large';
      }
      return null;
    }
    const head = all.subarray(0, end + 4);
    const rest = all.subarray(end + 4);
    this.parts = [];
    this.size = 0;
    return { head, rest };
  }

  /** Bytes of an unfinished head, for a connection that ends mid-head. */
  take(): Buffer {
    const all = Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    return all;
  }
}

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/;
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;

function parseHeaderLines(lines: string[]): HeaderPair[] {
  const headers: HeaderPair[] = [];
  for (const line of lines) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      headers.push([line, '']);
      continue;
    }
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return headers;
}

/**
 * The dashboard's own credentials, should a request to the wiretap ever carry them (a page on
 * another port of 127.0.0.1 makes the browser send this host's cookies): the value of every
 * `wsplay_*` cookie and of an X-Wsplay-Token header is replaced by as many `*`s, in the head as
 * recorded (`raw`) and in its headers, so no capture, recording or export holds one. The length
 * stays the same: frame offsets count the head's bytes as they crossed the wire. Cookies of the
 * learner's own app are left alone: they are what the lessons show.
 */
const WSPLAY_COOKIE = /(^|[;\s])(wsplay_[A-Za-z0-9_]*=)([^;\s]*)/g;
const HEADER_LINE = /^(cookie|x-wsplay-token)([ \t]*:)(.*)$/gim;

export function redactCredentials(head: Buffer): Buffer {
  const text = head.toString('latin1');
  if (!/wsplay/i.test(text)) return head;
  const stars = (s: string) => '*'.repeat(s.length);
  const redacted = text.replace(HEADER_LINE, (_line, name: string, colon: string, value: string) =>
    name.toLowerCase() === 'cookie'
      ? `${name}${colon}${value.replace(WSPLAY_COOKIE, (_m, before: string, key: string, v: string) => `${before}${key}${stars(v)}`)}`
      : `${name}${colon}${value.replace(/[^ \t\r]/g, '*')}`,
  );
  return redacted === text ? head : Buffer.from(redacted, 'latin1');
}

/** Parse a request head; null when the first line is not an HTTP request line. */
export function parseRequestHead(received: Buffer, t: number): HttpRequestHead | null {
  const head = redactCredentials(received);
  const lines = head.toString('latin1').split('\r\n');
  const m = REQUEST_LINE.exec(lines[0] ?? '');
  if (!m) return null;
  return {
    method: m[1]!,
    path: m[2]!,
    version: m[3]!,
    headers: parseHeaderLines(lines.slice(1)),
    raw: head.toString('base64'),
    t,
  };
}

export function parseResponseHead(head: Buffer, t: number): HttpResponseHead | null {
  const lines = head.toString('latin1').split('\r\n');
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (!m) return null;
  return {
    version: m[1]!,
    status: Number(m[2]),
    reason: m[3] ?? '',
    headers: parseHeaderLines(lines.slice(1)),
    raw: head.toString('base64'),
    t,
  };
}

/** All values of a header (case-insensitive name), in order. */
export function headerValues(headers: HeaderPair[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

function header(headers: HeaderPair[], name: string): string | null {
  const values = headerValues(headers, name);
  return values.length > 0 ? values.join(', ') : null;
}

function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  return value.split(',').some((v) => v.trim().toLowerCase() === token);
}

/** Is this request asking for a WebSocket upgrade (an `Upgrade: websocket` header)? */
export function isUpgradeRequest(req: HttpRequestHead): boolean {
  return hasToken(header(req.headers, 'upgrade'), 'websocket');
}

/**
 * Sec-WebSocket-Extensions (§9.1): `name; param; param=value, name2`. Values may be quoted.
 * Malformed parts are kept as best understood: this is for showing, not for negotiating.
 */
export function parseExtensions(values: string[]): ExtensionOffer[] {
  const out: ExtensionOffer[] = [];
  for (const value of values) {
    for (const item of splitOutsideQuotes(value, ',')) {
      const parts = splitOutsideQuotes(item, ';').map((p) => p.trim());
      const name = parts.shift();
      if (!name) continue;
      const params: Array<[string, string | true]> = [];
      for (const p of parts) {
        if (p === '') continue;
        const eq = p.indexOf('=');
        if (eq === -1) params.push([p, true]);
        else params.push([p.slice(0, eq).trim(), unquote(p.slice(eq + 1).trim())]);
      }
      out.push({ name, params });
    }
  }
  return out;
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/**
 * permessage-deflate as the server accepted it (RFC 7692 §7.1). Absent window bits mean 15.
 * Returns null when the server did not accept permessage-deflate.
 */
export function deflateParams(accepted: ExtensionOffer[]): PerMessageDeflateParams | null {
  const ext = accepted.find((e) => e.name.toLowerCase() === 'permessage-deflate');
  if (!ext) return null;
  const get = (n: string) => ext.params.find(([k]) => k.toLowerCase() === n);
  const bits = (n: string) => {
    const p = get(n);
    if (!p || p[1] === true) return 15;
    const v = Number(p[1]);
    return Number.isInteger(v) && v >= 8 && v <= 15 ? v : 15;
  };
  return {
    serverNoContextTakeover: get('server_no_context_takeover') !== undefined,
    clientNoContextTakeover: get('client_no_context_takeover') !== undefined,
    serverMaxWindowBits: bits('server_max_window_bits'),
    clientMaxWindowBits: bits('client_max_window_bits'),
  };
}

/**
 * Build the handshake event for a request and its response (either may be missing), and list
 * what keeps it from being a valid opening handshake (§4.1, §4.2), in words for a learner.
 */
export function analyzeHandshake(
  conn: number,
  t: number,
  outcome: HandshakeOutcome,
  request: HttpRequestHead | null,
  response: HttpResponseHead | null,
): HandshakeEvent {
  const problems: string[] = [];
  const reqH = request?.headers ?? [];
  const resH = response?.headers ?? [];
  const key = header(reqH, 'sec-websocket-key');
  const accept = header(resH, 'sec-websocket-accept');
  const expectedAccept = key === null ? null : computeAccept(key.trim());
  const offeredExtensions = parseExtensions(headerValues(reqH, 'sec-websocket-extensions'));
  const extensions = parseExtensions(headerValues(resH, 'sec-websocket-extensions'));
  const offeredSubprotocols = headerValues(reqH, 'sec-websocket-protocol')
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const subprotocol = header(resH, 'sec-websocket-protocol');
  const acceptValid = accept !== null && expectedAccept !== null && accept.trim() === expectedAccept;

  if (request && (outcome === 'upgraded' || outcome === 'refused')) {
    if (request.method !== 'GET') problems.push(`The request method is ${request.method}; an upgrade must be a GET (§4.1).`);
    if (request.version !== 'HTTP/1.1') problems.push(`The request is ${request.version}; the upgrade needs HTTP/1.1 (§4.1).`);
    if (!hasToken(header(reqH, 'connection'), 'upgrade')) problems.push('The request has no "Connection: Upgrade" header (§4.1).');
    const version = header(reqH, 'sec-websocket-version');
    if (version?.trim() !== '13') problems.push(`Sec-WebSocket-Version is ${version === null ? 'missing' : `"${version}"`}; it must be 13 (§4.1).`);
    if (key === null) problems.push('The request has no Sec-WebSocket-Key (§4.1).');
    else if (Buffer.from(key.trim(), 'base64').length !== 16 || !/^[A-Za-z0-9+/]{22}==$/.test(key.trim())) {
      problems.push(`Sec-WebSocket-Key "${key}" is not 16 random bytes in base64 (§4.1).`);
    }
  }
  if (response && outcome === 'upgraded') {
    if (!hasToken(header(resH, 'upgrade'), 'websocket')) problems.push('The 101 response has no "Upgrade: websocket" header (§4.2.2).');
    if (!hasToken(header(resH, 'connection'), 'upgrade')) problems.push('The 101 response has no "Connection: Upgrade" header (§4.2.2).');
    if (accept === null) problems.push('The 101 response has no Sec-WebSocket-Accept (§4.2.2).');
    else if (request === null) {
      // No request head to take the key from: the client's head was past the bound an HTTP head
      // is read to (a handshake-too-large violation says so), or never came. Say that, not that
      // the key gives "null".
      problems.push(
        `The server answered 101 to a request head the wiretap could not read (larger than its bound for an HTTP head, or never sent), so Sec-WebSocket-Accept "${accept}" cannot be checked against a Sec-WebSocket-Key (§4.2.2).`,
      );
    } else if (key === null) problems.push(`The 101 response has Sec-WebSocket-Accept "${accept}", but the request had no Sec-WebSocket-Key to compute it from (§4.2.2).`);
    else if (!acceptValid) problems.push(`Sec-WebSocket-Accept is "${accept}" but the key gives "${expectedAccept}" (§4.2.2).`);
    if (subprotocol !== null && !offeredSubprotocols.includes(subprotocol.trim())) {
      problems.push(`The server picked subprotocol "${subprotocol}", which the client did not offer (§4.1).`);
    }
    for (const ext of extensions) {
      if (!offeredExtensions.some((o) => o.name.toLowerCase() === ext.name.toLowerCase())) {
        problems.push(`The server accepted extension "${ext.name}", which the client did not offer (§9.1).`);
      }
    }
  }

  return {
    type: 'handshake',
    conn,
    t,
    outcome,
    request,
    response,
    key,
    expectedAccept,
    accept,
    acceptValid,
    offeredExtensions,
    extensions,
    offeredSubprotocols,
    subprotocol,
    deflate: outcome === 'upgraded' ? deflateParams(extensions) : null,
    problems,
  };
}
