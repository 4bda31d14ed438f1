import { parse } from 'acorn';
import { CODE_RULES, ruleInForce, type CodeRule } from './rules.ts';

/**
 * Insights in the code: what client.js and server.js get wrong, read off a real parse (acorn's
 * ESTree), never a regular expression over the text. Pure: text in, findings out; no Monaco, no
 * DOM, so the unit tests run it on the lessons' files from disk.
 *
 * The rules claim only what the code proves. A socket is a name bound to `new WebSocket(…)`, the
 * first parameter of a `ws` server's `connection` handler, or a loop variable over
 * `wss.clients`; anything else (a socket kept in a Map, passed to a helper) is not followed, so
 * the rule stays silent rather than guess.
 */

export type FileKind = 'client' | 'server';

export interface Place {
  line: number;
  /** 1-based, as Monaco counts. */
  column: number;
}

export interface TextEdit {
  /** Offsets into the analysed text (UTF-16 code units, as Monaco's getPositionAt takes). */
  start: number;
  end: number;
  text: string;
}

export interface CodeFix {
  /** What the quick fix does, as Monaco's lightbulb menu lists it. */
  title: string;
  /** A few words for the list's Fix button. */
  label: string;
  edits: TextEdit[];
}

export interface CodeInsight {
  rule: CodeRule;
  severity: 'error' | 'warning';
  /** One sentence: the cause and the way out. */
  message: string;
  lesson: string;
  start: Place;
  end: Place;
  /** Offsets of the marked range. */
  from: number;
  to: number;
  fix?: CodeFix;
}

export interface AnalyzeOptions {
  /** The workspace's lesson (folder name), or null in the free playground: which rules speak (rules.ts). */
  lesson?: string | null;
}

/** Larger files are not analysed (the editor's own checks still run): the parse is on the page's thread. */
export const MAX_ANALYZED_CHARS = 256 * 1024;
/** Findings kept per file: a file of 20,000 early sends needs its first ones shown, not 20,000 markers. */
export const MAX_INSIGHTS_PER_FILE = 200;
/** A parse with more nodes than this is not walked: the rules' work grows with it. */
const MAX_NODES = 200_000;

// ---- the tree -------------------------------------------------------------------------------------

/** An ESTree node as acorn makes it; the rules read fields by name. */
interface N {
  type: string;
  start: number;
  end: number;
  [k: string]: unknown;
}

const isNode = (v: unknown): v is N => typeof v === 'object' && v !== null && typeof (v as N).type === 'string';
const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
const isFunction = (n: N | undefined): boolean => n !== undefined && FUNCTION_TYPES.has(n.type);

class Tree {
  readonly nodes: N[] = [];
  readonly parent = new Map<N, N>();
  tooBig = false;
  /** Offsets where each line starts, for a node's line and column (acorn's `locations` would cost an object per node). */
  private readonly lineStarts: number[] = [0];

  constructor(readonly root: N, readonly text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
    // Depth first, children pushed last to first: pre-order, which is source order for ESTree.
    const stack: N[] = [root];
    const kids: N[] = [];
    while (stack.length > 0) {
      const n = stack.pop()!;
      this.nodes.push(n);
      if (this.nodes.length > MAX_NODES) {
        this.tooBig = true;
        return;
      }
      kids.length = 0;
      for (const key in n) {
        const v = n[key];
        if (typeof v !== 'object' || v === null) continue;
        if (Array.isArray(v)) {
          for (const c of v) if (isNode(c)) kids.push(c);
        } else if (isNode(v)) kids.push(v);
      }
      for (let k = kids.length - 1; k >= 0; k--) {
        this.parent.set(kids[k]!, n);
        stack.push(kids[k]!);
      }
    }
    // A template literal lists its strings and its expressions apart: put such stragglers in order.
    let sorted = true;
    for (let i = 1; i < this.nodes.length && sorted; i++) if (this.nodes[i]!.start < this.nodes[i - 1]!.start) sorted = false;
    if (!sorted) this.nodes.sort((a, b) => a.start - b.start || b.end - a.end);
  }

