import express, { type Express, type Request, type Response } from 'express';
import type { BrowserOutcome, InterceptState } from '../tap/interception.ts';
import { fromOwnPage } from './security.ts';

/** What the routes act on: server/tap/interception.ts implements it. */
export interface InterceptControl {
  state(): InterceptState;
  openBrowser(url?: string): Promise<BrowserOutcome>;
}

/** A URL to open is a page address, not a command line: http(s) only, and short. */
const MAX_URL = 2048;

/**
 * The dashboard's "Open an intercepted browser" (server/tap/interception.ts), under /api behind
 * the token, Host and Origin guard (server/app/security.ts):
 * - GET /api/intercept: { proxy, caPath, browsers }
 * - POST /api/intercept/browser {url?}: starts the proxy if needed (a free port) and a Chromium
 *   through it; { ok, proxy, caPath, pid } or { ok: false, message } saying how to use another
 *   browser when there is no Chromium.
 * Starting a program is the most a page could make this server do: on top of the token, the
 * request must come from the dashboard's own page (Sec-Fetch-Site, Origin).
 */
export function mountInterceptRoutes(app: Express, control: InterceptControl, port: () => number): void {
  const parse = express.json({ limit: '8kb', type: 'application/json' });
  const json = (req: Request, res: Response, next: () => void) =>
    parse(req, res, (err?: unknown) => {
      if (err) res.status(400).json({ error: `400: the body is not valid JSON (${(err as Error).message})` });
      else next();
    });

  app.get('/api/intercept', (_req, res) => {
    res.json(control.state());
  });

  app.post('/api/intercept/browser', json, async (req, res) => {
    const own = fromOwnPage(req, port());
    if (!own.ok) {
      res.status(403).json({ error: `403: ${own.reason}` });
      return;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    let url: string | undefined;
    if (body.url !== undefined && body.url !== null && body.url !== '') {
      const given = body.url;
      let parsed: URL | null = null;
      try {
        parsed = typeof given === 'string' && given.length <= MAX_URL ? new URL(given) : null;
      } catch {
        parsed = null;
      }
      if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
        res.status(400).json({ error: `400: "url" is the http:// or https:// address of a page to open (at most ${MAX_URL} characters), or absent for a blank page.` });
        return;
      }
      url = parsed.href;
    }
    try {
      res.json(await control.openBrowser(url));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      res.status(500).json({ error: `500: the proxy could not start (${e.code ?? e.message}). Start it yourself with: npx wsplay proxy --port 0` });
    }
  });
}
