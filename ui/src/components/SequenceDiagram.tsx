import { insightsOfFrame, insightTitle } from './Insights.tsx';
import { effect } from '@preact/signals';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { AppViolationEvent, Direction, FrameEvent, HandshakeEvent, InsightEvent, MessageEvent, ViolationEvent, WireEvent } from '../../../server/capture/events.ts';
import { explainCloseCode } from '../../../server/protocol/close-codes.ts';
import { opcodeName } from '../../../server/protocol/opcodes.ts';
import { appBadge } from '../lib/app-layer.ts';
import { base64ToBytes, preview, utf8 } from '../lib/bytes.ts';
import { findFanOuts } from '../lib/fan-outs.ts';
import { rememberViewSize, viewSize } from '../lib/view-size.ts';
import { detailTab, filters, followApplied, frameKey, inNextFrame, model, paused, selectedConn, selection, topology, version } from '../state.ts';
import '../diagram.css';

/**
 * The sequence diagram: one lane per client connection, the wiretap and the server; time flows
 * downward, one row per arrow (rows are evenly spaced, not proportional to time, so a burst of
 * frames stays readable). Only the newest arrows are kept (PAGE, more on request), only the
 * rows in sight are in the DOM, and draws are spaced by their cost: under a flood of frames an
 * SVG of thousands of elements laid out on every batch would make the page stutter. Save SVG
 * and Save PNG draw every kept row once and serialise them with their colours resolved.
 */

/** Arrows drawn by default; "Show more" adds this many each time. */
const PAGE = 200;
const ROW = 28;
const HEADER = 50;
const NOTE_ROW = 24;
/** The time column at least; wider when the labels are ("1436.324s"), right-aligned with room to spare. */
const TIME_MIN = 50;
/** Width of one character of a time label (10 px monospace), rounded up. */
const TIME_CHAR_W = 6.4;
const LANE_W = 88;
/** Narrow enough for seven clients beside a readable label span in the 1280 px layout. */
const LANE_MIN = 30;
/** Between the last client lane and the wiretap: room for the wiretap's box. */
const TAP_GAP = 36;
const LABEL_MIN = 220;
/** The label span when many lanes need the room (labels are cut shorter, the full text is in the tooltip). */
const LABEL_FLOOR = 150;
const LABEL_EXPORT = 460;
const RIGHT = 86;
const CHAR_W = 6.6;
/** Wait this many times the last draw's cost before the next one (the diagram takes at most ~1/5 of the main thread). */
const BUSY_FACTOR = 4;
/** Rows drawn above and below the visible ones, so a scroll shows no gap before the next draw. */
const OVERSCAN = 15;
/**
 * Rows drawn above the visible ones while the view follows the newest arrows (a wheel's notch
 * scrolls about three): a scroll up stops following and draws again with OVERSCAN. With the full
 * margin, opening the diagram drew 36 rows for the 21 in view, the open's longest task (issue 19).
 */
const FOLLOW_MARGIN = 4;

type Lane = number | 'tap' | 'server';

interface Arrow {
  id: string;
  kind: 'connect' | 'request' | 'response' | 'frame' | 'violation' | 'end';
  conn: number;
  t: number;
  /** Sender lane for arrows; `tap` for a violation note; both ends for the TCP end. */
  from: Lane;
  to: Lane;
  label: string;
  /** The monospace part of the label (a payload preview). */
  detail?: string;
  title: string;
  cls: string;
  frame?: FrameEvent;
  bad?: boolean;
  /** The frame is cited by an insight (components/Insights.tsx). */
  insight?: boolean;
}

interface FanOut {
  /** Index in the drawn rows of the client message and of the last frame that fans it out. */
  first: number;
  last: number;
  peers: number;
  toSender: boolean;
  spanMs: number;
  members: Set<string>;
}

// One formatter: toLocaleString builds a new one per call, which shows in a profile at 10,000 frames a second.
const NUM = new Intl.NumberFormat('en-US');
const num = (n: number) => NUM.format(n);
const dirArrow = (d: Direction) => (d === 'client' ? 'client → server' : 'server → client');
const seconds = (t: number) => `${(t / 1000).toFixed(3)}s`;

function shortAddress(addr: string): string {
  return addr.startsWith('127.0.0.1:') || addr.startsWith('[::1]:') || addr.startsWith('::1:') ? addr.slice(addr.lastIndexOf(':')) : addr;
}

/**
 * The server lane's second line, whole in its 112 px box: the file's name where the label has one
 * ("your server (server.js)" → "server.js"), else the port, as the wiretap's lane shows it.
 */
function serverSubtitle(label: string, port: number): string {
  const file = /\(([^()]+)\)$/.exec(label)?.[1];
  return file && file.length <= 17 ? file : `:${port}`;
}

function fit(s: string, chars: number): string {
  if (chars <= 1) return '';
  return s.length > chars ? `${s.slice(0, chars - 1)}…` : s;
}

/**
 * A frame's arrow. Its texts (label, payload preview, tooltip) are made when first read: only the
 * rows in sight read them, and a view opening after a burst makes 240 arrows at once, each one
 * decoding its payload (issue 19: 12 ms of the task that opens the diagram).
 */
function frameArrow(f: FrameEvent, msgs: Map<string, MessageEvent>): Arrow {
  const key = frameKey(f.conn, f.dir, f.seq);
  const violations = model.violationsByFrame.get(key) ?? [];
  const insights = insightsOfFrame(key);
  const cls = f.opcode === 8 ? 'close' : f.opcode === 9 ? 'ping' : f.opcode === 10 ? 'pong' : 'data';
  // A frame the wiretap wrote itself (crafter, close with code) starts at the wiretap, not the peer.
  const injected = f.injected === true;
  const receiver: Lane = f.dir === 'client' ? 'server' : f.conn;
  // The messages its texts need, looked up now: the arrow keeps them, not the whole index.
  const inflated = f.rsv1 ? msgs.get(`${f.conn}:${f.dir}:${f.seq}`) : undefined;
  const decoded = (f.opcode & 8) === 0 ? msgs.get(`app:${f.conn}:${f.dir}:${f.seq}`) : undefined;
  let texts: { label: string; detail: string; title: string } | null = null;
  const made = () => (texts ??= frameTexts(f, inflated, decoded, violations, insights));
  return {
    id: `f${key}`,
    kind: 'frame',
    conn: f.conn,
    t: f.t,
    from: injected ? 'tap' : f.dir === 'client' ? f.conn : 'server',
    to: receiver,
    get label() {
      return made().label;
    },
    get detail() {
      return made().detail;
    },
    get title() {
      return made().title;
    },
    cls: `${cls}${violations.length ? ' bad' : ''}${insights.length ? ' insight' : ''}${injected ? ' injected' : ''}`,
    frame: f,
    bad: violations.length > 0,
    insight: insights.length > 0,
  };
}