  /** 1-based line and column of an offset. */
  place(offset: number): Place {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo]! + 1 };
  }

  /** The nearest enclosing function, or null at the top level. */
  fnOf(n: N): N | null {
    for (let p = this.parent.get(n); p; p = this.parent.get(p)) if (isFunction(p)) return p;
    return null;
  }

  ancestors(n: N, stopAt: N | null = null): N[] {
    const out: N[] = [];
    for (let p = this.parent.get(n); p && p !== stopAt; p = this.parent.get(p)) out.push(p);
    return out;
  }

  /** Every node inside `n` (itself included). */
  within(n: N): N[] {
    // Nodes are in source order: the first at or after n.start, then on until past n.end.
    let lo = 0;
    let hi = this.nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.nodes[mid]!.start < n.start) lo = mid + 1;
      else hi = mid;
    }
    const out: N[] = [];
    for (let i = lo; i < this.nodes.length && this.nodes[i]!.start < n.end; i++) {
      const x = this.nodes[i]!;
      if (x.end <= n.end) out.push(x);
    }
    return out;
  }

  src(n: N): string {
    return this.text.slice(n.start, n.end);
  }

  /** The whitespace that starts the line `n` starts on. */
  indentOf(n: N): string {
    const lineStart = this.text.lastIndexOf('\n', n.start - 1) + 1;
    return /^[ \t]*/.exec(this.text.slice(lineStart, n.start))![0];
  }
}

const ident = (n: unknown, name?: string): n is N & { name: string } => isNode(n) && n.type === 'Identifier' && (name === undefined || (n as unknown as { name: string }).name === name);
const propName = (m: N): string | null => {
  const p = m.property as N;
  if (!m.computed && ident(p)) return p.name;
  if (m.computed && p.type === 'Literal' && typeof p.value === 'string') return p.value;
  return null;
};
const isMember = (n: unknown, prop?: string): n is N => isNode(n) && n.type === 'MemberExpression' && (prop === undefined || propName(n) === prop);
const stringArg = (call: N, i: number): string | null => {
  const a = (call.arguments as N[])[i];
  return a && a.type === 'Literal' && typeof a.value === 'string' ? a.value : null;
};
const args = (call: N): N[] => call.arguments as N[];
const identName = (n: unknown): string | null => (ident(n) ? n.name : null);

/** `X.on('ev', fn)` and its kin: [target, event, handler] when the handler is a function or a name. */
function listenerCall(n: N): { target: N; event: string; handler: N; dom: boolean } | null {
  if (n.type !== 'CallExpression' || !isMember(n.callee)) return null;
  const method = propName(n.callee as N);
  if (!method || !['on', 'once', 'addListener', 'prependListener', 'addEventListener'].includes(method)) return null;
  const event = stringArg(n, 0);
  const handler = args(n)[1];
  if (event === null || !handler) return null;
  return { target: (n.callee as N).object as N, event, handler, dom: method === 'addEventListener' };
}

/** `X.onmessage = fn`: [target, event, handler]. */
function handlerAssignment(n: N): { target: N; event: string; handler: N } | null {
  if (n.type !== 'AssignmentExpression' || n.operator !== '=' || !isMember(n.left)) return null;
  const name = propName(n.left as N);
  if (!name || !name.startsWith('on') || name.length < 3) return null;
  return { target: (n.left as N).object as N, event: name.slice(2), handler: n.right as N };
}

// ---- the analysis -----------------------------------------------------------------------------------

class Analysis {
  readonly out: CodeInsight[] = [];
  /** Function declarations and `const f = function/arrow` by name (a handler passed by name). */
  private readonly functionsByName = new Map<string, N>();
  /** Each name's initialisers (`const x = …`, `x = …`), in source order. */
  private readonly inits = new Map<string, N[]>();
  /** Names some assignment changes after their declaration. */
  private readonly reassigned = new Set<string>();
  /** Names bound to `require('ws')` (or its default import). */
  private readonly wsModules = new Set<string>();
  /** `ws` servers: name → the `new …Server(…)` node. */
  private readonly servers = new Map<string, N>();

