// wsplay's runner for the learner's client.js in a lesson check:
//   node --experimental-websocket client-runner.mjs /path/to/client.js
//
// The client is browser code. Node 20's --experimental-websocket gives it the WHATWG WebSocket
// (undici's), with the browser's semantics: `send` while CONNECTING throws InvalidStateError,
// events are dispatched the same way, `onopen` and friends are event handler attributes.
// The file runs as a classic script (vm.runInThisContext), as a browser or a Web Worker runs
// it: no require, no module scope, its top-level errors stop it where they happen, callbacks
// already registered keep running, and line numbers are the file's own.
//
// Nothing in the learner's code is rewritten. Two globals are wrapped, to reach the wiretap:
// `new WebSocket('ws://localhost:9900')` and `fetch('http://localhost:9900/...')` go to
// 127.0.0.1:WSPLAY_TAP_PORT (the wiretap the check started on a free port). `socket.url` still
// says what the code asked for.
//
// Everything the harness reads goes over the IPC channel, one object per thing seen:
//   { type: 'console', level, text, line, t }
//   { type: 'error', kind: 'uncaught' | 'rejection', name, message, line, column, stack, t }
//   { type: 'send', socket, readyState, size, line, t }         (a call to WebSocket#send)
//   { type: 'socket', socket, event: 'create' | 'open' | 'error' | 'close', url, code, reason, wasClean, t }
//   { type: 'receive', socket, dataType, size, binaryType, t }  (a message event: what event.data was)
//   { type: 'done', t }                                          (the script's first run ended)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { format } from 'node:util';
import vm from 'node:vm';

const file = resolve(process.argv[2] ?? 'client.js');
const PUBLIC = Number(process.env.WSPLAY_PUBLIC_PORT || 9900);
const TAP = Number(process.env.WSPLAY_TAP_PORT || PUBLIC);
const ORIGIN = process.env.WSPLAY_CLIENT_ORIGIN || '';
const t0 = performance.now();
const now = () => Math.round((performance.now() - t0) * 1000) / 1000;

function report(msg) {
  if (process.send && process.connected) process.send({ ...msg, t: now() });
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** ws://localhost:9900/path -> ws://127.0.0.1:TAP/path; anything else unchanged. */
function toTap(url) {
  let u;
  try {
    u = new URL(String(url));
  } catch {
    return url; // Let the real constructor throw its own SyntaxError.
  }
  const port = u.port === '' ? { 'ws:': 80, 'http:': 80, 'wss:': 443, 'https:': 443 }[u.protocol] : Number(u.port);
  if (LOCAL_HOSTS.has(u.hostname) && port === PUBLIC) {
    u.hostname = '127.0.0.1';
    u.port = String(TAP);
    return u.href;
  }
  return url;
}

/** Line and column of the innermost stack frame in the learner's file. */
function whereInFile(stack) {
  if (typeof stack !== 'string') return {};
  for (const line of stack.split('\n')) {
    const i = line.indexOf(file + ':');
    if (i === -1) continue;
    // `file:7:8` in a stack frame; `file:7` alone heads a SyntaxError's stack.
    const m = /^(\d+)(?::(\d+))?/.exec(line.slice(i + file.length + 1));
    if (m) return { line: Number(m[1]), column: m[2] ? Number(m[2]) : null };
  }
  return {};
}

function callerLine() {
  return whereInFile(new Error().stack).line ?? null;
}

// console.*: what the learner prints, with the line that printed it.
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  console[level] = (...args) => report({ type: 'console', level, text: format(...args), line: callerLine() });
}

