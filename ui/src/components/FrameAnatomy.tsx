import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { FrameEvent, MessageEvent, ViolationEvent } from '../../../server/capture/events.ts';
import { explainCloseCode } from '../../../server/protocol/close-codes.ts';
import { isControl, opcodeName } from '../../../server/protocol/opcodes.ts';
import { base64ToBytes, hexByte, hexToBytes, toHex, utf8, utf8OrNull, xorMask } from '../lib/bytes.ts';
import { detailTab, frameKey, model, selection } from '../state.ts';
import { markedBytes } from '../conformance.ts';
import '../detail.css';

/** Payload bytes drawn in the grid; the rest is counted. 256 is 16 rows, enough to see the pattern. */
const GRID_PAYLOAD = 256;
/** Payload bytes in the XOR row: four turns of the key. */
const XOR_BYTES = 16;
const PER_ROW = 16;

type Field = 'b0' | 'b1' | 'extlen' | 'mask' | 'payload';

const FIELD_LABEL: Record<Field, string> = {
  b0: 'FIN · RSV1-3 · opcode',
  b1: 'MASK · payload length',
  extlen: 'extended length',
  mask: 'masking key',
  payload: 'payload',
};

const OPCODE_MEANING: Record<number, string> = {
  0x0: 'continuation: the next fragment of a message',
  0x1: 'text: the first frame of a UTF-8 text message',
  0x2: 'binary: the first frame of a binary message',
  0x8: 'close: starts or answers the closing handshake',
  0x9: 'ping: asks for a pong',
  0xa: 'pong: answers a ping',
};

/** Where each field sits in this frame's header (RFC 6455 §5.2, figure). */
interface Layout {
  extLen: number;
  maskAt: number;
  payloadAt: number;
}

function layoutOf(f: FrameEvent): Layout {
  const extLen = f.lengthEncoding === 16 ? 2 : f.lengthEncoding === 64 ? 8 : 0;
  const maskAt = 2 + extLen;
  return { extLen, maskAt, payloadAt: maskAt + (f.masked ? 4 : 0) };
}

function fieldAt(i: number, l: Layout, masked: boolean): Field {
  if (i === 0) return 'b0';
  if (i === 1) return 'b1';
  if (i < 2 + l.extLen) return 'extlen';
  if (masked && i < l.payloadAt) return 'mask';
  return 'payload';
}

/** The bytes of a field, to mark all of them when a violation points at its first. */
function fieldRange(i: number, l: Layout, masked: boolean): [number, number] {
  switch (fieldAt(i, l, masked)) {
    case 'b0':
      return [0, 1];
    case 'b1':
      return [1, 2];
    case 'extlen':
      return [2, 2 + l.extLen];
    case 'mask':
      return [l.maskAt, l.payloadAt];
    case 'payload':
      return [i, i + 1];
  }
}

const bits8 = (b: number) => b.toString(2).padStart(8, '0');
const printable = (b: number) => (b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : '');

interface Bytes {
  /** Header then payload as on the wire (masked for masked frames), capped. */
  wire: Uint8Array;
  /** The unmasked payload we hold (a preview when the frame was truncated). */
  payload: Uint8Array;
  key: Uint8Array | null;
  header: Uint8Array;
  /** Payload bytes not drawn in the grid. */
  more: number;
}

function bytesOf(f: FrameEvent): Bytes {
  const header = hexToBytes(f.header);
  const payload = base64ToBytes(f.payload);
  const key = f.maskKey ? hexToBytes(f.maskKey) : null;
  const shown = payload.subarray(0, GRID_PAYLOAD);
  const onWire = key ? xorMask(shown, key) : shown;
  const wire = new Uint8Array(header.length + onWire.length);
  wire.set(header);
  wire.set(onWire, header.length);
  const more = Math.max(0, f.length - shown.length);
  return { wire, payload, key, header, more };
}