  constructor(private readonly t: Tree, private readonly kind: FileKind, private readonly lesson: string | null) {
    for (const n of t.nodes) {
      if (n.type === 'FunctionDeclaration' && ident(n.id)) this.functionsByName.set(n.id.name, n);
      if (n.type === 'VariableDeclarator' && ident(n.id) && n.init) {
        this.addInit(n.id.name, n.init as N);
        if (isFunction(n.init as N)) this.functionsByName.set(n.id.name, n.init as N);
      }
      if (n.type === 'AssignmentExpression' && ident(n.left)) {
        this.addInit(n.left.name, n.right as N);
        this.reassigned.add(n.left.name);
      }
      if (n.type === 'ImportDeclaration' && (n.source as N).value === 'ws') {
        for (const s of n.specifiers as N[]) if (s.type !== 'ImportSpecifier') this.wsModules.add((s.local as N & { name: string }).name);
      }
    }
    for (const [name, list] of this.inits) if (list.some((i) => this.isRequireWs(i))) this.wsModules.add(name);
    for (const [name, list] of this.inits) {
      const server = list.find((i) => this.isWsServerNew(i));
      if (server) this.servers.set(name, server);
    }
  }

  private addInit(name: string, init: N): void {
    const list = this.inits.get(name) ?? [];
    list.push(init);
    this.inits.set(name, list);
  }

  private isRequireWs(n: N): boolean {
    return n.type === 'CallExpression' && ident(n.callee, 'require') && stringArg(n, 0) === 'ws';
  }

  /** `new WebSocketServer(…)`, `new WebSocket.Server(…)`, `new (require('ws').Server)(…)`. */
  private isWsServerNew(n: N): boolean {
    if (n.type !== 'NewExpression') return false;
    const c = n.callee as N;
    if (ident(c, 'WebSocketServer')) return true;
    if (isMember(c) && (propName(c) === 'Server' || propName(c) === 'WebSocketServer')) {
      const o = c.object as N;
      return (ident(o) && (this.wsModules.has(o.name) || o.name === 'WebSocket')) || this.isRequireWs(o);
    }
    return false;
  }

  /** `new WebSocket(…)` as a browser client makes it. */
  private isClientNew(n: N): boolean {
    if (n.type !== 'NewExpression') return false;
    const c = n.callee as N;
    return ident(c, 'WebSocket') || (isMember(c, 'WebSocket') && ident((c as N).object) && ['self', 'globalThis', 'window'].includes(((c as N).object as N & { name: string }).name));
  }

  /** A function node for a handler argument: itself, or the function a name refers to. */
  private fnFor(handler: N): N | null {
    if (isFunction(handler)) return handler;
    const name = identName(handler);
    return name ? (this.functionsByName.get(name) ?? null) : null;
  }

  private paramName(fn: N, i: number): string | null {
    return identName((fn.params as N[])[i]);
  }

  /** The `connection` handlers of the file's `ws` servers: [server name, the call, the handler, its socket's name]. */
  private handlersCache: Array<{ server: string; call: N; fn: N; socket: string }> | null = null;

  private connectionHandlers(): Array<{ server: string; call: N; fn: N; socket: string }> {
    if (this.handlersCache) return this.handlersCache;
    const out: Array<{ server: string; call: N; fn: N; socket: string }> = [];
    for (const n of this.t.nodes) {
      const l = listenerCall(n);
      if (!l || l.event !== 'connection' || !ident(l.target) || !this.servers.has(l.target.name)) continue;
      const fn = this.fnFor(l.handler);
      const socket = fn ? this.paramName(fn, 0) : null;
      if (fn && socket) out.push({ server: l.target.name, call: n, fn, socket });
    }
    this.handlersCache = out;
    return out;
  }

  /** Message handlers: the handler function, its socket expression, and how its first parameter reads. */
  private messageHandlers(): Array<{ target: N; fn: N; dom: boolean; site: N }> {
    const out: Array<{ target: N; fn: N; dom: boolean; site: N }> = [];
    for (const n of this.t.nodes) {
      const l = listenerCall(n);
      if (l && l.event === 'message') {
        const fn = this.fnFor(l.handler);
        if (fn) out.push({ target: l.target, fn, dom: l.dom, site: n });
        continue;
      }
      const a = handlerAssignment(n);
      if (a && a.event === 'message') {
        const fn = this.fnFor(a.handler);
        if (fn) out.push({ target: a.target, fn, dom: true, site: n });
      }
    }
    return out;
  }

