/**
 * Socket.IO v4 (protocol v5, https://socket.io/docs/v4/socket-io-protocol/) on Engine.IO v4:
 * a `message` packet's data is a Socket.IO packet,
 *
 *   <type>[<attachments>-][<namespace>,][<ack id>][JSON payload]     e.g. 2/chat,12["say","hi"]
 *
 * and a BINARY_EVENT or BINARY_ACK is followed by as many binary messages as its attachments
 * count, each replacing a `{"_placeholder":true,"num":N}` of its payload. They are joined here,
 * so `args` holds what the sender passed, binary arguments as `{ type: 'Buffer', base64, length }`.
 * The joined packet is reported on the message that completes it, with `spans` naming the
 * placeholder message and the attachments before it; the messages in between say which
 * attachment they are.
 *
 * Bounded: the attachments count is a number the peer wrote, so nothing is allocated by it: at
 * most MAX_ATTACHMENTS are kept per packet and MAX_ATTACHMENT_BYTES of their data, the rest
 * counted. Never throws; work proportional to the bytes handed in.
 */
import type { AppInfo, AppLayerSpan, AppUnit, Direction, MessageRef } from '../../capture/events.ts';
import type { AppDecoder, AppMaker, AppMessage, AppResult, AppRuleBroken } from './decoder.ts';
import { controlUnit, EIO_SECTION, engineTypeOf, splitPayload } from './engineio.ts';
import type { EngineIoQuery } from './select.ts';
import { firstElement, jsonTop, NUMBER, STRING, TOP_ARRAY, topKeys } from './json-head.ts';
import { base64Of, broken, bytesOf, cutNote, isRecord, parseJson, preview, quote, textOf } from './util.ts';

export type SocketType = NonNullable<AppUnit['socketType']>;
export const SOCKET_TYPES: readonly SocketType[] = ['CONNECT', 'DISCONNECT', 'EVENT', 'ACK', 'CONNECT_ERROR', 'BINARY_EVENT', 'BINARY_ACK'];

const SIO_SECTION = 'Socket.IO protocol v5, Packet encoding';
const SIO_BINARY = 'Socket.IO protocol v5, Packet encoding (binary attachments)';

/** Attachments kept per binary packet, and the bytes of their data kept in all. */
export const MAX_ATTACHMENTS = 64;
export const MAX_ATTACHMENT_BYTES = 256 * 1024;
/** Packets of one long-polling body decoded; the rest are counted. */
export const MAX_POLLING_PACKETS = 200;
/** Depth to which a payload is searched for placeholders (deeper ones stay as sent). */
const JOIN_DEPTH = 32;

/** A binary argument, as `args` holds it. */
export interface BinaryArg {
  type: 'Buffer';
  /** base64 of the bytes (of their start when `truncated`). */
  base64: string;
  length: number;
  truncated?: true;
}

/** A binary packet waiting for its attachments. */
interface Waiting {
  unit: AppUnit;
  /** The payload as sent (with placeholders), or null when it could not be read. */
  payload: unknown;
  /** The count the packet announced (a number the peer wrote: only compared, never allocated by). */
  expected: number;
  kept: BinaryArg[];
  keptBytes: number;
  seen: number;
  /** The placeholder message and the attachments so far (at most MAX_ATTACHMENTS + 1). */
  refs: MessageRef[];
}

/** A Socket.IO packet read from a `message` packet's data. */
interface SocketPacket {
  unit: AppUnit;
  /** Char index in the data where the JSON payload starts (data.length without one). */
  payloadAt: number;
  /** Binary packets: the announced attachments count and the payload to join them into. */
  attachments?: number;
  payload?: unknown;
}

/**
 * Read a Socket.IO packet (the data of an Engine.IO `message` packet). `cut`: only the start of
 * it is here, so the JSON payload is not parsed (the header still is).
 */
