import type { FrameEvent, HandshakeEvent, MessageEvent, WireEvent } from './events.ts';
import { opcodeName } from '../protocol/opcodes.ts';

/**
 * One-line summaries of events, for log lines and timeline rows. Written for debugging, in the
 * spirit of python-websockets' `Frame.__str__`: robust to any data, guesses whether a payload is
 * text even in binary and continuation frames, and elides the middle of long payloads.
 */

const ARROW = { client: 'client →', server: 'server →' } as const;
const MAX_PREVIEW = 75;

/** Quote text like a string literal, eliding the middle past 75 characters. */
export function quoteText(text: string): string {
  let s = text.length > MAX_PREVIEW ? `${text.slice(0, 48)}…${text.slice(-24)}` : text;
  s = s.replace(/[\\']/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `'${s}'`;
}

/** Bytes as hex pairs, eliding the middle past 24 bytes. */
export function hexPreview(bytes: Buffer): string {
  const h = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > 24 ? `${h(bytes.subarray(0, 16))} … ${h(bytes.subarray(bytes.length - 8))}` : h(bytes);
}

/** Text if the bytes decode as UTF-8 without replacement characters, else hex. */
export function payloadPreview(bytes: Buffer, preferText: boolean): string {
  if (bytes.length === 0) return "''";
  const text = bytes.toString('utf8');
  const decodes = !text.includes('\uFFFD');
  // Text frames show as text whenever they decode; binary ones only when they are plain ASCII.
  if (decodes && (preferText || /^[\x20-\x7e\s]*$/.test(text))) return quoteText(text);
  return hexPreview(bytes);
}

const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

export function describeFrame(f: FrameEvent): string {
  const payload = Buffer.from(f.payload, 'base64');
  let body: string;
  if (f.opcode === 8) {
    if (payload.length >= 2) {
      const code = payload.readUInt16BE(0);
      const reason = payload.subarray(2).toString('utf8');
      body = `${code}${reason ? ` ${quoteText(reason)}` : ''}`;
    } else body = payload.length === 0 ? '(no code)' : hexPreview(payload);
  } else if (f.rsv1) {
    body = `(compressed) ${hexPreview(payload)}`;
  } else {
    body = payloadPreview(payload, f.opcode === 1 || f.opcode === 0);
  }
  const notes: string[] = [plural(f.length, 'byte')];
  if (f.truncated) notes.push(`first ${payload.length} shown`);
  if (f.masked) notes.push(`masked ${f.maskKey}`);
  if (!f.fin) notes.push('fin=0, more fragments follow');
  if (f.rsv1) notes.push('rsv1');
  if (f.rsv2) notes.push('rsv2');
  if (f.rsv3) notes.push('rsv3');
  if (f.complete === false) notes.push('incomplete: the connection ended inside it');
  return `${ARROW[f.dir]} ${opcodeName(f.opcode)} ${body} [${notes.join(', ')}]`;
}

export function describeMessage(m: MessageEvent): string {
  const body = m.text !== undefined ? quoteText(m.text) : m.base64 !== undefined ? payloadPreview(Buffer.from(m.base64, 'base64'), false) : '';
  const notes = [plural(m.length, 'byte')];
  if (m.frames > 1) notes.push(`${m.frames} fragments`);
  if (m.compressed) notes.push(`compressed to ${plural(m.wireLength ?? 0, 'byte')}`);
  if (m.truncated) notes.push('preview');
  if (m.inflateError) notes.push(m.inflateError);
  if (m.utf8Valid === false) notes.push('invalid UTF-8');
  // The application layer the wiretap decoded, as the Timeline's badge says it.
  const app = m.app ? ` = ${m.app.protocol} ${m.app.summary.slice(0, 120)}` : '';
  return `${ARROW[m.dir]} message ${m.opcode === 1 ? 'TEXT' : 'BINARY'} ${body} [${notes.join(', ')}]${app}`;
}

export function describeHandshake(h: HandshakeEvent): string {
  const req = h.request ? `${h.request.method} ${h.request.path}` : '(no request)';
  const res = h.response ? `${h.response.status} ${h.response.reason}` : '(no response)';
  const parts = [`handshake ${h.outcome}: ${req} → ${res}`];
  if (h.outcome === 'upgraded') parts.push(h.acceptValid ? 'accept ok' : 'ACCEPT MISMATCH');
  if (h.extensions.length > 0) parts.push(`extensions: ${h.extensions.map((e) => e.name).join(', ')}`);
  if (h.subprotocol) parts.push(`subprotocol: ${h.subprotocol}`);
  if (h.problems.length > 0) parts.push(`problems: ${h.problems.join(' ')}`);
  return parts.join(', ');
}

/** One line for any event, prefixed with its connection: `#3 client → TEXT 'hi' [2 bytes, ...]`. */
export function describeEvent(e: WireEvent): string {
  const line = (() => {
    switch (e.type) {
      case 'open':
        return `open from ${e.client} to ${e.target}${e.instance ? ` (server process ${e.instance})` : ''}`;
      case 'handshake':
        return describeHandshake(e);
      case 'frame':
        return describeFrame(e);
      case 'message':
        return describeMessage(e);
      case 'ping':
      case 'pong':
        return `${ARROW[e.dir]} ${e.type} ${payloadPreview(Buffer.from(e.payload, 'base64'), false)}`;
      case 'close':
        return `${ARROW[e.dir]} close ${e.explanation}${e.reason ? ` ${quoteText(e.reason)}` : ''}`;
      case 'violation':
        return `${ARROW[e.dir]} VIOLATION ${e.rule} (${e.section}, close code ${e.closeCode}): ${e.message}`;
      case 'appViolation':
        return `${ARROW[e.dir]} ${e.protocol.toUpperCase()} VIOLATION ${e.rule} (${e.section}): ${e.message}`;
      case 'insight':
        return `INSIGHT ${e.rule} (${e.severity}, lesson ${e.lesson}): ${e.message}`;
      case 'end':
        return `end by ${e.by}${e.error ? ` (${e.error})` : ''}: ${e.code === null ? e.explanation : `client sees ${e.explanation}, server sees ${e.serverCode}`}${e.clean ? ', clean close' : ''}; ${e.bytes.client} bytes from client, ${e.bytes.server} from server`;
    }
  })();
  return `#${e.conn} ${line}`;
}