/** A frame arrow's texts; `inflated` is the message of a compressed frame, `decoded` the one its application layer completes. */
function frameTexts(
  f: FrameEvent,
  inflated: MessageEvent | undefined,
  decoded: MessageEvent | undefined,
  violations: ViolationEvent[],
  insights: InsightEvent[],
): { label: string; detail: string; title: string } {
  const injected = f.injected === true;
  const bytes = base64ToBytes(f.payload);
  const name = opcodeName(f.opcode);
  let label = name;
  let detail = '';
  switch (f.opcode) {
    case 8: {
      if (bytes.length >= 2) {
        const code = (bytes[0]! << 8) | bytes[1]!;
        const reason = utf8(bytes.subarray(2));
        // "4000 private use (the application decides)" → "4000 private use": the row has little room.
        label = `CLOSE ${explainCloseCode(code).replace(/ \(.*$/, '')}`;
        detail = reason ? `“${reason}”` : '';
      } else {
        label = 'CLOSE (no code: the peer reports 1005)';
      }
      break;
    }
    case 9:
      label = '◆ PING';
      detail = bytes.length ? preview(bytes, false, 40) : '';
      break;
    case 10:
      label = '◇ PONG';
      detail = bytes.length ? preview(bytes, false, 40) : '';
      break;
    default: {
      if (f.rsv1) {
        // A compressed frame's payload is deflate output; the message event carries the text.
        const m = inflated;
        label = `${name} (deflate)`;
        detail = m ? (m.text !== undefined ? `“${preview(new TextEncoder().encode(m.text), true, 60)}”` : preview(base64ToBytes(m.base64 ?? ''), false, 60)) : preview(bytes, false, 40);
      } else if (bytes.length) {
        const text = f.opcode === 1 || f.opcode === 0;
        const p = preview(bytes, text, 60);
        detail = text ? `“${p}”` : p;
      }
      if (!f.fin) label += ' …';
    }
  }
  if (f.truncated) detail += '…';
  // The frame that completes a decoded message says the application's unit; the payload stays beside it.
  const app = decoded?.app;
  if (app) label = `${appBadge(app)}${f.fin ? '' : ' …'}`;
  const lengthText = `[${num(f.length)} B]`;
  const vText = violations.map((v) => `✗ ${v.rule} (${v.section}): ${v.message}`);
  return {
    label: `${violations.length ? '✗ ' : ''}${insights.length ? '⚠ ' : ''}${injected ? '✎ ' : ''}${label} ${lengthText}`,
    detail,
    title: [
      `#${f.conn} ${dirArrow(f.dir)} ${name} frame #${f.seq}, ${num(f.length)} bytes of payload, at ${seconds(f.t)}`,
      injected ? `✎ Injected by the wiretap (frame crafter / fault), not sent by the ${f.dir}: the ${f.dir === 'client' ? 'server' : 'client'} received it as the ${f.dir}'s.` : '',
      f.fin ? '' : 'FIN=0: more fragments follow',
      f.rsv1 ? 'RSV1: compressed (permessage-deflate)' : '',
      app ? `${app.protocol}: ${app.summary}` : '',
      detail ? `payload: ${detail}` : '',
      ...vText,
      ...insights.map((i) => `⚠ ${insightTitle(i)}: ${i.message}`),
      'Click to open its anatomy.',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

function handshakeArrows(h: HandshakeEvent): Arrow[] {
  const out: Arrow[] = [];
  const req = h.request;
  if (req) {
    const upgrade = req.headers.find(([n]) => n.toLowerCase() === 'upgrade')?.[1];
    out.push({
      id: `req${h.conn}:${h.t}`,
      kind: 'request',
      conn: h.conn,
      t: req.t,
      from: h.conn,
      to: 'server',
      label: `${req.method} ${req.path} ${req.version}`,
      detail: upgrade ? `Upgrade: ${upgrade}` : '(no Upgrade header)',
      title: `#${h.conn} HTTP request: ${req.method} ${req.path}${upgrade ? `, Upgrade: ${upgrade}` : ', not an upgrade'}${h.key ? `, Sec-WebSocket-Key: ${h.key}` : ''} at ${seconds(req.t)}`,
      cls: 'http',
    });
  } else if (h.outcome === 'not-http') {
    out.push({
      id: `req${h.conn}:${h.t}`,
      kind: 'request',
      conn: h.conn,
      t: h.t,
      from: h.conn,
      to: 'server',
      label: '✗ not an HTTP request',
      title: `#${h.conn}: the client's first bytes are not an HTTP request. ${h.problems.join(' ')}`,
      cls: 'http bad',
      bad: true,
    });
  }
  const res = h.response;
  if (res) {
    const ok = res.status === 101 && h.acceptValid;
    // Plain HTTP answered without an error (a fetch, a poll) is not a failed handshake: no ✗.
    const plain = h.outcome === 'plain-http' && res.status !== 426 && res.status < 400;
    const ext = h.deflate ? 'permessage-deflate' : h.extensions.map((e) => e.name).join(', ');
    out.push({
      id: `res${h.conn}:${h.t}`,
      kind: 'response',
      conn: h.conn,
      t: res.t,
      from: 'server',
      to: h.conn,
      label: `${res.status === 101 ? (h.acceptValid ? '✓ ' : '✗ ') : plain ? '' : '✗ '}${res.status} ${res.reason}`,
      detail: res.status === 101 ? (h.acceptValid ? `Accept ok${ext ? ` · ${ext}` : ''}` : 'Accept does not match') : plain ? 'plain HTTP' : h.problems[0] ?? '',
      title: [
        `#${h.conn} HTTP response ${res.status} ${res.reason} at ${seconds(res.t)}${h.exchange && h.exchange > 1 ? ` (request ${h.exchange} on this connection)` : ''}`,
        res.status === 101
          ? h.acceptValid
            ? `Sec-WebSocket-Accept ${h.accept} matches the key`
            : `Sec-WebSocket-Accept ${h.accept ?? '(missing)'} should be ${h.expectedAccept}`
          : plain
            ? 'Plain HTTP: the request asked for no upgrade, and the server answered it.'
            : 'No WebSocket: the server did not switch protocols.',
        ...h.problems,
      ].join('\n'),
      cls: ok ? 'http ok' : plain ? 'http' : 'http bad',
      bad: !ok && !plain,
    });
  }
  return out;
}

/** The arrows one event adds (a frame, the handshake's two, a note). Messages repeat their frames and are not drawn. */
/** Tells apart notes that share a connection, time and rule (arrows are built once per event). */
let noteCount = 0;

/** A broken rule with no frame to mark (a frame's or an application protocol's), as a note on the wiretap's line. */
function violationNote(id: string, e: ViolationEvent | AppViolationEvent, source: string): Arrow {
  return {
    id: `${id}:${++noteCount}`,
    kind: 'violation',
    conn: e.conn,
    t: e.t,
    from: 'tap',
    to: 'tap',
    label: `✗ ${e.rule} (${e.section})`,
    detail: e.message,
    title: `#${e.conn} ${dirArrow(e.dir)}: ${e.message} (${e.type === 'violation' ? `${e.section}; ${source}` : `${source}, ${e.section}`})`,
    cls: 'note bad',
    bad: true,
  };
}

function arrowsOf(e: WireEvent, msgs: Map<string, MessageEvent>): Arrow[] {
  switch (e.type) {
    case 'open':
      return [
        {
          id: `open${e.conn}:${e.t}`,
          kind: 'connect',
          conn: e.conn,
          t: e.t,
          from: e.conn,
          to: 'server',
          label: e.instance ? `TCP connect → process ${e.instance}` : 'TCP connect',
          detail: e.client,
          title: `#${e.conn} TCP connection from ${e.client}; the wiretap opens one to ${e.target}${e.instance ? ` (server process ${e.instance})` : ''} at ${seconds(e.t)}`,
          cls: 'tcp',
        },
      ];
    case 'handshake':
      return handshakeArrows(e);
    case 'frame':
      return [frameArrow(e, msgs)];
    case 'violation':
      if (e.frame !== undefined) return [];
      return [violationNote(`v${e.conn}:${e.dir}:${e.t}:${e.rule}`, e, `a conforming endpoint closes with ${e.closeCode}`)];
    case 'appViolation':
      return [violationNote(`av${e.conn}:${e.dir}:${e.t}:${e.rule}`, e, e.protocol)];
    case 'end': {
      const code = e.code === null ? 'no WebSocket' : e.explanation;
      return [
        {
          id: `end${e.conn}:${e.t}`,
          kind: 'end',
          conn: e.conn,
          t: e.t,
          from: e.by === 'server' ? 'server' : e.by === 'wiretap' ? 'tap' : e.conn,
          to: e.by === 'server' ? e.conn : 'server',
          label: `TCP end by ${e.by}${e.clean ? ', clean' : e.code === null ? '' : ', not clean'}`,
          detail: `${e.code === null ? 'no WebSocket' : e.code}${e.error ? ` ${e.error}` : ''}`,
          title: `#${e.conn} TCP connection ended by the ${e.by} at ${seconds(e.t)}: ${code}${e.error ? `, ${e.error}` : ''}${e.clean ? '; both close frames were seen first' : ''}`,
          cls: `tcp end${e.clean || e.code === null ? '' : ' bad'}`,
          bad: !e.clean && e.code !== null,
        },
      ];
    }
    default:
      return [];
  }
}

interface Built {
  arrows: Arrow[];
  /** Arrows among the events the page holds that are not drawn. */
  older: number;
  /**
   * Arrows ever seen before the first one drawn (a count that only grows, unlike `older`,
   * which falls when the page trims old events). Rows are placed by it, so an arrow keeps its
   * coordinates while newer ones arrive and the browser re-lays out only what is new.
   */
  base: number;
  fanouts: FanOut[];
  lanes: number[];
}

function arrowCount(e: WireEvent): number {
  switch (e.type) {
    case 'frame':
    case 'open':
    case 'end':
      return 1;
    case 'handshake':
      return (e.request || e.outcome === 'not-http' ? 1 : 0) + (e.response ? 1 : 0);
    case 'violation':
      return e.frame === undefined ? 1 : 0;
    case 'appViolation':
      return 1;
    default:
      return 0;
  }
}

/**
 * Arrows per event, built once: a label costs a base64 decode and a preview, and the same
 * newest arrows are drawn again on every batch. A frame's arrow is rebuilt when a violation
 * or (for a compressed frame) its message arrives after it.
 */
const arrowCache = new WeakMap<WireEvent, { sig: number; arrows: Arrow[] }>();

function cachedArrows(e: WireEvent, msgs: Map<string, MessageEvent>): Arrow[] {
  let sig = 0;
  if (e.type === 'frame') {
    const k = frameKey(e.conn, e.dir, e.seq);
    sig = (model.violationsByFrame.get(k)?.length ?? 0) * 2 + insightsOfFrame(k).length * 4096;
    if (e.rsv1 && msgs.has(`${e.conn}:${e.dir}:${e.seq}`)) sig += 1;
    if (msgs.has(`app:${e.conn}:${e.dir}:${e.seq}`)) sig += 1024;
  }
  const hit = arrowCache.get(e);
  if (hit && hit.sig === sig) return hit.arrows;
  const arrows = arrowsOf(e, msgs);
  arrowCache.set(e, { sig, arrows });
  return arrows;
}

/** Events per chunk of the arrow tally: the held count is the sum of a few hundred chunks at most. */
const CHUNK = 4096;

/**
 * Arrows counted per filter, incrementally: each event is counted once, when first seen, into
 * its chunk of absolute event indices (model.eventsTrimmed + index). The arrows the page holds
 * are then the chunks still held, the first (partly trimmed) one counted again: at 10,000 frames
 * a second a draw must not walk the 200,000 events held (issue 19).
 */
interface Tally {
  generation: number;
  /** Absolute index of the next event to count. */
  next: number;
  /** Arrows ever counted (a count that only grows). */
  ever: number;
  chunks: Map<number, number>;
}
const tallies = new Map<number | null, Tally>();

/**
 * The arrows of the event at absolute index `abs`, read from the log's columns: a frame has one,
 * a message, ping, pong or close none; only the few other events (held as objects) are looked at.
 */
function counts(abs: number, only: number | null): number {
  const log = model.events;
  if (only !== null && log.conn(abs) !== only) return 0;
  const type = log.type(abs);
  if (type === 'frame') return 1;
  if (type === 'message' || type === 'ping' || type === 'pong' || type === 'close') return 0;
  return arrowCount(log.get(abs)!);
}

function tally(only: number | null): { ever: number; held: number } {
  const events = model.events;
  const base = model.eventsTrimmed;
  const end = base + events.length;
  // Forget tallies of an earlier stream, and all but a few filters.
  for (const [k, old] of tallies) if (old.generation !== model.generation || tallies.size > 64) tallies.delete(k);
  let t = tallies.get(only);
  if (!t || t.next > end) tallies.set(only, (t = { generation: model.generation, next: base, ever: 0, chunks: new Map() }));
  for (let abs = Math.max(t.next, base); abs < end; abs++) {
    const n = counts(abs, only);
    if (n === 0) continue;
    t.ever += n;
    const c = Math.floor(abs / CHUNK);
    t.chunks.set(c, (t.chunks.get(c) ?? 0) + n);
  }
  t.next = end;
  const firstChunk = Math.floor(base / CHUNK);
  let held = 0;
  for (const [c, n] of t.chunks) {
    if (c < firstChunk) t.chunks.delete(c);
    else if (c > firstChunk) held += n;
  }
  // The first chunk may be partly trimmed: count what is left of it.
  for (let abs = base; abs < Math.min(end, (firstChunk + 1) * CHUNK); abs++) held += counts(abs, only);
  return { ever: t.ever, held };
}

/**
 * The unfiltered tally is kept up to date as events are applied, whether or not the diagram is
 * open: opening it after a burst would otherwise count 200,000 events in the task that opens it.
 */
effect(() => {
  version.value;
  tally(null);
});
followApplied(() => tally(null));

function build(limit: number, only: number | null): Built {
  const events = model.events;
  // Compressed frames are labelled with their message's text: index the messages once.
  const msgs = new Map<string, MessageEvent>();
  const picked: Arrow[] = [];
  // Take a margin past the limit: a handshake's request arrow is earlier than its event.
  const want = limit + 40;
  for (let i = events.length - 1; i >= 0 && picked.length < want; i--) {
    const abs = events.base + i;
    if (only !== null && events.conn(abs) !== only) continue;
    // A message, ping, pong or close draws no arrow: only a compressed message or one with an
    // application layer labels its frames. The rest are not made from their text (the log's columns say).
    const type = events.type(abs);
    if ((type === 'message' || type === 'ping' || type === 'pong' || type === 'close') && events.flags(abs) === 0) continue;
    const e = events.at(i)!;
    if (e.type === 'message' && e.compressed) msgs.set(`${e.conn}:${e.dir}:${e.firstFrame}`, e);
    if (e.type === 'message' && e.app) msgs.set(`app:${e.conn}:${e.dir}:${e.lastFrame}`, e);
    if (arrowCount(e) > 0) picked.push(...cachedArrows(e, msgs));
  }
  picked.reverse();
  const ordered = picked.map((a, i) => ({ a, i })).sort((x, y) => x.a.t - y.a.t || x.i - y.i).map((x) => x.a);
  const start = Math.max(0, ordered.length - limit);
  const arrows = ordered.slice(start);
  const fanouts: FanOut[] = [];
  if (only === null) {
    for (const g of findFanOuts(ordered)) {
      if (g.end < start) continue;
      fanouts.push({ first: Math.max(0, g.src - start), last: g.end - start, peers: g.peers, toSender: g.toSender, spanMs: g.spanMs, members: g.members });
    }
  }
  const lanes = [...new Set(arrows.map((a) => a.conn))].sort((a, b) => a - b);
  const { ever, held } = tally(only);
  return { arrows, older: Math.max(0, held - arrows.length), base: Math.max(0, ever - arrows.length), fanouts, lanes };
}

// ---- export ------------------------------------------------------------------------------

const SVG_NS = 'http://www.w3.org/2000/svg';
/** Inherited in SVG: written only where they differ from the parent's, which keeps the file small. */
const INHERITED = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-dasharray',
  'stroke-opacity',
  'stroke-linecap',
  'stroke-linejoin',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'text-anchor',
  'dominant-baseline',
  'paint-order',
];

/**
 * Copy each element's computed style into a style attribute, so the file needs neither our
 * stylesheet nor its CSS variables (a saved SVG opened elsewhere has no --fg to resolve).
 */
function inlineStyles(src: Element, dst: Element, parent: Map<string, string> | null): void {
  if (src instanceof SVGTitleElement) return;
  const cs = getComputedStyle(src);
  const mine = new Map(INHERITED.map((p) => [p, cs.getPropertyValue(p)]));
  const decl = INHERITED.filter((p) => parent?.get(p) !== mine.get(p)).map((p) => `${p}:${mine.get(p)}`);
  const opacity = cs.getPropertyValue('opacity');
  if (opacity && opacity !== '1') decl.push(`opacity:${opacity}`);
  dst.removeAttribute('class');
  dst.removeAttribute('style');
  if (decl.length) dst.setAttribute('style', decl.join(';'));
  const s = src.children;
  const d = dst.children;
  for (let i = 0; i < s.length; i++) inlineStyles(s[i]!, d[i]!, mine);
}

/** One standalone SVG document: the lane header over the body, colours resolved, a background. */
export function standaloneSvg(header: SVGSVGElement, body: SVGSVGElement, background: string): string {
  const w = Number(body.getAttribute('width'));
  const hh = Number(header.getAttribute('height'));
  const bh = Number(body.getAttribute('height'));
  const out = document.createElementNS(SVG_NS, 'svg');
  out.setAttribute('width', String(w));
  out.setAttribute('height', String(hh + bh));
  out.setAttribute('viewBox', `0 0 ${w} ${hh + bh}`);
  out.setAttribute('role', 'img');
  out.setAttribute('aria-label', body.getAttribute('aria-label') ?? 'Sequence diagram');
  const title = document.createElementNS(SVG_NS, 'title');
  title.textContent = body.getAttribute('aria-label') ?? 'Sequence diagram';
  out.appendChild(title);
  const bg = document.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', background);
  out.appendChild(bg);
  for (const [src, dy] of [
    [header, 0],
    [body, hh],
  ] as const) {
    const g = document.createElementNS(SVG_NS, 'g');
    g.setAttribute('transform', `translate(0 ${dy})`);
    // The group carries the SVG's own font and colours once; its children only what differs.
    const cs = getComputedStyle(src);
    const base = new Map(INHERITED.map((p) => [p, cs.getPropertyValue(p)]));
    g.setAttribute('style', INHERITED.map((p) => `${p}:${base.get(p)}`).join(';'));
    for (const child of Array.from(src.children)) {
      const copy = child.cloneNode(true) as Element;
      inlineStyles(child, copy, base);
      g.appendChild(copy);
    }
    out.appendChild(g);
  }
  // Hit areas are for the mouse only.
  for (const hit of Array.from(out.querySelectorAll('[data-hit]'))) hit.remove();
  for (const title of Array.from(out.querySelectorAll('title'))) title.textContent = (title.textContent ?? '').replace(/\nClick to open its anatomy\.$/, '');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(out)}\n`;
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

function svgToPng(svg: string, width: number, height: number): Promise<Blob> {
  // Canvas sides above 32,767 px fail silently in Chromium: scale a tall diagram down to fit.
  const scale = Math.min(2, 32_000 / height, 32_000 / width, Math.sqrt(120_000_000 / (width * height)));
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      const ctx = canvas.getContext('2d')!;
      ctx.scale(scale, scale);
      ctx.drawImage(img, 0, 0, width, height);
      URL.revokeObjectURL(url);
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('The browser could not encode the PNG (diagram too large?)'))), 'image/png');
    };
    img.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error('The browser could not render the SVG into an image'));
    };
    img.src = url;
  });
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

// ---- the view ----------------------------------------------------------------------------

/**
 * The data version to draw, following `version` but no more often than the last draw's cost
 * allows: under a flood of frames the newest 200 arrows are all new on every batch, and
 * re-laying out a few thousand SVG elements ten times a second would starve the page.
 */
function useDrawnVersion(cost: { current: number }, lastDraw: { current: number }): number {
  const [drawn, setDrawn] = useState(() => version.peek());
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const dispose = effect(() => {
      const v = version.value;
      if (timer !== undefined) return;
      const wait = Math.min(2000, cost.current * BUSY_FACTOR) - (performance.now() - lastDraw.current);
      if (wait <= 0) setDrawn(v);
      else
        timer = setTimeout(() => {
          timer = undefined;
          setDrawn(version.peek());
        }, wait);
    });
    return () => {
      dispose();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, []);
  return drawn;
}

/** The arrows' area's height when the diagram was last open (its toolbar is shorter than the Timeline's). */
let arrowsHeight = 0;

export function SequenceDiagram() {
  const renderStart = performance.now();
  const cost = useRef(0);
  const lastDraw = useRef(0);
  const v = useDrawnVersion(cost, lastDraw);
  const f = filters.value;
  const isPaused = paused.value;
  const sel = selection.value;
  const selConn = selectedConn.value;
  const [limit, setLimit] = useState(PAGE);
  const [saveError, setSaveError] = useState('');
  const only = f.conn;

  const live = useMemo(() => build(limit, only), [v, limit, only]);
  const frozen = useRef<Built | null>(null);
  if (!isPaused) frozen.current = null;
  else frozen.current ??= live;
  const { arrows, older, base, fanouts, lanes: drawnLanes } = frozen.current ?? live;

  const scroller = useRef<HTMLDivElement>(null);
  const headerRef = useRef<SVGSVGElement>(null);
  const bodyRef = useRef<SVGSVGElement>(null);
  const follow = useRef(true);
  // The panel's size as a view last measured it (the Timeline's, on a first opening).
  const [width, setWidth] = useState(() => viewSize.width || 800);
  const [viewH, setViewH] = useState(() => arrowsHeight || viewSize.height || 600);
  const [scrollTop, setScrollTop] = useState(0);
  /** While saving, every row is drawn (the view draws only the rows in sight). */
  const [exporting, setExporting] = useState<'svg' | 'png' | null>(null);
  /** Lanes for every connection drawn, not only the ones with something in sight. */
  const [allLanes, setAllLanes] = useState(false);
  /** The opening draw is done (it drew half the rows): the next one draws them all. */
  const [opened, setOpened] = useState(false);
  useEffect(() => {
    let mounted = true;
    inNextFrame(() => setTimeout(() => mounted && setOpened(true), 0));
    return () => void (mounted = false);
  }, []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    // The observer reports the size once laid out, in the frame; reading clientWidth here would
    // lay the page out in the task that opens the view (issue 19). Until then the panel's size as
    // last measured (lib/view-size.ts).
    const ro = new ResizeObserver(() => {
      const size = rememberViewSize(el);
      setWidth(size.width);
      setViewH((arrowsHeight = size.height));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const followTo = useRef(0);
  /** The newest arrow of the last draw: a flood has pushed it out of view by the next. */
  const lastDrawnId = useRef<string | undefined>(undefined);
  /** Where our own scroll to the newest arrow left the view: its scroll event is not the learner's. */
  const ownScroll = useRef(-1);
  useLayoutEffect(() => {
    const jsMs = performance.now() - renderStart;
    // The frame's layout is part of a draw's cost; it is measured in the frame, where the page is
    // laid out anyway, as is the scroll to the newest row (set in the render's task, the scroll
    // position would lay the page out there, and again for the frame).
    inNextFrame(() => {
      const el = scroller.current;
      const t = performance.now();
      if (el && follow.current) {
        el.scrollTop = followTo.current;
        ownScroll.current = el.scrollTop;
      } else void el?.scrollHeight;
      lastDraw.current = performance.now();
      cost.current = jsMs + (lastDraw.current - t);
    });
  });

  // The time column fits the widest label drawn, with room: "436.324s" must not lose a digit.
  const timeW = Math.max(TIME_MIN, Math.ceil(arrows.reduce((w, a) => Math.max(w, seconds(a.t).length), 0) * TIME_CHAR_W) + 14);
  const top = older > 0 ? NOTE_ROW : 8;
  // Only the rows in sight (and a margin) are in the DOM: a flood makes every row new on each
  // draw, and laying out a few dozen is what keeps a draw short. Following the newest rows, the
  // scroll position is the bottom, known before the browser has laid anything out.
  const bodyH = top + ROW * arrows.length + 12;
  const contentH = HEADER + bodyH;
  const top0 = follow.current ? Math.max(0, contentH - viewH) : scrollTop;
  followTo.current = contentH;
  // Under a flood (following, and a view's worth of arrows new since the last draw) no row is
  // drawn past the top edge: every drawn row is new on each draw, and each one costs it (issue 19).
  // A scroll up stops following and draws again with the margin.
  const lastId = arrows[arrows.length - 1]?.id;
  let flood = follow.current && lastDrawnId.current !== undefined && lastId !== lastDrawnId.current;
  for (let i = arrows.length - 1; flood && i >= Math.max(0, arrows.length - Math.ceil(viewH / ROW)); i--) if (arrows[i]!.id === lastDrawnId.current) flood = false;
  lastDrawnId.current = lastId;
  let firstRow = exporting ? 0 : Math.max(0, Math.floor((top0 - HEADER - top) / ROW) - (flood ? 1 : follow.current ? FOLLOW_MARGIN : OVERSCAN));
  const lastRow = exporting ? arrows.length : Math.min(arrows.length, Math.ceil((top0 + viewH - top) / ROW) + OVERSCAN);
  // The draw that opens the diagram has the newest half of those rows (the bottom of the view);
  // the rest come in the next task, after that frame. At once, opening it under a flood was one
  // task of ~16 ms of CPU and a frame of as much, the view's longest (issue 19): now two of each.
  if (!opened && !exporting) firstRow = Math.max(firstRow, lastRow - Math.ceil((lastRow - firstRow) / 2));
  // Lanes: a connection with an arrow in sight, an open one, the selected one. After a few
  // lessons dozens of closed connections hold arrows among the newest 200; a lane for each
  // pushes the live peers, the wiretap and the server out of the panel.
  const lanes = useMemo(() => {
    if (allLanes || exporting || only !== null) return drawnLanes;
    const keep = new Set<number>();
    const inSight0 = Math.max(0, Math.floor((top0 - top) / ROW));
    const inSight1 = Math.min(arrows.length, Math.ceil((top0 + viewH - HEADER - top) / ROW) + 1);
    for (let i = inSight0; i < inSight1; i++) keep.add(arrows[i]!.conn);
    for (const c of drawnLanes) {
      const st = model.conns.get(c)?.status;
      if (st !== undefined && st !== 'closed') keep.add(c);
    }
    if (selConn !== null && drawnLanes.includes(selConn)) keep.add(selConn);
    return drawnLanes.filter((c) => keep.has(c));
  }, [drawnLanes, allLanes, exporting, only, top0, viewH, arrows, selConn, v]);
  const hiddenLanes = drawnLanes.length - lanes.length;

  // Geometry: time column | client lanes | wiretap | label span | server | fan-out brackets.
  // A saved file is not bound by the panel: give it full lanes and room for whole labels.
  const W = exporting ? Math.max(width, timeW + TAP_GAP + RIGHT + 2 + LABEL_EXPORT + lanes.length * LANE_W) : width;
  // Many lanes narrow the label span (down to LABEL_FLOOR) before they push the server out of the panel.
  const labelMin = Math.max(LABEL_FLOOR, Math.min(LABEL_MIN, W - timeW - TAP_GAP - RIGHT - 2 - lanes.length * LANE_MIN));
  const laneW = Math.floor(Math.max(LANE_MIN, Math.min(LANE_W, (W - timeW - TAP_GAP - labelMin - RIGHT - 2) / Math.max(1, lanes.length))));
  const laneX = new Map(lanes.map((c, i) => [c, Math.round(timeW + laneW * (i + 0.5))]));
  const tapX = timeW + laneW * lanes.length + TAP_GAP;
  const labelW = Math.floor(Math.max(labelMin, W - tapX - RIGHT - 2));
  const serverX = tapX + labelW;
  const totalW = Math.round(serverX + RIGHT);
  /** A drawn row's y in the body, and in the row layer (placed by the arrow's ordinal, see Built.base). */
  const rowY = (i: number) => top + ROW * i + ROW - 8;
  const gy = (i: number) => ROW * (base + i) + ROW - 8;
  const layerY = top - ROW * base;
  const xOf = (l: Lane) => (l === 'tap' ? tapX : l === 'server' ? serverX : laneX.get(l) ?? timeW);
  const labelChars = Math.floor((labelW - 24) / CHAR_W);

  // Lifelines start at the TCP connect and end at the TCP end when those are drawn.
  const span = new Map<number, { from: number; to: number }>();
  arrows.forEach((a, i) => {
    const s = span.get(a.conn) ?? { from: 0, to: bodyH };
    if (a.kind === 'connect') s.from = rowY(i);
    if (a.kind === 'end') s.to = rowY(i);
    span.set(a.conn, s);
  });
  const memberOf = new Map<string, number>();
  fanouts.forEach((g, gi) => g.members.forEach((id) => memberOf.set(id, gi)));

  const select = (a: Arrow) => {
    if (!a.frame) return;
    selection.value = { kind: 'frame', key: frameKey(a.frame.conn, a.frame.dir, a.frame.seq) };
    selectedConn.value = a.frame.conn;
    detailTab.value = 'frame';
  };

  const tap = topology.value;
  const connsLabel = lanes.map((c) => `#${c}`).join(', ');
  const last = arrows[arrows.length - 1];
  const summary =
    arrows.length === 0
      ? 'Sequence diagram: nothing on the wire yet.'
      : `Sequence diagram of ${lanes.length} connection${lanes.length === 1 ? '' : 's'} (${connsLabel}) between the clients, the wiretap and the server: ` +
        `${arrows.length} arrows from ${seconds(arrows[0]!.t)} to ${seconds(last!.t)}` +
        `${older > 0 ? `, ${older} older not drawn` : ''}` +
        `${fanouts.length ? `, ${fanouts.length} fan-out${fanouts.length === 1 ? '' : 's'} of a client message to other connections` : ''}. ` +
        `Latest: ${last!.title.split('\n')[0]}.`;

  // Once every row is drawn, serialise: the DOM and its computed styles are what the file holds.
  useLayoutEffect(() => {
    if (!exporting) return;
    const kind = exporting;
    setExporting(null);
    const header = headerRef.current;
    const body = bodyRef.current;
    const el = scroller.current;
    if (!header || !body || !el) return;
    const run = async () => {
      const bg = getComputedStyle(el).backgroundColor;
      const svg = standaloneSvg(header, body, bg && bg !== 'rgba(0, 0, 0, 0)' ? bg : getComputedStyle(document.body).backgroundColor || '#ffffff');
      if (kind === 'svg') download(new Blob([svg], { type: 'image/svg+xml' }), `wsplay-sequence-${stamp()}.svg`);
      else download(await svgToPng(svg, totalW, HEADER + bodyH), `wsplay-sequence-${stamp()}.png`);
    };
    run().catch((e: unknown) => setSaveError((e as Error).message));
  }, [exporting]);

  const save = (kind: 'svg' | 'png') => {
    setSaveError('');
    setExporting(kind);
  };

  const rows = arrows.slice(firstRow, lastRow).map((a, j) => {
    const i = firstRow + j;
    const y = gy(i);
    const color = model.conns.get(a.conn)?.color ?? '#888';
    const key = a.frame ? frameKey(a.frame.conn, a.frame.dir, a.frame.seq) : null;
    const selected = key !== null && sel?.kind === 'frame' && sel.key === key;
    const group = memberOf.get(a.id);
    const x1 = xOf(a.from);
    const x2 = xOf(a.to);
    const labelX = (tapX + serverX) / 2;
    const chars = Math.max(8, labelChars);
    const label = fit(a.label, chars);
    const detail = a.detail ? fit(a.detail, chars - label.length - 1) : '';
    const cls = `sd-arrow ${a.kind} ${a.cls}${selected ? ' selected' : ''}${group !== undefined ? ` fan fan-${group % 2}` : ''}${a.frame ? ' clickable' : ''}`;
    const time = (
      <text class="sd-time" x={timeW - 5} y={y + 4}>
        {seconds(a.t)}
      </text>
    );
    if (a.kind === 'violation') {
      return (
        <g class={cls} key={a.id}>
          <title>{a.title}</title>
          {time}
          <rect class="sd-note" x={tapX - 8} y={y - 9} width={Math.min(labelW, (label.length + detail.length + 2) * CHAR_W + 16)} height={18} rx={4} />
          <text class="sd-label" x={tapX} y={y + 4}>
            {label} <tspan class="sd-detail">{detail}</tspan>
          </text>
        </g>
      );
    }
    const dir = x2 > x1 ? 1 : -1;
    const head = `${x2},${y} ${x2 - dir * 9},${y - 4.5} ${x2 - dir * 9},${y + 4.5}`;
    return (
      <g class={cls} key={a.id} onClick={a.frame ? () => select(a) : undefined} data-kind={a.kind} data-conn={a.conn} data-key={key ?? undefined}>
        <title>{a.title}</title>
        {time}
        {(selected || group !== undefined || a.bad || a.insight) && <line class="sd-halo" x1={x1} y1={y} x2={x2} y2={y} />}
        <line class="sd-line" x1={x1} y1={y} x2={x2 - dir * 8} y2={y} style={{ stroke: color }} />
        {a.kind === 'end' ? (
          <>
            <path class="sd-x" d={`M${x1 - 4},${y - 4}l8,8m0,-8l-8,8`} style={{ stroke: color }} />
            <path class="sd-x" d={`M${x2 - 4},${y - 4}l8,8m0,-8l-8,8`} style={{ stroke: color }} />
          </>
        ) : (
          <polygon class="sd-head" points={head} style={{ fill: a.cls.includes('pong') ? 'none' : color, stroke: color }} />
        )}
        {a.kind !== 'end' && <circle class="sd-tap" cx={tapX} cy={y} r={3} />}
        {a.cls.includes('ping') && <rect class="sd-pingmark" x={x1 - 4} y={y - 4} width={8} height={8} transform={`rotate(45 ${x1} ${y})`} style={{ fill: color }} />}
        {a.cls.includes('pong') && <rect class="sd-pingmark" x={x1 - 4} y={y - 4} width={8} height={8} transform={`rotate(45 ${x1} ${y})`} style={{ stroke: color }} />}
        <text class="sd-label" x={labelX} y={y - 5}>
          {label}
          {detail && <tspan class="sd-detail"> {detail}</tspan>}
        </text>
        {a.frame && <line data-hit class="sd-hit" x1={Math.min(x1, x2)} y1={y} x2={Math.max(x1, x2)} y2={y} />}
      </g>
    );
  });

  const bands = fanouts.map((g, gi) => {
    if (g.last < firstRow || g.first >= lastRow) return null;
    // One row's top to another's bottom, 1 px inside each, so neighbouring fan-outs stay apart.
    const y1 = gy(g.first) - ROW + 9;
    const y2 = gy(g.last) + 7;
    const bx = serverX + 14;
    const mid = (y1 + y2) / 2;
    return (
      <g class={`sd-fanout fan-${gi % 2}`} data-peers={g.peers} key={`fan${g.first}:${g.last}`}>
        <title>{`The server passed this client message on: the same message to ${g.peers} other connection${g.peers === 1 ? '' : 's'}${g.toSender ? ' (and back to the sender)' : ''}, within ${g.spanMs.toFixed(2)} ms: a broadcast.`}</title>
        <rect class="sd-band" x={timeW - 2} y={y1} width={serverX + 6 - timeW} height={y2 - y1} rx={4} />
        <path class="sd-bracket" d={`M${bx - 5},${y1 + 2}h5v${y2 - y1 - 4}h-5`} />
        <text class="sd-fanlabel" x={bx + 5} y={mid - (g.toSender ? 14 : 8)}>
          <tspan x={bx + 5}>fan-out to </tspan>
          <tspan x={bx + 5} dy={12}>{`${g.peers} peer${g.peers === 1 ? '' : 's'}`}</tspan>
          {g.toSender && (
            <tspan class="sd-fansub" x={bx + 5} dy={12}>
              + sender
            </tspan>
          )}
          <tspan class="sd-fansub" x={bx + 5} dy={12}>{`in ${g.spanMs.toFixed(1)} ms`}</tspan>
        </text>
      </g>
    );
  });

  const onlyToggle = (checked: boolean) => {
    filters.value = { ...f, conn: checked ? selConn : null };
  };

  return (
    <div class="seqdiag">
      <div class="sd-toolbar" role="toolbar" aria-label="Sequence diagram">
        <label class="check" title={selConn === null && only === null ? 'Select a connection first' : 'Draw only the selected connection (the same filter as the timeline)'}>
          <input type="checkbox" checked={only !== null} disabled={only === null && selConn === null} onChange={(e) => onlyToggle((e.target as HTMLInputElement).checked)} /> only the selected connection
          {only !== null && <span class="muted"> (#{only})</span>}
        </label>
        <span class="sd-legend muted" title={older > 0 ? `${num(older)} older arrows are not drawn: “Show ${PAGE} older” draws more` : undefined}>
          {older > 0 && <span class="sd-older-count" role="status">{num(older)} older not drawn · </span>}
          <span aria-hidden="true">
            <span class="sd-key-ping">◆ ping</span> <span class="sd-key-pong">◇ pong</span> <span class="sd-key-bad">✗ violation</span> <span class="sd-key-insight">⚠ insight</span> <span class="sd-key-fan">▮ fan-out</span>
          </span>
        </span>
        {hiddenLanes > 0 && (
          <span class="sd-hidden" role="status" title="Connections whose arrows are all out of sight (scroll to them, or show all lanes); open connections and the selected one always have a lane">
            {`${hiddenLanes} closed connection${hiddenLanes === 1 ? '' : 's'} not shown · `}
            <button class="link" onClick={() => setAllLanes(true)}>
              show all
            </button>
          </span>
        )}
        {allLanes && only === null && (
          <button class="link sd-hidden" onClick={() => setAllLanes(false)} title="Draw lanes only for connections with arrows in sight, open ones and the selected one">
            hide closed lanes out of sight
          </button>
        )}
        {isPaused && <span class="warn">paused</span>}
        {older > 0 && (
          <button onClick={() => setLimit(limit + PAGE)} title={`Draw ${PAGE} more of the older arrows`}>
            Show {Math.min(PAGE, older)} older
          </button>
        )}
        {limit > PAGE && (
          <button onClick={() => setLimit(PAGE)} title={`Draw only the newest ${PAGE} arrows`}>
            Newest {PAGE} only
          </button>
        )}
        <button onClick={() => void save('svg')} disabled={arrows.length === 0} title="Download the diagram as a standalone SVG file">
          Save SVG
        </button>
        <button onClick={() => void save('png')} disabled={arrows.length === 0} title="Download the diagram as a PNG image">
          Save PNG
        </button>
      </div>
      {saveError && (
        <div class="banner error" role="alert">
          Could not save the diagram: {saveError}
        </div>
      )}
      <div
        class="sd-scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          // Our own scroll to the bottom is reported in a later frame, when more arrows may have
          // come: it does not stop following (the learner's scroll up does).
          // Following, the rows drawn are the bottom's whatever the scroll position: no new draw.
          if (follow.current && el.scrollTop === ownScroll.current) return;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW * 2;
          setScrollTop(el.scrollTop);
        }}
      >
        {arrows.length === 0 ? (
          <p class="empty">{only !== null ? `Nothing on the wire for connection #${only} yet.` : 'Nothing on the wire yet. Connect a client to the wiretap and its handshake and frames appear here as arrows.'}</p>
        ) : (
          <>
            <svg class="sd-header" ref={headerRef} width={totalW} height={HEADER} aria-hidden="true">
              <rect class="sd-header-bg" x={0} y={0} width={totalW} height={HEADER} />
              <text class="sd-time-head" x={timeW - 5} y={HEADER - 10}>
                time
              </text>
              {lanes.map((c) => {
                const conn = model.conns.get(c);
                const x = laneX.get(c)!;
                return (
                  <g class="sd-lanehead" key={c}>
                    <title>{`Connection #${c} from ${conn?.client ?? '?'}${conn?.instance ? `, to server process ${conn.instance}` : ''}`}</title>
                    <rect x={x - laneW / 2 + 3} y={6} width={laneW - 6} height={HEADER - 12} rx={5} style={{ stroke: conn?.color, fill: conn?.color }} class="sd-lanebox" />
                    <text class="sd-lanename" x={x} y={22} style={{ fill: conn?.color }}>
                      #{c}
                      {/* Too narrow for the subtitle: the process goes after the number (#5a). */}
                      {conn?.instance && laneW < 44 ? conn.instance : ''}
                    </text>
                    {laneW >= 44 && (
                      <text class="sd-lanesub" x={x} y={36}>
                        {conn?.instance
                          ? `→ ${Math.floor((laneW - 8) / 6) >= 11 ? 'process ' : ''}${conn.instance}`
                          : fit(shortAddress(conn?.client ?? '?'), Math.floor((laneW - 8) / 6))}
                      </text>
                    )}
                  </g>
                );
              })}
              <g class="sd-lanehead tap">
                <rect x={tapX - 31} y={6} width={62} height={HEADER - 12} rx={5} class="sd-lanebox tap" />
                <text class="sd-lanename" x={tapX} y={22}>
                  wiretap
                </text>
                <text class="sd-lanesub" x={tapX} y={36}>
                  {tap ? `:${tap.tap.port}` : ''}
                </text>
              </g>
              <g class="sd-lanehead server">
                <rect x={serverX - 56} y={6} width={112} height={HEADER - 12} rx={5} class="sd-lanebox server" />
                <text class="sd-lanename" x={serverX} y={22}>
                  server
                </text>
                {tap && <title>{`${tap.targetLabel} at ${tap.target.host}:${tap.target.port}`}</title>}
                <text class="sd-lanesub" x={serverX} y={36}>
                  {tap ? serverSubtitle(tap.targetLabel, tap.target.port) : ''}
                </text>
              </g>
            </svg>
            <svg class="sd-body" ref={bodyRef} width={totalW} height={bodyH} role="img" aria-label={summary}>
              {older > 0 && (
                <text class="sd-older" x={timeW} y={16}>
                  {`… ${num(older)} older arrow${older === 1 ? '' : 's'} not drawn${model.trimmed ? ` (and ${num(model.trimmed)} frames no longer held by the page)` : ''}`}
                </text>
              )}
              <g transform={`translate(0 ${layerY})`}>{bands}</g>
              {lanes.map((c) => {
                const s = span.get(c)!;
                return <line class="sd-lifeline" key={`l${c}`} x1={laneX.get(c)} y1={s.from} x2={laneX.get(c)} y2={s.to} style={{ stroke: model.conns.get(c)?.color }} />;
              })}
              <line class="sd-lifeline tap" x1={tapX} y1={0} x2={tapX} y2={bodyH} />
              <line class="sd-lifeline server" x1={serverX} y1={0} x2={serverX} y2={bodyH} />
              <g class="sd-rows" transform={`translate(0 ${layerY})`}>
                {rows}
              </g>
            </svg>
          </>
        )}
      </div>
    </div>
  );
}
