/** Byte helpers for the browser (no Buffer here). */

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export const hexByte = (b: number) => b.toString(16).padStart(2, '0');

export function toHex(bytes: Uint8Array, sep = ' '): string {
  return Array.from(bytes, hexByte).join(sep);
}

const decoder = new TextDecoder('utf-8', { fatal: false });
const strict = new TextDecoder('utf-8', { fatal: true });

export function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** The text if the bytes are valid UTF-8, else null. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

/** Re-apply a masking key (RFC 6455 §5.3): masking and unmasking are the same XOR. */
export function xorMask(bytes: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! ^ key[i & 3]!;
  return out;
}

/** A short preview: text when it decodes, hex otherwise; the middle of long payloads elided. */
export function preview(bytes: Uint8Array, preferText: boolean, max = 80): string {
  const text = utf8OrNull(bytes);
  if (text !== null && (preferText || /^[\x20-\x7e\s]*$/.test(text))) {
    const t = text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '⏎' : '·'));
    return t.length > max ? `${t.slice(0, max - 25)}…${t.slice(-20)}` : t;
  }
  const n = Math.floor(max / 3);
  return bytes.length > n ? `${toHex(bytes.subarray(0, n - 6))} … ${toHex(bytes.subarray(bytes.length - 4))}` : toHex(bytes);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
