import { once } from 'node:events';
import type express from 'express';
import type { CaptureStore } from '../capture/store.ts';
import { EXPORT_FORMATS, exportEvents, isExportFormat, lastTime } from '../export.ts';
import { downloadFileName } from './recording-routes.ts';

/**
 * GET /api/export?format=har|pcapng: the store's current events as a download. Mounted under
 * /api, so the dashboard's guard (token, Host, Origin) applies before it runs.
 */
export function mountExportRoutes(app: express.Express, store: CaptureStore, now?: () => number, tapPort?: () => number): void {
  // Events whose open events carry `wall` anchor themselves (exportEvents). For older ones (a
  // store fed from elsewhere, or one that dropped every open event): with the wiretap's clock,
  // t = 0 is exactly `now()` ms ago; without it, estimate.
  const clock = now ? () => Date.now() - now() : wallClockOf(store);
  app.get('/api/export', async (req, res) => {
    const format = req.query.format;
    if (!isExportFormat(format)) {
      res.status(400).json({ error: `400: format must be ${EXPORT_FORMATS.join(' or ')} (got ${JSON.stringify(format ?? null)})` });
      return;
    }
    // ?view=client (the default): the server's port is the one the client connected to, the
    // wiretap's (9900), as a capture on the client's machine would show it; ?view=server: where
    // the wiretap relayed to (a learner's server.js listens on an internal port).
    const view = req.query.view ?? 'client';
    if (view !== 'client' && view !== 'server') {
      res.status(400).json({ error: `400: view must be client or server (got ${JSON.stringify(view)})` });
      return;
    }
    const events = store.all();
    const out = exportEvents(events, format, { origin: 'the dashboard', startedAt: clock(), serverPort: view === 'client' ? tapPort?.() : undefined });
    res.setHeader('Content-Type', out.mimeType);
    res.setHeader('Content-Disposition', `attachment; filename="${downloadFileName(out.extension)}"`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Wsplay-Export', out.summary);
    for (const chunk of out.chunks()) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    res.end();
  });
}

/**
 * The wall-clock time (epoch ms) of the wiretap's t = 0. Events carry only times relative to
 * the wiretap's start, and reach the store in the tick they are made, so the first batch seen
 * gives the anchor to within a millisecond; before one arrives, the newest event already held
 * stands for "now" (an estimate that is late by however long the tap has been idle).
 */
function wallClockOf(store: CaptureStore): () => number {
  let anchor: number | null = null;
  const held = store.all();
  const estimate = held.length > 0 ? Date.now() - lastTime(held) : null;
  const unsubscribe = store.subscribe((batch) => {
    anchor = Date.now() - batch[batch.length - 1]!.t;
    unsubscribe();
  });
  return () => anchor ?? estimate ?? Date.now() - lastTime(store.all());
}
