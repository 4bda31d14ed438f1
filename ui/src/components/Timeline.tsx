import { signal } from '@preact/signals';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { FrameEvent, MessageEvent } from '../../../server/capture/events.ts';
import { opcodeName } from '../../../server/protocol/opcodes.ts';
import { appBadge, appFilterActive, exchangeBadge, matchesApp, NO_APP_FILTER, type AppFilter } from '../lib/app-layer.ts';
import { base64ToBytes, formatBytes, preview } from '../lib/bytes.ts';
import { plural } from '../lib/plural.ts';
import { rememberViewSize, viewSize } from '../lib/view-size.ts';
import { RowSlots } from '../lib/row-slots.ts';
import { InsightBadge, insightsOfFrame, insightsOfRow } from './Insights.tsx';
import { recording, scrubTime } from '../recording.ts';
import {
  detailTab,
  filters,
  frameKey,
  model,
  paused,
  rowMode,
  runnerStatus,
  sameRow,
  selectedConn,
  selection,
  version,
  wiretapNow,
  inNextFrame,
  type Conn,
  type Filters,
  type HttpExchange,
  type MessageRow,
} from '../state.ts';
import { appViolationsOf, frameMessage, messageApp } from './AppFilters.tsx';
import { FilterBar } from './FilterBar.tsx';
import type { EventList } from '../lib/event-log.ts';

const ROW_HEIGHT = 24;
/** Newest rows looked at again while their decoded message may still come (Frames mode, app filters). */
const RECHECK_TAIL = 256;
/** A filter looks at rows for at most this long per render (a long history takes several). */
const FILTER_SLICE_MS = 10;

// ---- the time column ---------------------------------------------------------------------------

/**
 * How the time column reads, as the learner picks (kept across reloads): seconds from the first
 * row in view, so a first frame reads 0.000s and not "127.590s" (the wiretap's own clock, which
 * started with the playground), or the wall-clock time it happened.
 */
export type TimeMode = 'first' | 'clock';
const TIME_MODE_KEY = 'wsplay.timeline.time';
function storedTimeMode(): TimeMode {
  try {
    return localStorage.getItem(TIME_MODE_KEY) === 'clock' ? 'clock' : 'first';
  } catch {
    return 'first';
  }
}
export const timeMode = signal<TimeMode>(storedTimeMode());
timeMode.subscribe((m) => {
  try {
    localStorage.setItem(TIME_MODE_KEY, m);
  } catch {
    // Storage refused (a private window): the choice lasts until the page reloads.
  }
});

/**
 * The wall-clock time (epoch ms) of the wiretap's t = 0: exact from an open event's `wall` (also
 * in a recording), else estimated from the wiretap's clock reports; null before either exists.
 */
let zeroOf: { generation: number; scanned: number; zero: number | null } = { generation: -1, scanned: 0, zero: null };
function wallZero(): number | null {
  if (zeroOf.generation !== model.generation || zeroOf.scanned > model.events.length) zeroOf = { generation: model.generation, scanned: 0, zero: null };
  if (zeroOf.zero === null) {
    const events = model.events;
    for (let i = zeroOf.scanned; i < events.length; i++) {
      // By the log's type column: only an open event is looked at (no frame is made).
      if (events.type(events.base + i) !== 'open') continue;
      const e = events.at(i)!;
      if (e.type === 'open' && typeof e.wall === 'number') {
        zeroOf.zero = e.wall - e.t;
        break;
      }
    }
    zeroOf.scanned = events.length;
  }
  if (zeroOf.zero !== null) return zeroOf.zero;
  const now = wiretapNow();
  return now === null ? null : Date.now() - now;
}

/** `17:16:22.123`, local time. */
function clockTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The time column's text for an event at wiretap time `t`; `first` is the first row in view's. */
export function timeText(mode: TimeMode, t: number, first: number, zero: number | null): string {
  if (mode === 'clock' && zero !== null) return clockTime(zero + t);
  return `${((t - first) / 1000).toFixed(3)}s`;
}

/** Time since the row above: ms below a second, then seconds, so the column stays narrow. */
function formatDelta(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  return `${(ms / 60_000).toFixed(1)}min`;
}
/**
 * Rows drawn past each edge of the view, so a scroll does not show an empty band before the next
 * draw. Under a flood every drawn row is new on each draw (issue 19): each one costs the draw.
 */
