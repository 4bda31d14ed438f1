import { effect } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import type { Direction } from '../../../server/capture/events.ts';
import { activityOf, ActivityBins, emptyActivity, type Activity } from '../lib/activity-bins.ts';
import { formatBytes } from '../lib/bytes.ts';
import { plural } from '../lib/plural.ts';
import { recording } from '../recording.ts';
import { followApplied, model, selectedConn, shed, version, type Conn, wiretapNow as reportedNow } from '../state.ts';
import '../diagram.css';

/**
 * Messages and bytes per second, overall and per connection, from the events the page holds.
 * Event times are the wiretap's clock (ms since it started); the page has no such clock, so it
 * keeps an anchor: the newest event time and the moment it arrived. "Now" runs on from there, so
 * rates fall to zero when the wire goes quiet.
 */

/** The sparklines' span and bin width. */
const SPAN_MS = 60_000;
const BIN_MS = 1000;
const BINS = SPAN_MS / BIN_MS;
/** "Current" rates average over this many ms: long enough to smooth bursts, short enough to feel live. */
const RATE_MS = 5000;
/** Recompute this often rather than once per animation frame: the numbers would flicker past reading. */
const TICK_MS = 500;

let anchor = { t: 0, at: 0 };
/** Counted as events are applied, whether or not the view is open, so opening it costs nothing. */
const activity = new ActivityBins(SPAN_MS + 5000);

followApplied(() => activity.update(model));
effect(() => {
  version.value;
  activity.update(model);
  const ev = model.events;
  if (ev.length === 0) {
    anchor = { t: 0, at: performance.now() };
    return;
  }
  // Arrival order is nearly time order: the newest few events hold the newest time.
  let newest = 0;
  for (let abs = ev.base + ev.length - 1; abs >= ev.base + Math.max(0, ev.length - 64); abs--) newest = Math.max(newest, ev.t(abs));
  if (newest !== anchor.t) anchor = { t: newest, at: performance.now() };
});

/**
 * The wiretap's clock as well as the page can tell: from its own reports when there are some
 * (right after a reload the newest event may be minutes old), else from the newest event.
 */
function wiretapNow(): number {
  return reportedNow() ?? anchor.t + (performance.now() - anchor.at);
}

type PerDir = Record<Direction, number>;

const zero = (): PerDir => ({ client: 0, server: 0 });
const newActivity = (): Activity => emptyActivity(BINS);

function measure(now: number): { overall: Activity; perConn: Map<number, Activity>; heldFrom: number } {
  activity.update(model);
  const overall = activityOf(activity.overall, now, SPAN_MS, BIN_MS, RATE_MS);
  const perConn = new Map<number, Activity>();
  for (const [conn, bins] of activity.perConn) perConn.set(conn, activityOf(bins, now, SPAN_MS, BIN_MS, RATE_MS));
  const ev = model.events;
  // Events older than the span (and a margin for order across connections) mean the whole span is held.
  const heldFrom = ev.length === 0 ? now : ev.t(ev.base) < now - SPAN_MS - 5000 ? -Infinity : ev.t(ev.base);
  // Right after the wiretap starts there are fewer than RATE_MS of history to average over.
  const seconds = Math.max(1, Math.min(RATE_MS, now)) / 1000;
  for (const a of [overall, ...perConn.values()]) {
    for (const d of ['client', 'server'] as const) {
      a.msgRate[d] /= seconds;
      a.byteRate[d] /= seconds;
      a.frameRate[d] /= seconds;
    }
  }
  return { overall, perConn, heldFrom };
}

// One formatter for every number: toLocaleString builds a new one per call.
const NUM = new Intl.NumberFormat('en-US');
const num = (n: number) => NUM.format(n);

function rate(n: number): string {
  if (n === 0) return '0';
  if (n < 10) return n.toFixed(1);
  return num(Math.round(n));
}

const byteRate = (n: number) => `${formatBytes(Math.round(n))}/s`;