/** The stack without the runner's own frames (the wrapper's `send`, vm, module loading). */
function learnerStack(stack) {
  return stack
    .split('\n')
    .filter((line) => !line.includes(import.meta.url) && !/\(node:(vm|internal\/modules)|^\s+at async /.test(line))
    .join('\n');
}

function reportError(kind, err) {
  const isError = err !== null && typeof err === 'object' && 'message' in err;
  const where = isError ? whereInFile(err.stack) : {};
  report({
    type: 'error',
    kind,
    name: isError ? String(err.name) : typeof err,
    message: isError ? String(err.message) : String(err),
    line: where.line ?? null,
    column: where.column ?? null,
    stack: isError ? learnerStack(String(err.stack)) : '',
  });
}

// A browser reports an uncaught error and goes on with its event loop: so does the runner.
process.on('uncaughtException', (err) => reportError('uncaught', err));
process.on('unhandledRejection', (err) => reportError('rejection', err));
// The harness went away: go with it.
process.on('disconnect', () => process.exit(0));

const BrowserWebSocket = globalThis.WebSocket;
if (typeof BrowserWebSocket !== 'function') {
  reportError('uncaught', new Error('This Node has no WebSocket global: run the client with node --experimental-websocket (Node 20.10+).'));
  process.exit(1);
}

let nextSocket = 1;
/** Message events reported at most (a client that receives a flood must not flood the harness). */
let receiveReports = 2000;

/** What `event.data` is, as the page sees it: 'string', 'Blob', 'ArrayBuffer'; and its size in bytes. */
function describeData(data) {
  if (typeof data === 'string') return { dataType: 'string', size: Buffer.byteLength(data) };
  const dataType = data?.constructor?.name ?? typeof data;
  return { dataType, size: data?.byteLength ?? data?.size ?? null };
}

class WebSocket extends BrowserWebSocket {
  #asked;
  #id = nextSocket++;
  /** The handshake failed (see the constructor): CLOSED from then on, as in a browser. */
  #failed = false;
  #closeFired = false;

  constructor(url, protocols) {
    const asked = String(url);
    // undici's non-standard second argument carries headers: the Origin a browser page would send.
    const init = ORIGIN ? { protocols, headers: { Origin: ORIGIN } } : protocols;
    super(toTap(url), init);
    this.#asked = asked;
    const id = this.#id;
    report({ type: 'socket', socket: id, event: 'create', url: asked, line: callerLine() });
    this.addEventListener('open', () => report({ type: 'socket', socket: id, event: 'open', url: asked }));
    this.addEventListener('error', () => {
      report({ type: 'socket', socket: id, event: 'error', url: asked });
      // undici 6 (Node 20) fails a connection whose handshake does not check out (refused TCP,
      // a bad Sec-WebSocket-Accept, a 4xx) with an error event only: its readyState stays
      // CONNECTING and no close event ever comes. A browser goes to CLOSED and fires close with
      // 1006 right after the error (WHATWG WebSockets, "fail the WebSocket connection"): do that.
      if (super.readyState !== BrowserWebSocket.CONNECTING) return;
      this.#failed = true;
      setTimeout(() => {
        if (this.#closeFired) return;
        const event = new Event('close');
        Object.defineProperties(event, { code: { value: 1006 }, reason: { value: '' }, wasClean: { value: false } });
        this.dispatchEvent(event);
      }, 0);
    });
    // Registered before any handler of the page's: it sees event.data as the page will.
    this.addEventListener('message', (e) => {
      if (receiveReports-- > 0) report({ type: 'receive', socket: id, ...describeData(e.data), binaryType: this.binaryType });
    });
    this.addEventListener('close', (e) => {
      this.#closeFired = true;
      report({ type: 'socket', socket: id, event: 'close', url: asked, code: e.code, reason: e.reason, wasClean: e.wasClean });
    });
  }

  get readyState() {
    return this.#failed ? BrowserWebSocket.CLOSED : super.readyState;
  }

  get url() {
    // What the page asked for, normalised as a browser does (a trailing slash on an empty path).
    try {
      return new URL(this.#asked).href;
    } catch {
      return this.#asked;
    }
  }

  send(data) {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : (data?.byteLength ?? data?.size ?? null);
    report({ type: 'send', socket: this.#id, readyState: this.readyState, size, line: callerLine() });
    // A browser drops data sent on a CLOSED socket without an error.
    if (this.#failed) return undefined;
    return super.send(data);
  }
}
Object.defineProperty(WebSocket, 'name', { value: 'WebSocket' });
globalThis.WebSocket = WebSocket;

const realFetch = globalThis.fetch;
globalThis.fetch = function fetch(input, init) {
  if (typeof input === 'string' || input instanceof URL) return realFetch(toTap(input), init);
  if (input instanceof Request) {
    const mapped = toTap(input.url);
    return realFetch(mapped === input.url ? input : new Request(mapped, input), init);
  }
  return realFetch(input, init);
};

let source;
try {
  source = readFileSync(file, 'utf8');
} catch (err) {
  reportError('uncaught', err);
  process.exit(1);
}
try {
  vm.runInThisContext(source, { filename: file });
} catch (err) {
  // A browser stops the script at the throw; what it registered before keeps working.
  reportError('uncaught', err);
}
report({ type: 'done' });
