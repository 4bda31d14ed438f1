/**
 * Groups 12 and 13: permessage-deflate (RFC 7692). 12.x sends compressed messages of growing
 * size cut from five kinds of data; 13.x does the same with each set of parameters the runner
 * can offer (or, serving a client, accept). The peer echoes; every echo must inflate (with the
 * window and context rules that were agreed) to exactly what was sent.
 *
 * Autobahn cuts its messages from files it ships (a JSON file, a bitmap, Goethe's Faust, an HTML
 * page, a PDF); we generate data of the same five kinds, and send 20 messages a case where
 * Autobahn sends 1000, so the groups finish in minutes on a 2-core machine.
 */
import type { Case, OwnJudgement, Script } from './cases.ts';
import type { Item, Session } from './session.ts';
import type { CaseGroup } from './types.ts';

export const DEFLATE_CASES: Case[] = [];

const COUNT = 20;
/** Autobahn's sizes: [payload bytes, fragment size (0: one frame)]. */
const SIZES: Array<[number, number]> = [
  [16, 0], [64, 0], [256, 0], [1024, 0], [4096, 0], [8192, 0], [16384, 0], [32768, 0], [65536, 0], [131072, 0],
  [8192, 256], [16384, 256], [32768, 256], [65536, 256], [131072, 256], [131072, 1024], [131072, 4096], [131072, 32768],
];

const RFC_COMPRESS = { section: 'RFC 7692 §7.2.2', must: 'An endpoint uses the following algorithm to decompress a message: append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the message; decompress the resulting data using DEFLATE.' };
const RFC_PARAMS = { section: 'RFC 7692 §7.1.1.1, §7.1.2.1', must: 'If a server accepts an offer with "server_no_context_takeover", the server MUST include the parameter in its response; the server MUST NOT use a LZ77 sliding window greater than the size given in "server_max_window_bits" it accepted.' };
const HINT = 'Accept permessage-deflate (ws: perMessageDeflate: true), inflate every message whose first frame has RSV1 set, and honour the parameters you accept: no context takeover means a fresh compressor per message.';

// ---- the five kinds of data (deterministic, 256 KiB each) ----

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
}
const WORDS = 'the a frame message payload opcode masking key close code handshake extension server client sends reads answers echo text binary ping pong fragment continuation window deflate inflate context takeover byte length header bit reserved valid invalid peer endpoint connection'.split(' ');

type DataKind = { title: string; binary: boolean; make: () => Buffer };
const SIZE = 256 * 1024;
const DATA: DataKind[] = [
  { title: 'JSON records', binary: false, make: () => {
    const r = lcg(1);
    const rows: string[] = [];
    let n = 0;
    for (let i = 0; n < SIZE; i++) {
      const row = JSON.stringify({ id: i, name: `${WORDS[r() % WORDS.length]}-${r() % 1000}`, tags: [WORDS[r() % WORDS.length], WORDS[r() % WORDS.length]], score: (r() % 10000) / 100, ok: r() % 2 === 0 });
      rows.push(row);
      n += row.length + 1;
    }
    return Buffer.from(`[${rows.join(',')}]`).subarray(0, SIZE);
  } },
  { title: 'A bitmap picture (binary)', binary: true, make: () => {
    // 512 x 512 grey levels: rings and a gradient, compressible as a photo-like image is.
    const b = Buffer.alloc(SIZE);
    for (let y = 0; y < 512; y++) for (let x = 0; x < 512; x++) b[y * 512 + x] = (Math.floor(Math.hypot(x - 256, y - 256) / 6) % 2 ? 200 : 40) + ((x + y) >> 4);
    return b;
  } },
  { title: 'Human-readable text', binary: false, make: () => {
    const r = lcg(2);
    let s = '';
    while (s.length < SIZE) {
      const n = 5 + (r() % 12);
      const words = Array.from({ length: n }, () => WORDS[r() % WORDS.length]);
      s += `${words.join(' ')}. `;
      if (r() % 7 === 0) s += 'Über grüße — «ça va?» ';
    }
    return Buffer.from(s).subarray(0, SIZE);
  } },
  { title: 'An HTML page', binary: false, make: () => {
    const r = lcg(3);
    let s = '<!doctype html><html><head><title>Frames</title></head><body><table>';
    while (s.length < SIZE) s += `<tr><td class="op">${r() % 16}</td><td><a href="/frame/${r() % 100000}">${WORDS[r() % WORDS.length]}</a></td></tr>\n`;
    return Buffer.from(s).subarray(0, SIZE);
  } },
  { title: 'Incompressible bytes (binary)', binary: true, make: () => {
    const r = lcg(4);
    const b = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i += 4) b.writeUInt32LE(r(), i);
    return b;
  } },
];