  /** Findings past MAX_INSIGHTS_PER_FILE, counted, not kept. */
  dropped = 0;

  private report(rule: CodeRule, node: N, message: string, fix?: CodeFix, endNode: N = node): void {
    if (!ruleInForce(rule, this.lesson)) return;
    if (this.out.length >= MAX_INSIGHTS_PER_FILE) {
      this.dropped++;
      return;
    }
    // One finding per rule and place: two paths to the same call say it once.
    if (this.out.some((o) => o.rule === rule && o.from === node.start)) return;
    const info = CODE_RULES[rule];
    this.out.push({
      rule,
      severity: info.severity,
      message,
      lesson: info.lesson,
      start: this.t.place(node.start),
      end: this.t.place(endNode.end),
      from: node.start,
      to: endNode.end,
      ...(fix ? { fix } : {}),
    });
  }

  run(): CodeInsight[] {
    if (this.kind === 'client') {
      this.sendBeforeOpen();
      this.jsonParseBlob();
    } else {
      this.noErrorListener();
      this.originNotChecked();
      this.broadcastToSender();
    }
    this.fromCharCode();
    this.objectSend();
    return this.out.sort((a, b) => a.from - b.from);
  }

  // ---- send before open ----------------------------------------------------------------------------

  /**
   * `socket.send(…)` in the same function as `new WebSocket(…)`, after it, with nothing that
   * waits between them (an await, a callback): the socket is CONNECTING there, always, and the
   * browser throws InvalidStateError (RFC 6455 §4.1: no data before the handshake's 101).
   */
  private sendBeforeOpen(): void {
    const ctors = new Map<string, N[]>();
    for (const n of this.t.nodes) {
      if (!this.isClientNew(n)) continue;
      const p = this.t.parent.get(n);
      const name = p?.type === 'VariableDeclarator' ? identName(p.id) : p?.type === 'AssignmentExpression' ? identName(p.left) : null;
      if (!name) continue;
      const list = ctors.get(name) ?? [];
      list.push(n);
      ctors.set(name, list);
    }
    const pauses = this.t.nodes.filter((x) => x.type === 'AwaitExpression' || x.type === 'YieldExpression');
    for (const call of this.t.nodes) {
      if (call.type !== 'CallExpression' || !isMember(call.callee, 'send')) continue;
      const name = identName((call.callee as N).object);
      const list = name ? ctors.get(name) : undefined;
      if (!name || !list) continue;
      const fn = this.t.fnOf(call);
      const ctor = list.filter((c) => c.end <= call.start && this.t.fnOf(c) === fn).at(-1);
      if (!ctor) continue;
      // Something between them waits (await, yield): the socket may be open by then.
      const waits = pauses.some((x) => x.start >= ctor.end && x.end <= call.start && this.t.fnOf(x) === fn);
      if (waits) continue;
      // A send guarded by a readyState test is the guard's business (it never sends there; the lesson's check says so).
      const guarded = this.t.ancestors(call, fn).some((a) => (a.type === 'IfStatement' || a.type === 'ConditionalExpression' || a.type === 'LogicalExpression') && /\breadyState\b/.test(this.t.src((a.test ?? a.left) as N)));
      if (guarded) continue;
      const stmt = this.t.parent.get(call);
      const holder = stmt ? this.t.parent.get(stmt) : undefined;
      let fix: CodeFix | undefined;
      if (stmt?.type === 'ExpressionStatement' && (holder?.type === 'Program' || holder?.type === 'BlockStatement')) {
        const indent = this.t.indentOf(stmt);
        fix = {
          title: `Send from the open event: ${name}.addEventListener('open', …)`,
          label: 'send on open',
          edits: [{ start: stmt.start, end: stmt.end, text: `${name}.addEventListener('open', () => {\n${indent}  ${this.t.src(stmt)}\n${indent}});` }],
        };
      }
      this.report(
        'send-before-open',
        call,
        `${name}.send runs right after new WebSocket(…), while the handshake is still going on (readyState CONNECTING): the browser throws InvalidStateError and nothing reaches the wire; send from the open event instead (${name}.onopen or ${name}.addEventListener('open', …)).`,
        fix,
      );
    }
  }

  // ---- String.fromCharCode over a message's bytes ----------------------------------------------------

