import type express from 'express';
import type { WireEvent } from '../capture/events.ts';
import { MAX_MAX_PAYLOAD } from '../capture/recorder.ts';
import type { CaptureStore } from '../capture/store.ts';
import { drained, recordedEvent } from './recording-routes.ts';

/**
 * Bytes of whole payloads (from the spill file) one export takes in: the HAR is made in memory,
 * so this bounds what one download costs. Past it, payloads stay the store's previews, counted
 * in the X-Wsplay-Previews header and in the export's notes (truncated messages, zero-filled frames).
 */
export const EXPORT_WHOLE_BYTES = 256 * 1024 * 1024;
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
    const held = store.all();
    const firstSeq = store.nextSeq - held.length;
    const events: WireEvent[] = [];
    let budget = EXPORT_WHOLE_BYTES;
    let previews = 0;
    for (let i = 0; i < held.length; i++) {
      const e = held[i]!;
      if (budget > 0 && (e.type === 'frame' || e.type === 'message') && e.truncated === true) {
        const r = await recordedEvent(store, e, firstSeq + i);
        // A whole payload is at most --max-payload (16 MiB), whatever length a frame announces.
        if (r !== e) budget -= Math.min(e.length, MAX_MAX_PAYLOAD);
        else previews++;
        events.push(r);
      } else {
        if ((e.type === 'frame' || e.type === 'message') && e.truncated === true) previews++;
        events.push(e);
      }
    }
    const out = exportEvents(events, format, { origin: 'the dashboard', startedAt: clock(), serverPort: view === 'client' ? tapPort?.() : undefined });
    res.setHeader('Content-Type', out.mimeType);
    res.setHeader('Content-Disposition', `attachment; filename="${downloadFileName(out.extension)}"`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Wsplay-Export', out.summary);
    // Frames and messages exported as the store's preview only (the spill file no longer had them, or the budget).
    res.setHeader('X-Wsplay-Previews', String(previews));
    for (const chunk of out.chunks()) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await drained(res);
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
