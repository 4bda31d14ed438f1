import { signal } from '@preact/signals';
import type { WireEvent } from '../../server/capture/events.ts';
import { recording } from './recording.ts';
import { filters, model, replayHistory, selectedConn, selection, setEventScope, version } from './state.ts';

/**
 * Each lesson starts on a clean inspector: opening a lesson (or the free playground) starts a new
 * capture view, the connections opened from then on. The earlier views' connections are kept
 * (the wiretap's history holds them) and one click away ("previous: lesson 03 (5 connections)"),
 * but never mixed in: the timeline, the sequence diagram, the Handshake tab and the peer chips
 * all read the model, and the model only takes the events of the view on show.
 *
 * A view is a range of connection ids: the wiretap numbers connections 1, 2, 3, ... for its
 * whole life, so "from #12" is exact, survives a reconnect of the page (the history is sent
 * again and filtered the same way), and costs one comparison per event.
 */

export interface CaptureView {
  /** The lesson's folder name, or null: the free playground. */
  lesson: string | null;
  /** The first connection id of the view. */
  fromConn: number;
  /** The last one (a closed view: an earlier lesson), or null: the view of the open lesson, still growing. */
  toConn: number | null;
  /** Connections seen in it so far. */
  connections: number;
}

/** Earlier views kept for the switch (the oldest go first). */
const MAX_VIEWS = 20;
const STORE_KEY = 'wsplay-capture-views';

/** Every view, oldest first; the last is the open lesson's (toConn null). */
export const captureViews = signal<CaptureView[]>([]);
/** The view on show: an index into captureViews (the last one unless the learner looks back). */
export const shownView = signal(0);

/** The highest connection id the wiretap reported, in any view: where the next view starts. */
let lastConn = 0;
/** When the wiretap whose connections the views number started (epoch ms), once known. */
let epoch: number | null = null;
/** The first view is a placeholder until the playground says which lesson is open. */
let adopted = false;
/** Connection ids counted per view (one count per connection, not per event). */
const counted = new Set<number>();

function save(): void {
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify({ views: captureViews.peek(), lastConn, epoch }));
  } catch {
    // Private mode or no storage: the views last as long as the page.
  }
}

function restore(): void {
  try {
    const raw = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? 'null') as { views?: unknown; lastConn?: unknown } | null;
    if (!raw || !Array.isArray(raw.views)) return;
    const views = raw.views
      .filter((v): v is CaptureView => !!v && typeof v === 'object' && Number.isInteger((v as CaptureView).fromConn) && ((v as CaptureView).toConn === null || Number.isInteger((v as CaptureView).toConn)))
      .slice(-MAX_VIEWS)
      .map((v) => ({ lesson: typeof v.lesson === 'string' ? v.lesson : null, fromConn: v.fromConn, toConn: v.toConn, connections: 0 }));
    if (views.length === 0) return;
    captureViews.value = views;
    shownView.value = views.length - 1;
    lastConn = Number.isInteger(raw.lastConn) ? (raw.lastConn as number) : 0;
    epoch = typeof (raw as { epoch?: unknown }).epoch === 'number' ? (raw as { epoch: number }).epoch : null;
    adopted = true;
  } catch {
    // A broken entry: start with one view.
  }
}

function inView(v: CaptureView | undefined, conn: number): boolean {
  if (!v) return true;
  return conn >= v.fromConn && (v.toConn === null || conn <= v.toConn);
}

/** The model's filter (state.ts): called for every event the stream brings. */
function admit(e: WireEvent): boolean {
  // A wiretap started afresh (the playground restarted) numbers from 1 again: the views of
  // the old one mean nothing now. Its start, in wall-clock time, tells one wiretap from another.
  if (e.type === 'open' && e.wall !== undefined) {
    const started = Math.round(e.wall - e.t);
    if (epoch !== null && Math.abs(started - epoch) > 1000) {
      const current = captureViews.peek().at(-1)!;
      captureViews.value = [{ lesson: current.lesson, fromConn: 1, toConn: null, connections: 0 }];
      shownView.value = 0;
      counted.clear();
      lastConn = 0;
    }
    if (epoch === null || Math.abs(started - epoch) > 1000) {
      epoch = started;
      save();
    }
  }
  if (e.conn > lastConn) lastConn = e.conn;
  const all = captureViews.peek();
  if (e.type === 'open' && !counted.has(e.conn)) {
    const i = all.findIndex((v) => inView(v, e.conn));
    if (i >= 0) {
      counted.add(e.conn);
      all[i] = { ...all[i]!, connections: all[i]!.connections + 1 };
      captureViews.value = [...all];
    }
  }
  return inView(all[shownView.peek()], e.conn);
}

/** What the learner had selected belongs to the view they leave. */
function clearSelection(): void {
  selection.value = null;
  selectedConn.value = null;
  if (filters.peek().conn !== null) filters.value = { ...filters.peek(), conn: null };
}

/**
 * The playground's workspace changed (a lesson opened, or the free playground): a new view from
 * the next connection, unless the last view is already this one's.
 */
export function startView(lesson: string | null): void {
  const views = captureViews.peek();
  const last = views[views.length - 1];
  // A page opened on a running playground: what it has seen so far is the open lesson's.
  if (!adopted && views.length === 1 && last) {
    adopted = true;
    captureViews.value = [{ ...last, lesson }];
    save();
    return;
  }
  adopted = true;
  if (last && last.toConn === null && last.lesson === lesson) return;
  const next: CaptureView[] = views.map((v) => (v.toConn === null ? { ...v, toConn: Math.max(v.fromConn - 1, lastConn) } : v));
  // An earlier view with no connection at all is not worth a switch.
  const kept = next.filter((v) => v.connections > 0 || v.toConn === null).slice(-(MAX_VIEWS - 1));
  kept.push({ lesson, fromConn: lastConn + 1, toConn: null, connections: 0 });
  captureViews.value = kept;
  shownView.value = kept.length - 1;
  save();
  clearSelection();
  // The new view has no connection yet: the model starts empty, nothing to fetch again. (A
  // recording on view keeps the model; back to live, the stream is replayed through the view.)
  if (!recording.peek()) model.reset();
  version.value++;
}

/** Show one view's connections (an earlier lesson's, or back to the current one). */
export function showView(index: number): void {
  const views = captureViews.peek();
  if (index < 0 || index >= views.length) return;
  if (index === shownView.peek()) return;
  shownView.value = index;
  save();
  clearSelection();
  // The model holds only the view on show: rebuild it from the wiretap's history.
  replayHistory();
  version.value++;
}

/** The first connection id of the view on show (a lesson's run starts at or after it). */
export function viewStart(): number {
  return captureViews.peek()[shownView.peek()]?.fromConn ?? 1;
}

/** The highest connection id seen so far (the next run's connections come after it). */
export function lastConnection(): number {
  return lastConn;
}

/** The view on show is an earlier one: the live connections of the open lesson are hidden. */
export function lookingBack(): boolean {
  const views = captureViews.value;
  return shownView.value < views.length - 1;
}

restore();
if (captureViews.peek().length === 0) captureViews.value = [{ lesson: null, fromConn: 1, toConn: null, connections: 0 }];
setEventScope(admit);
