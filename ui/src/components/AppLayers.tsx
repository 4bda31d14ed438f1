/**
 * The Message view's application layer: the layers one inside the other (TCP bytes → frame →
 * Engine.IO packet → Socket.IO event → JSON arguments), each one's bytes highlighted in the hex
 * dump beside it while it is hovered, focused or picked; the unit's fields; the units of a
 * message that carries several; the rules of the protocol it broke.
 */
import { useMemo, useState } from 'preact/hooks';
import type { AppUnit, MessageEvent, MessageRef } from '../../../server/capture/events.ts';
import { appBadge, protocolLabel, shownLayers, unitFields, unitName, unitsOf, type ShownLayer } from '../lib/app-layer.ts';
import { hexByte, hexToBytes } from '../lib/bytes.ts';
import { plural } from '../lib/plural.ts';
import { detailTab, frameKey, model, selectedConn, selection, version } from '../state.ts';
import { appViolationsOf } from './AppFilters.tsx';

/** Bytes drawn one by one in the layered dump: each is an element, so the page stays quick. */
const DUMP_LIMIT = 1024;
const ROW = 8;

/** The message `ref` names, if the view still holds it (found by the log's columns: only it is made). */
function heldMessage(ref: MessageRef): MessageEvent | undefined {
  const list = model.messages;
  const log = model.events;
  for (let i = 0; i < list.length; i++) {
    const abs = list.abs(i);
    if (log.type(abs) === 'message' && log.conn(abs) === ref.conn && log.dir(abs) === ref.dir && log.seq(abs) === ref.firstFrame) return log.get(abs) as MessageEvent;
  }
  return undefined;
}

function openMessage(ref: MessageRef): void {
  const m = heldMessage(ref);
  if (!m) return;
  selection.value = { kind: 'message', row: m, conn: m.conn };
  selectedConn.value = m.conn;
  detailTab.value = 'message';
}

function RefLink({ to: r, text }: { to: MessageRef; text: string }) {
  const held = heldMessage(r) !== undefined;
  if (!held) return <span title="This message is no longer held by the view">{text}</span>;
  return (
    <button type="button" class="link-btn" onClick={() => openMessage(r)} title="Open that message">
      {text}
    </button>
  );
}

/** The frame header (single-frame messages) and the message's data, as the dump shows them. */
function wireOf(m: MessageEvent, data: Uint8Array) {
  const first = model.framesByKey.get(frameKey(m.conn, m.dir, m.firstFrame));
  const last = model.framesByKey.get(frameKey(m.conn, m.dir, m.lastFrame));
  // One uncompressed frame: its header and its (unmasked) payload are the message, byte for byte.
  const header = m.frames === 1 && !m.compressed && first?.header ? hexToBytes(first.header) : new Uint8Array(0);
  const tcp = first && last ? { from: first.offset, to: last.offset + last.headerLength + last.length } : null;
  const masked = first?.masked ? `, masked (key ${first.maskKey}; shown unmasked)` : '';
  const frameLabel =
    m.frames === 1
      ? `${m.opcode === 1 ? 'TEXT' : 'BINARY'}, FIN${masked}: header ${header.length || first?.headerLength || '?'} bytes + payload ${m.wireLength ?? m.length} bytes${m.compressed ? ' (compressed; the dump shows it inflated)' : ''}`
      : `${plural(m.frames, 'frame')} (${m.opcode === 1 ? 'TEXT' : 'BINARY'} then CONTINUATION)${m.compressed ? ', compressed' : ''}: the dump shows the message's data joined`;
  const bytes = new Uint8Array(header.length + data.length);
  bytes.set(header, 0);
  bytes.set(data, header.length);
  return { bytes, headerLength: header.length, tcp, frameLabel };
}