const OVERSCAN = 6;

type Row = { frame: FrameEvent; index: number } | { msg: MessageRow; index: number } | { http: HttpExchange; index: number };
type Item = FrameEvent | MessageRow | HttpExchange;

interface FilterCache {
  /** The filters and mode the rows were computed for. */
  key: string;
  /** Absolute indices of the rows that pass the filters, ascending. */
  rows: number[];
  /** Absolute index of the next item to look at. */
  next: number;
  version: number;
}

function toRow(item: Item, index: number, mode: 'frames' | 'messages'): Row {
  if (item.type === 'handshake') return { http: item, index };
  return mode === 'frames' ? { frame: item as FrameEvent, index } : { msg: item as MessageRow, index };
}

const eventOf = (row: Row): Item => ('frame' in row ? row.frame : 'msg' in row ? row.msg : row.http);

/** Bytes of a base64 string without decoding it. */
function base64Length(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.max(0, (b64.length / 4) * 3 - pad);
}

/** An HTTP body's size: its Content-Length, else what the decoder kept of it. */
function bodyLength(headers: [string, string][], body: string | undefined): number {
  const cl = headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1];
  const n = cl === undefined ? NaN : Number(cl.trim());
  return Number.isSafeInteger(n) && n >= 0 ? n : body ? new TextEncoder().encode(body).length : 0;
}

/** An exchange's bytes each way: the head as sent and its body. */
function exchangeSizes(h: HttpExchange): { up: number; down: number; body: number } {
  const up = h.request ? base64Length(h.request.raw) + bodyLength(h.request.headers, undefined) : 0;
  const body = h.response ? bodyLength(h.response.headers, h.response.body) : 0;
  const down = h.response ? base64Length(h.response.raw) + body : 0;
  return { up, down, body };
}

/** A failed exchange: an error status or a refused upgrade. A 200 answer to plain HTTP is not one. */
export function exchangeFailed(h: HttpExchange): boolean {
  return h.outcome === 'refused' || (h.response?.status ?? 0) >= 400;
}

/** First position in an ascending array whose value is >= x. */
function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function badgeOf(row: Row): string {
  if ('http' in row) return 'HTTP';
  if ('frame' in row) return opcodeName(row.frame.opcode);
  const m = row.msg;
  if (m.type === 'message') return m.opcode === 1 ? 'TEXT' : 'BINARY';
  return m.type.toUpperCase();
}

/** Previews are computed once per event: filtering 100,000 rows must not decode them again. */
const previews = new WeakMap<object, string>();

function previewOf(row: Row): string {
  const ev = eventOf(row);
  let p = previews.get(ev);
  if (p === undefined) {
    p = computePreview(row);
    previews.set(ev, p);
  }
  return p;
}

function computePreview(row: Row): string {
  if ('http' in row) {
    const h = row.http;
    const req = h.request ? `${h.request.method} ${h.request.path}` : '(request not seen)';
    const res = h.response ? `${h.response.status} ${h.response.reason}`.trim() : 'no answer';
    const { up, down } = exchangeSizes(h);
    const took = h.request && h.response ? ` · ${formatDelta(h.response.t - h.request.t)}` : '';
    return `${req} → ${res}${took} · ↑ ${formatBytes(up)} ↓ ${formatBytes(down)}`;
  }
  if ('frame' in row) {
    const f = row.frame;
    const bytes = base64ToBytes(f.payload);
    if (f.opcode === 8 && bytes.length >= 2) {
      const code = (bytes[0]! << 8) | bytes[1]!;
      return `${code} ${preview(bytes.subarray(2), true)}`;
    }
    if (f.rsv1 && model.conns.get(f.conn)?.handshake?.deflate) return `(compressed) ${preview(bytes, false)}`;
    return preview(bytes, f.opcode === 1 || f.opcode === 0);
  }
  const m = row.msg;
  if (m.type === 'message') return m.text !== undefined ? preview(new TextEncoder().encode(m.text), true) : preview(base64ToBytes(m.base64 ?? ''), false);
  if (m.type === 'close') return `${m.explanation}${m.reason ? ` "${m.reason}"` : ''}`;
  return preview(base64ToBytes(m.payload), false);
}

