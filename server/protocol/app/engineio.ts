/**
 * Engine.IO v4 (https://socket.io/docs/v4/engine-io-protocol/), the transport under Socket.IO:
 * one packet per WebSocket message (a type digit, then its data), or, over HTTP long-polling,
 * several packets per body separated by the record separator \x1e (binary ones as `b` + base64).
 *
 * This file reads the Engine.IO layer only; a `message` packet's data is Socket.IO's, read by
 * socketio.ts. Sans-I/O, never throws; work proportional to the text handed in.
 */
import type { AppUnit } from '../../capture/events.ts';
import type { AppRuleBroken } from './decoder.ts';
import { broken, isRecord, parseJson, preview, quote } from './util.ts';

export type EngineType = NonNullable<AppUnit['engineType']>;

/** Engine.IO packet types by their digit. */
export const ENGINE_TYPES: readonly EngineType[] = ['open', 'close', 'ping', 'pong', 'message', 'upgrade', 'noop'];

export const EIO_SECTION = 'Engine.IO protocol v4, Packet encoding';
export const EIO_UPGRADE = 'Engine.IO protocol v4, Upgrade';

/** The record separator between packets of a long-polling body (Engine.IO v4). */
export const SEPARATOR = '\x1e';

/** An Engine.IO packet's type, or a rule broken when its first character is not one. */
export function engineTypeOf(text: string): EngineType | AppRuleBroken {
  if (text.length === 0) return broken('engine.io-empty-packet', EIO_SECTION, 'An empty Engine.IO packet: every packet starts with its type, a digit from 0 (open) to 6 (noop).');
  const i = text.charCodeAt(0) - 0x30;
  const t = ENGINE_TYPES[i];
  if (i < 0 || t === undefined) {
    return broken(
      'engine.io-bad-packet-type',
      EIO_SECTION,
      `The Engine.IO packet ${quote(text, 20)} starts with ${JSON.stringify(text[0])}, not a packet type (0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop): a Socket.IO peer drops the connection.`,
    );
  }
  return t;
}

/**
 * The unit of an Engine.IO packet other than `message` (whose data is Socket.IO's).
 * `upgrading`: the connection is a WebSocket that upgrades a long-polling session (its query has
 * a `sid`), so `2probe`, `3probe` and `5` are the steps of that upgrade.
 */
export function controlUnit(type: Exclude<EngineType, 'message'>, data: string, upgrading: boolean, violations: AppRuleBroken[]): AppUnit {
  const base = { protocol: 'socket.io' as const, type, engineType: type };
  switch (type) {
    case 'open': {
      const parsed = parseJson(data);
      const h = parsed.ok && isRecord(parsed.value) ? parsed.value : null;
      if (!h || typeof h.sid !== 'string') {
        violations.push(broken('engine.io-bad-open', `${EIO_SECTION} (open)`, `The open packet's data ${quote(data)} is not the handshake object ({"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}).`));
        return { ...base, summary: `open ${quote(data)}` };
      }
      const upgrades = Array.isArray(h.upgrades) ? h.upgrades.filter((u): u is string => typeof u === 'string').slice(0, 8) : [];
      return {
        ...base,
        summary: `open: session ${h.sid.slice(0, 40)}, upgrades [${upgrades.join(', ')}], ping every ${preview(h.pingInterval, 12)} ms, timeout ${preview(h.pingTimeout, 12)} ms, max payload ${preview(h.maxPayload, 12)} bytes`,
      };
    }
    case 'ping':
      if (data === 'probe') return { ...base, summary: upgrading ? 'ping "probe": upgrade step 1 of 3, the client tries the WebSocket before moving the session to it' : 'ping "probe"' };
      return { ...base, summary: data ? `ping ${quote(data)}` : 'ping' };
    case 'pong':
      if (data === 'probe') return { ...base, summary: upgrading ? 'pong "probe": upgrade step 2 of 3, the server answers the probe on the WebSocket' : 'pong "probe"' };
      return { ...base, summary: data ? `pong ${quote(data)}` : 'pong' };
    case 'upgrade':
      return { ...base, summary: 'upgrade: step 3 of 3, the session moves to this WebSocket; long-polling stops' };
    case 'noop':
      return { ...base, summary: 'noop: ends a pending long-polling request during the upgrade' };
    case 'close':
      return { ...base, summary: 'close: the session ends' };
  }
}

/** One packet of a long-polling body, with its place in the body (bytes). */
export interface PollingPacket {
  text: string;
  start: number;
  end: number;
}

/** The packets of a long-polling body (v4: separated by \x1e), at most `max`; the count of the rest. */
export function splitPayload(body: string, max: number): { packets: PollingPacket[]; more: number } {
  const packets: PollingPacket[] = [];
  let more = 0;
  let from = 0;
  let byte = 0;
  while (from <= body.length) {
    let to = body.indexOf(SEPARATOR, from);
    if (to < 0) to = body.length;
    const text = body.slice(from, to);
    const len = Buffer.byteLength(text, 'utf8');
    if (packets.length < max) packets.push({ text, start: byte, end: byte + len });
    else more++;
    byte += len + 1;
    from = to + 1;
  }
  return { packets, more };
}
