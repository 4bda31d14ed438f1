import type { EndEvent, HandshakeEvent, HeaderPair, MessageEvent, OpenEvent, WireEvent } from './events.ts';
import { ExportNotes } from './export-notes.ts';
import { recordedStart } from './wall-clock.ts';

/**
 * A recording as a HAR 1.2 log (http://www.softwareishard.com/blog/har-12-spec/), shaped like
 * the HAR Chrome's DevTools saves for WebSocket connections, so the tools that read those read
 * ours: one entry per connection (the opening handshake as request and response) with
 * `_resourceType: "websocket"` and `_webSocketMessages`, each `{ type: "send" | "receive", time
 * (seconds since the epoch, fractional), opcode (1 text, 2 binary), data }`. `send` is client →
 * server. `data` is the text of a text message and the base64 of a binary one, after
 * permessage-deflate inflation — the application's view, as Chrome shows it. Like Chrome, only
 * data messages are listed (no pings, pongs or close frames).
 *
 * Beyond Chrome, underscore fields (allowed by HAR 1.2 for custom data): a message whose data is
 * only the recording's preview has `_truncated: true` and its full `_length`; each entry has
 * `_wsplay` with the handshake outcome, its problems and the close codes.
 *
 * A connection without an HTTP request (the client sent something else, or nothing) has no entry.
 */

export interface HarOptions {
  /**
   * Wall-clock time (epoch milliseconds) of t = 0 in the recording, an estimate used only when
   * no open event carries `wall`: when one does, the recording's own clock is used, and each
   * entry's `startedDateTime` is its connection's `wall` exactly.
   */
  startedAt: number;
  creator?: { name: string; version: string };
  comment?: string;
}

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarWebSocketMessage {
  type: 'send' | 'receive';
  time: number;
  opcode: number;
  data: string;
  _truncated?: true;
  _length?: number;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    cookies: HarNameValue[];
    headers: HarNameValue[];
    queryString: HarNameValue[];
    headersSize: number;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    cookies: HarNameValue[];
    headers: HarNameValue[];
    content: { size: number; mimeType: string; text?: string };
    redirectURL: string;
    headersSize: number;
    bodySize: number;
    _error?: string;
  };
  cache: Record<string, never>;
  timings: { blocked: number; dns: number; connect: number; send: number; wait: number; receive: number; ssl: number };
  serverIPAddress?: string;
  connection: string;
  _resourceType: string;
  _webSocketMessages?: HarWebSocketMessage[];
  _wsplay: { conn: number; outcome: HandshakeEvent['outcome']; problems: string[]; closeCode: number | null; serverCloseCode: number | null };
}

export interface Har {
  log: {
    version: '1.2';
    creator: { name: string; version: string };
    pages: [];
    entries: HarEntry[];
    comment?: string;
  };
}

export interface HarExport {
  har: Har;
  notes: string[];
}

interface ConnectionEvents {
  conn: number;
  open: OpenEvent | null;
  handshake: HandshakeEvent | null;
  messages: MessageEvent[];
  end: EndEvent | null;
}

function groupByConnection(events: WireEvent[]): ConnectionEvents[] {
  const byConn = new Map<number, ConnectionEvents>();
  for (const e of events) {
    let c = byConn.get(e.conn);
    if (!c) byConn.set(e.conn, (c = { conn: e.conn, open: null, handshake: null, messages: [], end: null }));
    if (e.type === 'open') c.open ??= e;
    else if (e.type === 'handshake') c.handshake ??= e;
    else if (e.type === 'message') c.messages.push(e);
    else if (e.type === 'end') c.end ??= e;
  }
  return [...byConn.values()];
}

const pairs = (headers: HeaderPair[]): HarNameValue[] => headers.map(([name, value]) => ({ name, value }));

function header(headers: HeaderPair[], name: string): string | null {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1] ?? null;
}

function cookies(headers: HeaderPair[], name: 'cookie' | 'set-cookie'): HarNameValue[] {
  const out: HarNameValue[] = [];
  for (const [n, v] of headers) {
    if (n.toLowerCase() !== name) continue;
    // Cookie: every `a=b` pair; Set-Cookie: the first pair only (the rest are attributes).
    const parts = name === 'cookie' ? v.split(';') : [v.split(';')[0]!];
    for (const part of parts) {
      const eq = part.indexOf('=');
      if (eq > 0) out.push({ name: part.slice(0, eq).trim(), value: part.slice(eq + 1).trim() });
    }
  }
  return out;
}

function queryString(path: string): HarNameValue[] {
  const q = path.indexOf('?');
  if (q < 0) return [];
  return [...new URLSearchParams(path.slice(q + 1))].map(([name, value]) => ({ name, value }));
}

/** Milliseconds, rounded to the microsecond the recording has, never negative. */
const ms = (x: number) => Math.max(0, Math.round(x * 1000) / 1000);