function Sparkline({ series, width, height, label, format, fluid = false }: { series: Record<Direction, number[]>; width: number; height: number; label: string; format: (n: number) => string; fluid?: boolean }) {
  const max = Math.max(1, ...series.client, ...series.server);
  const pad = 2;
  const points = (values: number[]) =>
    values.map((v, i) => `${(pad + (i * (width - 2 * pad)) / (values.length - 1)).toFixed(1)},${(height - pad - (v / max) * (height - 2 * pad)).toFixed(1)}`).join(' ');
  const peak = (d: Direction) => format(Math.max(...series[d]));
  const text = `${label} over the last 60 seconds: client → server peak ${peak('client')}, server → client peak ${peak('server')}`;
  return (
    <svg class="st-spark" width={fluid ? '100%' : width} height={height} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={text}>
      <title>{text}</title>
      <line class="st-base" x1={pad} y1={height - pad} x2={width - pad} y2={height - pad} />
      <polyline class="st-line client" points={points(series.client)} />
      <polyline class="st-line server" points={points(series.server)} />
    </svg>
  );
}

/** One value per direction, stacked: ↑ client → server over ↓ server → client. */
function Both({ client, server }: { client: string; server: string }) {
  return (
    <>
      <div class="st-dir client">↑ {client}</div>
      <div class="st-dir server">↓ {server}</div>
    </>
  );
}

