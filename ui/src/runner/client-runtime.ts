/**
 * The client runtime: a CLASSIC Web Worker (bundled by vite as one IIFE script, no imports at
 * run time) that runs the learner's client.js as the browser would.
 *
 * 1. It installs instrumentation, changing no behaviour the learner's code can see:
 *    - console.* is copied to the page (and still goes to the real console);
 *    - uncaught errors and unhandled rejections are reported with their place in client.js;
 *    - WebSocket.prototype.send reports each call (time, payload, the line of client.js) and
 *      then calls the browser's own send: what it throws (InvalidStateError before open) is
 *      thrown as the browser threw it, same object;
 *    - WebSocket is the browser's class, subclassed only to number the sockets a peer creates
 *      and report when they open and close.
 *    - fetch is the browser's, called with the wiretap's real port in place of 9900 (below).
 * 2. Then, on the page's `start` message, it runs `importScripts(<origin>/workspace/client.js)`:
 *    the learner's code runs from its real, stable URL, so DevTools and VS Code breakpoints bind
 *    to it and line numbers are the file's own.
 *
 * Stop is the page's worker.terminate(): it ends the worker even inside an infinite loop.
 */
import type { ConsoleLevel, RuntimeMessage, SourcePos, StartCommand } from './protocol.ts';

declare function importScripts(...urls: string[]): void;
declare const FileReaderSync: { new (): { readAsArrayBuffer(blob: Blob): ArrayBuffer } } | undefined;

interface WorkerScope {
  postMessage(message: RuntimeMessage): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<StartCommand>) => void): void;
  addEventListener(type: 'error', listener: (e: ErrorEvent) => void): void;
  addEventListener(type: 'unhandledrejection', listener: (e: PromiseRejectionEvent) => void): void;
  removeEventListener(type: 'message', listener: (e: MessageEvent<StartCommand>) => void): void;
  WebSocket: typeof WebSocket;
}
const scope = self as unknown as WorkerScope;
// protocol.ts MAX_SEND_COPY and MAX_REPORTS_PER_SECOND (type-only imports keep this file import-free).
const MAX_SEND_COPY = 256 * 1024;
const MAX_REPORTS_PER_SECOND = 1000;

const post = (m: RuntimeMessage) => {
  try {
    scope.postMessage(m);
  } catch {
    // A value that cannot be cloned: never let instrumentation break the learner's program.
  }
};

/**
 * A loop that logs or sends as fast as it can must not flood the page: at most
 * MAX_REPORTS_PER_SECOND reports a second of each kind (console lines beyond it reach neither
 * the page nor the browser's console); the rest are counted and the count
 * reported when the next second starts (checked on each call: a busy loop never yields).
 */
class Budget {
  private windowStart = 0;
  private used = 0;
  private dropped = 0;
  constructor(private readonly onDropped: (count: number) => void) {}
  take(now: number): boolean {
    if (now - this.windowStart >= 1000) {
      if (this.dropped > 0) this.onDropped(this.dropped);
      this.windowStart = now;
      this.used = 0;
      this.dropped = 0;
    }
    if (this.used < MAX_REPORTS_PER_SECOND) {
      this.used++;
      return true;
    }
    if (this.dropped === 0) this.onDroppedSoon();
    this.dropped++;
    return false;
  }
  /** The first drop in a window: say so at once too, so the page knows (sends: stop linking). */
  private onDroppedSoon(): void {
    this.onDropped(0);
  }
}

// ---- where in client.js ------------------------------------------------------------------

let clientUrl = '';
let clientRe: RegExp | null = null;

/** The first frame of a stack that is in client.js: its line and column. */
function posInStack(stack: unknown): SourcePos | null {
  if (typeof stack !== 'string' || !clientRe) return null;
  clientRe.lastIndex = 0;
  const m = clientRe.exec(stack);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : null;
}

function here(): SourcePos | null {
  return posInStack(new Error().stack);
}

// ---- console ------------------------------------------------------------------------------