function entryOf(c: ConnectionEvents, hs: HandshakeEvent, startedAt: number): HarEntry {
  const req = hs.request!;
  const res = hs.response;
  const isWebSocket = hs.outcome === 'upgraded' || hs.outcome === 'refused' || header(req.headers, 'upgrade')?.toLowerCase() === 'websocket';
  const host = header(req.headers, 'host') ?? c.open?.target ?? 'localhost';
  const scheme = isWebSocket ? 'ws' : 'http';
  const path = req.path.startsWith('/') ? req.path : `/${req.path}`;
  const t0 = c.open?.t ?? req.t;
  // The wiretap sees the connection once accepted: no blocked, DNS, connect or TLS time. `send`
  // runs until the request head was complete, `wait` until the response head was.
  const send = ms(req.t - t0);
  const wait = res ? ms(res.t - req.t) : ms((c.end?.t ?? req.t) - req.t);
  const body = res?.body ? Buffer.from(res.body, 'utf8') : null;
  const entry: HarEntry = {
    startedDateTime: new Date(c.open?.wall ?? startedAt + t0).toISOString(),
    time: ms(send + wait),
    request: {
      method: req.method,
      url: `${scheme}://${host}${path}`,
      httpVersion: req.version,
      cookies: cookies(req.headers, 'cookie'),
      headers: pairs(req.headers),
      queryString: queryString(path),
      headersSize: Buffer.from(req.raw, 'base64').length,
      bodySize: 0,
    },
    response: res
      ? {
          status: res.status,
          statusText: res.reason,
          httpVersion: res.version,
          cookies: cookies(res.headers, 'set-cookie'),
          headers: pairs(res.headers),
          content: {
            size: body?.length ?? 0,
            mimeType: header(res.headers, 'content-type') ?? 'x-unknown',
            ...(res.body ? { text: res.body } : {}),
          },
          redirectURL: header(res.headers, 'location') ?? '',
          headersSize: Buffer.from(res.raw, 'base64').length,
          bodySize: body?.length ?? 0,
        }
      : {
          // What Chrome writes for a request that got no answer.
          status: 0,
          statusText: '',
          httpVersion: '',
          cookies: [],
          headers: [],
          content: { size: 0, mimeType: 'x-unknown' },
          redirectURL: '',
          headersSize: -1,
          bodySize: -1,
          _error: hs.problems[0] ?? 'no response',
        },
    cache: {},
    timings: { blocked: -1, dns: -1, connect: -1, send, wait, receive: 0, ssl: -1 },
    connection: String(c.conn),
    _resourceType: isWebSocket ? 'websocket' : 'other',
    _wsplay: { conn: c.conn, outcome: hs.outcome, problems: hs.problems, closeCode: c.end?.code ?? null, serverCloseCode: c.end?.serverCode ?? null },
  };
  const server = c.open?.target.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  if (server) entry.serverIPAddress = server;
  if (isWebSocket) {
    entry._webSocketMessages = c.messages.map((m) => {
      const msg: HarWebSocketMessage = {
        type: m.dir === 'client' ? 'send' : 'receive',
        // Seconds since the epoch, as Chrome writes them (its CDP timestamps are wall-clock seconds).
        time: Math.round(startedAt * 1000 + m.t * 1000) / 1e6,
        opcode: m.opcode,
        data: m.opcode === 1 ? (m.text ?? '') : (m.base64 ?? ''),
      };
      if (m.truncated) {
        msg._truncated = true;
        msg._length = m.length;
      }
      return msg;
    });
  }
  return entry;
}

export function exportHar(events: WireEvent[], opts: HarOptions): HarExport {
  const notes = new ExportNotes();
  const entries: HarEntry[] = [];
  let truncated = 0;
  const startedAt = recordedStart(events) ?? opts.startedAt;
  for (const c of groupByConnection(events)) {
    const hs = c.handshake;
    if (!hs?.request) {
      notes.add(
        'no request',
        `Connection ${c.conn} has no HTTP request in the recording (${hs ? hs.outcome : 'no handshake event'}), so it has no HAR entry.`,
        (n) => `${n} more connections have no HTTP request in the recording, and no HAR entry either.`,
      );
      continue;
    }
    const entry = entryOf(c, hs, startedAt);
    truncated += entry._webSocketMessages?.filter((m) => m._truncated).length ?? 0;
    entries.push(entry);
  }
  if (truncated > 0) notes.add('truncated', `${truncated} message${truncated === 1 ? ' is' : 's are'} only a preview (the recording's bound): marked "_truncated": true in the HAR.`, () => '');
  return {
    har: {
      log: {
        version: '1.2',
        creator: opts.creator ?? { name: 'wsplay', version: '0' },
        pages: [],
        entries,
        ...(opts.comment ? { comment: opts.comment } : {}),
      },
    },
    notes: notes.list(),
  };
}