function explainByte(f: FrameEvent, b: Bytes, l: Layout, i: number, compressed: boolean): string {
  const v = b.wire[i]!;
  const hex = `0x${hexByte(v)}`;
  switch (fieldAt(i, l, f.masked)) {
    case 'b0':
      return `byte 0: FIN=${+f.fin} (${f.fin ? 'the last frame of its message' : 'more fragments follow'}), RSV1=${+f.rsv1}${
        f.rsv1 ? (compressed ? ' (compressed, permessage-deflate)' : ' (no extension defines it here)') : ''
      }, RSV2=${+f.rsv2}, RSV3=${+f.rsv3}, opcode=0x${f.opcode.toString(16)} ${opcodeName(f.opcode)}. ${hex} = ${bits8(v).slice(0, 4)} ${bits8(v).slice(4)}.`;
    case 'b1': {
      const len7 = v & 0x7f;
      const mask = `MASK=${(v >> 7) & 1} (${v & 0x80 ? 'a 4-byte masking key follows' : 'no masking key'})`;
      const len =
        len7 === 126
          ? 'payload length 126: the real length is in the next 2 bytes (16-bit)'
          : len7 === 127
            ? 'payload length 127: the real length is in the next 8 bytes (64-bit)'
            : `payload length ${len7} (7-bit)`;
      return `byte 1: ${mask}, ${len}. ${hex} = ${bits8(v).slice(0, 4)} ${bits8(v).slice(4)}.`;
    }
    case 'extlen': {
      const k = i - 2;
      const all = toHex(b.header.subarray(2, 2 + l.extLen), '');
      return `byte ${i}: ${hex}, byte ${k + 1} of the ${l.extLen * 8}-bit extended payload length (big-endian): bytes 2-${1 + l.extLen} = 0x${all} = ${
        f.lengthExact ?? f.length.toLocaleString('en-US')
      }.`;
    }
    case 'mask': {
      const k = i - l.maskAt;
      return `byte ${i}: ${hex}, masking key byte ${k} (key ${f.maskKey}); payload byte n is XORed with key byte n mod 4 (§5.3).`;
    }
    case 'payload': {
      const p = i - l.payloadAt;
      const plain = b.payload[p]!;
      const what = compressed ? ' (DEFLATE-compressed data)' : '';
      if (b.key) {
        const kb = b.key[p & 3]!;
        return `byte ${i}: payload byte ${p}${what} as on the wire ${hex}; XOR key byte ${p & 3} (0x${hexByte(kb)}) = 0x${hexByte(plain)} ${printable(plain)}`.trim() + '.';
      }
      return `byte ${i}: payload byte ${p}${what} = ${hex} ${printable(plain)}`.trim() + '.';
    }
  }
}

/** Why the grid stops: its own cap, the wiretap's preview bound, or bytes that never came. */
function moreNote(f: FrameEvent, b: Bytes): string {
  const kept = b.payload.length;
  if (f.complete === false) return kept > GRID_PAYLOAD ? ` (${(f.length - kept).toLocaleString('en-US')} of them never arrived)` : ' (never arrived)';
  if (f.truncated) return ` (the wiretap kept the first ${kept.toLocaleString('en-US')} payload bytes; the rest was relayed, not stored)`;
  return '';
}