/**
 * The Length column: a frame's (or message's) payload, and an HTTP exchange's bytes on the wire,
 * request and response with their headers. A poll's 2-byte `[]` body costs a few hundred bytes
 * of headers each time: lesson 1's point, which the body length alone would hide.
 */
function lengthOf(row: Row): number {
  if ('http' in row) {
    const { up, down } = exchangeSizes(row.http);
    return up + down;
  }
  if ('frame' in row) return row.frame.length;
  const m = row.msg;
  if (m.type === 'message') return m.length;
  if (m.type === 'close') return m.reason.length + 2;
  return base64ToBytes(m.payload).length;
}

/** What the Length column counts, for its tooltip. */
function lengthTitle(row: Row): string {
  if ('http' in row) {
    const { up, down, body } = exchangeSizes(row.http);
    return `${formatBytes(up + down)} on the wire: request ${formatBytes(up)}, response ${formatBytes(down)} (of which the body is ${formatBytes(body)})`;
  }
  if ('frame' in row) return `Payload length: ${formatBytes(row.frame.length)} (the frame's header adds ${formatBytes(row.frame.headerLength)})`;
  return 'Payload length';
}

/** Sent by the wiretap (the crafter, a fault's close frame), not by the peer (FrameEvent.injected). */
function injectedOf(row: Row): boolean {
  if ('http' in row) return false;
  return ('frame' in row ? row.frame.injected : row.msg.injected) === true;
}

/** The tooltip of a row's "injected" badge, naming who it pretends to be. */
export function injectedTitle(dir: 'client' | 'server'): string {
  return `Injected by the wiretap (the frame crafter in Break it, or a fault's close frame), not sent by the ${dir}: it reached the ${dir === 'client' ? 'server' : 'client'} as if the ${dir} had sent it.`;
}

/** The decoded message of a row: a message's own, or (Frames mode) the message a frame belongs to. */
function appMessageOf(row: Row): MessageEvent | undefined {
  if ('http' in row) return undefined;
  if ('frame' in row) return frameMessage(row.frame);
  return messageApp(row.msg) ? (row.msg as MessageEvent) : undefined;
}

function kindOf(row: Row): 'data' | 'control' | 'http' {
  if ('http' in row) return 'http';
  const control = 'frame' in row ? (row.frame.opcode & 8) !== 0 : row.msg.type !== 'message';
  return control ? 'control' : 'data';
}

function matcher(f: Filters): ((s: string) => boolean) | null {
  if (!f.text) return null;
  if (f.regex) {
    try {
      const re = new RegExp(f.text, 'i');
      return (s) => re.test(s);
    } catch {
      return () => false;
    }
  }
  const needle = f.text.toLowerCase();
  return (s) => s.toLowerCase().includes(needle);
}

/**
 * The rows from `c.next` on, no filter set: every one passes. Its own small function, like
 * filterSlice: a loop inside the Timeline component made V8 compile the whole component (and
 * again after each deoptimization) on the flood's first draws, on the cores the page needed (issue 19).
 */
function passAll(c: FilterCache, base: number, end: number): number {
  let abs = Math.max(c.next, base);
  for (; abs < end; abs++) c.rows.push(abs);
  return abs;
}

/** The rows from `c.next` on that pass the filters, for at most FILTER_SLICE_MS; returns where it stopped. */
function filterSlice(
  c: FilterCache,
  source: EventList<Item>,
  base: number,
  end: number,
  mode: 'frames' | 'messages',
  f: Filters,
  appF: AppFilter,
  match: ((s: string) => boolean) | null,
): number {
  const sliceStart = performance.now();
  let abs = Math.max(c.next, base);
  for (; abs < end; abs++) {
    if ((abs & 255) === 0 && performance.now() - sliceStart > FILTER_SLICE_MS) break;
    const item = source.at(abs - base)!;
    const row = toRow(item, abs, mode);
    if (f.conn !== null && item.conn !== f.conn) continue;
    // An HTTP exchange goes both ways (request and response): it passes either direction.
    if (f.dir !== 'both' && item.type !== 'handshake' && item.dir !== f.dir) continue;
    if (f.kind !== 'all' && kindOf(row) !== f.kind) continue;
    const decoded = appMessageOf(row);
    if (!matchesApp(decoded?.app, appF)) continue;
    if (match && !match(`${badgeOf(row)} ${decoded?.app ? `${appBadge(decoded.app)} ` : ''}${previewOf(row)}`)) continue;
    c.rows.push(abs);
  }
  return abs;
}

