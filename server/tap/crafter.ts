/**
 * The frame crafter: any frame, legal or not, from a description a person fills in (each bit,
 * the opcode, mask and key, the payload as text or hex, a length that lies, the length field
 * forced to 7, 16 or 64 bits), and one preset per rule the decoders check.
 *
 * Pure TypeScript (Uint8Array, TextEncoder, Web Crypto): the dashboard imports it to show the
 * bytes as they are edited, the server to build what POST /api/inject asks for.
 */
import type { Direction, ViolationRule } from '../capture/events.ts';
import { Opcode } from '../protocol/opcodes.ts';
import { RULES } from '../protocol/violations.ts';

export type PayloadSpec =
  | { kind: 'text'; text: string }
  | { kind: 'hex'; hex: string }
  /** A close frame's body (§5.5.1): a 2-byte code and a UTF-8 reason; no code = empty body. */
  | { kind: 'close'; code: number | null; reason: string };

export type LengthChoice = 'auto' | 7 | 16 | 64;

export interface FrameDescription {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  /** 0-15, reserved ones included. */
  opcode: number;
  mask: boolean;
  /** 8 hex digits; empty or absent picks a random key (§5.3: a fresh one per frame). */
  maskKey?: string;
  payload: PayloadSpec;
  /**
   * The length the header announces when it is not the payload's (a lie): a number or a
   * decimal string up to 2^64-1. More than is sent and the receiver waits for the rest (and
   * reads the next frames as payload); less and the extra bytes start a "frame" of their own.
   */
  announcedLength?: number | string | null;
  /** Which length field to use; 'auto' is the shortest that fits (§5.2). */
  lengthEncoding?: LengthChoice;
}

/** A description that cannot become bytes (bad hex, a length that does not fit its field). */
export class CraftError extends Error {}

export interface CraftedFrame {
  bytes: Uint8Array;
  headerLength: number;
  /** Payload bytes actually sent. */
  sent: number;
  /** Payload length the header announces. */
  announced: bigint;
  lengthEncoding: 7 | 16 | 64;
  maskKey: Uint8Array | null;
  /** What a receiver will make of it, one sentence each (empty for an ordinary frame). */
  notes: string[];
}

const TWO_64 = 1n << 64n;

/** "81 05 48 65", "0x81,0x05", "81:05" or "8105" → bytes. */
export function parseHex(hex: string): Uint8Array {
  const clean = hex.replace(/0x/gi, '').replace(/[\s,:;-]/g, '');
  if (/[^0-9a-f]/i.test(clean)) {
    const bad = /[^0-9a-f]/i.exec(clean)![0];
    throw new CraftError(`"${bad}" is not a hex digit: write bytes as pairs of 0-9 a-f, e.g. "48 65 6c 6c 6f".`);
  }
  if (clean.length % 2 !== 0) throw new CraftError(`Odd number of hex digits (${clean.length}): each byte is two digits.`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array, sep = ' '): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(sep);
}

export function payloadBytes(p: PayloadSpec): Uint8Array {
  switch (p.kind) {
    case 'text':
      return new TextEncoder().encode(p.text);
    case 'hex':
      return parseHex(p.hex);
    case 'close': {
      if (p.code === null) return new Uint8Array(0);
      if (!Number.isInteger(p.code) || p.code < 0 || p.code > 0xffff) throw new CraftError(`A close code is 2 bytes (0-65535), not ${p.code}.`);
      const reason = new TextEncoder().encode(p.reason);
      const out = new Uint8Array(2 + reason.length);
      out[0] = p.code >> 8;
      out[1] = p.code & 0xff;
      out.set(reason, 2);
      return out;
    }
  }
}

function parseLength(v: number | string): bigint {
  const s = String(v).trim();
  if (!/^\d+$/.test(s)) throw new CraftError(`The announced length must be a whole number of bytes, not "${s}".`);
  const n = BigInt(s);
  if (n >= TWO_64) throw new CraftError(`The 64-bit length field holds at most 2^64-1 (${TWO_64 - 1n}), not ${s}.`);
  return n;
}

function randomKey(): Uint8Array {
  const key = new Uint8Array(4);
  globalThis.crypto.getRandomValues(key);
  return key;
}