function ByteGrid({ f, b, l, bad, selected, onSelect }: { f: FrameEvent; b: Bytes; l: Layout; bad: Set<number>; selected: number | null; onSelect: (i: number) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const n = b.wire.length;
  const focusIndex = selected ?? 0;
  const move = (e: KeyboardEvent, i: number) => {
    const to =
      e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'ArrowDown' ? i + PER_ROW : e.key === 'ArrowUp' ? i - PER_ROW : e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : null;
    if (to === null) return;
    e.preventDefault();
    const j = Math.max(0, Math.min(n - 1, to));
    onSelect(j);
    ref.current?.querySelector<HTMLButtonElement>(`[data-i="${j}"]`)?.focus();
  };
  const rows = [];
  for (let start = 0; start < n; start += PER_ROW) {
    const cells = [];
    for (let i = start; i < Math.min(n, start + PER_ROW); i++) {
      const field = fieldAt(i, l, f.masked);
      const cls = `byte f-${field}${bad.has(i) ? ' bad' : ''}${selected === i ? ' sel' : ''}`;
      cells.push(
        <button
          type="button"
          class={cls}
          data-i={i}
          tabIndex={i === focusIndex ? 0 : -1}
          aria-pressed={selected === i}
          // The name holds the hex digits as shown (a name that differs from the visible text fails
          // speech input: WCAG 2.5.3).
          aria-label={`byte ${i}, ${FIELD_LABEL[field]}, ${hexByte(b.wire[i]!)}${bad.has(i) ? ', breaks a rule' : ''}`}
          onClick={() => onSelect(i)}
          onKeyDown={(e) => move(e, i)}
        >
          {hexByte(b.wire[i]!)}
        </button>,
      );
    }
    rows.push(
      <div class="hex-row">
        <span class="hex-off" title={`stream offset ${f.offset + start}`}>
          {start.toString(16).padStart(4, '0')}
        </span>
        {cells}
      </div>,
    );
  }
  return (
    <div class="hex-grid" ref={ref} role="group" aria-label="Frame bytes as on the wire (arrow keys move, the byte is explained below)">
      {rows}
      {b.more > 0 && <div class="hex-more muted">… {b.more.toLocaleString('en-US')} more bytes{moreNote(f, b)}</div>}
    </div>
  );
}

/** The bits of bytes 0-1 a rule is about, to mark them in the bit view. */
function badBits(list: ViolationEvent[], f: FrameEvent): Set<number> {
  const out = new Set<number>();
  const add = (...k: number[]) => k.forEach((x) => out.add(x));
  for (const v of list) {
    switch (v.rule) {
      case 'unmasked-client-frame':
      case 'masked-server-frame':
        add(8);
        break;
      case 'rsv-without-extension':
        if (f.rsv1) add(1);
        if (f.rsv2) add(2);
        if (f.rsv3) add(3);
        break;
      case 'rsv1-on-control-frame':
      case 'rsv1-on-continuation':
        add(1);
        break;
      case 'reserved-opcode':
      case 'unexpected-continuation':
      case 'data-frame-mid-message':
        add(4, 5, 6, 7);
        break;
      case 'fragmented-control-frame':
        add(0);
        break;
      case 'control-frame-too-long':
      case 'non-minimal-length':
        add(9, 10, 11, 12, 13, 14, 15);
        break;
      default:
        break;
    }
  }
  return out;
}

function BitView({ f, header, bad }: { f: FrameEvent; header: Uint8Array; bad: Set<number> }) {
  const b0 = header[0] ?? 0;
  const b1 = header[1] ?? 0;
  const bit = (v: number, k: number) => (v >> (7 - k)) & 1;
  const len7 = b1 & 0x7f;
  const groups: Array<{ name: string; cls: string; from: number; width: number; value: string }> = [
    { name: 'FIN', cls: 'f-b0', from: 0, width: 1, value: String(+f.fin) },
    { name: 'RSV1', cls: 'f-b0', from: 1, width: 1, value: String(+f.rsv1) },
    { name: 'RSV2', cls: 'f-b0', from: 2, width: 1, value: String(+f.rsv2) },
    { name: 'RSV3', cls: 'f-b0', from: 3, width: 1, value: String(+f.rsv3) },
    { name: 'opcode', cls: 'f-b0', from: 4, width: 4, value: `0x${f.opcode.toString(16)} ${opcodeName(f.opcode)}` },
    { name: 'MASK', cls: 'f-b1', from: 8, width: 1, value: String((b1 >> 7) & 1) },
    {
      name: 'payload len',
      cls: 'f-b1',
      from: 9,
      width: 7,
      value: len7 === 126 ? '126 → 16-bit' : len7 === 127 ? '127 → 64-bit' : `${len7}`,
    },
  ];
  const cellClass = (k: number) => `${groups.find((g) => k >= g.from && k < g.from + g.width)!.cls}${bad.has(k) ? ' bad' : ''}`;
  const groupClass = (g: (typeof groups)[number]) => {
    let cls = `${g.cls} group-start`;
    for (let k = g.from; k < g.from + g.width; k++) if (bad.has(k)) cls += ' bad';
    return cls;
  };
  return (
    <table class="bit-view" aria-label="The first two bytes bit by bit">
      <thead>
        <tr>
          <th colSpan={8} scope="colgroup">
            byte 0 = 0x{hexByte(b0)}
          </th>
          <th colSpan={8} scope="colgroup">
            byte 1 = 0x{hexByte(b1)}
          </th>
        </tr>
        <tr class="bit-fields">
          {groups.map((g) => (
            <th colSpan={g.width} class={groupClass(g)} scope="col">
              {g.name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        <tr class="bits">
          {Array.from({ length: 16 }, (_, k) => (
            <td class={cellClass(k)} title={`bit ${k}`}>
              {k < 8 ? bit(b0, k) : bit(b1, k - 8)}
            </td>
          ))}
        </tr>
        <tr class="bit-values">
          {groups.map((g) => (
            <td colSpan={g.width} class={groupClass(g)}>
              {g.value}
            </td>
          ))}
        </tr>
      </tbody>
    </table>
  );
}

function XorRows({ b, bad, payloadAt }: { b: Bytes; bad: Set<number>; payloadAt: number }) {
  const key = b.key!;
  const n = Math.min(XOR_BYTES, b.payload.length);
  if (n === 0) return <p class="muted">The payload is empty: the masking key is sent but masks nothing.</p>;
  const idx = Array.from({ length: n }, (_, i) => i);
  return (
    <div class="xor-wrap">
      <table class="xor-table" aria-label="Masked byte XOR key byte = unmasked byte">
        <tbody>
          <tr>
            <th scope="row">on the wire</th>
            {idx.map((i) => (
              <td class="f-payload">{hexByte(b.payload[i]! ^ key[i & 3]!)}</td>
            ))}
          </tr>
          <tr>
            <th scope="row">XOR key</th>
            {idx.map((i) => (
              <td class="f-mask" title={`key byte ${i & 3}`}>
                {hexByte(key[i & 3]!)}
              </td>
            ))}
          </tr>
          <tr class="xor-result">
            <th scope="row">= unmasked</th>
            {idx.map((i) => (
              <td class={bad.has(payloadAt + i) ? 'bad' : undefined}>{hexByte(b.payload[i]!)}</td>
            ))}
          </tr>
          <tr class="xor-chars">
            <th scope="row">char</th>
            {idx.map((i) => (
              <td>{b.payload[i] === 0x20 ? '␣' : printable(b.payload[i]!).slice(1, -1) || '·'}</td>
            ))}
          </tr>
        </tbody>
      </table>
      {b.payload.length > n && <p class="muted small">The first {n} of {b.payload.length.toLocaleString('en-US')} payload bytes; the key repeats every 4 bytes.</p>}
    </div>
  );
}

/** Frame → its message, once found (a found message never changes); null: not complete when last searched. */
const messageCache = new WeakMap<FrameEvent, MessageEvent | null>();
/**
 * Rows searched again for a frame whose message was not there yet: the view re-renders on every
 * batch of a live stream, and the message arrives right after its last frame.
 */
const RESEARCH_ROWS = 4096;

/** The data message this frame is part of (the newest rows are searched first). */
function messageOf(f: FrameEvent): MessageEvent | null {
  if (isControl(f.opcode)) return null;
  const cached = messageCache.get(f);
  if (cached) return cached;
  const rows = model.messages;
  const stop = cached === null ? Math.max(0, rows.length - RESEARCH_ROWS) : 0;
  let found: MessageEvent | null = null;
  const log = model.events;
  for (let i = rows.length - 1; i >= stop; i--) {
    // By the log's columns first: only a message of the frame's connection and direction that
    // begins at or before it is made (the newest such one holds the frame, or none does).
    const abs = rows.abs(i);
    if (log.type(abs) !== 'message' || log.conn(abs) !== f.conn || log.dir(abs) !== f.dir || log.seq(abs) > f.seq) continue;
    const m = rows.at(i)!;
    if (m.type === 'message' && f.seq <= m.lastFrame) found = m;
    // Messages come in frame order: one that ended before this frame means there is none further back.
    break;
  }
  messageCache.set(f, found);
  return found;
}

/**
 * Is this frame's payload DEFLATE data? RSV1 means "compressed" only where permessage-deflate was
 * negotiated (RFC 7692 §6); continuation frames of a compressed message carry RSV1=0 but are compressed too.
 */
function isCompressed(f: FrameEvent): boolean {
  if (isControl(f.opcode)) return false;
  const m = messageOf(f);
  if (m) return m.compressed;
  return f.rsv1 && (model.conns.get(f.conn)?.handshake?.deflate ?? null) !== null;
}

function MessageLink({ f }: { f: FrameEvent }) {
  const m = messageOf(f);
  // A whole uncompressed message is the payload shown just above: nothing to add.
  if (!m || (m.frames === 1 && !m.compressed)) return null;
  const open = () => {
    selection.value = { kind: 'message', row: m, conn: m.conn };
    detailTab.value = 'message';
  };
  const text = m.text !== undefined ? (m.text.length > 120 ? `${m.text.slice(0, 120)}…` : m.text) : null;
  return (
    <p class="msg-link">
      {m.frames > 1 ? `Fragment ${f.seq - m.firstFrame + 1} of ${m.frames} of a ` : 'Carries a whole '}
      {m.opcode === 1 ? 'text' : 'binary'} message of {m.length.toLocaleString('en-US')} bytes{m.compressed ? ' (inflated)' : ''}
      {text !== null && (
        <>
          : <q class="payload-text">{text}</q>
        </>
      )}{' '}
      <button type="button" class="link-btn" onClick={open}>
        open the message
      </button>
    </p>
  );
}

/** A continuation frame of a binary message (known once the message is complete). */
const isBinaryMessage = (f: FrameEvent) => messageOf(f)?.opcode === 2;

/** The payload in words: text, close code and reason, or hex. */
function PayloadText({ f, payload, invalidUtf8 }: { f: FrameEvent; payload: Uint8Array; invalidUtf8: boolean }) {
  const text = useMemo(() => utf8OrNull(payload), [payload]);
  if (isCompressed(f)) {
    return (
      <p>
        <span class="tag">compressed</span> {f.rsv1 ? 'RSV1=1' : 'Part of a compressed message'}: these {payload.length.toLocaleString('en-US')} bytes are
        DEFLATE data (permessage-deflate), not readable as they are. The sender drops the 00 00 ff ff that ends each compressed message; the
        receiver adds it back before inflating (RFC 7692 §7.2.1).
      </p>
    );
  }
  if (payload.length === 0) return <p class="muted">Empty payload.</p>;
  if (f.opcode === 0x8) {
    if (payload.length < 2) return <p>Close body of one byte: not a valid close body (a code takes two bytes).</p>;
    const code = (payload[0]! << 8) | payload[1]!;
    const reason = utf8(payload.subarray(2));
    return (
      <p>
        Close code <b>{code}</b> (bytes 0-1, big-endian): {explainCloseCode(code).replace(/^\d+ /, '')}
        {reason ? (
          <>
            ; reason <q class="payload-text">{reason}</q>
          </>
        ) : (
          '; no reason'
        )}
        .
      </p>
    );
  }
  const textual = f.opcode === 0x1 || (f.opcode === 0x0 && !isBinaryMessage(f)) || isControl(f.opcode);
  if (text !== null && (textual || /^[\x20-\x7e\s]*$/.test(text))) {
    return (
      <pre class="payload-text" aria-label="Payload as text">
        {text}
      </pre>
    );
  }
  if ((f.opcode === 0x1 || f.opcode === 0x0) && text === null && !isBinaryMessage(f)) {
    return (
      <>
        {invalidUtf8 ? (
          <p class="bad-text">Not valid UTF-8 (see the rule above); decoded with replacement characters (�):</p>
        ) : (
          <p class="muted">Not UTF-8 on its own: a character is split between this fragment and the next; decoded with replacement characters (�):</p>
        )}
        <pre class="payload-text">{utf8(payload)}</pre>
      </>
    );
  }
  return (
    <p>
      Binary payload: <code class="wrap">{toHex(payload.subarray(0, 64))}</code>
      {payload.length > 64 ? ' …' : ''}
    </p>
  );
}

function Violations({ list, f, l, onSelect, shown }: { list: ViolationEvent[]; f: FrameEvent; l: Layout; onSelect: (i: number) => void; shown: number }) {
  return (
    <div class="violations" role="note" aria-label="Rules this frame breaks">
      <h4>
        <span aria-hidden="true">✗</span> This frame breaks {list.length === 1 ? 'a rule' : `${list.length} rules`}
      </h4>
      <ul>
        {list.map((v) => {
          const at = v.offset !== undefined ? v.offset - f.offset : null;
          return (
            <li>
              <b>{v.rule}</b> <span class="section">{v.section}</span>: {v.message}{' '}
              <span class="muted">
                A conforming endpoint closes with {explainCloseCode(v.closeCode)}.
              </span>
              {at !== null && (
                <>
                  {' '}
                  {at >= 0 && at < shown ? (
                    <button type="button" class="link-btn" onClick={() => onSelect(at)}>
                      at byte {at} ({fieldLabelFor(at, l, f.masked)}, stream offset {v.offset})
                    </button>
                  ) : (
                    <span class="muted">at stream offset {v.offset}</span>
                  )}
                </>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

const fieldLabelFor = (i: number, l: Layout, masked: boolean) => FIELD_LABEL[fieldAt(i, l, masked)];

export function FrameAnatomy({ frame }: { frame: FrameEvent | null }) {
  const [selected, setSelected] = useState<number | null>(null);
  const id = frame ? frameKey(frame.conn, frame.dir, frame.seq) : null;
  useEffect(() => setSelected(null), [id]);
  // The panel re-renders on every batch of a live stream: decode the frame once.
  const decoded = useMemo(() => (frame ? bytesOf(frame) : null), [frame]);

  if (!frame || !decoded) return <p class="hint">Select a frame in the timeline to see its bytes.</p>;
  const f = frame;
  const l = layoutOf(f);
  const b = decoded;
  const violations = model.violationsByFrame.get(id!) ?? [];
  const bad = new Set<number>();
  for (const v of violations) {
    if (v.offset === undefined) continue;
    const at = v.offset - f.offset;
    if (at < 0 || at >= b.wire.length) continue;
    const [from, to] = fieldRange(at, l, f.masked);
    for (let i = from; i < Math.min(to, b.wire.length); i++) bad.add(i);
  }
  // A conformance case's frame (ConformanceView): the bytes the case is about are marked too.
  const mark = markedBytes.value?.key === id ? markedBytes.value : null;
  if (mark && mark.at !== null && mark.at < b.wire.length) {
    const [from, to] = fieldRange(mark.at, l, f.masked);
    for (let i = from; i < Math.min(to, b.wire.length); i++) bad.add(i);
  }
  const payloadLen = f.lengthExact ?? f.length.toLocaleString('en-US');
  const compressed = isCompressed(f);
  const rulesAt = (i: number) =>
    violations
      .filter((v) => {
        if (v.offset === undefined || v.offset < f.offset) return false;
        const [from, to] = fieldRange(v.offset - f.offset, l, f.masked);
        return i >= from && i < to;
      })
      .map((v) => v.rule);
  const dirText = f.dir === 'client' ? 'client → server' : 'server → client';

  return (
    <div class="frame-anatomy">
      <p class="summary">
        <span class={`badge op-${opcodeName(f.opcode).toLowerCase().replace(/[^a-z]/g, '')}`}>{opcodeName(f.opcode)}</span>{' '}
        <span class={`dir ${f.dir}`}>{dirText}</span> · #{f.conn} · frame {f.seq}
        {f.injected && (
          <span class="badge injected" title={`Sent by the wiretap, not by the ${f.dir}`}>
            ✎ injected
          </span>
        )}
        {violations.length > 0 && (
          <span class="badge violation" title="This frame breaks a rule of RFC 6455">
            ✗ {violations.length}
          </span>
        )}
      </p>
      <p class="facts muted">
        stream offset {f.offset.toLocaleString('en-US')} · t = {(f.t / 1000).toFixed(3)} s
        {f.tEnd > f.t ? ` (last byte +${(f.tEnd - f.t).toFixed(1)} ms)` : ''} · header {f.headerLength} B + payload {payloadLen} B
        {f.complete === false ? ` announced, ${b.payload.length.toLocaleString('en-US')} B arrived` : ''}
      </p>
      {f.injected && (
        <p class="note injected-note" role="note">
          <b>✎ Injected by the wiretap (frame crafter / fault), not sent by the {f.dir}.</b> The wiretap wrote these bytes into the {f.dir}'s stream
          itself (never inside one of its frames), and the {f.dir === 'client' ? 'server' : 'client'} received them as if the {f.dir} had sent them
          {violations.length > 0 ? ': the rules it breaks are the injected frame\'s, not your code\'s' : ''}.
        </p>
      )}
      {compressed && (
        <p class="note">
          <span class="tag">compressed</span> {f.rsv1 ? 'RSV1=1: the' : 'The'} payload is compressed (permessage-deflate); the bytes below are DEFLATE
          data.
        </p>
      )}
      {f.rsv1 && !compressed && !isControl(f.opcode) && (
        <p class="note warn-text">RSV1=1, but no extension was negotiated on this connection: the bit means nothing here, so the payload is read as is.</p>
      )}
      {f.complete === false && <p class="note warn-text">The connection ended before this frame was complete: only the bytes that arrived are shown.</p>}
      {f.truncated && <p class="note muted">Only the first {b.payload.length.toLocaleString('en-US')} payload bytes were kept (preview bound).</p>}

      {mark && (
        <p class="note case-mark-note" role="note">
          Conformance case <b>{mark.caseId}</b>:{' '}
          {mark.at !== null && mark.at < b.wire.length ? (
            <button type="button" class="link-btn" onClick={() => setSelected(mark.at)}>
              byte {mark.at} ({fieldLabelFor(mark.at, l, f.masked)}) and its field are what the case is about.
            </button>
          ) : mark.own ? (
            'this is the frame the case is about.'
          ) : (
            `a frame of the case's connection (#${f.conn}).`
          )}
        </p>
      )}
      {violations.length > 0 && <Violations list={violations} f={f} l={l} onSelect={setSelected} shown={b.wire.length} />}

      <h3>Bytes on the wire</h3>
      <ul class="legend" aria-label="Field colours">
        {(['b0', 'b1', 'extlen', 'mask', 'payload'] as Field[])
          .filter((k) => (k !== 'extlen' || l.extLen > 0) && (k !== 'mask' || f.masked))
          .map((k) => (
            <li>
              <span class={`sw f-${k}`} aria-hidden="true" />
              {FIELD_LABEL[k]}
              {k === 'extlen' ? ` (${l.extLen * 8}-bit)` : k === 'mask' ? ` ${f.maskKey ?? '(incomplete)'}` : ''}
            </li>
          ))}
      </ul>
      <ByteGrid f={f} b={b} l={l} bad={bad} selected={selected} onSelect={setSelected} />
      <p class="byte-explain" aria-live="polite">
        {selected !== null && selected < b.wire.length ? (
          <>
            {explainByte(f, b, l, selected, compressed)} <span class="muted">Stream offset {(f.offset + selected).toLocaleString('en-US')}.</span>
            {rulesAt(selected).length > 0 && <span class="bad-text"> Breaks {rulesAt(selected).join(', ')}.</span>}
          </>
        ) : (
          <span class="muted">Click a byte (or use the arrow keys) to see what it means.</span>
        )}
      </p>

      <h3>The first two bytes, bit by bit</h3>
      <BitView f={f} header={b.header} bad={badBits(violations, f)} />
      <dl class="fields">
        <div>
          <dt>opcode</dt>
          <dd>
            0x{f.opcode.toString(16)} {opcodeName(f.opcode)}: {OPCODE_MEANING[f.opcode] ?? 'reserved: no meaning in RFC 6455 (§5.2)'}
          </dd>
        </div>
        <div>
          <dt>payload length</dt>
          <dd>
            {payloadLen} bytes,{' '}
            {f.lengthEncoding === 7
              ? 'in the 7-bit field (0-125)'
              : f.lengthEncoding === 16
                ? 'in a 16-bit field after 126 (126-65,535)'
                : 'in a 64-bit field after 127 (65,536 and up)'}
          </dd>
        </div>
        <div>
          <dt>masking key</dt>
          <dd>{f.maskKey ? <code class="mask-key">{f.maskKey}</code> : <span class="muted">none (MASK=0)</span>}</dd>
        </div>
      </dl>

      {(f.dir === 'client' || b.key) && (
        <>
          <h3>Unmasking: wire byte XOR key byte</h3>
          {b.key ? (
            <XorRows b={b} bad={bad} payloadAt={l.payloadAt} />
          ) : f.masked ? (
            <p class="muted">The masking key never arrived: the connection ended inside the header.</p>
          ) : (
            <p class="bad-text">
              This {f.injected ? 'injected ' : ''}client frame is not masked: RFC 6455 §5.1 requires every client frame to be masked, so a server must close the
              connection.
            </p>
          )}
        </>
      )}
      {f.dir === 'server' && !b.key && <p class="muted small">Server frames are not masked (§5.1): the payload is on the wire as is.</p>}

      <h3>Payload{b.key ? ' (unmasked)' : ''}</h3>
      <PayloadText f={f} payload={b.payload} invalidUtf8={violations.some((v) => v.rule === 'invalid-utf8')} />
      <MessageLink f={f} />
    </div>
  );
}