function readSocketPacket(text: string, cut: boolean, violations: AppRuleBroken[], quiet = false): SocketPacket {
  const base = { protocol: 'socket.io' as const, engineType: 'message' as const };
  const t = text.length > 0 ? text.charCodeAt(0) - 0x30 : -1;
  const socketType = SOCKET_TYPES[t];
  if (t < 0 || socketType === undefined) {
    violations.push(
      broken(
        'socket.io-bad-packet-type',
        SIO_SECTION,
        text.length === 0
          ? 'An Engine.IO message packet with no Socket.IO packet in it (a Socket.IO packet starts with its type, 0 to 6).'
          : `The Socket.IO packet ${quote(text, 20)} starts with ${JSON.stringify(text[0])}, not a packet type (0 CONNECT to 6 BINARY_ACK): the Socket.IO peer drops the connection.`,
      ),
    );
    return { unit: { ...base, type: 'invalid', summary: `message ${quote(text)}: not a Socket.IO packet` }, payloadAt: text.length };
  }
  let i = 1;
  let attachments: number | undefined;
  if (socketType === 'BINARY_EVENT' || socketType === 'BINARY_ACK') {
    const dash = text.indexOf('-', i);
    const digits = dash < 0 ? '' : text.slice(i, dash);
    // At most 15 digits: a count no safe integer can hold is no count.
    if (dash < 0 || digits.length === 0 || digits.length > 15 || !/^\d+$/.test(digits)) {
      violations.push(broken('socket.io-bad-attachments', SIO_BINARY, `The ${socketType} ${quote(text, 30)} does not say how many attachments follow (<type><count>-...).`));
    } else {
      attachments = Number(digits);
      i = dash + 1;
    }
  }
  let nsp = '/';
  if (text[i] === '/') {
    const comma = text.indexOf(',', i);
    const end = comma < 0 ? text.length : comma;
    nsp = text.slice(i, end);
    i = comma < 0 ? text.length : comma + 1;
  }
  let ackId: number | undefined;
  let d = i;
  while (d < text.length && d - i < 16 && text.charCodeAt(d) >= 0x30 && text.charCodeAt(d) <= 0x39) d++;
  if (d > i) {
    const n = Number(text.slice(i, d));
    if (Number.isSafeInteger(n)) ackId = n;
    else violations.push(broken('socket.io-bad-ack-id', SIO_SECTION, `The ack id ${text.slice(i, d)} is past 2^53: no ack can match it.`));
    i = d;
  }
  const payloadAt = i;
  const raw = text.slice(i);
  // A plain literal, fields added after: object spread here made every unit a slow
  // (dictionary-mode) object, which cost the relay ~30 µs a message.
  const unit: AppUnit = { protocol: 'socket.io', type: socketType, summary: socketType, engineType: 'message', socketType, nsp };
  if (ackId !== undefined) unit.ackId = ackId;
  const where = nsp === '/' ? '' : ` ${nsp}`;
  const ack = ackId !== undefined ? ` (ack ${ackId})` : '';
  let payload: unknown;
  let parsed = false;
  if (raw.length > 0 && !cut) {
    const p = parseJson(raw);
    if (!p.ok) {
      violations.push(broken('socket.io-bad-json', SIO_SECTION, `The ${socketType} packet's payload is not JSON (${p.error}): ${quote(raw)}.`));
    } else {
      payload = p.value;
      parsed = true;
    }
  }
  const note = cut ? ' …' : '';
  switch (socketType) {
    case 'CONNECT':
      if (parsed && !isRecord(payload)) violations.push(broken('socket.io-bad-connect', `${SIO_SECTION} (CONNECT)`, `A CONNECT's payload is an object (the auth data, or the server's {"sid"}), not ${preview(payload, 30)}.`));
      if (parsed) unit.args = [payload];
      unit.summary = `CONNECT${where || ' /'}${parsed ? (isRecord(payload) && typeof payload.sid === 'string' && Object.keys(payload).length === 1 ? `: session ${payload.sid.slice(0, 40)}` : ` ${preview(payload, 60)}`) : note}`;
      break;
    case 'DISCONNECT':
      unit.summary = `DISCONNECT${where || ' /'}`;
      break;
    case 'CONNECT_ERROR':
      if (parsed) unit.args = [payload];
      unit.summary = `CONNECT_ERROR${where || ' /'}: ${parsed ? (isRecord(payload) && typeof payload.message === 'string' ? payload.message.slice(0, 80) : preview(payload, 60)) : note}`;
      break;
    case 'EVENT':
    case 'BINARY_EVENT': {
      if (parsed && (!Array.isArray(payload) || payload.length === 0 || (typeof payload[0] !== 'string' && typeof payload[0] !== 'number'))) {
        violations.push(
          broken('socket.io-event-not-array', `${SIO_SECTION} (EVENT)`, `An ${socketType}'s payload is an array starting with the event's name, not ${preview(payload, 40)}: Socket.IO drops the packet and the connection.`),
        );
        unit.summary = `${socketType}${where} ${preview(payload, 60)}`;
        break;
      }
      let name: string | undefined;
      if (parsed) {
        const arr = payload as unknown[];
        name = String(arr[0]);
        unit.args = arr.slice(1);
      } else {
        // Cut short: the name is still at the start of the payload.
        const m = /^\["((?:[^"\\]|\\.){0,200})"/.exec(raw);
        const p = m ? parseJson(`"${m[1]}"`) : null;
        if (p?.ok) name = p.value as string;
      }
      if (name !== undefined) unit.event = name;
      if (!quiet) unit.summary = `${socketType}${where} ${name !== undefined ? JSON.stringify(name.slice(0, 60)) : '?'}${unit.args ? ` ${preview(unit.args, 60)}` : note}${ack}`;
      break;
    }
    case 'ACK':
    case 'BINARY_ACK':
      if (parsed && !Array.isArray(payload)) violations.push(broken('socket.io-ack-not-array', `${SIO_SECTION} (ACK)`, `An ${socketType}'s payload is the array of the ack's arguments, not ${preview(payload, 40)}.`));
      else if (parsed) unit.args = payload as unknown[];
      if (!quiet) unit.summary = `${socketType}${where} ${ackId ?? '?'}${parsed ? ` ${preview(payload, 60)}` : note}`;
      break;
  }
  const out: SocketPacket = { unit, payloadAt };
  if (attachments !== undefined) {
    out.attachments = attachments;
    out.payload = parsed ? payload : null;
  }
  return out;
}