function inspect(v: unknown, depth: number, seen: Set<object>, top: boolean): string {
  switch (typeof v) {
    case 'string':
      return top ? v : JSON.stringify(v.length > 500 ? `${v.slice(0, 500)}…` : v);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'bigint':
      return `${v}n`;
    case 'symbol':
      return v.toString();
    case 'function':
      return `ƒ ${v.name || '(anonymous)'}()`;
  }
  if (v === null) return 'null';
  const o = v as object;
  if (seen.has(o)) return '[Circular]';
  try {
    if (o instanceof Error) return top && o.stack ? o.stack : `${o.name}: ${o.message}`;
    if (o instanceof Date) return o.toISOString();
    if (o instanceof RegExp) return String(o);
    if (o instanceof ArrayBuffer) return `ArrayBuffer(${o.byteLength}) ${bytesPreview(new Uint8Array(o))}`;
    if (ArrayBuffer.isView(o)) {
      const name = o.constructor?.name ?? 'ArrayBufferView';
      if (o instanceof DataView) return `DataView(${o.byteLength})`;
      const arr = Array.from(o as unknown as ArrayLike<number | bigint>).slice(0, 32).map(String);
      const len = (o as unknown as ArrayLike<unknown>).length;
      return `${name}(${len}) [${arr.join(', ')}${len > 32 ? ', …' : ''}]`;
    }
    if (typeof Blob !== 'undefined' && o instanceof Blob) return `Blob(${o.size}${o.type ? `, ${o.type}` : ''})`;
    if (depth > 2) return Array.isArray(o) ? '[Array]' : `[${o.constructor?.name ?? 'Object'}]`;
    seen.add(o);
    if (Array.isArray(o)) {
      const items = o.slice(0, 50).map((x) => inspect(x, depth + 1, seen, false));
      return `[${items.join(', ')}${o.length > 50 ? `, … ${o.length - 50} more` : ''}]`;
    }
    if (o instanceof Map) {
      const items = [...o].slice(0, 20).map(([k, x]) => `${inspect(k, depth + 1, seen, false)} => ${inspect(x, depth + 1, seen, false)}`);
      return `Map(${o.size}) {${items.join(', ')}}`;
    }
    if (o instanceof Set) return `Set(${o.size}) {${[...o].slice(0, 20).map((x) => inspect(x, depth + 1, seen, false)).join(', ')}}`;
    if (typeof Event !== 'undefined' && o instanceof Event) {
      // Events keep their fields on the prototype: show the ones a learner looks at.
      const fields: string[] = [`type: ${JSON.stringify(o.type)}`];
      for (const k of ['data', 'code', 'reason', 'wasClean', 'message'] as const) {
        if (k in o) fields.push(`${k}: ${inspect((o as unknown as Record<string, unknown>)[k], depth + 1, seen, false)}`);
      }
      return `${o.constructor?.name ?? 'Event'} {${fields.join(', ')}}`;
    }
    const keys = Object.keys(o);
    const name = o.constructor && o.constructor !== Object ? `${o.constructor.name} ` : '';
    const items = keys.slice(0, 30).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${inspect((o as Record<string, unknown>)[k], depth + 1, seen, false)}`);
    return `${name}{${items.join(', ')}${keys.length > 30 ? ', …' : ''}}`;
  } catch {
    return Object.prototype.toString.call(o);
  } finally {
    seen.delete(o);
  }
}

function bytesPreview(b: Uint8Array): string {
  const hex = Array.from(b.subarray(0, 24), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return `<${hex}${b.length > 24 ? ' …' : ''}>`;
}

/** console.log's formatting: %s %d %i %f %o %O %c in a first string argument, then the rest. */
function format(args: unknown[]): string {
  const out: string[] = [];
  let rest = args;
  if (typeof args[0] === 'string' && args[0].includes('%')) {
    let i = 1;
    const first = args[0].replace(/%([sdifoOc%])/g, (whole, c: string) => {
      if (c === '%') return '%';
      if (i >= args.length) return whole;
      const a = args[i++];
      switch (c) {
        case 's':
          return typeof a === 'string' ? a : inspect(a, 1, new Set(), false);
        case 'd':
        case 'i':
          return typeof a === 'bigint' ? `${a}n` : String(Math.trunc(Number(a)));
        case 'f':
          return String(Number(a));
        case 'c':
          return '';
        default:
          return inspect(a, 0, new Set(), false);
      }
    });
    out.push(first);
    rest = args.slice(i);
  } else if (args.length > 0) {
    out.push(inspect(args[0], 0, new Set(), true));
    rest = args.slice(1);
  }
  for (const a of rest) out.push(inspect(a, 0, new Set(), true));
  return out.join(' ');
}

/**
 * A console line longer than 8,192 characters keeps its first and last 1,024 and says how long
 * it was, as the server's console does (server/runner/console-lines.ts): a client logging what
 * it receives must not copy 64 MiB to the page, into a log of 3,000 lines.
 */
function capLine(s: string): string {
  if (s.length <= 8192) return s;
  const n = (x: number) => x.toLocaleString('en-US');
  return `${s.slice(0, 1024)} … [${n(s.length - 2048)} characters cut: the line had ${n(s.length)}] … ${s.slice(-1024)}`;
}

const consoleBudget = new Budget((count) => post({ kind: 'dropped', what: 'console', count, t: Date.now() }));

const levels: Array<[keyof Console, ConsoleLevel]> = [
  ['log', 'log'],
  ['info', 'info'],
  ['warn', 'warn'],
  ['error', 'error'],
  ['debug', 'debug'],
  ['trace', 'log'],
  ['dir', 'log'],
  ['table', 'log'],
];
for (const [name, level] of levels) {
  const original = console[name] as (...a: unknown[]) => void;
  if (typeof original !== 'function') continue;
  (console as unknown as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
    let within = true;
    try {
      const t = Date.now();
      within = consoleBudget.take(t);
      if (within) post({ kind: 'console', level, text: capLine(format(args)), pos: here(), t });
    } catch {
      // never break the learner's console call
    }
    // The browser's console too, within the same budget: Chromium hands every console message
    // of a worker to the page's main thread, and a loop logging millions a second would freeze
    // the dashboard (and DevTools) long after Stop.
    if (within) return original.apply(this, args);
    return undefined;
  };
}

// ---- errors ---------------------------------------------------------------------------------

function errorParts(err: unknown, fallback: string): { name: string; message: string; stack: string } {
  if (err instanceof Error || (typeof err === 'object' && err !== null && 'message' in err)) {
    const e = err as Error;
    return { name: String(e.name ?? 'Error'), message: String(e.message), stack: typeof e.stack === 'string' ? e.stack : '' };
  }
  if (err === undefined) return { name: 'Error', message: fallback.replace(/^Uncaught\s+/, ''), stack: '' };
  return { name: 'Uncaught', message: inspect(err, 0, new Set(), false), stack: '' };
}

scope.addEventListener('error', (e: ErrorEvent) => {
  const parts = errorParts(e.error, e.message);
  let pos = posInStack(parts.stack);
  if (!pos && clientUrl && e.filename === clientUrl && e.lineno > 0) pos = { line: e.lineno, column: e.colno };
  // A SyntaxError from importScripts carries no client.js frame in its stack: the event has it.
  post({ kind: 'error', what: 'error', ...parts, pos, t: Date.now() });
  // Not prevented: DevTools shows "Uncaught ..." exactly as it would for a page.
});

scope.addEventListener('unhandledrejection', (e: PromiseRejectionEvent) => {
  const parts = errorParts(e.reason, 'Unhandled promise rejection');
  post({ kind: 'error', what: 'rejection', ...parts, pos: posInStack(parts.stack), t: Date.now() });
});

// ---- WebSocket ------------------------------------------------------------------------------

const NativeWebSocket = scope.WebSocket;
let portMap: StartCommand['portMap'];
let morePorts: NonNullable<StartCommand['morePorts']> = [];

/**
 * ws://localhost:9900 (or http://localhost:9900/… for fetch) → the wiretap's real port, when it
 * is not 9900 (StartCommand.portMap).
 */
function mapPort(url: string | URL): string | URL {
  const maps = [...(portMap ? [portMap] : []), ...morePorts].filter((m) => m.from !== m.to);
  if (maps.length === 0) return url;
  try {
    const u = new URL(String(url), clientUrl || undefined);
    const local = u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]';
    const map = local ? maps.find((m) => Number(u.port) === m.from) : undefined;
    if (map) {
      u.port = String(map.to);
      return u.href;
    }
  } catch {
    // Not a URL: the browser's own constructor reports that, as it would.
  }
  return url;
}

// ---- fetch ----------------------------------------------------------------------------------

// The course's polling client (lesson 1) fetches http://localhost:9900/…: the same port mapping
// as WebSocket's. Everything else (the Response, its errors, CORS) is the browser's own.
const nativeFetch = typeof self.fetch === 'function' ? self.fetch : null;
if (nativeFetch) {
  const fetch = function fetch(this: unknown, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    let target: RequestInfo | URL = input;
    try {
      if (typeof Request === 'function' && input instanceof Request) {
        const mapped = mapPort(input.url);
        if (mapped !== input.url) target = new Request(String(mapped), input);
      } else {
        target = mapPort(input as string | URL);
      }
    } catch {
      target = input; // never let the mapping break the learner's call
    }
    return nativeFetch.call(self, target, init);
  };
  const desc = Object.getOwnPropertyDescriptor(self, 'fetch');
  Object.defineProperty(self, 'fetch', { ...(desc ?? { writable: true, configurable: true, enumerable: true }), value: fetch });
}

const socketIds = new WeakMap<object, number>();
let sockets = 0;
let sends = 0;
/** Sockets whose sends were not all reported: the page stops linking them. */
let lastSendSocket = -1;
const sendBudget = new Budget((count) => post({ kind: 'dropped', what: 'send', count, socket: lastSendSocket, t: Date.now() }));

if (typeof NativeWebSocket === 'function') {
  // The browser's class, subclassed under the same name: `instanceof`, constants and every
  // method are the browser's; the constructor only numbers the socket and watches its events.
  const Instrumented = class WebSocket extends NativeWebSocket {
    constructor(...args: ConstructorParameters<typeof NativeWebSocket>) {
      super(mapPort(args[0]), ...(args.slice(1) as [string | string[] | undefined]));
      const id = sockets++;
      socketIds.set(this, id);
      const url = this.url;
      post({ kind: 'socket', socket: id, event: 'created', url, t: Date.now() });
      this.addEventListener('open', () => post({ kind: 'socket', socket: id, event: 'open', url, t: Date.now() }));
      this.addEventListener('error', () => post({ kind: 'socket', socket: id, event: 'error', url, t: Date.now() }));
      this.addEventListener('close', (e) => post({ kind: 'socket', socket: id, event: 'close', url, code: e.code, reason: e.reason, t: Date.now() }));
    }
  };
  const desc = Object.getOwnPropertyDescriptor(self, 'WebSocket');
  Object.defineProperty(self, 'WebSocket', { ...(desc ?? { writable: true, configurable: true, enumerable: false }), value: Instrumented });

  const nativeSend = NativeWebSocket.prototype.send;
  const encoder = new TextEncoder();
  const wrapped = {
    send(this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
      const t = Date.now();
      let report: Extract<RuntimeMessage, { kind: 'send' }> | null = null;
      try {
        lastSendSocket = socketIds.get(this) ?? -1;
        report = sendBudget.take(t) ? describeSend(this, data, here(), t) : null;
      } catch {
        report = null;
      }
      try {
        const result = nativeSend.call(this, data as string);
        if (report) post(report);
        return result;
      } catch (err) {
        if (report) {
          const parts = errorParts(err, '');
          post({ ...report, threw: { name: parts.name, message: parts.message } });
        }
        throw err; // the browser's own error object, unchanged
      }
    },
  };
  const nativeClose = NativeWebSocket.prototype.close;
  const closeWrapper = {
    close(this: WebSocket, code?: number, reason?: string) {
      try {
        // Reported before the call: a close() that throws (a code the browser refuses) was still made there.
        post({ kind: 'closeCall', socket: socketIds.get(this) ?? -1, code: typeof code === 'number' ? code : undefined, reason: typeof reason === 'string' ? reason.slice(0, 123) : undefined, pos: here(), t: Date.now() });
      } catch {
        // Reporting must never change what the learner's call does.
      }
      return nativeClose.call(this, code, reason);
    },
  };
  const closeDesc = Object.getOwnPropertyDescriptor(NativeWebSocket.prototype, 'close');
  Object.defineProperty(NativeWebSocket.prototype, 'close', { ...(closeDesc ?? { writable: true, configurable: true, enumerable: true }), value: closeWrapper.close });

  const sendDesc = Object.getOwnPropertyDescriptor(NativeWebSocket.prototype, 'send');
  Object.defineProperty(NativeWebSocket.prototype, 'send', { ...(sendDesc ?? { writable: true, configurable: true, enumerable: true }), value: wrapped.send });

  function describeSend(ws: WebSocket, data: unknown, pos: SourcePos | null, t: number): Extract<RuntimeMessage, { kind: 'send' }> {
    const base = { kind: 'send' as const, id: sends++, socket: socketIds.get(ws) ?? -1, state: ws.readyState, pos, t };
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data) || (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer)) {
      const view = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data as ArrayBuffer);
      return { ...base, opcode: 2, size: view.length, bytes: view.slice(0, MAX_SEND_COPY), partial: view.length > MAX_SEND_COPY || undefined };
    }
    if (typeof Blob !== 'undefined' && data instanceof Blob) {
      // A worker can read a Blob synchronously: the bytes the browser is about to send.
      let bytes: Uint8Array | undefined;
      if (typeof FileReaderSync === 'function') {
        try {
          bytes = new Uint8Array(new FileReaderSync().readAsArrayBuffer(data.size > MAX_SEND_COPY ? data.slice(0, MAX_SEND_COPY) : data));
        } catch {
          bytes = undefined;
        }
      }
      return { ...base, opcode: 2, size: data.size, bytes, partial: data.size > MAX_SEND_COPY || undefined };
    }
    // Anything else is sent as text: WebIDL converts it to a (well-formed) string.
    let text = typeof data === 'string' ? data : String(data);
    const wf = (text as string & { toWellFormed?: () => string }).toWellFormed;
    if (typeof wf === 'function') text = wf.call(text);
    const size = encoder.encode(text).length;
    return { ...base, opcode: 1, size, text: text.length > MAX_SEND_COPY ? text.slice(0, MAX_SEND_COPY) : text, partial: text.length > MAX_SEND_COPY || undefined };
  }
}

// ---- run ----------------------------------------------------------------------------------

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const onStart = (e: MessageEvent<StartCommand>) => {
  if (!e.data || e.data.kind !== 'start') return;
  scope.removeEventListener('message', onStart);
  clientUrl = e.data.url;
  portMap = e.data.portMap;
  morePorts = (e.data.morePorts ?? []).slice(0, 8);
  clientRe = new RegExp(`${escapeRe(clientUrl)}:(\\d+):(\\d+)`);
  post({ kind: 'loading', t: Date.now() });
  let ok = false;
  try {
    // The learner's file, from its real URL. What it throws propagates as uncaught (reported by
    // the error listener above, and shown by DevTools as the browser would show it).
    if (import.meta.env.MODE === 'development') loadInModuleWorker(clientUrl);
    else importScripts(clientUrl);
    ok = true;
  } finally {
    if (ok) post({ kind: 'loaded', t: Date.now() });
  }
};
scope.addEventListener('message', onStart);

/**
 * `npm run dev` only: vite serves workers as modules there, and a module worker has no
 * importScripts. Fetch the file synchronously (as importScripts does) and run it as a global
 * script with indirect eval, named by its URL so stacks and DevTools still point at client.js.
 * The build (what `npm start` serves) never includes this: it runs the file with importScripts.
 */
function loadInModuleWorker(url: string): void {
  const xhr = new XMLHttpRequest();
  xhr.open('GET', url, false);
  xhr.send();
  if (xhr.status !== 200) throw new Error(`Could not load ${url}: ${xhr.status} ${xhr.statusText}`);
  (0, eval)(`${xhr.responseText}\n//# sourceURL=${url}`);
}
