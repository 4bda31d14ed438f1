/**
 * The application layer of a message (`MessageEvent.app`, decoded by server/protocol/app/) as
 * the views show it: the Timeline's badge, the sequence diagram's label, what the filters match,
 * and the layers one inside the other for the Message view (TCP bytes → frame → Engine.IO
 * packet → Socket.IO event → JSON arguments). Pure: no DOM, no model, so it is tested alone.
 */
import type { AppInfo, AppLayerSpan, AppProtocol, AppUnit } from '../../../server/capture/events.ts';

/** The protocol's short name on a badge: both GraphQL subprotocols read `graphql`. */
export function protocolLabel(p: AppProtocol): string {
  return p === 'graphql-transport-ws' || p === 'graphql-ws' ? 'graphql' : p;
}

/** A badge's words are cut here: a topic or event name a peer wrote can be any length. */
const NAME_MAX = 40;

function cut(s: string, max = NAME_MAX): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function header(u: AppUnit, name: string): string | undefined {
  return u.headers?.find(([n]) => n.toLowerCase() === name)?.[1];
}

/**
 * The unit's name after the protocol: `EVENT "chat"`, `subscribe OnMessage`, `SEND /queue/a`,
 * `PUBLISH sensors/1`, `request add`. What a person scans a list of messages for.
 */
export function unitName(u: AppUnit): string {
  switch (u.protocol) {
    case 'socket.io': {
      if (!u.socketType) return u.engineType ? `engine.io ${u.engineType}` : u.type;
      const nsp = u.nsp && u.nsp !== '/' ? ` ${cut(u.nsp, 20)}` : '';
      const ev = u.event !== undefined ? ` "${cut(u.event)}"` : '';
      const ack = u.ackId !== undefined ? ` #${u.ackId}` : '';
      return `${u.socketType}${nsp}${ev}${ack}`;
    }
    case 'graphql-transport-ws':
    case 'graphql-ws': {
      const op = u.operationName ? ` ${cut(u.operationName)}` : u.operationKind ? ` ${u.operationKind}` : '';
      // graphql-ws ids are UUIDs: their first 8 characters tell a subscription's messages apart.
      const id = u.id !== undefined && u.id !== null && !op ? ` #${cut(String(u.id), 9)}` : '';
      return `${u.type}${op}${id}`;
    }
    case 'stomp': {
      const dest = header(u, 'destination');
      return `${u.command ?? u.type}${dest ? ` ${cut(dest)}` : ''}`;
    }
    case 'mqtt':
      return `${u.packetType ?? u.type}${u.topic !== undefined ? ` ${cut(u.topic)}` : ''}`;
    case 'json-rpc': {
      const kind = u.kind ?? u.type;
      if (u.method !== undefined) return `${kind} ${cut(u.method)}`;
      return u.id !== undefined ? `${kind} #${cut(JSON.stringify(u.id), 12)}` : kind;
    }
  }
  return u.type;
}

/** The Timeline badge: `socket.io EVENT "chat"`, and `+2` when the message carries more units. */
export function appBadge(app: AppInfo): string {
  const more = app.parts && app.parts.length > 1 ? ` +${app.parts.length - 1}` : '';
  // An Engine.IO packet without a Socket.IO packet inside reads `engine.io ping`, not `socket.io engine.io ping`.
  const name = unitName(app);
  const lead = name.startsWith('engine.io ') ? '' : `${protocolLabel(app.protocol)} `;
  return `${lead}${name}${more}`;
}

/** The units of a message: its parts, or the message's own unit. */
export function unitsOf(app: AppInfo): AppUnit[] {
  return app.parts && app.parts.length > 0 ? app.parts : [app];
}

/** The names a filter by name matches: event, method, topic, command, operation, destination, type. */
export function unitNames(u: AppUnit): string[] {
  const out: string[] = [u.type];
  for (const v of [u.event, u.method, u.topic, u.command, u.operationName, u.socketType, u.engineType, u.packetType, header(u, 'destination')]) {
    if (typeof v === 'string') out.push(v);
  }
  return out;
}

/** The ids a filter by id matches: GraphQL and JSON-RPC ids, Socket.IO ack ids, MQTT packet ids. */
export function unitIds(u: AppUnit): string[] {
  const out: string[] = [];
  if (u.id !== undefined && u.id !== null) out.push(String(u.id));
  if (u.ackId !== undefined) out.push(String(u.ackId));
  if (u.packetId !== undefined) out.push(String(u.packetId));
  const sub = header(u, 'subscription') ?? header(u, 'id') ?? header(u, 'receipt') ?? header(u, 'receipt-id');
  if (sub !== undefined) out.push(sub);
  return out;
}

/** What the Timeline's application filters ask. `protocol` 'all' with empty name and id asks nothing. */
export interface AppFilter {
  /** 'all': any row; 'decoded': rows with an application layer; else that protocol. */
  protocol: 'all' | 'decoded' | 'graphql' | Exclude<AppProtocol, 'graphql-transport-ws' | 'graphql-ws'>;
  /** Part of an event name, method, topic, command or operation name (case ignored). */
  name: string;
  /** An id, whole (a JSON-RPC id 1 must not match 10). */
  id: string;
}

export const NO_APP_FILTER: AppFilter = { protocol: 'all', name: '', id: '' };

export function appFilterActive(f: AppFilter): boolean {
  return f.protocol !== 'all' || f.name.trim() !== '' || f.id.trim() !== '';
}