/** Layers of a `message` packet that spans [start, end) of its bytes. */
function layersOf(text: string, unit: AppUnit, payloadAt: number, start: number, end: number): AppLayerSpan[] {
  const layers: AppLayerSpan[] = [
    { name: 'Engine.IO packet', start, end, label: 'Engine.IO message (4)' },
    { name: 'Socket.IO packet', start: start + 1, end, label: `Socket.IO ${unit.socketType ?? unit.type}${unit.nsp && unit.nsp !== '/' ? ` ${unit.nsp}` : ''}` },
  ];
  if (payloadAt < text.length) {
    layers.push({ name: 'JSON payload', start: start + 1 + bytesOf(text.slice(0, payloadAt)), end, label: unit.event !== undefined ? `event name and arguments` : 'JSON' });
  }
  return layers;
}

/** Replace placeholders by the attachments (depth-bounded); the bad `num`s go into `bad`. */
function join(v: unknown, atts: BinaryArg[], known: number, bad: unknown[], depth: number): unknown {
  if (depth > JOIN_DEPTH || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => join(x, atts, known, bad, depth + 1));
  const o = v as Record<string, unknown>;
  if (o._placeholder === true && 'num' in o) {
    const n = o.num;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < known) {
      return atts[n] ?? { type: 'Buffer', base64: '', length: 0, truncated: true };
    }
    if (bad.length < 4) bad.push(n);
    return v;
  }
  const out: Record<string, unknown> = {};
  // defineProperty: a key "__proto__" (JSON.parse makes it an own property) stays a key.
  for (const k of Object.keys(o)) Object.defineProperty(out, k, { value: join(o[k], atts, known, bad, depth + 1), enumerable: true, writable: true, configurable: true });
  return out;
}

/** A binary packet with all its attachments: its unit with `args` joined. */
function completed(w: Waiting, violations: AppRuleBroken[]): AppUnit {
  const unit: AppUnit = { ...w.unit };
  const known = Math.min(w.expected, MAX_ATTACHMENTS);
  if (w.payload !== null && w.payload !== undefined) {
    const bad: unknown[] = [];
    const joined = join(w.payload, w.kept, known, bad, 0);
    if (bad.length > 0 && w.expected <= MAX_ATTACHMENTS) {
      violations.push(broken('socket.io-bad-placeholder', SIO_BINARY, `A placeholder names attachment ${bad.map((b) => preview(b, 12)).join(', ')}, but the packet has ${w.expected} (numbered from 0).`));
    }
    if (Array.isArray(joined)) {
      if (unit.socketType === 'BINARY_EVENT') unit.args = joined.slice(1);
      else unit.args = joined;
    }
  }
  const where = unit.nsp && unit.nsp !== '/' ? ` ${unit.nsp}` : '';
  const name = unit.socketType === 'BINARY_EVENT' ? ` ${unit.event !== undefined ? JSON.stringify(unit.event.slice(0, 60)) : '?'}` : ` ${unit.ackId ?? '?'}`;
  const more = w.expected > MAX_ATTACHMENTS ? `, ${w.expected - MAX_ATTACHMENTS} past the ${MAX_ATTACHMENTS} the wiretap joins` : '';
  const ack = unit.socketType === 'BINARY_EVENT' && unit.ackId !== undefined ? ` (ack ${unit.ackId})` : '';
  unit.summary = `${unit.socketType}${where}${name} ${unit.args ? preview(unit.args, 60) : '…'}${ack} (${w.expected} attachment${w.expected === 1 ? '' : 's'} joined${more})`;
  return unit;
}