export function parseMaskKey(hex: string): Uint8Array {
  const key = parseHex(hex);
  if (key.length !== 4) throw new CraftError(`A masking key is 4 bytes (8 hex digits), not ${key.length}.`);
  return key;
}

/** The bytes of one frame exactly as described, whether or not RFC 6455 allows it. */
export function buildFrame(d: FrameDescription, newKey: () => Uint8Array = randomKey): CraftedFrame {
  if (!Number.isInteger(d.opcode) || d.opcode < 0 || d.opcode > 15) throw new CraftError(`An opcode is 4 bits (0-15), not ${d.opcode}.`);
  const payload = payloadBytes(d.payload);
  const lying = d.announcedLength !== undefined && d.announcedLength !== null && String(d.announcedLength).trim() !== '';
  const announced = lying ? parseLength(d.announcedLength!) : BigInt(payload.length);
  const choice = d.lengthEncoding ?? 'auto';
  const encoding: 7 | 16 | 64 = choice !== 'auto' ? choice : announced < 126n ? 7 : announced < 65536n ? 16 : 64;
  if (encoding === 7 && announced > 125n) throw new CraftError(`The 7-bit length field holds 0-125; ${announced} needs the 16- or 64-bit field.`);
  if (encoding === 16 && announced > 0xffffn) throw new CraftError(`The 16-bit length field holds at most 65535; ${announced} needs the 64-bit field.`);
  const key = d.mask ? (d.maskKey && d.maskKey.trim() !== '' ? parseMaskKey(d.maskKey) : newKey()) : null;

  const ext = encoding === 7 ? 0 : encoding === 16 ? 2 : 8;
  const headerLength = 2 + ext + (key ? 4 : 0);
  const bytes = new Uint8Array(headerLength + payload.length);
  bytes[0] = (d.fin ? 0x80 : 0) | (d.rsv1 ? 0x40 : 0) | (d.rsv2 ? 0x20 : 0) | (d.rsv3 ? 0x10 : 0) | d.opcode;
  bytes[1] = (key ? 0x80 : 0) | (encoding === 7 ? Number(announced) : encoding === 16 ? 126 : 127);
  const view = new DataView(bytes.buffer);
  if (encoding === 16) view.setUint16(2, Number(announced));
  if (encoding === 64) view.setBigUint64(2, announced);
  if (key) bytes.set(key, 2 + ext);
  for (let i = 0; i < payload.length; i++) bytes[headerLength + i] = key ? payload[i]! ^ key[i & 3]! : payload[i]!;

  const notes: string[] = [];
  const sent = BigInt(payload.length);
  if (announced > sent) {
    notes.push(`Announces ${announced} bytes but sends ${sent}: the receiver waits for ${announced - sent} more, and reads whatever comes next (the next frames) as this frame's payload.`);
  } else if (announced < sent) {
    notes.push(`Announces ${announced} bytes but sends ${sent}: the last ${sent - announced} bytes are read as the start of another frame.`);
  }
  if ((encoding === 16 && announced < 126n) || (encoding === 64 && announced < 65536n)) {
    notes.push(`A length of ${announced} sent in the ${encoding}-bit field is not minimal (RFC 6455 §5.2).`);
  }
  if (encoding === 64 && announced >= 1n << 63n) notes.push('The most significant bit of the 64-bit length is set (RFC 6455 §5.2 forbids it).');
  return { bytes, headerLength, sent: payload.length, announced, lengthEncoding: encoding, maskKey: key, notes };
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---- presets ----------------------------------------------------------------------------

export interface Preset {
  rule: ViolationRule;
  /** Short label for a list. */
  title: string;
  /** Who the wiretap pretends to be: `client` sends toward the server, `server` toward the client. */
  dir: Direction;
  /** Frames sent first, unchanged (the start of a fragmented message, a close frame). */
  before?: FrameDescription[];
  /** The frame that breaks the rule (the crafter's form loads it for editing). */
  frame: FrameDescription;
  /** What the connection needs for this rule to apply as named. */
  needs?: 'deflate' | 'held-handshake';
  /** What to expect, and where ws does something else than the rule's close code. */
  note?: string;
}

/** The RFC 6455 §5.7 example masking key: presets are the same bytes every time. */
export const EXAMPLE_KEY = '37fa213d';

const frame = (over: Partial<FrameDescription> & Pick<FrameDescription, 'opcode'>): FrameDescription => ({
  fin: true,
  rsv1: false,
  rsv2: false,
  rsv3: false,
  mask: true,
  maskKey: EXAMPLE_KEY,
  payload: { kind: 'text', text: '' },
  lengthEncoding: 'auto',
  ...over,
});
const text = (t: string) => ({ kind: 'text' as const, text: t });

/** Rules that are not about a frame, so no frame breaks them. */
export type NoPresetRule = 'handshake-too-large' | 'decoder-failure';

export const NO_PRESET: Record<NoPresetRule, string> = {
  'handshake-too-large': 'About the HTTP upgrade request, not a frame: send a request head larger than the bound on a new connection (e.g. with a huge header).',
  'decoder-failure': 'A bug in wsplay, not a rule a peer can break.',
};

/**
 * One preset per rule the decoders check (the compiler keeps this list complete). Client
 * presets are masked with the RFC's example key, as a client must; server presets are not.
 */
export const PRESETS: Record<Exclude<ViolationRule, NoPresetRule>, Preset> = {
  'unmasked-client-frame': {
    rule: 'unmasked-client-frame',
    title: 'Unmasked client frame',
    dir: 'client',
    frame: frame({ opcode: Opcode.Text, mask: false, payload: text('Hello') }),
  },
  'masked-server-frame': {
    rule: 'masked-server-frame',
    title: 'Masked server frame',
    dir: 'server',
    frame: frame({ opcode: Opcode.Text, payload: text('Hello') }),
  },
  'rsv-without-extension': {
    rule: 'rsv-without-extension',
    title: 'RSV2 set, no extension',
    dir: 'client',
    frame: frame({ opcode: Opcode.Text, rsv2: true, payload: text('Hello') }),
  },
  'rsv1-on-control-frame': {
    rule: 'rsv1-on-control-frame',
    title: 'RSV1 on a ping',
    dir: 'client',
    needs: 'deflate',
    frame: frame({ opcode: Opcode.Ping, rsv1: true, payload: text('ping') }),
    note: 'Named so on a connection with permessage-deflate; without it RSV1 is simply not allowed (rsv-without-extension). Either way the answer is 1002.',
  },
  'rsv1-on-continuation': {
    rule: 'rsv1-on-continuation',
    title: 'RSV1 on a continuation',
    dir: 'client',
    needs: 'deflate',
    before: [frame({ opcode: Opcode.Text, fin: false, payload: text('Hel') })],
    frame: frame({ opcode: Opcode.Continuation, rsv1: true, payload: text('lo') }),
    note: 'Named so on a connection with permessage-deflate; without it RSV1 is simply not allowed (rsv-without-extension). Either way the answer is 1002.',
  },
  'reserved-opcode': {
    rule: 'reserved-opcode',
    title: 'Reserved opcode 0x3',
    dir: 'client',
    frame: frame({ opcode: 0x3, payload: text('Hello') }),
  },
  'control-frame-too-long': {
    rule: 'control-frame-too-long',
    title: 'Ping of 126 bytes',
    dir: 'client',
    frame: frame({ opcode: Opcode.Ping, payload: text('x'.repeat(126)) }),
  },
  'fragmented-control-frame': {
    rule: 'fragmented-control-frame',
    title: 'Ping without FIN',
    dir: 'client',
    frame: frame({ opcode: Opcode.Ping, fin: false, payload: text('ping') }),
  },
  'unexpected-continuation': {
    rule: 'unexpected-continuation',
    title: 'Continuation out of nowhere',
    dir: 'client',
    frame: frame({ opcode: Opcode.Continuation, payload: text('lo') }),
  },
  'data-frame-mid-message': {
    rule: 'data-frame-mid-message',
    title: 'New message mid-message',
    dir: 'client',
    before: [frame({ opcode: Opcode.Text, fin: false, payload: text('Hel') })],
    frame: frame({ opcode: Opcode.Text, payload: text('Hello') }),
  },
  'non-minimal-length': {
    rule: 'non-minimal-length',
    title: 'Length 5 in the 16-bit field',
    dir: 'client',
    frame: frame({ opcode: Opcode.Text, payload: text('Hello'), lengthEncoding: 16 }),
    note: 'ws does not check this rule: it reads the message as usual and answers it.',
  },
  'length-top-bit-set': {
    rule: 'length-top-bit-set',
    title: '64-bit length with the top bit set',
    dir: 'client',
    frame: frame({ opcode: Opcode.Binary, payload: { kind: 'hex', hex: '' }, lengthEncoding: 64, announcedLength: (1n << 63n).toString() }),
    note: 'ws reads any length above 2^53-1 as too big to handle and closes with 1009 (message too big), not 1002.',
  },
  'invalid-utf8': {
    rule: 'invalid-utf8',
    title: 'Text that is not UTF-8',
    dir: 'client',
    frame: frame({ opcode: Opcode.Text, payload: { kind: 'hex', hex: '48 65 ff 6c 6f' } }),
  },
  'invalid-close-code': {
    rule: 'invalid-close-code',
    title: 'Close with code 1005',
    dir: 'client',
    frame: frame({ opcode: Opcode.Close, payload: { kind: 'close', code: 1005, reason: '' } }),
  },
  'close-body-one-byte': {
    rule: 'close-body-one-byte',
    title: 'Close body of one byte',
    dir: 'client',
    frame: frame({ opcode: Opcode.Close, payload: { kind: 'hex', hex: '03' } }),
  },
  'invalid-close-reason-utf8': {
    rule: 'invalid-close-reason-utf8',
    title: 'Close reason not UTF-8',
    dir: 'client',
    frame: frame({ opcode: Opcode.Close, payload: { kind: 'hex', hex: '03 e8 ff fe' } }),
  },
  'invalid-compressed-data': {
    rule: 'invalid-compressed-data',
    title: 'Compressed data that does not inflate',
    dir: 'client',
    needs: 'deflate',
    // 0xff: a final block of type 3, which DEFLATE reserves (RFC 1951 §3.2.3).
    frame: frame({ opcode: Opcode.Text, rsv1: true, payload: { kind: 'hex', hex: 'ff ff ff ff' } }),
    note: 'Needs permessage-deflate; without it RSV1 is simply not allowed (rsv-without-extension, 1002).',
  },
  'frame-after-close': {
    rule: 'frame-after-close',
    title: 'Text after a close',
    dir: 'client',
    before: [frame({ opcode: Opcode.Close, payload: { kind: 'close', code: 1000, reason: '' } })],
    frame: frame({ opcode: Opcode.Text, payload: text('too late') }),
    note: 'ws stops reading at the close frame: it answers the close with the same code (1000) and ignores the rest.',
  },
  'data-before-handshake': {
    rule: 'data-before-handshake',
    title: 'Frame before the 101',
    dir: 'client',
    needs: 'held-handshake',
    frame: frame({ opcode: Opcode.Text, payload: text('too early') }),
    note: 'A legal frame on an open connection: send it while the server\'s 101 is held (fault "delay the handshake"). ws has sent its 101 by then, so it takes the message.',
  },
};

/** Presets in the order of RULES (the order a reader meets them in the RFC). */
export const PRESET_LIST: Preset[] = (Object.keys(RULES) as ViolationRule[]).flatMap((r) => (r in PRESETS ? [PRESETS[r as keyof typeof PRESETS]] : []));

/** The close code RULES gives for a preset's rule: what a conforming endpoint sends. */
export const presetCloseCode = (p: Preset): number => RULES[p.rule].closeCode;

/** All the bytes a preset sends, in order. */
export function presetBytes(p: Preset): Uint8Array {
  return concatBytes([...(p.before ?? []), p.frame].map((f) => buildFrame(f).bytes));
}

/** The preset frame for the other direction: masked toward the server, unmasked toward the client. */
export function maskFor(d: FrameDescription, dir: Direction): FrameDescription {
  return { ...d, mask: dir === 'client' };
}
