import express, { type Express, type Response } from 'express';
import { parseRecording, type RecordingError } from '../capture/recording-reader.ts';
import { planReplay, runReplay, type ReplayOptions, type ReplayReport } from '../capture/replay.ts';
import type { WireEvent } from '../capture/events.ts';
import { withWholePayload } from '../capture/recorder.ts';
import type { CaptureStore } from '../capture/store.ts';
import type { TopologyInfo } from './stream-protocol.ts';

/** POST /api/replay's answer: the report, and what was wrong in the recording. */
export interface ReplayResponse extends ReplayReport {
  /** Lines of the recording that could not be read (skipped; the rest was replayed): the first few of each kind. */
  errors: RecordingError[];
  /** How many lines could not be read, all told. */
  badLines: number;
  lines: number;
  events: number;
}

/**
 * A recording sent for replay is at most this large: the store's own bound is 128 MB of events,
 * but a saved recording also carries whole payloads (up to 16 MiB each, from the spill file).
 */
const MAX_RECORDING_BYTES = 256 * 1024 * 1024;

/**
 * The event as a recording has it: with its whole payload when the store holds only a preview
 * and the spill file (server/capture/spill.ts) still has the rest, else as the store holds it.
 */
export async function recordedEvent(store: CaptureStore, e: WireEvent, seq: number): Promise<WireEvent> {
  if (!store.spill || (e.type !== 'frame' && e.type !== 'message') || e.truncated !== true) return e;
  const whole = await store.spill.read(seq);
  return whole ? withWholePayload(e, whole) : e;
}
const TEXT_TYPES = ['text/plain', 'application/x-ndjson', 'application/jsonl', 'application/json-lines'];

/**
 * Resolves when `res` can take more (drain) or is gone (close), leaving no listener behind: a
 * download of thousands of large lines waits thousands of times.
 */
export function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** `wsplay-20250131-142502.EXT`, in local time: the name of every download (recording, pcapng, HAR). */
export function downloadFileName(extension: string, d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `wsplay-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.${extension}`;
}

/** `wsplay-20250131-142502.jsonl`: the name the dashboard saves a recording under. */
export const recordingFileName = (d = new Date()): string => downloadFileName('jsonl', d);

/**
 * Recordings from the dashboard, under /api (so the dashboard's guard, token, Host and Origin,
 * runs first):
 * - GET /api/recording: the store's events in the recording format (JSON Lines), as a download.
 * - POST /api/replay: body a recording (JSON Lines text); replays each recorded connection's
 *   client side through the wiretap (so the replay shows in the inspector like any client)
 *   against the server that runs now, and answers with a ReplayResponse.
 */
export function mountRecordingRoutes(app: Express, store: CaptureStore, topology: () => TopologyInfo, replayOptions: Partial<ReplayOptions> = {}): void {
  app.get('/api/recording', async (_req, res) => {
    const events = store.all();
    // `all` returns every held event, the newest last: their sequence numbers end at nextSeq.
    const firstSeq = store.nextSeq - events.length;
    res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${recordingFileName()}"`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Wsplay-Events', String(events.length));
    // Events the store's bound pushed out are not in the file: say how many.
    res.setHeader('X-Wsplay-Dropped', String(store.dropped));
    for (let i = 0; i < events.length; i += 1000) {
      if (res.destroyed) return;
      const lines: string[] = [];
      for (let k = i; k < Math.min(i + 1000, events.length); k++) {
        const e = events[k]!;
        const line = await recordedEvent(store, e, firstSeq + k);
        lines.push(JSON.stringify(line));
        // A line with a whole payload may be megabytes: send it before reading the next one.
        if (line !== e) {
          if (!res.write(lines.join('\n') + '\n')) await drained(res);
          lines.length = 0;
          if (res.destroyed) return;
        }
      }
      if (lines.length > 0 && !res.write(lines.join('\n') + '\n')) await drained(res);
    }
    res.end();
  });

  const text = express.text({ type: TEXT_TYPES, limit: MAX_RECORDING_BYTES });
  let running = false;
  app.post(
    '/api/replay',
    (req, res, next) =>
      text(req, res, (err?: unknown) => {
        if (err) {
          const e = err as { type?: string; message: string };
          const why = e.type === 'entity.too.large' ? `the recording is larger than ${MAX_RECORDING_BYTES / 1024 / 1024} MB` : e.message;
          res.status(e.type === 'entity.too.large' ? 413 : 400).json({ error: `${e.type === 'entity.too.large' ? 413 : 400}: ${why}` });
        } else next();
      }),
    async (req, res) => {
      if (typeof req.body !== 'string') {
        res.status(400).json({ error: '400: send the recording as text, one event per line (Content-Type: application/x-ndjson).' });
        return;
      }
      if (running) {
        res.status(409).json({ error: '409: a replay is already running; wait for its report.' });
        return;
      }
      const recording = parseRecording(req.body);
      const plans = planReplay(recording.events);
      if (plans.length === 0) {
        const why = recording.badLines ? ` (${recording.badLines} unreadable: ${recording.errors[0]!.message})` : '';
        res.status(400).json({ error: `400: the recording has no connection to replay: ${recording.events.length} events read from ${recording.lines} lines${why}.`, errors: recording.errors });
        return;
      }
      const tap = topology().tap;
      // A wiretap listening on every interface is reached on the loopback.
      const host = tap.host === '0.0.0.0' || tap.host === '::' || tap.host === '' ? '127.0.0.1' : tap.host;
      const from = store.nextSeq;
      running = true;
      try {
        const report = await runReplay(plans, { ...replayOptions, host, port: tap.port });
        // The wiretap's `open` event names the replay's own address: that is its id in the inspector.
        const opened = new Map<string, number>();
        for (const e of store.since(from)) if (e.type === 'open') opened.set(e.client, e.conn);
        for (const c of report.connections) c.replayedAs = c.local ? opened.get(c.local) ?? null : null;
        const body: ReplayResponse = { ...report, errors: recording.errors, badLines: recording.badLines, lines: recording.lines, events: recording.events.length };
        res.json(body);
      } catch (err) {
        res.status(500).json({ error: `500: the replay failed: ${(err as Error).message}` });
      } finally {
        running = false;
      }
    },
  );
}