/** Cuts `count` messages of `len` bytes from the data, wrapping around (a text cut falls on a code point). */
function messages(data: Buffer, binary: boolean, len: number, count: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    let m = Buffer.alloc(len);
    for (let k = 0; k < len; k++) m[k] = data[(at + k) % data.length]!;
    at = (at + len) % data.length;
    if (!binary) {
      // Trim to the last whole code point, then pad with ASCII, so text stays valid UTF-8.
      const t = Buffer.from(new TextDecoder().decode(m).replace(/\uFFFD/g, ''));
      m = Buffer.concat([t.subarray(0, len), Buffer.alloc(Math.max(0, len - t.length), 0x20)]).subarray(0, len);
      while (!isUtf8(m)) m = Buffer.concat([m.subarray(0, m.length - 1), Buffer.from(' ')]);
    }
    out.push(m);
  }
  return out;
}
function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

const cache = new Map<number, Buffer>();
const dataOf = (k: number): Buffer => {
  if (!cache.has(k)) cache.set(k, DATA[k]!.make());
  return cache.get(k)!;
};

/** Sends the messages one by one, each after the echo of the one before; judges them all. */
function echoScript(offer: string, accept: string, kind: number, len: number, frag: number): Script {
  const d = DATA[kind]!;
  let sent: Buffer[] = [];
  return {
    expect: { ok: [] },
    close: { by: 'runner', codes: [1000], requireClean: true },
    long: true,
    offer,
    accept,
    run: async (s: Session) => {
      sent = messages(dataOf(kind), d.binary, len, COUNT);
      for (let i = 0; i < sent.length; i++) {
        await s.sendMessage(sent[i]!, d.binary, { compress: true, fragmentSize: frag || undefined });
        const r = await s.waitFor(() => s.received.length > i || s.closing, 'answer wait for an echo', s.waits.answerMs);
        if (r !== 'met' || s.closing) break;
      }
    },
    judge: (s: Session): OwnJudgement => {
      const got = s.received.filter((x): x is Extract<Item, { kind: 'message' }> => x.kind === 'message');
      for (let i = 0; i < sent.length; i++) {
        const m = got[i];
        if (!m) return { behavior: 'FAILED', observed: `${i} of ${sent.length} echoes came back` };
        if (m.binary !== d.binary || !m.data.equals(sent[i]!)) {
          return { behavior: 'FAILED', observed: `echo ${i + 1} differs from what was sent: ${m.binary ? 'binary' : 'text'}, ${m.data.length} bytes, expected ${d.binary ? 'binary' : 'text'}, ${sent[i]!.length} bytes` };
        }
      }
      return { behavior: 'OK', observed: `${sent.length} compressed messages of ${len} bytes echoed intact (${s.deflate?.agreed ?? 'permessage-deflate'})` };
    },
  };
}

function add(id: string, title: string, description: string, expectation: string, rfc: { section: string; must: string }, script: () => Script): void {
  DEFLATE_CASES.push({ id, group: Number(id.split('.')[0]) as CaseGroup, title, description, expectation, rfc, hint: HINT, script });
}

const sizeText = (len: number, frag: number): string => `${COUNT} compressed messages of ${len} bytes${frag ? `, each in fragments of ${frag} bytes` : ''}`;

DATA.forEach((d, k) => {
  SIZES.forEach(([len, frag], i) => {
    add(`12.${k + 1}.${i + 1}`, `permessage-deflate: ${d.title}`, `With the default offer (permessage-deflate), send ${sizeText(len, frag)} cut from ${d.title.toLowerCase()}, each after the echo of the one before.`,
      'Every message comes back intact (compressed or not); UNIMPLEMENTED when the peer declines permessage-deflate.', RFC_COMPRESS, () => echoScript('permessage-deflate; client_no_context_takeover; client_max_window_bits', '', k, len, frag));
  });
});

/** Autobahn's 13.x: what the client requests of the server, and what a server asks back. */
const PARAMS: Array<{ offer: string; accept: string; text: string }> = [
  { offer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits', accept: '', text: 'the default offer, accepted as is' },
  { offer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover', accept: 'client_no_context_takeover', text: 'no context takeover requested' },
  { offer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=9', accept: 'client_max_window_bits=9', text: 'a 512-byte window (9 bits) requested' },
  { offer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=15', accept: 'client_max_window_bits=15', text: 'a 32 KiB window (15 bits) requested' },
  { offer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9', accept: 'client_no_context_takeover; client_max_window_bits=9', text: 'no context takeover and a 9-bit window requested' },
  { offer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15', accept: 'client_no_context_takeover; client_max_window_bits=15', text: 'no context takeover and a 15-bit window requested' },
  { offer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9, permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover, permessage-deflate; client_no_context_takeover; client_max_window_bits', accept: 'client_no_context_takeover; client_max_window_bits=9', text: 'three offers in order of preference' },
];
PARAMS.forEach((p, j) => {
  SIZES.forEach(([len, frag], i) => {
    add(`13.${j + 1}.${i + 1}`, `permessage-deflate parameters: ${p.text}`, `Negotiate permessage-deflate with ${p.text} (offer: ${p.offer}), then send ${sizeText(len, frag)} of JSON.`,
      'The answer honours what was requested (e.g. server_no_context_takeover echoed, a window no larger than asked) and every message comes back intact, inflated under those rules.', RFC_PARAMS, () => echoScript(p.offer, p.accept, 0, len, frag));
  });
});