  /** Names and expressions that hold a received message's bytes (depth-bounded). */
  private messageBytes(e: N, handlers: Array<{ fn: N; dom: boolean }>, depth = 0): boolean {
    if (depth > 4) return false;
    if (ident(e)) {
      // A ws 'message' handler's first parameter: a Buffer (or Buffer[] / ArrayBuffer).
      for (const h of handlers) if (!h.dom && this.paramName(h.fn, 0) === e.name && this.t.fnOf(e) !== null && this.inside(e, h.fn)) return true;
      const inits = this.inits.get(e.name);
      return inits !== undefined && inits.length === 1 && this.messageBytes(inits[0]!, handlers, depth + 1);
    }
    // event.data in a browser-style handler.
    if (isMember(e, 'data') && ident(e.object)) {
      const obj = (e.object as N & { name: string }).name;
      return handlers.some((h) => h.dom && this.paramName(h.fn, 0) === obj && this.inside(e, h.fn));
    }
    // new Uint8Array(x), Buffer.from(x), Array.from(x), x.subarray(…), x.slice(…)
    if (e.type === 'NewExpression' && ident(e.callee, 'Uint8Array') && args(e)[0]) return this.messageBytes(args(e)[0]!, handlers, depth + 1);
    if (e.type === 'CallExpression' && isMember(e.callee)) {
      const c = e.callee as N;
      const m = propName(c);
      if (m === 'from' && (ident(c.object, 'Buffer') || ident(c.object, 'Array') || ident(c.object, 'Uint8Array')) && args(e)[0]) return this.messageBytes(args(e)[0]!, handlers, depth + 1);
      if ((m === 'subarray' || m === 'slice') && isNode(c.object)) return this.messageBytes(c.object as N, handlers, depth + 1);
    }
    return false;
  }

  private inside(n: N, outer: N): boolean {
    return n.start >= outer.start && n.end <= outer.end;
  }

  /**
   * `String.fromCharCode(...data)` over a message's bytes: one byte, one character, so every
   * character past ASCII comes out as two to four wrong ones (UTF-8, RFC 6455 §5.6), and a large
   * message overflows the stack (a spread is one argument per byte).
   */
  private fromCharCode(): void {
    const handlers = this.messageHandlers();
    for (const call of this.t.nodes) {
      if (call.type !== 'CallExpression') continue;
      let bytes: N | null = null;
      const c = call.callee as N;
      if (isMember(c, 'fromCharCode') && ident(c.object, 'String')) {
        const spread = args(call).find((a) => a.type === 'SpreadElement');
        if (spread) bytes = spread.argument as N;
      } else if (isMember(c, 'apply') && isMember(c.object, 'fromCharCode') && ident((c.object as N).object, 'String')) {
        bytes = args(call)[1] ?? null;
      }
      if (!bytes || !this.messageBytes(bytes, handlers)) continue;
      const wsParam = ident(bytes) && handlers.some((h) => !h.dom && this.paramName(h.fn, 0) === (bytes as N & { name: string }).name);
      const replacement = wsParam ? `${this.t.src(bytes)}.toString('utf8')` : `new TextDecoder().decode(${this.t.src(bytes)})`;
      this.report(
        'fromcharcode-bytes',
        call,
        `String.fromCharCode turns each byte into one character, but a text message is UTF-8 (RFC 6455 §5.6): every character past ASCII comes out as two to four wrong ones, and a large message overflows the stack; decode the bytes as UTF-8 instead (${replacement}).`,
        { title: `Decode as UTF-8: ${replacement}`, label: 'decode as UTF-8', edits: [{ start: call.start, end: call.end, text: replacement }] },
      );
    }
  }

  // ---- the server's sockets without an 'error' listener --------------------------------------------

  private listensFor(scope: N, socket: string, event: string): boolean {
    for (const n of this.t.within(scope)) {
      const l = listenerCall(n);
      if (l && l.event === event && ident(l.target, socket)) return true;
      const a = handlerAssignment(n);
      if (a && a.event === event && ident(a.target, socket)) return true;
    }
    return false;
  }

  /** The socket is handed to a function of the file's own (`setup(ws)`): it may listen there. */
  private handedOff(scope: N, socket: string): boolean {
    return this.t.within(scope).some((n) => n.type === 'CallExpression' && ident(n.callee) && args(n).some((a) => ident(a, socket)));
  }

