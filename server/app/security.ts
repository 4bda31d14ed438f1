import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The dashboard's guard. Everything under /api (the event stream included) needs:
 * - the session token from the start-up URL (random per start, 192 bits), compared in constant time;
 * - a Host of localhost, 127.0.0.1 or [::1] with the dashboard's port (a DNS-rebinding page has
 *   its own host name in Host, and is refused);
 * - an Origin equal to the dashboard's own, when the browser sends one (always on WebSocket
 *   upgrades and cross-site requests), so a page on another origin can neither open the event
 *   stream nor call the API.
 */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Constant-time comparison: hash both sides so lengths never leak either. */
export function tokensEqual(given: string | null | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export function allowedHosts(port: number): string[] {
  return LOOPBACK_NAMES.map((h) => `${h}:${port}`);
}

export function allowedOrigins(port: number): string[] {
  return allowedHosts(port).map((h) => `http://${h}`);
}

export interface GuardResult {
  ok: boolean;
  /** Why it was refused, for the 403 body and the log (never includes the token). */
  reason?: string;
}

/**
 * Check a request to the API or the event stream. `requireOrigin` is set for WebSocket
 * upgrades: browsers always send Origin there, and a missing one means a non-browser client
 * that must still present the token.
 */
export function checkRequest(req: IncomingMessage, port: number, token: string, requireOrigin: boolean): GuardResult {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!allowedHosts(port).includes(host)) return { ok: false, reason: `Host "${host}" is not this dashboard` };
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedOrigins(port).includes(origin.toLowerCase())) {
    return { ok: false, reason: `Origin "${origin}" is not this dashboard` };
  }
  if (requireOrigin && origin === undefined && req.headers['user-agent']?.includes('Mozilla')) {
    return { ok: false, reason: 'a browser request without Origin' };
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const given = (req.headers['x-wsplay-token'] as string | undefined) ?? url.searchParams.get('token');
  if (!tokensEqual(given, token)) return { ok: false, reason: 'missing or wrong session token' };
  return { ok: true };
}

/**
 * Is this request from the dashboard's own page (or typed in the address bar), not from a page
 * on another port or site? Cookies are scoped by host, not port: a page on 127.0.0.1:8123 can
 * make the browser send this dashboard's cookies, so anything a cookie opens must also check
 * where the request comes from. Browsers say it in Sec-Fetch-Site (`same-site` for another port
 * of 127.0.0.1) and, for CORS and WebSocket requests, in Origin. A client that sends neither is
 * not a browser and must hold something else than a cookie a page can make it send.
 */
export function fromOwnPage(req: IncomingMessage, port: number): GuardResult {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { ok: false, reason: `a request from a page on another port or site (Sec-Fetch-Site: ${site})` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedOrigins(port).includes(origin.toLowerCase())) {
    return { ok: false, reason: `Origin "${origin}" is not this dashboard` };
  }
  return { ok: true };
}

/** The cookie a client grant travels in, for the Worker's load of client.js only. */
export const GRANT_COOKIE = 'wsplay_grant';

/**
 * Single-use, short-lived grants for the one request the dashboard cannot add a header to: the
 * Worker's `importScripts` of /workspace/client.js (a stable URL, so breakpoints bind). The
 * page asks for one (POST /api/client-grant, behind the token) just before it starts a Worker;
 * the grant comes back as a cookie scoped to that one path, and is spent by the load. The
 * session token itself is never a cookie: every port of 127.0.0.1 would be sent it.
 */
export class ClientGrants {
  /** grant → when it expires (ms). */
  private readonly grants = new Map<string, number>();

  constructor(
    /** Long enough for a Worker to start on a loaded machine; short enough to be useless stolen. */
    readonly ttlMs = 30_000,
    /** Grants not yet spent, at most: a page that asks in a loop costs no memory. */
    private readonly max = 64,
    private readonly now: () => number = Date.now,
  ) {}

  issue(): string {
    const now = this.now();
    for (const [g, expires] of this.grants) if (expires < now) this.grants.delete(g);
    if (this.grants.size >= this.max) this.grants.delete(this.grants.keys().next().value!);
    const grant = randomBytes(24).toString('base64url');
    this.grants.set(grant, now + this.ttlMs);
    return grant;
  }

  /** Spend the grant in this request's cookie: true once, for a grant issued and not expired. */
  take(req: IncomingMessage): boolean {
    const given = new RegExp(`(?:^|;\\s*)${GRANT_COOKIE}=([A-Za-z0-9_-]+)`).exec(req.headers.cookie ?? '')?.[1];
    if (given === undefined) return false;
    const expires = this.grants.get(given);
    if (expires === undefined) return false;
    this.grants.delete(given);
    return expires >= this.now();
  }

  cookie(grant: string): string {
    return `${GRANT_COOKIE}=${grant}; HttpOnly; SameSite=Strict; Path=/workspace/client.js; Max-Age=${Math.ceil(this.ttlMs / 1000)}`;
  }

  /** Clears the cookie once its grant is spent. */
  static spent(): string {
    return `${GRANT_COOKIE}=; HttpOnly; SameSite=Strict; Path=/workspace/client.js; Max-Age=0`;
  }
}