/** An attachment's data, kept within the packet's byte bound. */
function attachmentOf(w: Waiting, bytes: string, length: number, truncated: boolean): void {
  w.seen++;
  if (w.kept.length >= MAX_ATTACHMENTS) return;
  // base64 is 4/3 of the bytes it holds.
  const room = Math.max(0, MAX_ATTACHMENT_BYTES - w.keptBytes);
  const keep = bytes.length * 0.75 <= room ? bytes : bytes.slice(0, Math.floor(room / 3) * 4);
  w.keptBytes += keep.length * 0.75;
  const cut = truncated || keep.length < bytes.length;
  w.kept.push({ type: 'Buffer', base64: keep, length, ...(cut ? { truncated: true as const } : {}) });
}

function waitingFor(p: SocketPacket, ref: MessageRef | null): Waiting | null {
  if (p.attachments === undefined || p.attachments === 0) return null;
  return { unit: p.unit, payload: p.payload, expected: p.attachments, kept: [], keptBytes: 0, seen: 0, refs: ref ? [ref] : [] };
}

function waitingNote(w: Waiting): string {
  return `waiting for ${w.expected} attachment${w.expected === 1 ? '' : 's'}`;
}

/** Socket.IO over a WebSocket (the `websocket` transport, from the start or after an upgrade). */
export class SocketIoDecoder implements AppDecoder {
  readonly protocol = 'socket.io' as const;
  private readonly upgrading: boolean;
  private readonly eio: number;
  private readonly waiting: Record<Direction, Waiting | null> = { client: null, server: null };

  /**
   * `lazy: false` reads every message in full on the decoder's pass: the reference the relay's
   * pass (an EVENT's payload scanned, not parsed, when it breaks no rule) is checked against.
   */
  constructor(
    q: Pick<EngineIoQuery, 'eio' | 'sid'>,
    private readonly options: { lazy?: boolean } = {},
  ) {
    this.eio = q.eio;
    this.upgrading = q.sid !== null;
  }

  message(m: AppMessage): AppResult {
    // The common message, an EVENT that waits for nothing and breaks no rule: its app is made
    // when read, as the full read below would have it made.
    if (this.options.lazy !== false && m.opcode === 1 && !m.truncated && this.waiting[m.dir] === null && isPlainEvent(m.data)) return { maker: this.packet };
    const violations: AppRuleBroken[] = [];
    const app = m.opcode === 2 ? this.binary(m, violations) : this.text(m, violations);
    const r: AppResult = app === null ? { maker: this.packet } : { app };
    if (violations.length > 0) r.violations = violations;
    return r;
  }

  /**
   * The app of a `message` packet that waits for no attachment, made again from its text alone
   * when the event is read (AppResult.maker): nothing is held for it.
   */
  private readonly packet: AppMaker = (m) => {
    const data = textOf(m).slice(1);
    const p = readSocketPacket(data, m.truncated, []);
    if (m.truncated) p.unit.summary += cutNote(m);
    p.unit.layers = layersOf(data, p.unit, p.payloadAt, 0, m.length ?? m.data.length);
    return p.unit;
  };