function regexError(f: Filters): string | null {
  if (!f.regex || !f.text) return null;
  try {
    new RegExp(f.text);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Why a connection that has no row of this mode has none: how it ended, or where it stands. */
function connEmptyText(c: Conn, mode: 'frames' | 'messages'): string {
  const id = `#${c.id}`;
  const noun = mode === 'frames' ? 'frame' : 'message';
  const hs = c.handshake;
  const end = c.end;
  // The server said 101, but with the wrong Sec-WebSocket-Accept: the client must refuse it (a
  // browser drops TCP, 1006), so this is no WebSocket, whatever the wiretap still sees open.
  if (hs?.response?.status === 101 && !hs.acceptValid) {
    return `${id}: the upgrade failed. The server answered 101 Switching Protocols, but its Sec-WebSocket-Accept is wrong, so the client refused the upgrade (a browser closes with 1006): no ${noun} can cross it. See the Handshake tab.`;
  }
  if (!end) {
    if (c.status === 'connecting') return `${id} is still in its opening handshake: no ${noun}s yet.`;
    return `${id} is open; no ${noun} has crossed it yet.`;
  }
  if (end.code !== null) {
    const runner = recording.value ? null : runnerStatus.value;
    let why = '';
    // 1006's explanation says "without a close frame"; the sentence after it says who dropped TCP.
    let what = end.explanation;
    if (end.code === 1006 && end.by !== 'wiretap') what = what.replace(/ \(.*\)$/, '');
    if (end.code === 1006 && end.by === 'server') {
      why =
        runner?.status === 'crashed'
          ? ` The server closed TCP without a close frame: ${runner.file} crashed (its output is in the server console).`
          : ` The server closed TCP without a close frame (did ${runner?.file ?? 'the server'} crash?).`;
    } else if (end.code === 1006 && end.by === 'client') why = ' The client closed TCP without a close frame.';
    else if (end.by === 'wiretap') why = ` The wiretap ended it${end.error ? ` (${end.error})` : ''}.`;
    else if (end.error) why = ` Socket error: ${end.error}.`;
    return `${id} ended before any ${noun}: ${what}.${why}`;
  }
  // No WebSocket was established: the handshake says why.
  if (end.by === 'wiretap' && end.error) return `${id} never became a WebSocket: the wiretap could not reach the server (${end.error}).`;
  if (!hs || hs.outcome === 'incomplete') {
    const problem = hs?.problems[0] ?? 'No HTTP request was seen.';
    return `${id} ended before the WebSocket handshake finished: ${problem} See the Handshake tab.`;
  }
  const answer = hs.response ? `${hs.response.status} ${hs.response.reason}`.trim() : 'nothing';
  if (hs.outcome === 'refused') return `${id} never became a WebSocket: the server answered ${answer} to the upgrade request. See the Handshake tab.`;
  if (hs.outcome === 'plain-http') return `${id} was plain HTTP, not a WebSocket${hs.request ? ` (${hs.request.method} ${hs.request.path}, answered ${answer})` : ''}. See the Handshake tab.`;
  if (hs.outcome === 'not-http') return `${id} never became a WebSocket: the client's first bytes are not an HTTP request.`;
  return `${id} ended with no ${noun}s: ${end.explanation}.`;
}

/** Items of `list` on connection `conn`, by the log's columns (none is made). */
function countOfConn(list: EventList, conn: number): number {
  let n = 0;
  for (let i = 0; i < list.length; i++) if (model.events.conn(list.abs(i)) === conn) n++;
  return n;
}

/** What an empty timeline says: what happened to the filtered connection, the recording's point, or the filters. */
function emptyText(mode: 'frames' | 'messages', f: Filters, total: number): string {
  const noun = mode === 'frames' ? 'frame' : 'message';
  if (f.conn !== null) {
    const c = model.conns.get(f.conn);
    if (c) {
      const own = mode === 'frames' ? c.frames.client + c.frames.server : countOfConn(model.messages, c.id);
      const http = c.exchanges.length;
      if (own === 0 && http === 0) return connEmptyText(c, mode);
      const has = [own > 0 ? plural(own, noun) : '', http > 0 ? plural(http, 'HTTP exchange') : ''].filter(Boolean).join(' and ');
      return `No row matches the filters (#${c.id} has ${has}).`;
    }
  }
  if (total === 0) {
    const rec = recording.value;
    if (rec) return scrubTime.value < rec.last ? `No ${noun}s yet at this point of the recording: move the scrubber on, or press play.` : `This recording holds no ${noun}s.`;
    return 'Nothing on the wire yet.';
  }
  return 'No row matches the filters.';
}

/** The rows' area's height when the Timeline was last open (its bar is taller than the diagram's). */
let rowsHeight = 0;

export function Timeline() {
  const v = version.value;
  const f = filters.value;
  const mode = rowMode.value;
  const isPaused = paused.value;
  const frozen = useRef<{ rows: number[]; total: number } | null>(null);
  const frozenSearching = useRef(false);
  const cache = useRef<FilterCache | null>(null);

  // Rows are absolute indices into the frame (or message) list. The lists only grow at the end
  // and lose their oldest items at the front, so each batch filters just the new items: at
  // 10,000 frames a second over 100,000 rows, re-filtering everything per animation frame
  // would be the page's longest task.
  const base = mode === 'frames' ? model.frameRowsTrimmed : model.messageRowsTrimmed;
  const source: EventList<Item> = mode === 'frames' ? model.frameRows : model.messageRows;
  const appF = f.app ?? NO_APP_FILTER;
  const key = `${model.generation}|${mode}|${f.conn}|${f.dir}|${f.kind}|${f.regex}|${f.text}|${appF.protocol}|${appF.name}|${appF.id}`;
  let c = cache.current;
  // A reconnect resets the model (the lists shrink): start over then too.
  if (!c || c.key !== key || c.next > base + source.length) c = cache.current = { key, rows: [], next: base, version: v };
  if (c.rows.length > 0 && c.rows[0]! < base) c.rows = c.rows.slice(lowerBound(c.rows, base));
  const match = matcher(f);
  // No filter on: every row passes, and nothing per row is needed to say so (a row object and a
  // lookup of its message each, 100,000 of them when the Timeline opens again after a burst).
  const filtering = f.conn !== null || f.dir !== 'both' || f.kind !== 'all' || match !== null || appFilterActive(appF);
  // A filter over a long history is applied a slice at a time (FILTER_SLICE_MS), the rest in the
  // next renders: typing a filter over 100,000 frames was one task of a second, the page frozen.
  const end = base + source.length;
  const abs = filtering ? filterSlice(c, source, base, end, mode, f, appF, match) : passAll(c, base, end);
  c.next = abs;
  /** Rows the filter has yet to look at (a long history, a slice a render). */
  const searching = end - abs;
  // Frames mode filtered by the application layer: a frame's message (and its `app`) may be
  // applied in a later slice than the frame. The newest data frames without one yet are looked
  // at again with the next batch (at most RECHECK_TAIL rows, so the cost stays bounded).
  if (searching === 0 && mode === 'frames' && appFilterActive(appF)) {
    let from = c.next;
    for (let abs = c.next - 1; abs >= Math.max(base, c.next - RECHECK_TAIL); abs--) {
      const item = source.at(abs - base)!;
      if (item.type === 'frame' && (item.opcode & 8) === 0 && !frameMessage(item)) from = abs;
    }
    if (from < c.next) {
      c.rows.length = lowerBound(c.rows, from);
      c.next = from;
    }
  }
  c.version = v;
  const live = { rows: c.rows, total: source.length };

  if (!isPaused) frozen.current = null;
  // Paused while a filter still searched: what it finds is shown as it finds it.
  else if (!frozen.current || frozenSearching.current) frozen.current = { rows: live.rows.slice(), total: live.total };
  if (isPaused) frozenSearching.current = searching > 0;
  const { rows, total } = frozen.current ?? live;
  const newWhilePaused = isPaused ? live.rows.length - rows.length : 0;
  const rowAt = (i: number): Row | null => {
    const item = source.at(rows[i]! - base);
    return item ? toRow(item, rows[i]!, mode) : null;
  };

  const scroller = useRef<HTMLDivElement>(null);
  /** Where the learner scrolled to (a ref: following the newest rows moves it without a render). */
  const scrollTop = useRef(0);
  const [, redraw] = useState(0);
  // The filter's next slice, in a task of its own (input and paint get their turn between).
  useEffect(() => {
    if (searching === 0) return;
    const t = setTimeout(() => redraw((n) => n + 1), 0);
    return () => clearTimeout(t);
  });
  const [height, setHeight] = useState(() => rowsHeight || viewSize.height || 400);
  const follow = useRef(true);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    // The observer reports the height once laid out, in the frame: reading clientHeight here
    // would lay the page out in the task that opens the view (issue 19). Until then, the panel's
    // height as last measured (lib/view-size.ts).
    const ro = new ResizeObserver(() => setHeight((rowsHeight = rememberViewSize(el).height)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Following the newest rows, the scroll position is the bottom, known before the browser lays
  // anything out: the rows in view come from it, and the scroll that follows needs no second
  // render (at 10,000 frames a second a render per batch is what the page has time for).
  const following = follow.current && !isPaused;
  const top = following ? Math.max(0, rows.length * ROW_HEIGHT - height) : scrollTop.current;
  const followTo = useRef(0);
  followTo.current = rows.length * ROW_HEIGHT;
  /** Rows in the list at the last draw. */
  const rowsDrawn = useRef(0);
  /** Where our own scroll to the newest row left the list: its scroll event is not the learner's. */
  const ownScroll = useRef(-1);
  useLayoutEffect(() => {
    // In the next frame, where the page is laid out anyway: set here, in the render's task, the
    // scroll position would lay out the page at once (issue 19). The rows drawn are the bottom's
    // already, and nothing is painted before the frame. The browser clamps it to the bottom.
    inNextFrame(() => {
      const el = scroller.current;
      if (el && follow.current && !paused.peek()) {
        el.scrollTop = followTo.current;
        ownScroll.current = el.scrollTop;
      }
    });
  }, [rows.length, isPaused]);

  // Under a flood (following, and a view's worth of rows new since the last draw) no row is drawn
  // past the top edge: every row is new on each draw and each one costs it (issue 19). A scroll up
  // stops following and draws again with the margin.
  const flood = following && rows.length - rowsDrawn.current >= height / ROW_HEIGHT;
  rowsDrawn.current = rows.length;
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - (flood ? 1 : OVERSCAN));
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
  const sel = selection.value;
  const slots = useRef<RowSlots | null>(null);
  slots.current ??= new RowSlots();

  const open = (row: Row) => {
    if ('http' in row) {
      selection.value = { kind: 'handshake', conn: row.http.conn, exchange: row.http };
      selectedConn.value = row.http.conn;
      detailTab.value = 'handshake';
    } else if ('frame' in row) {
      selection.value = { kind: 'frame', key: frameKey(row.frame.conn, row.frame.dir, row.frame.seq) };
      selectedConn.value = row.frame.conn;
      detailTab.value = 'frame';
    } else {
      selection.value = { kind: 'message', row: row.msg, conn: row.msg.conn };
      selectedConn.value = row.msg.conn;
      detailTab.value = 'message';
    }
  };

  const tMode = timeMode.value;
  const firstRow = rows.length > 0 ? rowAt(0) : null;
  const t0 = firstRow ? eventOf(firstRow).t : 0;
  const zero = tMode === 'clock' ? wallZero() : null;
  const drawn: Array<{ i: number; row: Row }> = [];
  for (let i = first; i < last; i++) {
    const row = rowAt(i);
    if (row) drawn.push({ i, row });
  }
  // The elements for a view's worth of rows and its margins are kept, the ones no row uses as
  // spares (hidden, their text empty): a flood's first draw fills them instead of making them.
  const pool = Math.ceil(height / ROW_HEIGHT) + 2 * OVERSCAN + 1;
  const { keys, spare } = slots.current.assign(drawn.map((d) => rows[d.i]!), pool);
  const visible = [];
  for (let d = 0; d < drawn.length; d++) {
    const { i, row } = drawn[d]!;
    const ev = eventOf(row);
    const prev = i > 0 ? rowAt(i - 1) : null;
    const prevT = prev ? eventOf(prev).t : ev.t;
    const conn = model.conns.get(ev.conn);
    const key = 'frame' in row ? frameKey(row.frame.conn, row.frame.dir, row.frame.seq) : null;
    const violations = key ? model.violationsByFrame.get(key)?.length ?? 0 : 0;
    const insights = key ? insightsOfFrame(key) : 'msg' in row ? insightsOfRow(row.msg) : [];
    const failed = 'http' in row && exchangeFailed(row.http);
    const injected = injectedOf(row);
    // The application badge sits on a message's row, or on the frame that completes it (Frames mode).
    const decoded = appMessageOf(row);
    const app = decoded && (!('frame' in row) || row.frame.seq === decoded.lastFrame) ? decoded.app : undefined;
    // An HTTP exchange carries the connection's own findings (a mismatch told by its handshake).
    const brokenMsg = 'msg' in row ? (row.msg.type === 'message' ? row.msg : undefined) : app ? decoded : undefined;
    const appBroken = brokenMsg ? appViolationsOf(brokenMsg) : 'http' in row ? (model.appViolationsByConn.get(row.http.conn) ?? []).filter((v) => !v.at) : [];
    const selected = key
      ? sel?.kind === 'frame' && sel.key === key
      : 'http' in row
        ? sel?.kind === 'handshake' && sel.exchange === row.http
        : sel?.kind === 'message' && 'msg' in row && sameRow(sel.row, row.msg);
    const badge = badgeOf(row);
    const dir = ev.type === 'handshake' ? 'http' : ev.dir;
    visible.push(
      <div
        // A row keeps its element while in view; a new row takes one a row left (RowSlots).
        key={keys[d]}
        role="row"
        aria-selected={selected}
        class={`trow ${dir}${selected ? ' selected' : ''}${violations || failed || appBroken.length ? ' has-violation' : ''}${injected ? ' injected' : ''}`}
        style={{ top: `${i * ROW_HEIGHT}px` }}
        onClick={() => open(row)}
        data-dir={dir}
        data-badge={badge}
        title={'http' in row ? `#${ev.conn} HTTP exchange ${row.http.exchange ?? ''}: ${previewOf(row)}. Click to see its headers.` : undefined}
      >
        <span class="c-time" role="cell" title={tMode === 'first' ? `${(ev.t / 1000).toFixed(3)} s on the wiretap's clock` : undefined}>
          {timeText(tMode, ev.t, t0, zero)}
        </span>
        <span class="c-delta muted" role="cell">
          {/* HTTP exchanges sit where their request began; the row before may have come later.
              One text node, not two: every drawn row is new on each draw under a flood. */}
          {`${ev.t >= prevT ? '+' : '−'}${formatDelta(Math.abs(ev.t - prevT))}`}
        </span>
        <span class="c-conn" role="cell">
          <span class="swatch" style={{ background: conn?.color }} />
          {`#${ev.conn}`}
          {conn?.instance && (
            <sub class="instance" title={`The wiretap handed connection #${ev.conn} to server process ${conn.instance} (this lesson runs server.js as several processes, in turn)`}>
              {conn.instance}
            </sub>
          )}
        </span>
        <span class="c-dir" role="cell" title={dir === 'http' ? 'request and response' : dir === 'client' ? 'client → server' : 'server → client'}>
          {dir === 'http' ? '⇄' : dir === 'client' ? '→' : '←'}
        </span>
        <span class="c-badge" role="cell">
          <span class={`badge op-${badge.toLowerCase().replace(/[^a-z]/g, '')}`}>{badge}</span>
          {'http' in row && (
            <span class={`badge http-status${failed ? ' bad' : ''}`} title={row.http.response ? `${row.http.response.status} ${row.http.response.reason}` : 'no answer'}>
              {row.http.response ? row.http.response.status : '…'}
            </span>
          )}
          {'frame' in row && !row.frame.fin && <span class="badge frag" title="FIN=0: more fragments follow">…</span>}
          {'frame' in row && row.frame.rsv1 && (
            <span class="badge rsv" title={conn?.handshake?.deflate ? 'RSV1: compressed (permessage-deflate)' : 'RSV1 set, but no extension was negotiated'}>
              {conn?.handshake?.deflate ? 'z' : 'rsv1'}
            </span>
          )}
        </span>
        <span class="c-len" role="cell" title={lengthTitle(row)}>
          {lengthOf(row).toLocaleString('en-US')}
        </span>
        <span class="c-preview" role="cell">
          {injected && dir !== 'http' && (
            <span class="badge injected" title={injectedTitle(dir)}>
              ✎ injected
            </span>
          )}
          {violations > 0 && <span class="badge violation" title="This frame breaks a rule of RFC 6455">✗</span>}
          <InsightBadge list={insights} />
          {failed && <span class="badge violation" title="The request failed: an error status or a refused upgrade">✗</span>}
          {appBroken.length > 0 && (
            <span class="badge violation" title={appBroken.map((v) => `${v.message} (${v.section})`).join('\n')}>
              ✗
            </span>
          )}
          {'http' in row && row.http.app && exchangeBadge(row.http.app, row.http.request?.method) !== null && (
            <span class="badge app app-socketio" title="The Engine.IO packets of this long-polling exchange, decoded (the Handshake tab lists them)">
              {exchangeBadge(row.http.app, row.http.request?.method)}
            </span>
          )}
          {app && (
            <span class={`badge app app-${app.protocol.replace(/[^a-z]/g, '')}`} title={`${app.summary}\nThe ${app.protocol} layer, decoded: the Message view shows it layer by layer.`}>
              {appBadge(app)}
            </span>
          )}
          {previewOf(row)}
        </span>
      </div>,
    );
  }

  // In the same list as the rows (keys match within one list only): a spare that a row takes, or
  // a row's element that becomes a spare, stays the same element.
  for (const k of spare) {
    visible.push(
      // The same cells as a frame's row, empty: filling it sets their text (RowSlots).
      <div key={k} class="trow spare" aria-hidden="true" style={{ top: '0px' }}>
        <span class="c-time">{''}</span>
        <span class="c-delta muted">{''}</span>
        <span class="c-conn">
          <span class="swatch" />
          {''}
        </span>
        <span class="c-dir">{''}</span>
        <span class="c-badge">
          <span class="badge">{''}</span>
        </span>
        <span class="c-len">{''}</span>
        <span class="c-preview">{''}</span>
      </div>,
    );
  }

  return (
    <div class={tMode === 'clock' ? 'timeline clock' : 'timeline'}>
      <FilterBar shown={rows.length} total={total} err={regexError(f)} searched={searching > 0 ? 1 - searching / Math.max(1, source.length) : null} />
      {isPaused && newWhilePaused > 0 && (
        <div class="paused-note" role="status">
          Paused: {plural(newWhilePaused, 'new row')} waiting. Resume to see them.
        </div>
      )}
      <div
        class="tscroll"
        ref={scroller}
        // Focusable, so the keyboard scrolls a long list too (WCAG 2.1.1; axe: scrollable-region-focusable).
        tabIndex={0}
        role="grid"
        aria-label={mode === 'frames' ? 'Frames' : 'Messages'}
        aria-rowcount={rows.length}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          const wasFollowing = follow.current;
          scrollTop.current = el.scrollTop;
          // Our own scroll to the bottom is reported in a later frame, when more rows may have
          // come: it does not stop following (the learner's scroll up does).
          if (!(wasFollowing && el.scrollTop === ownScroll.current)) follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT * 2;
          // Our own move to the bottom (or the learner's while following) changes nothing drawn.
          if (!(wasFollowing && follow.current && !isPaused)) redraw((n) => n + 1);
        }}
      >
        <div class="tspacer" style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
          {visible}
        </div>
        {rows.length === 0 && <p class="empty">{searching > 0 ? 'Searching the rows for the filters…' : emptyText(mode, f, total)}</p>}
      </div>
    </div>
  );
}
