/**
 * Small helpers the application-protocol decoders share: the text of a message, JSON parsed
 * without throwing, short previews for summaries. Everything here is bounded by its input (a
 * message's first bytes, never a number the peer wrote).
 */
import { incompleteTail } from '../utf8.ts';
import type { AppMessage, AppRuleBroken } from './decoder.ts';

/** The longest preview of arguments or a result a summary carries, in characters. */
export const SUMMARY_PREVIEW = 80;

const decoder = new TextDecoder('utf-8', { fatal: false });

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A message's data as text; a start cut inside a code point loses the partial one. */
export function textOf(m: Pick<AppMessage, 'data' | 'truncated'>): string {
  const b = asBuffer(m.data);
  return decoder.decode(m.truncated ? b.subarray(0, incompleteTail(b)) : b);
}

/** base64 of bytes. */
export function base64Of(b: Uint8Array): string {
  return asBuffer(b).toString('base64');
}

/** UTF-8 length of `s` (offsets of layers are in bytes of the message's data). */
export function bytesOf(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** JSON.parse that never throws. */
export function parseJson(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** A value as short JSON for a summary: at most SUMMARY_PREVIEW characters, cut with an ellipsis. */
export function preview(value: unknown, max = SUMMARY_PREVIEW): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A short quote of text for a sentence (a bad packet's first characters). */
export function quote(text: string, max = 40): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(shown);
}

export const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What a summary adds when only the start of a message was decoded. */
export function cutNote(m: Pick<AppMessage, 'data' | 'length'>): string {
  const kib = Math.round(m.data.length / 1024);
  return ` (only the first ${kib} KiB${m.length !== undefined ? ` of ${m.length} bytes` : ''} decoded)`;
}

export function broken(rule: string, section: string, message: string): AppRuleBroken {
  return { rule, section, message };
}