  /**
   * A `ws` server whose connection handler adds no `error` listener to the socket: one bad frame
   * (a bad opcode, invalid UTF-8, a message over maxPayload) makes ws emit 'error' on it, and an
   * 'error' with no listener throws: the whole server process ends, every connection with it.
   */
  private noErrorListener(): void {
    for (const h of this.connectionHandlers()) {
      if (this.listensFor(h.fn, h.socket, 'error') || this.handedOff(h.fn, h.socket)) continue;
      const body = h.fn.body as N;
      let fix: CodeFix | undefined;
      if (body.type === 'BlockStatement') {
        const first = (body.body as N[])[0];
        const indent = first ? this.t.indentOf(first) : `${this.t.indentOf(h.call)}  `;
        fix = {
          title: `Add ${h.socket}.on('error', …)`,
          label: `add ${h.socket}.on('error')`,
          edits: [{ start: body.start + 1, end: body.start + 1, text: `\n${indent}${h.socket}.on('error', (err) => console.error('connection error:', err.message));` }],
        };
      }
      const event = args(h.call)[0]!;
      this.report(
        'no-error-listener',
        h.call.callee as N,
        `Nothing listens for 'error' on ${h.socket}: one bad frame from a client (a wrong opcode, invalid UTF-8, a message over maxPayload) makes ws emit 'error', and an 'error' without a listener throws and ends the whole server; add ${h.socket}.on('error', …) in the connection handler.`,
        fix,
        event,
      );
    }
  }

  // ---- Origin --------------------------------------------------------------------------------------

  /** Any read of an Origin: `info.origin`, `req.headers.origin`, `headers['origin']`. */
  private readsOrigin(): boolean {
    return this.t.nodes.some((n) => (isMember(n) && propName(n)?.toLowerCase() === 'origin') || (n.type === 'Literal' && typeof n.value === 'string' && n.value.toLowerCase() === 'origin'));
  }

  private objectOf(e: N | undefined): N | null {
    if (!e) return null;
    if (e.type === 'ObjectExpression') return e;
    const name = identName(e);
    const inits = name ? this.inits.get(name) : undefined;
    return inits?.length === 1 && inits[0]!.type === 'ObjectExpression' ? inits[0]! : null;
  }

  /**
   * A `ws` server that listens on its own port (`{ port }`: nothing in front of it) and neither
   * passes `verifyClient` nor reads an Origin anywhere: any page the user visits can open a
   * WebSocket to it from their browser (cross-site WebSocket hijacking). A server on a shared
   * HTTP server (`{ server }`, `noServer`) may be guarded by that server's code: not claimed.
   */
  private originNotChecked(): void {
    if (this.readsOrigin()) return;
    for (const server of this.servers.values()) {
      const opts = this.objectOf(args(server)[0]);
      if (!opts) continue;
      const keys = (opts.properties as N[]).map((p) => (p.type === 'Property' ? (identName(p.key) ?? (p.key as N).value) : null));
      if (!keys.includes('port') || keys.includes('verifyClient')) continue;
      this.report(
        'origin-not-checked',
        server,
        `This server accepts a handshake from any web page: a page on another site can open a WebSocket to it from the user's browser (cross-site WebSocket hijacking, RFC 6455 §10.2); pass verifyClient and refuse an Origin that is not your page's with 403.`,
        undefined,
        server.callee as N,
      );
    }
  }

  // ---- JSON.parse(event.data) where Blobs arrive ---------------------------------------------------