  private binary(m: AppMessage, violations: AppRuleBroken[]): AppInfo {
    let data = m.data;
    // Engine.IO v3 prefixes binary message packets with the type byte 4.
    if (this.eio === 3 && data[0] === 4) data = data.subarray(1);
    const length = (m.length ?? m.data.length) - (data === m.data ? 0 : 1);
    const w = this.waiting[m.dir];
    if (!w) {
      violations.push(
        broken('socket.io-unexpected-binary', SIO_BINARY, `A binary message of ${length} bytes that no BINARY_EVENT or BINARY_ACK announced: Socket.IO's decoder fails on it ("got binary data when not reconstructing a packet").`),
      );
      return { protocol: 'socket.io', type: 'binary', engineType: 'message', summary: `binary data (${length} bytes) outside any BINARY_EVENT or BINARY_ACK` };
    }
    attachmentOf(w, base64Of(data), length, m.truncated);
    if (w.refs.length <= MAX_ATTACHMENTS) w.refs.push(m.ref);
    const layers: AppLayerSpan[] = [{ name: 'Engine.IO packet', start: 0, end: m.length ?? m.data.length, label: 'Engine.IO message (binary)' }];
    if (w.seen < w.expected) {
      return {
        protocol: 'socket.io', type: 'attachment', engineType: 'message', socketType: w.unit.socketType!, nsp: w.unit.nsp ?? '/',
        ...(w.unit.event !== undefined ? { event: w.unit.event } : {}),
        summary: `attachment ${w.seen} of ${w.expected} (${length} bytes) of ${w.unit.summary.split(' (')[0]}`,
        layers,
      };
    }
    this.waiting[m.dir] = null;
    const unit = completed(w, violations);
    // The message that completes it carries the packet; spans: the ones before it.
    return { ...unit, layers, spans: w.refs.slice(0, -1) };
  }

  /** The app of a text message, or null when `packet` makes it when read. */
  private text(m: AppMessage, violations: AppRuleBroken[]): AppInfo | null {
    const text = textOf(m);
    const cut = m.truncated ? cutNote(m) : '';
    const type = engineTypeOf(text);
    const total = m.length ?? m.data.length;
    if (typeof type !== 'string') {
      violations.push(type);
      return { protocol: 'socket.io', type: 'invalid', summary: `not an Engine.IO packet: ${quote(text)}` };
    }
    const w = this.waiting[m.dir];
    if (w) {
      // socket.io-parser: "got plaintext data when reconstructing a packet".
      this.waiting[m.dir] = null;
      violations.push(
        broken('socket.io-missing-attachments', SIO_BINARY, `A text message came while ${w.unit.socketType} ${w.unit.event !== undefined ? JSON.stringify(w.unit.event) : ''} still waited for ${w.expected - w.seen} of its ${w.expected} attachments: Socket.IO's decoder fails on it.`),
      );
    }
    if (type !== 'message') {
      const unit: AppInfo = controlUnit(type, text.slice(1), this.upgrading, violations);
      if (cut) unit.summary += cut;
      unit.layers = [{ name: 'Engine.IO packet', start: 0, end: total, label: `Engine.IO ${type} (${text[0]})` }];
      return unit;
    }
    const data = text.slice(1);
    // Quiet: no summary, made only when the app is (below, or by the function returned).
    const quiet = readSocketPacket(data, m.truncated, violations, true);
    const p = quiet.attachments ? readSocketPacket(data, m.truncated, []) : quiet;
    const waiting = waitingFor(p, m.ref);
    if (!waiting) return null;
    this.waiting[m.dir] = waiting;
    const info: AppInfo = p.unit;
    info.layers = layersOf(data, info, p.payloadAt, 0, total);
    info.summary = `${info.summary.split(' (')[0]} (${waitingNote(waiting)})${cut}`;
    return info;
  }
}

/**
 * Is `b` an Engine.IO message packet holding a Socket.IO EVENT of the main namespace (an ack
 * id or not) whose payload is a JSON array starting with a string or a number: the packet
 * readSocketPacket reads with no rule broken. Scanned (json-head.ts), not parsed: on the relay's
 * path, JSON.parse and the garbage of the arguments it makes cost more than the rest.
 */