/** Does a message with this application layer (or none) pass the filter? */
export function matchesApp(app: AppInfo | undefined, f: AppFilter): boolean {
  if (!appFilterActive(f)) return true;
  if (!app) return false;
  if (f.protocol !== 'all' && f.protocol !== 'decoded' && protocolLabel(app.protocol) !== f.protocol) return false;
  const name = f.name.trim().toLowerCase();
  const id = f.id.trim();
  const units = unitsOf(app);
  if (name && !units.some((u) => unitNames(u).some((n) => n.toLowerCase().includes(name)))) return false;
  if (id && !units.some((u) => unitIds(u).includes(id))) return false;
  return true;
}

/** One layer drawn in the Message view: a name, a label, its bytes in the dump shown, its depth. */
export interface ShownLayer {
  name: string;
  label: string;
  /** Offsets in the bytes the Message view dumps (the frame header first, then the message's data). */
  start: number;
  end: number;
  depth: number;
}

/**
 * The layers of a unit, outermost first, with the message's own layers above the decoder's:
 * the TCP bytes (the frames' part of the direction's stream), the WebSocket frame (header and
 * payload) and then each `layers` span, moved past the frame header that the dump shows first.
 * Spans outside the data (a decoder's mistake, or a preview shorter than the message) are
 * clipped, never trusted: the dump must not index past what it holds.
 */
export function shownLayers(
  unit: AppUnit,
  wire: { headerLength: number; dataLength: number; tcp: { from: number; to: number } | null; frames: number; frameLabel: string },
): ShownLayer[] {
  const total = wire.headerLength + wire.dataLength;
  const out: ShownLayer[] = [];
  if (wire.tcp) {
    out.push({
      name: 'TCP bytes',
      label: `bytes ${wire.tcp.from.toLocaleString('en-US')}–${(wire.tcp.to - 1).toLocaleString('en-US')} of the stream${wire.frames > 1 ? ` (${wire.frames} frames)` : ''}`,
      start: 0,
      end: total,
      depth: 0,
    });
  }
  out.push({ name: wire.frames > 1 ? 'WebSocket message' : 'WebSocket frame', label: wire.frameLabel, start: 0, end: total, depth: out.length });
  const base = out.length;
  const spans: AppLayerSpan[] = (unit.layers ?? []).slice(0, 16);
  const placed: ShownLayer[] = [];
  for (const s of spans) {
    const start = Math.max(0, Math.min(wire.dataLength, Math.floor(s.start))) + wire.headerLength;
    const end = Math.max(0, Math.min(wire.dataLength, Math.floor(s.end))) + wire.headerLength;
    if (!(end >= start)) continue;
    // Depth by containment: a span inside an earlier one sits one step deeper.
    let depth = base;
    for (let i = placed.length - 1; i >= 0; i--) {
      const p = placed[i]!;
      if (p.start <= start && end <= p.end) {
        depth = p.depth + 1;
        break;
      }
    }
    const l = { name: s.name, label: s.label, start, end, depth };
    placed.push(l);
    out.push(l);
  }
  return out;
}

/** Longest value shown in the fields list: args and bodies a peer wrote can be megabytes. */
const FIELD_MAX = 600;

function json(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s;
  } catch {
    return String(v);
  }
}

/** The unit's fields, named as its protocol names them, for the Message view's list. */
export function unitFields(u: AppUnit): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (k: string, v: unknown) => {
    if (v === undefined) return;
    const s = typeof v === 'string' ? v : json(v);
    out.push([k, s.length > FIELD_MAX ? `${s.slice(0, FIELD_MAX - 1)}… (${s.length.toLocaleString('en-US')} characters)` : s]);
  };
  switch (u.protocol) {
    case 'socket.io':
      add('Engine.IO packet', u.engineType);
      add('Socket.IO packet', u.socketType);
      add('namespace', u.nsp);
      add('event', u.event);
      add('arguments', u.args);
      add('ack id', u.ackId);
      break;
    case 'graphql-transport-ws':
    case 'graphql-ws':
      add('type', u.type);
      add('id', u.id ?? undefined);
      add('operation', u.operationName ?? undefined);
      add('kind', u.operationKind ?? undefined);
      break;
    case 'stomp':
      add('command', u.command);
      for (const [n, v] of (u.headers ?? []).slice(0, 24)) add(`header ${n}`, v);
      add('body', u.body);
      break;
    case 'mqtt':
      add('packet type', u.packetType);
      add('topic', u.topic);
      add('packet id', u.packetId);
      add('QoS', u.qos);
      if (u.payload !== undefined) add('payload', base64Text(u.payload));
      break;
    case 'json-rpc':
      add('kind', u.kind);
      add('method', u.method);
      add('id', u.id);
      break;
    default:
      add('type', u.type);
  }
  return out;
}

/** An MQTT payload (base64) as text when it is UTF-8, else its length: a sensor's bytes are often binary. */
function base64Text(b64: string): string {
  try {
    const bin = atob(b64.length > 4 * FIELD_MAX ? b64.slice(0, 4 * FIELD_MAX) : b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return /^[\x20-\x7e\s\u00a0-\uffff]*$/.test(text) ? text : `${bytes.length} bytes`;
  } catch {
    return `${Math.floor((b64.length * 3) / 4)} bytes (binary)`;
  }
}

/**
 * The badge of an HTTP exchange whose bodies carry an application protocol (Engine.IO's
 * long-polling): the answer's packets for a GET (what the server pushed), the request's for a
 * POST (what the client sent), e.g. `engine.io open` or `socket.io EVENT "chat" +1`.
 */
export function exchangeBadge(app: { request?: AppUnit[]; response?: AppUnit[] }, method: string | undefined): string | null {
  const units = (method === 'POST' ? app.request : app.response) ?? app.response ?? app.request ?? [];
  const first = units[0];
  if (!first) return null;
  return appBadge({ ...first, parts: units.length > 1 ? units : undefined });
}