  /**
   * A browser client that parses every message as JSON while binary messages arrive as Blobs
   * (binaryType's default) and nothing tests for text: JSON.parse(blob) reads "[object Blob]" and
   * throws a SyntaxError on the first binary message.
   */
  private jsonParseBlob(): void {
    const setsArrayBuffer = this.t.nodes.some((n) => n.type === 'AssignmentExpression' && isMember(n.left, 'binaryType') && (n.right as N).type === 'Literal' && (n.right as N).value === 'arraybuffer');
    if (setsArrayBuffer) return;
    for (const h of this.messageHandlers()) {
      if (!h.dom) continue;
      const ev = this.paramName(h.fn, 0);
      if (!ev) continue;
      const inner = this.t.within(h.fn);
      // typeof event.data, event.data instanceof Blob / ArrayBuffer: the handler tells text from binary.
      const tested = inner.some(
        (n) => (n.type === 'UnaryExpression' && n.operator === 'typeof') || (n.type === 'BinaryExpression' && n.operator === 'instanceof'),
      );
      if (tested) continue;
      for (const call of inner) {
        if (call.type !== 'CallExpression' || !isMember(call.callee, 'parse') || !ident((call.callee as N).object, 'JSON')) continue;
        const a = args(call)[0];
        if (!a) continue;
        const isData = (x: N): boolean => isMember(x, 'data') && ident(x.object, ev);
        const viaName = ident(a) && (this.inits.get(a.name) ?? []).some(isData);
        if (!isData(a) && !viaName) continue;
        this.report(
          'json-parse-blob',
          call,
          `A binary message arrives here as a Blob (binaryType's default), and JSON.parse of a Blob reads "[object Blob]" and throws; test typeof ${ev}.data === 'string' before parsing, or set binaryType = 'arraybuffer' and handle the bytes apart.`,
        );
      }
    }
  }

  // ---- an object sent without JSON.stringify ------------------------------------------------------

  /** Names that are sockets here: client sockets, connection handlers' sockets, loop variables over `.clients`. */
  private socketAt(callee: N): boolean {
    const o = callee.object as N;
    if (!ident(o)) return false;
    const name = o.name;
    if ((this.inits.get(name) ?? []).some((i) => this.isClientNew(i))) return true;
    for (const h of this.connectionHandlers()) if (h.socket === name && this.inside(callee, h.fn)) return true;
    for (const loop of this.clientLoops()) if (loop.client === name && this.inside(callee, loop.body)) return true;
    return false;
  }

  private loopsCache: Array<{ node: N; head: N; client: string; body: N; kind: 'for-of' | 'forEach' }> | null = null;

  /** Loops over a server's clients: `for (const c of wss.clients)` and `wss.clients.forEach((c) => …)`. */
  private clientLoops(): Array<{ node: N; head: N; client: string; body: N; kind: 'for-of' | 'forEach' }> {
    if (this.loopsCache) return this.loopsCache;
    const out: Array<{ node: N; head: N; client: string; body: N; kind: 'for-of' | 'forEach' }> = [];
    const mentionsClients = (e: N) => this.t.within(e).some((x) => isMember(x, 'clients'));
    for (const n of this.t.nodes) {
      if (n.type === 'ForOfStatement' && mentionsClients(n.right as N)) {
        const left = n.left as N;
        const decl = left.type === 'VariableDeclaration' ? ((left.declarations as N[])[0]?.id as N | undefined) : left;
        const client = identName(decl);
        if (client) out.push({ node: n, head: n.right as N, client, body: n.body as N, kind: 'for-of' });
      } else if (n.type === 'CallExpression' && isMember(n.callee, 'forEach') && mentionsClients((n.callee as N).object as N)) {
        const fn = args(n)[0];
        const client = fn && isFunction(fn) ? this.paramName(fn, 0) : null;
        if (fn && client) out.push({ node: n, head: n.callee as N, client, body: fn.body as N, kind: 'forEach' });
      }
    }
    this.loopsCache = out;
    return out;
  }

  /**
   * `socket.send({ … })` (or a name bound to an object literal): the browser sends its toString,
   * the text "[object Object]", and ws refuses it; JSON.stringify makes the object text.
   */
  private objectSend(): void {
    for (const call of this.t.nodes) {
      if (call.type !== 'CallExpression' || !isMember(call.callee, 'send') || !this.socketAt(call.callee as N)) continue;
      const a = args(call)[0];
      if (!a) continue;
      let isObject = a.type === 'ObjectExpression';
      if (!isObject && ident(a) && !this.reassigned.has(a.name)) {
        const inits = this.inits.get(a.name) ?? [];
        isObject = inits.length === 1 && inits[0]!.type === 'ObjectExpression';
      }
      if (!isObject) continue;
      const what = this.kind === 'client' ? 'the browser sends its default text, "[object Object]"' : "ws cannot send it as it is (it takes text or bytes)";
      this.report(
        'object-send',
        a,
        `This sends an object, not text: ${what}, and the other side gets no JSON; wrap it in JSON.stringify(…) and JSON.parse it where it arrives.`,
        { title: 'Wrap in JSON.stringify(…)', label: 'JSON.stringify', edits: [{ start: a.start, end: a.end, text: `JSON.stringify(${this.t.src(a)})` }] },
      );
    }
  }