function LayerDump({ bytes, hl, headerLength }: { bytes: Uint8Array; hl: ShownLayer | null; headerLength: number }) {
  const n = Math.min(bytes.length, DUMP_LIMIT);
  const rows = [];
  for (let off = 0; off < n; off += ROW) {
    const hex = [];
    const ascii = [];
    for (let i = off; i < Math.min(n, off + ROW); i++) {
      const b = bytes[i]!;
      const on = hl !== null && i >= hl.start && i < hl.end;
      const cls = `${on ? 'hl' : ''}${i < headerLength ? ' hdr' : ''}`;
      hex.push(<span class={cls}>{hexByte(b)}</span>);
      ascii.push(<span class={cls}>{b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'}</span>);
    }
    rows.push(
      <div class="ld-row">
        <span class="ld-off">{off.toString(16).padStart(4, '0')}</span>
        <span class="ld-hex">{hex}</span>
        <span class="ld-ascii">{ascii}</span>
      </div>,
    );
  }
  return (
    <div class="layer-dump" aria-label={hl ? `Bytes ${hl.start}–${hl.end - 1} highlighted: the ${hl.name}` : 'The message in hex'}>
      {rows}
      {bytes.length > DUMP_LIMIT && <p class="muted small">… {(bytes.length - DUMP_LIMIT).toLocaleString('en-US')} more bytes (the Hex tab below shows more).</p>}
    </div>
  );
}

function Unit({ u, m, data }: { u: AppUnit; m: MessageEvent; data: Uint8Array }) {
  const wire = useMemo(() => wireOf(m, data), [m, data]);
  const layers = useMemo(
    () => shownLayers(u, { headerLength: wire.headerLength, dataLength: wire.bytes.length - wire.headerLength, tcp: wire.tcp, frames: m.frames, frameLabel: wire.frameLabel }),
    [u, wire, m.frames],
  );
  // The innermost layer is picked at first: the application's own unit is what the learner came for.
  const [picked, setPicked] = useState(layers.length - 1);
  const [hover, setHover] = useState<number | null>(null);
  const shown = layers[hover ?? picked] ?? null;
  const fields = unitFields(u);
  return (
    <div class="app-unit">
      <ol class="layer-tree" aria-label="Layers, outermost first">
        {layers.map((l, i) => (
          <li style={{ paddingLeft: `${l.depth * 14}px` }}>
            <button
              type="button"
              class={`layer${i === (hover ?? picked) ? ' on' : ''}`}
              aria-pressed={i === picked}
              onMouseEnter={() => setHover(i)}
              onMouseLeave={() => setHover(null)}
              onFocus={() => setHover(i)}
              onBlur={() => setHover(null)}
              onClick={() => setPicked(i)}
              title={`Highlight its ${plural(l.end - l.start, 'byte')} in the dump`}
            >
              {l.depth > 0 && <span aria-hidden="true">└ </span>}
              <b>{l.name}</b> <span class="layer-label">{l.label}</span> <span class="muted">[{plural(l.end - l.start, 'byte')}]</span>
            </button>
          </li>
        ))}
      </ol>
      <LayerDump bytes={wire.bytes} hl={shown} headerLength={wire.headerLength} />
      {fields.length > 0 && (
        <dl class="facts-list app-fields">
          {fields.map(([k, v]) => (
            <div>
              <dt>{k}</dt>
              <dd class="app-value">{v}</dd>
            </div>
          ))}
          {u.replyTo && (
            <div>
              <dt>answers</dt>
              <dd>
                <RefLink to={u.replyTo} text={`the message of frame ${u.replyTo.firstFrame} (${u.replyTo.dir === 'client' ? 'client → server' : 'server → client'}, #${u.replyTo.conn})`} />
              </dd>
            </div>
          )}
        </dl>
      )}
    </div>
  );
}

export function AppLayers({ m, data }: { m: MessageEvent; data: Uint8Array }) {
  const app = m.app!;
  const units = unitsOf(app);
  const [at, setAt] = useState(0);
  const unit = units[Math.min(at, units.length - 1)]!;
  return (
    <section class="app-layers" aria-label={`Application layer: ${protocolLabel(app.protocol)}`}>
      <h3>
        <span class={`badge app app-${app.protocol.replace(/[^a-z]/g, '')}`}>{appBadge(app)}</span> <span class="app-summary">{app.summary}</span>
      </h3>
      {app.spans && app.spans.length > 0 && (
        <p class="muted small">
          This {app.protocol} unit began in earlier messages:{' '}
          {app.spans.slice(0, 8).map((r, i) => (
            <>
              {i > 0 && ', '}
              <RefLink to={r} text={`frame ${r.firstFrame}`} />
            </>
          ))}
          {app.spans.length > 8 && ` and ${app.spans.length - 8} more`}.
        </p>
      )}
      <BrokenRules m={m} />
      {units.length > 1 && (
        <div class="app-parts" role="group" aria-label={`${units.length} ${app.protocol} units in this message`}>
          <span class="muted small">{plural(units.length, 'unit')} in this message:</span>
          {units.slice(0, 64).map((u, i) => (
            <button type="button" aria-pressed={i === at} onClick={() => setAt(i)}>
              {i + 1}. {unitName(u)}
            </button>
          ))}
          {units.length > 64 && <span class="muted small">… {units.length - 64} more</span>}
        </div>
      )}
      <Unit key={`${m.conn}:${m.dir}:${m.firstFrame}:${at}`} u={unit} m={m} data={data} />
    </section>
  );
}

/**
 * What the application layer says of a whole connection: a client and a server that speak
 * different protocols on top (the mismatch detector), and rules broken outside any message (a
 * long-polling body). Shown in the Handshake view, where a learner looks first when it fails.
 */
export function ConnAppViolations({ conn }: { conn: number }) {
  version.value;
  const list = model.appViolationsByConn.get(conn) ?? [];
  if (list.length === 0) return null;
  const mismatch = list.some((v) => v.rule === 'protocol-mismatch');
  return (
    <div class="violations app-mismatch" role="note" aria-label={mismatch ? 'Protocol mismatch' : 'Application protocol problems'}>
      <h4>{mismatch ? 'Client and server speak different protocols' : 'Application protocol'}</h4>
      {list.map((v) => (
        <p>
          {v.message} <span class="muted small">({v.section})</span>
          {v.at && (
            <>
              {' '}
              <RefLink to={v.at} text="Open the message that shows it" />
            </>
          )}
        </p>
      ))}
    </div>
  );
}

/** The application-protocol rules a message broke (or the mismatch it shows), like a frame's violations. */
export function BrokenRules({ m }: { m: MessageEvent }) {
  // Its appViolation may come in a later batch than the message: read `version` to show it then.
  version.value;
  const broken = appViolationsOf(m);
  if (broken.length === 0) return null;
  return (
    <div class="violations" role="note" aria-label={`Rules of ${broken[0]!.protocol} this message breaks`}>
      {broken.map((v) => (
        <p>
          <b>✗ {v.rule}</b> ({v.section}): {v.message}
        </p>
      ))}
    </div>
  );
}

/** Packets listed per body: a long poll can carry many; the rest are counted. */
const PACKETS_SHOWN = 50;

/**
 * The Engine.IO packets of a long-polling exchange (`HandshakeEvent.app`), body by body: what
 * the client POSTed, what the server answered a GET with (the open packet, Socket.IO's CONNECT,
 * events pushed while the client waited).
 */
export function ExchangePackets({ app, method }: { app: { request?: AppUnit[]; response?: AppUnit[] }; method: string | undefined }) {
  const bodies: Array<[string, AppUnit[]]> = [];
  if (app.request?.length) bodies.push([`In the request body (${method ?? 'request'}, client → server)`, app.request]);
  if (app.response?.length) bodies.push(['In the response body (server → client)', app.response]);
  if (bodies.length === 0) return null;
  return (
    <section class="app-layers" aria-label="Engine.IO packets of this exchange">
      <h3>Engine.IO long-polling: the packets in these bodies</h3>
      {bodies.map(([title, units]) => (
        <>
          <h4 class="muted small">{title}</h4>
          <ol class="app-packets">
            {units.slice(0, PACKETS_SHOWN).map((u) => (
              <li>
                <span class={`badge app app-${u.protocol.replace(/[^a-z]/g, '')}`}>{appBadge(u)}</span> <span class="app-value">{u.summary}</span>
              </li>
            ))}
            {units.length > PACKETS_SHOWN && <li class="muted">… {units.length - PACKETS_SHOWN} more packets</li>}
          </ol>
        </>
      ))}
    </section>
  );
}
