import type { MessageEvent as WireMessage } from '../../../server/capture/events.ts';
import { base64ToBytes } from '../lib/bytes.ts';

/**
 * Does a message seen on the wire carry exactly the data a `send` call gave the browser?
 * Pure, so the rule is easy to read: same opcode, same length in bytes, same bytes. Where one
 * side holds only the first bytes (a long message's preview, a long send's copy), those bytes
 * must agree and the lengths must be equal; anything else is no match (never a guess).
 */
export interface SentData {
  opcode: 1 | 2;
  /** Total bytes (UTF-8 for text). */
  size: number;
  text?: string;
  bytes?: Uint8Array;
  partial?: boolean;
}

const encoder = new TextEncoder();

export function sentMatches(sent: SentData, m: WireMessage): boolean {
  if (m.opcode !== sent.opcode || m.length !== sent.size || m.inflateError) return false;
  if (sent.opcode === 1) {
    if (sent.text === undefined || m.text === undefined) return false;
    if (!sent.partial && !m.truncated) return sent.text === m.text;
    return prefixAgrees(encoder.encode(sent.text), encoder.encode(m.text));
  }
  if (sent.bytes === undefined || m.base64 === undefined) return false;
  const wire = base64ToBytes(m.base64);
  if (!sent.partial && !m.truncated) return equalBytes(sent.bytes, wire);
  return prefixAgrees(sent.bytes, wire);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Both are starts of the same data: the shorter is a prefix of the longer (a cut may split a UTF-8 sequence: compare whole bytes only). */
function prefixAgrees(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.min(a.length, b.length);
  // A text preview cut mid-character ends in U+FFFD (3 bytes) or loses its last bytes: leave the last 3 out.
  const upTo = Math.max(0, n - 3);
  if (upTo === 0) return false;
  for (let i = 0; i < upTo; i++) if (a[i] !== b[i]) return false;
  return true;
}
