/**
 * A small Chrome DevTools Protocol client over `ws`, enough to do in a test what VS Code's
 * JavaScript debugger (js-debug) does: attach to a Node inspector or a browser, set a
 * breakpoint by URL, wait for the pause, evaluate in the paused frame, resume.
 *
 * Every event is kept (with its session, for a browser's flattened targets), and `take`
 * consumes the first one not yet taken that matches: an event that arrived before the test
 * started waiting for it is not lost, and one pause is never seen twice.
 */
import http from 'node:http';
import WebSocket from 'ws';

export interface CdpEvent {
  method: string;
  params: any;
  /** The target's session (flattened mode), or undefined for the connection's own target. */
  sessionId?: string;
}

interface Pending {
  resolve: (result: any) => void;
  reject: (err: Error) => void;
  method: string;
}

export class Cdp {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly events: CdpEvent[] = [];
  private readonly taken = new Set<CdpEvent>();
  private readonly waiters = new Set<() => void>();
  private readonly listeners: ((e: CdpEvent) => void)[] = [];
  private closedWith: Error | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string; data?: string }; method?: string; params?: unknown; sessionId?: string };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}${msg.error.data ? ` (${msg.error.data})` : ''}`));
        else p.resolve(msg.result);
        return;
      }
      if (msg.method) {
        const event: CdpEvent = { method: msg.method, params: msg.params, sessionId: msg.sessionId };
        this.events.push(event);
        for (const l of this.listeners) l(event);
        for (const w of [...this.waiters]) w();
      }
    });
    ws.on('close', () => {
      this.closedWith = new Error('the DevTools connection closed');
      for (const p of this.pending.values()) p.reject(new Error(`${p.method}: the DevTools connection closed`));
      this.pending.clear();
      for (const w of [...this.waiters]) w();
    });
  }

  /** Connect to a webSocketDebuggerUrl (a Node inspector's or a browser's). */
  static connect(url: string): Promise<Cdp> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
      ws.once('open', () => resolve(new Cdp(ws)));
      ws.once('error', reject);
    });
  }

  /** Send a command and resolve with its result (rejects with the protocol's error). */
  send<T = any>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    if (this.closedWith) return Promise.reject(new Error(`${method}: the DevTools connection closed`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }));
    });
  }

  /** Call `listener` with every event from now on (kept for `take` all the same). */
  onEvent(listener: (e: CdpEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The URL of a parsed script (Node leaves CallFrame.url empty: a paused frame's script is
   * known by its scriptId, from Debugger.scriptParsed).
   */
  scriptUrl(scriptId: string, sessionId?: string): string | undefined {
    return this.events.find((e) => e.method === 'Debugger.scriptParsed' && e.params.scriptId === scriptId && e.sessionId === sessionId)?.params.url;
  }

  /** Every event received so far (taken or not). */
  all(method?: string): CdpEvent[] {
    return method ? this.events.filter((e) => e.method === method) : [...this.events];
  }

  /**
   * The first event of `method` not taken yet that matches (and is of `sessionId` when given):
   * taken and returned, or waited for; fails after `timeoutMs` saying what was seen.
   */
  take(method: string, opts: { match?: (params: any) => boolean; sessionId?: string; timeoutMs?: number } = {}): Promise<CdpEvent> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const find = () =>
      this.events.find((e) => !this.taken.has(e) && e.method === method && (opts.sessionId === undefined || e.sessionId === opts.sessionId) && (!opts.match || opts.match(e.params)));
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        const e = find();
        if (e) {
          this.taken.add(e);
          done();
          resolve(e);
        } else if (this.closedWith) {
          done();
          reject(new Error(`${this.closedWith.message} while waiting for ${method}`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      timer = setTimeout(() => {
        done();
        const seen = this.events.slice(-15).map((e) => e.method).join(', ');
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${method}; last events: ${seen}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.terminate();
    });
  }
}

/** What a Node inspector lists at http://HOST:PORT/json/list (the way VS Code's attach finds it). */
export interface InspectorTarget {
  id: string;
  type: string;
  title: string;
  url: string;
  webSocketDebuggerUrl: string;
}

export function inspectorTargets(port: number, host = '127.0.0.1'): Promise<InspectorTarget[]> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path: '/json/list', timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body) as InspectorTarget[]);
          } catch (err) {
            reject(new Error(`http://${host}:${port}/json/list did not answer JSON: ${(err as Error).message}`));
          }
        });
      })
      .on('error', reject)
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error(`http://${host}:${port}/json/list did not answer`));
      });
  });
}

/** Evaluate `expression` in a paused call frame; the value (by value), or throws what it threw. */
export async function evaluateOnFrame(cdp: Cdp, callFrameId: string, expression: string, sessionId?: string): Promise<unknown> {
  const r = await cdp.send<{ result: { value?: unknown; description?: string }; exceptionDetails?: { text: string; exception?: { description?: string } } }>(
    'Debugger.evaluateOnCallFrame',
    { callFrameId, expression, returnByValue: true },
    sessionId,
  );
  if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return r.result.value;
}

// ---- source maps ------------------------------------------------------------------------------
// js-debug sets a breakpoint in a .ts file by reading the loaded script's source map and setting
// it at the generated line. The same, for tests: decode the map (VLQ, Source Map v3) and find
// the generated lines that map to an original line.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function decodeVlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64.indexOf(ch);
    if (digit < 0) throw new Error(`bad base64 VLQ digit "${ch}"`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

export interface SourceMapV3 {
  version: number;
  sources: string[];
  sourcesContent?: (string | null)[];
  mappings: string;
  sourceRoot?: string;
}

/** One mapping: generated line/column (0-based) → source index, original line/column (0-based). */
export interface Mapping {
  line: number;
  column: number;
  source: number;
  originalLine: number;
  originalColumn: number;
}

export function decodeMappings(map: SourceMapV3): Mapping[] {
  const out: Mapping[] = [];
  let source = 0;
  let originalLine = 0;
  let originalColumn = 0;
  map.mappings.split(';').forEach((lineText, line) => {
    let column = 0;
    for (const seg of lineText.split(',')) {
      if (!seg) continue;
      const f = decodeVlq(seg);
      column += f[0]!;
      if (f.length >= 4) {
        source += f[1]!;
        originalLine += f[2]!;
        originalColumn += f[3]!;
        out.push({ line, column, source, originalLine, originalColumn });
      }
    }
  });
  return out;
}

/** The source map of a script from its sourceMapURL (inline data: URLs, as tsx writes them). */
export function inlineSourceMap(sourceMapURL: string): SourceMapV3 {
  const m = /^data:application\/json(?:;charset=[^;,]+)?;base64,(.*)$/s.exec(sourceMapURL);
  if (!m) throw new Error(`not an inline base64 source map: ${sourceMapURL.slice(0, 80)}`);
  return JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) as SourceMapV3;
}