function isPlainEvent(b: Uint8Array): boolean {
  if (b[0] !== 0x34 || b[1] !== 0x32) return false;
  let i = 2;
  // At most 15 digits of ack id: always a safe integer.
  while (i < b.length && i < 17 && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  if (b[i] !== 0x5b) return false;
  return jsonTop(b.subarray(i), NO_KEYS) === TOP_ARRAY && (firstElement === STRING || firstElement === NUMBER);
}
const NO_KEYS = topKeys([]);

/** A binary packet of a long-polling session still waiting for attachments in a later body. */
export type PollingCarry = Waiting;

/**
 * The Engine.IO packets of a long-polling body (v4: separated by \x1e), as units: binary ones
 * (`b` + base64) joined to the binary packet before them, in the same body or, through `carry`
 * (the session's packet still waiting, from an earlier body the same way), in a later one; the
 * unit of the attachment that completes a packet is that packet, joined. `cut`: the body is
 * only its start (its last packet is then not decoded). Returns the packet still waiting.
 */
export function decodePollingBody(
  body: string,
  cut: boolean,
  eio: number,
  carry: PollingCarry | null = null,
): { units: AppUnit[]; violations: AppRuleBroken[]; carry: PollingCarry | null } {
  const violations: AppRuleBroken[] = [];
  const units: AppUnit[] = [];
  if (eio !== 4) {
    units.push({ protocol: 'socket.io', type: 'payload', summary: `Engine.IO v${eio} long-polling payload (${body.length} characters): only v4 payloads are decoded` });
    return { units, violations, carry: null };
  }
  const { packets, more } = splitPayload(body, MAX_POLLING_PACKETS);
  let w: Waiting | null = carry;
  let waitingUnit = -1;
  for (let k = 0; k < packets.length; k++) {
    const { text, start, end } = packets[k]!;
    const last = k === packets.length - 1;
    if (cut && last) {
      units.push({ protocol: 'socket.io', type: 'unknown', summary: `a packet cut short (the body is longer than the wiretap keeps): ${quote(text, 30)}` });
      break;
    }
    if (text[0] === 'b') {
      // A binary packet: base64 of the bytes.
      const b64 = text.slice(1);
      const length = Math.floor((b64.length * 3) / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
      const layers: AppLayerSpan[] = [{ name: 'Engine.IO packet', start, end, label: 'Engine.IO message (binary, base64)' }];
      if (!w) {
        violations.push(broken('socket.io-unexpected-binary', SIO_BINARY, `A binary packet of ${length} bytes that no BINARY_EVENT or BINARY_ACK announced.`));
        units.push({ protocol: 'socket.io', type: 'binary', engineType: 'message', summary: `binary data (${length} bytes) outside any BINARY_EVENT or BINARY_ACK`, layers });
        continue;
      }
      attachmentOf(w, b64, length, false);
      if (w.seen >= w.expected) {
        if (waitingUnit >= 0) {
          // In the same body as its packet: the packet's unit is the joined one.
          units[waitingUnit] = { ...completed(w, violations), layers: units[waitingUnit]!.layers! };
          units.push({ protocol: 'socket.io', type: 'attachment', engineType: 'message', summary: `attachment ${w.seen} of ${w.expected} (${length} bytes)`, layers });
        } else {
          // Its packet came in an earlier body: this attachment completes it.
          units.push({ ...completed(w, violations), layers });
        }
        w = null;
        waitingUnit = -1;
      } else {
        units.push({ protocol: 'socket.io', type: 'attachment', engineType: 'message', summary: `attachment ${w.seen} of ${w.expected} (${length} bytes)`, layers });
      }
      continue;
    }
    const type = engineTypeOf(text);
    if (typeof type !== 'string') {
      violations.push(type);
      units.push({ protocol: 'socket.io', type: 'invalid', summary: `not an Engine.IO packet: ${quote(text)}` });
      continue;
    }
    if (w) {
      violations.push(
        broken('socket.io-missing-attachments', SIO_BINARY, `A text packet came while ${w.unit.socketType} ${w.unit.event !== undefined ? JSON.stringify(w.unit.event) : ''} still waited for ${w.expected - w.seen} of its ${w.expected} attachments: Socket.IO's decoder fails on it.`),
      );
      w = null;
      waitingUnit = -1;
    }
    if (type !== 'message') {
      const unit = controlUnit(type, text.slice(1), false, violations);
      units.push({ ...unit, layers: [{ name: 'Engine.IO packet', start, end, label: `Engine.IO ${type} (${text[0]})` }] });
      continue;
    }
    const p = readSocketPacket(text.slice(1), false, violations);
    units.push({ ...p.unit, layers: layersOf(text.slice(1), p.unit, p.payloadAt, start, end) });
    const waiting = waitingFor(p, null);
    if (waiting) {
      w = waiting;
      waitingUnit = units.length - 1;
    }
  }
  if (w && waitingUnit >= 0) units[waitingUnit]!.summary += ` (${waitingNote(w)})`;
  if (more > 0) units.push({ protocol: 'socket.io', type: 'more', summary: `${more} more packets, not decoded (the wiretap decodes ${MAX_POLLING_PACKETS} per body)` });
  return { units, violations, carry: w };
}

export { EIO_SECTION };
