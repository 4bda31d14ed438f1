import { computed, signal } from '@preact/signals';
import type { WireEvent } from '../../server/capture/events.ts';
import { BadLines, MAX_LINE_BYTES, parseLine, tooLong, type Recording } from '../../server/capture/recording-format.ts';
import type { ReplayResponse } from '../../server/app/recording-routes.ts';
import { applyEvents, filters, model, paused, selectedConn, selection, setViewingRecording, tokenFromUrl } from './state.ts';

/**
 * Recording mode: a recording (a .jsonl file the learner picks) replaces the live events in
 * every view while the live stream waits; a time scrubber shows the recording as it was at any
 * moment; "Back to live" reopens the stream. Also the downloads (Save recording, Export) and
 * the replay of a recording's client side (POST /api/replay).
 */

// ---- reading a recording, as the server does ------------------------------------------------
//
// The line rules and messages are server/capture/recording-format.ts, shared with the reader of
// files (server/capture/recording-reader.ts); this is the loop over text held in the page.

export type { Recording, RecordingError } from '../../server/capture/recording-format.ts';

const encoder = new TextEncoder();

/** UTF-8 length past the bound, counting bytes only when characters alone cannot tell. */
function overBound(s: string): boolean {
  if (s.length > MAX_LINE_BYTES) return true;
  if (s.length * 3 <= MAX_LINE_BYTES) return false;
  return encoder.encode(s).length > MAX_LINE_BYTES;
}

/**
 * Read a recording held as text (File.text()): a line that is not a well-formed event is
 * reported with its number and skipped, every other line is kept. Never throws on content.
 */
export function parseRecordingText(text: string): Recording {
  const events: WireEvent[] = [];
  const bad = new BadLines();
  let line = 0;
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    const last = nl < 0;
    if (last) nl = text.length;
    const s = text.slice(start, nl);
    start = nl + 1;
    line++;
    if (overBound(s)) {
      bad.add('too long', tooLong(line));
      continue;
    }
    const r = parseLine(s, line, last, (kind) => bad.wants(kind));
    if (r === null) continue;
    if ('error' in r) bad.add(r.kind, r.error);
    else events.push(r.event);
  }
  return { events, errors: bad.kept, badLines: bad.count, lines: line };
}

// ---- recording mode ------------------------------------------------------------------------

export interface RecordingView extends Recording {
  /** The file's name, as picked. */
  name: string;
  /** The file's text, sent as is for a replay (the server reads it with the same tolerance). */
  text: string;
  /**
   * `reached[i]`: the largest `t` among events 0..i. Event i is shown at scrub time s when
   * reached[i] <= s: events keep their recorded order (a message is recorded after its last
   * frame, but carries its first frame's time), so what is shown is always a prefix.
   */
  reached: number[];
  first: number;
  last: number;
  connections: number;
}

/** The recording on view, or null when the views show the live capture. */
export const recording = signal<RecordingView | null>(null);
/** The scrubber's time (ms on the recording's clock). */
export const scrubTime = signal(0);
/** Events of the recording the views show now (a prefix of them). */
export const shownEvents = signal(0);
export const playing = signal(false);
/** Playback speed: 1 is the recorded pace. */
export const playSpeed = signal(1);
/** A download, open or replay that failed, for the bar to show. */
export const barError = signal('');

export type ReplayState = { state: 'idle' } | { state: 'running' } | { state: 'done'; report: ReplayResponse } | { state: 'failed'; error: string };
export const replayState = signal<ReplayState>({ state: 'idle' });

export const viewing = computed(() => recording.value !== null);

