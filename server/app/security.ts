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