function closeText(c: Conn): { text: string; title: string } {
  const sent = c.closes.map((x) => `${x.dir === 'client' ? '↑' : '↓'}${x.code}`).join(' ');
  const sentTitle = c.closes.map((x) => `${x.dir === 'client' ? 'client' : 'server'} sent ${x.explanation}${x.reason ? ` "${x.reason}"` : ''}`).join('; ');
  if (c.end) {
    if (c.end.code === null) return { text: 'no WebSocket', title: c.handshake ? `The handshake ended ${c.handshake.outcome}` : 'No handshake was seen' };
    return { text: c.end.explanation.replace(/ \(.*$/, ''), title: `The client application sees ${c.end.explanation}${sent ? ` (close frames: ${sent})` : ''}${sentTitle ? `. ${sentTitle}` : ''}` };
  }
  return sent ? { text: `closing ${sent}`, title: sentTitle } : { text: '', title: '' };
}

function sum(list: Conn[], pick: (c: Conn) => PerDir): PerDir {
  const out = zero();
  for (const c of list) {
    const v = pick(c);
    out.client += v.client;
    out.server += v.server;
  }
  return out;
}

function Card({ title, now, unit, suffix, series, format, sparkLabel }: { title: string; now: PerDir; unit: (n: number) => string; suffix: string; series: Record<Direction, number[]>; format: (n: number) => string; sparkLabel: string }) {
  return (
    <section class="st-card" aria-label={title}>
      <h3>{title}</h3>
      <div class="st-big">
        {unit(now.client + now.server)}
        {suffix && <span class="st-unit"> {suffix}</span>}
      </div>
      <div class="st-dirs">
        <span class="st-dir client" title="client → server, averaged over the last 5 s">↑ {unit(now.client)}</span>
        <span class="st-dir server" title="server → client, averaged over the last 5 s">↓ {unit(now.server)}</span>
      </div>
      <Sparkline series={series} width={240} height={44} label={sparkLabel} format={format} fluid />
    </section>
  );
}

export function StatsView() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => setTick((n) => n + 1), TICK_MS);
    return () => clearInterval(id);
  }, []);

  const now = wiretapNow();
  const { overall, perConn, heldFrom } = measure(now);
  const conns = [...model.conns.values()];
  const frames = sum(conns, (c) => c.frames);
  const messages = sum(conns, (c) => c.messages);
  const bytes = sum(conns, (c) => c.bytes);
  const open = conns.filter((c) => c.status !== 'closed').length;
  const current = selectedConn.value;
  const partial = heldFrom > now - SPAN_MS && (model.trimmed > 0 || shed.value > 0);

  return (
    <div class="stats">
      <div class="st-cards">
        <Card title="Messages per second" now={overall.msgRate} unit={rate} suffix="msg/s" series={overall.msgBins} format={(n) => `${n}/s`} sparkLabel="Messages per second" />
        <Card title="Bytes per second" now={overall.byteRate} unit={byteRate} suffix="" series={overall.byteBins} format={byteRate} sparkLabel="Bytes per second" />
        <section class="st-card st-totalcard" aria-label="Totals">
          <h3>
            Totals <span class="st-conncount">{plural(conns.length, 'connection')}, {open} open</span>
          </h3>
          <table class="st-totals">
            <thead>
              <tr>
                <th />
                <th scope="col">messages</th>
                <th scope="col">frames</th>
                <th scope="col" title="Frame headers and payloads; the HTTP handshake is not counted">bytes in frames</th>
              </tr>
            </thead>
            <tbody>
              <tr class="client">
                <th scope="row" title="client → server">↑ client</th>
                <td>{num(messages.client)}</td>
                <td>{num(frames.client)}</td>
                <td>{formatBytes(bytes.client)}</td>
              </tr>
              <tr class="server">
                <th scope="row" title="server → client">↓ server</th>
                <td>{num(messages.server)}</td>
                <td>{num(frames.server)}</td>
                <td>{formatBytes(bytes.server)}</td>
              </tr>
            </tbody>
          </table>
        </section>
      </div>
      <p class="muted st-note">
        Rates are averaged over the last 5 s; the lines show the last 60 s, one point a second (<span class="st-key client">client → server</span>,{' '}
        <span class="st-key server">server → client</span>). Bytes count frame headers and payloads, from the first frame to the last; the HTTP
        handshake is not in them. A closed connection's TCP total, handshake included, shows in the Connections list.
        {partial && ' Part of the last minute is no longer held by this page, so its lines start later.'}
      </p>
      <div class="st-tablewrap">
        <table class="st-conns" aria-label="Per connection">
          <thead>
            <tr>
              <th scope="col">conn</th>
              <th scope="col" class="num" title="↑ client → server, ↓ server → client">frames</th>
              <th scope="col" class="num" title="↑ client → server, ↓ server → client">messages</th>
              <th scope="col" class="num" title="Frame headers and payloads (↑ client → server, ↓ server → client); the HTTP handshake is not counted">
                bytes in frames
              </th>
              <th scope="col" class="num" title="messages and bytes per second over the last 5 s, both directions">now</th>
              <th scope="col" title="bytes per second over the last 60 s, each direction">last 60 s</th>
              <th scope="col">close code</th>
            </tr>
          </thead>
          <tbody>
            {conns.length === 0 && (
              <tr>
                <td colSpan={7} class="empty">
                  {recording.value ? 'No connections in the recording at this point.' : 'No connections yet.'}
                </td>
              </tr>
            )}
            {conns.map((c) => {
              const a = perConn.get(c.id) ?? newActivity();
              const close = closeText(c);
              return (
                <tr key={c.id} class={current === c.id ? 'selected' : ''} aria-selected={current === c.id} onClick={() => (selectedConn.value = c.id)} data-conn={c.id}>
                  <td title={`Connection #${c.id} from ${c.client}`}>
                    <span class="swatch" style={{ background: c.color }} />#{c.id}
                  </td>
                  <td class="num">
                    <Both client={num(c.frames.client)} server={num(c.frames.server)} />
                  </td>
                  <td class="num">
                    <Both client={num(c.messages.client)} server={num(c.messages.server)} />
                  </td>
                  <td
                    class="num"
                    title={
                      c.end
                        ? `In frames: ↑ ${formatBytes(c.bytes.client)} ↓ ${formatBytes(c.bytes.server)}. TCP total, the HTTP handshake included: ↑ ${formatBytes(c.end.bytes.client)} ↓ ${formatBytes(c.end.bytes.server)}.`
                        : `In frames: ↑ ${formatBytes(c.bytes.client)} ↓ ${formatBytes(c.bytes.server)} (headers and payloads).`
                    }
                  >
                    <Both client={formatBytes(c.bytes.client)} server={formatBytes(c.bytes.server)} />
                  </td>
                  <td class="num st-now">
                    <div>{rate(a.msgRate.client + a.msgRate.server)} msg/s</div>
                    <div class="muted">{byteRate(a.byteRate.client + a.byteRate.server)}</div>
                  </td>
                  <td>
                    <Sparkline series={a.byteBins} width={90} height={22} label={`Connection #${c.id} bytes per second`} format={byteRate} />
                  </td>
                  <td class="st-close" title={close.title}>
                    {close.text || <span class={`state ${c.status}`}>{c.status}</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