  // ---- a broadcast that echoes to the sender -------------------------------------------------------

  /**
   * In a socket's message handler, a loop over `wss.clients` that sends to each client and never
   * compares the client with the sender: the message goes back to whoever said it.
   */
  private broadcastToSender(): void {
    const handlers = this.connectionHandlers();
    for (const m of this.messageHandlers()) {
      const sender = identName(m.target);
      if (!sender) continue;
      if (!handlers.some((h) => h.socket === sender && this.inside(m.site, h.fn))) continue;
      for (const loop of this.clientLoops()) {
        if (!this.inside(loop.node, m.fn)) continue;
        const sends = this.t.within(loop.body).some((n) => n.type === 'CallExpression' && isMember(n.callee, 'send') && ident((n.callee as N).object, loop.client));
        if (!sends) continue;
        const mentions = (e: N, name: string) => this.t.within(e).some((x) => ident(x, name));
        const compares = [...this.t.within(loop.node), ...this.t.within(loop.head)].some(
          (n) => n.type === 'BinaryExpression' && ['===', '!==', '==', '!='].includes(n.operator as string) && ((mentions(n.left as N, sender) && mentions(n.right as N, loop.client)) || (mentions(n.left as N, loop.client) && mentions(n.right as N, sender))),
        );
        if (compares) continue;
        let fix: CodeFix | undefined;
        if (loop.body.type === 'BlockStatement') {
          const first = (loop.body.body as N[])[0];
          const indent = first ? this.t.indentOf(first) : `${this.t.indentOf(loop.node)}  `;
          const skip = loop.kind === 'for-of' ? 'continue' : 'return';
          fix = {
            title: `Skip the sender: if (${loop.client} === ${sender}) ${skip};`,
            label: 'skip the sender',
            edits: [{ start: loop.body.start + 1, end: loop.body.start + 1, text: `\n${indent}if (${loop.client} === ${sender}) ${skip}; // not back to the sender` }],
          };
        }
        this.report(
          'broadcast-to-sender',
          loop.node,
          `This loop sends to every client, the sender ${sender} too, so each message comes back to whoever said it; skip the sender (${loop.client} !== ${sender}) when passing a message on.`,
          fix,
          loop.head,
        );
      }
    }
  }
}

export interface AnalyzeResult {
  insights: CodeInsight[];
  /** Why nothing was analysed (a syntax error, a file too large), or null. */
  skipped: string | null;
  /** Findings not kept past MAX_INSIGHTS_PER_FILE. */
  dropped: number;
}

/** Parse `text` as a script (then as a module) and run every rule in force for the workspace. */
export function analyze(kind: FileKind, text: string, opts: AnalyzeOptions = {}): AnalyzeResult {
  if (text.length > MAX_ANALYZED_CHARS) return { insights: [], skipped: `the file is over ${MAX_ANALYZED_CHARS / 1024} KB`, dropped: 0 };
  let root: N;
  try {
    root = parse(text, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true, allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true }) as unknown as N;
  } catch (scriptErr) {
    try {
      root = parse(text, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true }) as unknown as N;
    } catch {
      return { insights: [], skipped: `it does not parse (${(scriptErr as Error).message})`, dropped: 0 };
    }
  }
  const tree = new Tree(root, text);
  if (tree.tooBig) return { insights: [], skipped: `the file has over ${MAX_NODES.toLocaleString('en-US')} syntax nodes`, dropped: 0 };
  const analysis = new Analysis(tree, kind, opts.lesson ?? null);
  const insights = analysis.run();
  return { insights, skipped: null, dropped: analysis.dropped };
}

/** Which rules a file is read for. */
export const kindOf = (file: string): FileKind | null => (file === 'client.js' ? 'client' : file === 'server.js' ? 'server' : null);