/** Number of leading events whose `reached` time is <= t. */
function prefixAt(reached: number[], t: number): number {
  let lo = 0;
  let hi = reached.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (reached[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Show a recording (already read) in place of the live capture, all of it. */
export function openRecordingText(name: string, text: string): RecordingView | null {
  const parsed = parseRecordingText(text);
  if (parsed.events.length === 0) {
    // Nothing to show: say what the file is not, and stay on the live capture.
    const first = parsed.errors[0];
    barError.value =
      parsed.lines === 0 || text.trim() === ''
        ? `${name} is empty: a recording has one event per line (JSON Lines), as Save recording or --record writes it.`
        : /[\u0000-\u0008\u000e-\u001f]/.test(text.slice(0, 4096))
          ? `${name} is not a wsplay recording: it holds binary data, not text. A recording has one event per line (JSON Lines), as Save recording or --record writes it.`
          : `${name} is not a wsplay recording: none of its ${parsed.lines === 1 ? 'line' : `${parsed.lines.toLocaleString('en-US')} lines`} is an event${first ? ` (${first.message})` : ''}. A recording has one event per line (JSON Lines), as Save recording or --record writes it.`;
    return null;
  }
  const reached: number[] = [];
  let max = -Infinity;
  let min = Infinity;
  for (const e of parsed.events) {
    reached.push((max = Math.max(max, e.t)));
    min = Math.min(min, e.t);
  }
  const view: RecordingView = {
    ...parsed,
    name,
    text,
    reached,
    first: parsed.events.length ? min : 0,
    last: parsed.events.length ? max : 0,
    connections: new Set(parsed.events.map((e) => e.conn)).size,
  };
  stopPlaying();
  setViewingRecording(true);
  recording.value = view;
  replayState.value = { state: 'idle' };
  barError.value = '';
  selection.value = null;
  selectedConn.value = null;
  paused.value = false;
  shown = -1;
  scrubTo(view.last);
  return view;
}

export async function openRecordingFile(file: File): Promise<void> {
  try {
    openRecordingText(file.name, await file.text());
  } catch (err) {
    barError.value = `Could not read ${file.name}: ${(err as Error).message}`;
  }
}

/** Events applied to the model from the recording (-1: none yet, the model holds live events). */
let shown = -1;

/** Show the recording as it was at time t: the events up to it, applied again from the start when going back. */
export function scrubTo(t: number): void {
  const rec = recording.value;
  if (!rec) return;
  const time = Math.min(rec.last, Math.max(rec.first, t));
  scrubTime.value = time;
  const k = prefixAt(rec.reached, time);
  if (k === shown) return;
  if (shown < 0 || k < shown) {
    model.reset();
    applyEvents(rec.events.slice(0, k));
  } else {
    applyEvents(rec.events.slice(shown, k));
  }
  shown = k;
  shownEvents.value = k;
}

/** Leave the recording: the live stream opens again and its history fills the views. */
export function backToLive(): void {
  if (!recording.value) return;
  stopPlaying();
  recording.value = null;
  shown = -1;
  shownEvents.value = 0;
  selection.value = null;
  selectedConn.value = null;
  model.reset();
  applyEvents([]);
  setViewingRecording(false);
}

/** Back to live, looking at one connection (the replay of a recorded one). */
export function showLiveConnection(conn: number): void {
  backToLive();
  selectedConn.value = conn;
  filters.value = { ...filters.value, conn };
}

let frame = 0;

/** Gaps with no event longer than this (recording time) are shortened to it while playing. */
const MAX_IDLE_MS = 1000;

export function play(): void {
  const rec = recording.value;
  if (!rec || playing.value) return;
  if (scrubTime.value >= rec.last) scrubTo(rec.first);
  playing.value = true;
  let prev = performance.now();
  const tick = (now: number) => {
    if (!playing.value || recording.value !== rec) return;
    let next = scrubTime.value + (now - prev) * playSpeed.value;
    prev = now;
    const upcoming = rec.reached[shown];
    if (upcoming !== undefined && upcoming - next > MAX_IDLE_MS) next = upcoming - MAX_IDLE_MS;
    scrubTo(next);
    if (next >= rec.last) {
      playing.value = false;
      return;
    }
    frame = requestAnimationFrame(tick);
  };
  frame = requestAnimationFrame(tick);
}

export function stopPlaying(): void {
  playing.value = false;
  cancelAnimationFrame(frame);
}

// ---- downloads and the replay --------------------------------------------------------------

/** `wsplay-20250131-142502.jsonl` in local time (the same name the server gives). */
export function recordingFileName(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `wsplay-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.jsonl`;
}

async function apiError(res: Response): Promise<string> {
  const text = await res.text();
  try {
    return (JSON.parse(text) as { error?: string }).error ?? `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Download `path` from the API (with the token) under `name`, or the server's name for it. */
async function download(path: string, name?: string): Promise<void> {
  barError.value = '';
  try {
    const res = await fetch(path, { headers: { 'X-Wsplay-Token': tokenFromUrl() }, cache: 'no-store' });
    if (!res.ok) throw new Error(await apiError(res));
    const given = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1];
    saveBlob(await res.blob(), name ?? given ?? 'wsplay-download');
  } catch (err) {
    barError.value = `Download failed: ${(err as Error).message}`;
  }
}

/** Save the live capture (the store's events) as a recording. */
export const saveRecording = () => download('/api/recording', recordingFileName());
export const exportCapture = (format: 'pcapng' | 'har') => download(`/api/export?format=${format}`);

/** Replay the recording on view against the server that runs now (through the wiretap). */
export async function replayRecording(): Promise<void> {
  const rec = recording.value;
  if (!rec || replayState.value.state === 'running') return;
  replayState.value = { state: 'running' };
  try {
    const res = await fetch('/api/replay', {
      method: 'POST',
      headers: { 'X-Wsplay-Token': tokenFromUrl(), 'Content-Type': 'application/x-ndjson' },
      body: rec.text,
      cache: 'no-store',
    });
    if (!res.ok) throw new Error(await apiError(res));
    replayState.value = { state: 'done', report: (await res.json()) as ReplayResponse };
  } catch (err) {
    replayState.value = { state: 'failed', error: (err as Error).message };
  }
}
