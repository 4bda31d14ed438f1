import { useMemo, useState } from 'preact/hooks';
import type { CloseEvent, ControlEvent, Direction, FrameEvent, MessageEvent } from '../../../server/capture/events.ts';
import { opcodeName } from '../../../server/protocol/opcodes.ts';
import { base64ToBytes, bytesToBase64, formatBytes, hexByte, utf8OrNull } from '../lib/bytes.ts';
import { plural } from '../lib/plural.ts';
import { AppLayers, BrokenRules } from './AppLayers.tsx';
import { detailTab, frameKey, MAX_ROWS, model, selection, version, type MessageRow } from '../state.ts';
import '../detail.css';

/** Hex dump rows drawn; 4 KiB is 256 rows, more than anyone reads, and cheap to render. */
const HEX_LIMIT = 4096;
/** Pretty-printing parses the text; past this size the parse would stall the page. */
const JSON_LIMIT = 1024 * 1024;

type Tab = 'text' | 'hex' | 'base64';

const dirText = (d: Direction) => (d === 'client' ? 'client → server' : 'server → client');

/** Bytes per hex dump line: 8 fit the detail panel with their ASCII column. */
const HEX_ROW = 8;

/** A hex dump like `xxd`: offset, 8 bytes, their ASCII. One string: one text node. */
function hexDump(bytes: Uint8Array, limit = HEX_LIMIT): string {
  const n = Math.min(bytes.length, limit);
  const lines: string[] = [];
  for (let off = 0; off < n; off += HEX_ROW) {
    const row = bytes.subarray(off, Math.min(n, off + HEX_ROW));
    const hex = Array.from(row, hexByte).join(' ').padEnd(HEX_ROW * 3 - 1, ' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(4, '0')}  ${hex}  ${ascii}`);
  }
  return lines.join('\n');
}

/** The JSON pretty-printed, or null when the text is not an object or array in JSON. */
function prettyJson(text: string): string | null {
  const t = text.trimStart();
  if (text.length > JSON_LIMIT || (t[0] !== '{' && t[0] !== '[')) return null;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

function openFrame(conn: number, dir: Direction, seq: number): void {
  selection.value = { kind: 'frame', key: frameKey(conn, dir, seq) };
  detailTab.value = 'frame';
}

function FrameLink({ conn, dir, seq }: { conn: number; dir: Direction; seq: number }) {
  const known = model.framesByKey.has(frameKey(conn, dir, seq));
  if (!known) return <span title="This frame is no longer held by the view">{seq}</span>;
  return (
    <button type="button" class="link-btn" onClick={() => openFrame(conn, dir, seq)} title={`Open frame ${seq} in the frame anatomy`}>
      {seq}
    </button>
  );
}

/**
 * The message's bytes as they were on the wire (after inflation). For text that is not valid
 * UTF-8 the event's text holds replacement characters, so the frames' payloads give the real
 * bytes when the view still holds them all.
 */
function messageBytes(m: MessageEvent): Uint8Array {
  if (m.base64 !== undefined) return base64ToBytes(m.base64);
  if (m.utf8Valid === false && !m.compressed) {
    const parts: Uint8Array[] = [];
    for (let s = m.firstFrame; s <= m.lastFrame; s++) {
      const f = model.framesByKey.get(frameKey(m.conn, m.dir, s));
      if (!f || f.truncated) {
        parts.length = 0;
        break;
      }
      parts.push(base64ToBytes(f.payload));
    }
    if (parts.length > 0) {
      const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    }
  }
  return new TextEncoder().encode(m.text ?? '');
}

/** Where the text stops being UTF-8, as the decoder said it. */
function utf8Violation(m: MessageEvent): string | null {
  for (let seq = m.firstFrame; seq <= m.lastFrame; seq++) {
    const v = model.violationsByFrame.get(frameKey(m.conn, m.dir, seq))?.find((x) => x.rule === 'invalid-utf8');
    if (v) return v.message;
  }
  return null;
}

function Segmented({ tab, set, tabs }: { tab: Tab; set: (t: Tab) => void; tabs: Array<[Tab, string]> }) {
  return (
    <div class="seg" role="group" aria-label="Show the payload as">
      {tabs.map(([t, label]) => (
        <button type="button" aria-pressed={tab === t} onClick={() => set(t)}>
          {label}
        </button>
      ))}
    </div>
  );
}

function Body({ bytes, text, truncated, total }: { bytes: Uint8Array; text: string | null; truncated: boolean; total: number }) {
  const [tab, setTab] = useState<Tab>(text !== null ? 'text' : 'hex');
  const [pretty, setPretty] = useState(true);
  // The panel re-renders on every batch of a live stream: parse and format once per payload.
  const json = useMemo(() => (text !== null ? prettyJson(text) : null), [text]);
  const dump = useMemo(() => (tab === 'hex' ? hexDump(bytes) : ''), [bytes, tab]);
  const b64 = useMemo(() => (tab === 'base64' ? bytesToBase64(bytes) : ''), [bytes, tab]);
  const current = tab === 'text' && text === null ? 'hex' : tab;
  const tabs: Array<[Tab, string]> = [
    ...(text !== null ? ([['text', json !== null ? 'Text / JSON' : 'Text']] as Array<[Tab, string]>) : []),
    ['hex', 'Hex'],
    ['base64', 'Base64'],
  ];
  return (
    <div class="msg-body">
      <div class="msg-toolbar">
        <Segmented tab={current} set={setTab} tabs={tabs} />
        {current === 'text' && json !== null && (
          <label class="check">
            <input type="checkbox" checked={pretty} onChange={(e) => setPretty((e.target as HTMLInputElement).checked)} /> pretty-print JSON
          </label>
        )}
      </div>
      {truncated && (
        <p class="note warn-text">
          Preview: the first {bytes.length.toLocaleString('en-US')} of {total.toLocaleString('en-US')} bytes ({formatBytes(total)}); the wiretap keeps only
          the start of large messages.
        </p>
      )}
      {current === 'text' && (
        <pre class="payload-text msg-text" aria-label="Payload as text">
          {json !== null && pretty ? json : text}
        </pre>
      )}
      {current === 'hex' && (
        <>
          <pre class="hex-dump" aria-label="Payload in hex">
            {dump}
          </pre>
          {bytes.length > HEX_LIMIT && <p class="muted small">… {(bytes.length - HEX_LIMIT).toLocaleString('en-US')} more bytes (see Base64 for all of them).</p>}
        </>
      )}
      {current === 'base64' && (
        <pre class="b64" aria-label="Payload in base64">
          {b64}
        </pre>
      )}
    </div>
  );
}

function DataMessage({ m }: { m: MessageEvent }) {
  const bytes = useMemo(() => messageBytes(m), [m]);
  const text = useMemo(() => (m.text !== undefined ? m.text : utf8OrNull(bytes)), [m, bytes]);
  const chars = useMemo(() => (text !== null ? [...text].length : 0), [text]);
  const where = m.utf8Valid === false ? utf8Violation(m) : null;
  const frames = m.frames === 1 ? (
    <>
      1 frame (seq <FrameLink conn={m.conn} dir={m.dir} seq={m.firstFrame} />)
    </>
  ) : (
    <>
      {plural(m.frames, 'frame')}, fragmented (seq{' '}
      {Array.from({ length: Math.min(m.frames, 12) }, (_, i) => (
        <>
          {i > 0 && ', '}
          <FrameLink conn={m.conn} dir={m.dir} seq={m.firstFrame + i} />
        </>
      ))}
      {m.frames > 12 && <> … {m.lastFrame}</>})
    </>
  );
  return (
    <>
      <dl class="facts-list">
        <div>
          <dt>length</dt>
          <dd>
            {m.length.toLocaleString('en-US')} bytes{m.opcode === 1 && text !== null ? `, ${chars.toLocaleString('en-US')} characters` : ''}
          </dd>
        </div>
        <div>
          <dt>frames</dt>
          <dd>{frames}</dd>
        </div>
        {m.compressed && (
          <div>
            <dt>compressed</dt>
            <dd>
              <span class="tag">permessage-deflate</span> {(m.wireLength ?? 0).toLocaleString('en-US')} bytes on the wire →{' '}
              {m.length.toLocaleString('en-US')} bytes inflated
              {m.wireLength !== undefined && m.length > 0 && (
                <>
                  {' '}
                  ({Math.round((m.wireLength / m.length) * 100)}% of the size, {m.wireLength <= m.length ? `saves ${Math.round((1 - m.wireLength / m.length) * 100)}%` : 'no saving'})
                </>
              )}
            </dd>
          </div>
        )}
        {m.opcode === 1 && (
          <div>
            <dt>UTF-8</dt>
            <dd>
              {m.utf8Valid === false ? (
                <span class="bad-text">
                  <span aria-hidden="true">✗ </span>not valid UTF-8: a receiver must close with 1007 (§8.1); the text shows replacement characters (�).
                  {where && <> {where}</>}
                </span>
              ) : (
                'valid'
              )}
            </dd>
          </div>
        )}
      </dl>
      {m.inflateError && (
        <p class="violations" role="note">
          <b>Could not inflate:</b> {m.inflateError}
        </p>
      )}
      {m.app ? <AppLayers key={`${m.conn}:${m.dir}:${m.firstFrame}`} m={m} data={bytes} /> : <BrokenRules m={m} />}
      {m.text === undefined && m.base64 === undefined ? (
        <p class="muted">No content was kept for this message.</p>
      ) : (
        <Body key={`${m.conn}:${m.dir}:${m.firstFrame}`} bytes={bytes} text={text} truncated={m.truncated === true} total={m.length} />
      )}
    </>
  );
}

function PingPong({ e }: { e: ControlEvent }) {
  const bytes = useMemo(() => base64ToBytes(e.payload), [e]);
  const text = useMemo(() => utf8OrNull(bytes), [bytes]);
  return (
    <>
      <dl class="facts-list">
        <div>
          <dt>payload</dt>
          <dd>{bytes.length} bytes (a control frame carries at most 125)</dd>
        </div>
        <div>
          <dt>frame</dt>
          <dd>
            seq <FrameLink conn={e.conn} dir={e.dir} seq={e.frame} />
          </dd>
        </div>
      </dl>
      <p>
        {e.type === 'ping'
          ? 'A ping asks the other side for a pong with the same payload (§5.5.2); browsers and ws answer it by themselves. Servers send pings to keep connections alive and detect dead ones.'
          : 'A pong answers a ping with the same payload (§5.5.3); an unsolicited pong is a one-way heartbeat.'}
      </p>
      {bytes.length > 0 ? (
        <Body key={`${e.conn}:${e.dir}:${e.frame}`} bytes={bytes} text={text} truncated={false} total={bytes.length} />
      ) : (
        <p class="muted">Empty payload.</p>
      )}
    </>
  );
}

function Close({ e }: { e: CloseEvent }) {
  const conn = model.conns.get(e.conn);
  const first = conn ? conn.closes.find((c) => c.dir !== e.dir && c.t < e.t) === undefined : true;
  return (
    <>
      <dl class="facts-list">
        <div>
          <dt>code</dt>
          <dd>
            <b>{e.code}</b> {e.explanation.replace(/^\d+ /, '')}
            {e.code === 1005 && <span class="muted"> (1005 is what the receiver reports; it is never sent)</span>}
          </dd>
        </div>
        <div>
          <dt>reason</dt>
          <dd>{e.reason ? <q class="payload-text">{e.reason}</q> : <span class="muted">none</span>}</dd>
        </div>
        <div>
          <dt>frame</dt>
          <dd>
            seq <FrameLink conn={e.conn} dir={e.dir} seq={e.frame} />
          </dd>
        </div>
      </dl>
      <p>
        {first
          ? `The ${e.dir} starts the closing handshake; the other side answers with its own close frame, then the server closes TCP (§7.1.2).`
          : `The ${e.dir} answers the other side’s close frame: both halves of the closing handshake are done.`}
      </p>
    </>
  );
}

const badgeOf = (r: MessageRow) => (r.type === 'message' ? (r.opcode === 1 ? 'TEXT' : 'BINARY') : r.type.toUpperCase());

/** Messages found for a frame, so a live stream's re-renders do not search again. */
const messageOfFrame = new WeakMap<FrameEvent, MessageRow>();

/**
 * The message a frame belongs to: the data message whose first..last frames hold it, or the
 * ping, pong or close event of a control frame. Null when the page holds none.
 */
export function messageFor(f: FrameEvent): MessageRow | null {
  const known = messageOfFrame.get(f);
  if (known) return known;
  const control = (f.opcode & 8) !== 0;
  const list = model.messages;
  // Newest first: the frame chosen is most often recent, and its message comes after it.
  const log = model.events;
  for (let i = list.length - 1; i >= 0; i--) {
    // By the log's columns first: a row is made only when it may be the one (a message beginning
    // at or before a data frame; a ping or pong of the control frame's seq; a close).
    const abs = list.abs(i);
    if (log.conn(abs) !== f.conn || log.dir(abs) !== f.dir) continue;
    const type = log.type(abs);
    if (type === 'message' ? control || log.seq(abs) > f.seq : type === 'close' ? !control : !control || log.seq(abs) !== f.seq) continue;
    const m = list.at(i)!;
    const hit = m.type === 'message' ? !control && m.firstFrame <= f.seq && f.seq <= m.lastFrame : control && m.frame === f.seq;
    if (hit) {
      messageOfFrame.set(f, m);
      return m;
    }
    // Messages come in frame order: one that ended before this frame means there is none later back.
    if (m.type === 'message' && m.lastFrame < f.seq && !control) break;
  }
  return null;
}

/** Why a frame has no message to show, precisely. */
function noMessageText(f: FrameEvent): string {
  const what = `Frame seq ${f.seq} (${opcodeName(f.opcode)}, ${f.dir === 'client' ? 'client → server' : 'server → client'}, #${f.conn})`;
  const conn = model.conns.get(f.conn);
  const ended = conn?.end != null;
  if (f.complete === false) return `${what} never arrived whole: the connection ended in the middle of it, so it makes no message.`;
  const broken = model.violationsByFrame.get(frameKey(f.conn, f.dir, f.seq));
  if (broken && broken.length > 0) return `${what} breaks a rule of RFC 6455 (${broken[0]!.message}), so no message was assembled from it. The Frame anatomy tab shows the frame.`;
  const dataOp = f.opcode === 0 || f.opcode === 1 || f.opcode === 2;
  if (!dataOp && (f.opcode < 8 || f.opcode > 10)) return `${what} has a reserved opcode: it is no message, ping, pong or close.`;
  if (dataOp && (!f.fin || f.opcode === 0)) {
    return ended
      ? `${what} is a fragment of a message that never finished: the connection ended before the message's last frame (FIN=1).`
      : `${what} is a fragment of a message still arriving: the message shows here once its last frame (FIN=1) comes.`;
  }
  if (model.messagesTrimmed > 0) return `${what}: its message is no longer held by this page, which keeps the newest ${MAX_ROWS.toLocaleString('en-US')} messages.`;
  return `${what}: no message was assembled from it.`;
}

/** Where the shown message came from when a frame is selected (Frames mode). */
function FromFrame({ f, m }: { f: FrameEvent; m: MessageRow }) {
  const part = m.type === 'message' && m.frames > 1 ? `, frame ${f.seq - m.firstFrame + 1} of its ${plural(m.frames, 'frame')}` : '';
  return (
    <p class="muted from-frame">
      The message of the selected frame (seq {f.seq}
      {part}).
    </p>
  );
}

export function MessageView({ row }: { row: MessageRow | null }) {
  version.value;
  const sel = selection.value;
  const frame = !row && sel?.kind === 'frame' ? model.framesByKey.get(sel.key) ?? null : null;
  if (!row && frame) {
    const m = messageFor(frame);
    if (!m) return <p class="hint no-message">{noMessageText(frame)}</p>;
    return <MessageBody row={m} from={frame} />;
  }
  if (!row) return <p class="hint">Select a row in the timeline to see its message: a frame shows the message it belongs to.</p>;
  return <MessageBody row={row} from={null} />;
}

function MessageBody({ row, from }: { row: MessageRow; from: FrameEvent | null }) {
  const badge = badgeOf(row);
  return (
    <div class="message-view">
      {from && <FromFrame f={from} m={row} />}
      <p class="summary">
        <span class={`badge op-${badge.toLowerCase()}`}>{badge}</span> <span class={`dir ${row.dir}`}>{dirText(row.dir)}</span> · #{row.conn}
        <span class="muted"> · t = {(row.t / 1000).toFixed(3)} s</span>
        {row.type === 'message' && row.compressed && <span class="tag">compressed</span>}
        {row.type === 'message' && row.truncated && <span class="tag warn-tag">preview</span>}
        {row.type === 'message' && row.utf8Valid === false && <span class="tag bad-tag">invalid UTF-8</span>}
      </p>
      {row.type === 'message' && <DataMessage m={row} />}
      {(row.type === 'ping' || row.type === 'pong') && <PingPong e={row} />}
      {row.type === 'close' && <Close e={row} />}
    </div>
  );
}
