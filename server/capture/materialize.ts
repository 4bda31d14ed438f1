import type { FrameEvent, MessageEvent, WireEvent } from './events.ts';
import { incompleteTail } from '../protocol/utf8.ts';

/**
 * Lazy events (server/capture/events.ts): the wiretap's decoders keep a frame's payload, a
 * message's data and a control frame's payload as bytes and leave their strings (base64, hex,
 * text) to be made here, when an event is first read: the dashboard's stream, a recording,
 * an export, the debug log. A wiretap nobody watches never pays for strings it would throw
 * away, which is most of what decoding a small frame used to cost.
 *
 * Idempotent and in place: the strings replace the bytes in the same object, so the store, its
 * listeners and a recording all share one event, made once.
 */
export function materialize<E extends WireEvent>(e: E): E {
  switch (e.type) {
    case 'frame':
      if (e.header === '') makeHeader(e);
      if (e._bytes !== undefined) {
        e.payload = bufferOf(e._bytes).toString('base64');
        e._bytes = undefined;
      }
      break;
    case 'message':
      if (e._bytes !== undefined) makeMessageData(e);
      if (e._app !== undefined) {
        e.app = e._app(e);
        e._app = undefined;
        e._appArg = undefined;
      }
      break;
    case 'ping':
    case 'pong':
      if (e._bytes !== undefined) {
        e.payload = bufferOf(e._bytes).toString('base64');
        e._bytes = undefined;
      }
      break;
    default:
      break;
  }
  return e;
}

/** Every event of a batch made (in place); returns the same array. */
export function materializeAll<E extends WireEvent>(events: E[]): E[] {
  for (let i = 0; i < events.length; i++) materialize(events[i]!);
  return events;
}

/** True when an event still holds bytes in place of some of its strings. */
export function isLazy(e: WireEvent): boolean {
  return (e.type === 'frame' && e.header === '') || ('_bytes' in e && e._bytes !== undefined) || (e.type === 'message' && e._app !== undefined);
}

function bufferOf(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function makeMessageData(e: MessageEvent): void {
  const bytes = bufferOf(e._bytes!);
  if (e.opcode === 1) {
    // A preview cut inside a code point would show a replacement character for a byte that is fine.
    e.text = (e.truncated ? bytes.subarray(0, incompleteTail(bytes)) : bytes).toString('utf8');
  } else {
    e.base64 = bytes.toString('base64');
  }
  e._bytes = undefined;
}

/** Byte -> two hex digits. */
export const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A frame's header bytes follow from its fields exactly (RFC 6455 §5.2): the first byte from
 * FIN, RSV1-3 and the opcode; the second from MASK and the 7-bit length, which is the length
 * itself or 126/127 by `lengthEncoding` (so a non-minimal encoding is rebuilt as sent); then
 * the extended length and the masking key.
 */
function makeHeader(e: FrameEvent): void {
  const b0 = (e.fin ? 0x80 : 0) | (e.rsv1 ? 0x40 : 0) | (e.rsv2 ? 0x20 : 0) | (e.rsv3 ? 0x10 : 0) | e.opcode;
  const len7 = e.lengthEncoding === 7 ? e.length : e.lengthEncoding === 16 ? 126 : 127;
  let hex = HEX[b0]! + HEX[(e.masked ? 0x80 : 0) | len7]!;
  if (e.lengthEncoding === 16) hex += HEX[e.length >>> 8]! + HEX[e.length & 0xff]!;
  else if (e.lengthEncoding === 64) hex += BigInt(e.lengthExact ?? e.length).toString(16).padStart(16, '0');
  if (e.masked && e._mask !== undefined) {
    const m = e._mask;
    const key = HEX[m >>> 24]! + HEX[(m >>> 16) & 0xff]! + HEX[(m >>> 8) & 0xff]! + HEX[m & 0xff]!;
    hex += key;
    e.maskKey = key;
  }
  e.header = hex;
  e._mask = undefined;
}
