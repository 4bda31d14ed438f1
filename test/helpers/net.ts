/**
 * Helpers for integration tests over real sockets: servers on port 0, a Wiretap in front of them
 * collecting every event, `ws` clients, and waiting for an event with a timeout (a wait that
 * times out fails the test with what was seen, never hangs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer, type ClientOptions, type RawData, type ServerOptions } from 'ws';
import type { WireEvent } from '../../server/capture/events.ts';
import { createEchoServer } from '../../server/runner/echo-server.ts';
import { Wiretap, type WiretapOptions } from '../../server/tap/wiretap.ts';

export const HOST = '127.0.0.1';
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Things to close after a test, in reverse order of creation. */
export class Cleanup {
  private readonly tasks: Array<() => unknown> = [];

  add(task: () => unknown): void {
    this.tasks.push(task);
  }

  async run(): Promise<void> {
    const tasks = this.tasks.splice(0).reverse();
    for (const task of tasks) {
      try {
        await task();
      } catch {
        // Best effort: one failed close must not keep the others open.
      }
    }
  }
}

/** Resolve when `check` returns a value other than undefined; reject after `timeoutMs`. */
export function until<T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const v = check();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > timeoutMs) return reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what()}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

/** Resolve once the async `check` resolves true (tried every 50 ms); reject after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Is the process running? A zombie (ended, not yet reaped: a container's init may never reap an
 * orphan) is not. /proc/PID/stat says "pid (comm) STATE ...", comm may hold spaces, and STATE
 * follows the last ')'.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (not Linux): signal 0 is all there is
  }
}

/** True when a TCP connection to the port is refused (nothing listens there). */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, HOST);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

export interface WsServerHandle {
  wss: WebSocketServer;
  port: number;
  close(): Promise<void>;
}

function listening(wss: WebSocketServer): Promise<WsServerHandle> {
  return new Promise((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => {
      wss.off('error', reject);
      const port = (wss.address() as net.AddressInfo).port;
      resolve({
        wss,
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const c of wss.clients) c.terminate();
            wss.close(() => done());
          }),
      });
    });
  });
}

/** The tutorial's echo server (createEchoServer) on 127.0.0.1, port 0. */
export function startEchoServer(options: ServerOptions = {}): Promise<WsServerHandle> {
  return listening(createEchoServer({ host: HOST, port: 0, ...options }));
}

export interface CustomServerHandle extends WsServerHandle {
  /** Per connection, in accept order: every byte the server's socket received after the request head. */
  raw: Buffer[][];
  /** Errors the server's WebSocket objects reported (a bad frame: 'MASK must be set' ...). */
  errors: Error[];
}

/**
 * A `ws` server (noServer) behind our own HTTP server on 127.0.0.1, port 0, with `onConnection`
 * for each client. Owning the upgrade lets the test see the raw bytes the server received, and
 * every WebSocket gets an error listener (ws emits 'error' on a bad frame; unhandled, it throws).
 */
export function startWsServer(options: ServerOptions, onConnection: (ws: WebSocket) => void): Promise<CustomServerHandle> {
  const wss = new WebSocketServer({ ...options, noServer: true });
  const raw: Buffer[][] = [];
  const errors: Error[] = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' });
    res.end('Upgrade Required');
  });
  server.on('upgrade', (req, socket, head) => {
    const chunks = [Buffer.from(head)];
    raw.push(chunks);
    socket.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (err) => errors.push(err));
      onConnection(ws);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      resolve({
        wss,
        raw,
        errors,
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const c of wss.clients) c.terminate();
            wss.close();
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** The event interface(s) of one type; unlike Extract it finds ControlEvent for 'ping' and 'pong'. */
export type EventOf<T extends WireEvent['type']> = WireEvent extends infer E ? (E extends { type: infer U } ? (T extends U ? E : never) : never) : never;

export interface TapHandle {
  tap: Wiretap;
  port: number;
  url: string;
  /** Every event so far, in the order the wiretap emitted them. */
  events: WireEvent[];
  /** Events of one connection (and optionally one type), in order. */
  of<T extends WireEvent['type']>(conn: number, type: T): EventOf<T>[];
  all(conn: number): WireEvent[];
  /** Wait for the first event (of this type) that matches; fails after `timeoutMs`. */
  waitFor<T extends WireEvent['type']>(type: T, match?: (e: EventOf<T>) => boolean, timeoutMs?: number): Promise<EventOf<T>>;
  /** Wait until `count` events match. */
  waitForCount<T extends WireEvent['type']>(type: T, count: number, match?: (e: EventOf<T>) => boolean, timeoutMs?: number): Promise<EventOf<T>[]>;
  close(): Promise<void>;
}

/** A Wiretap on 127.0.0.1, port 0, in front of `targetPort`, collecting every event. */
export async function startTap(targetPort: number, opts: Partial<WiretapOptions> = {}): Promise<TapHandle> {
  const events: WireEvent[] = [];
  const tap = new Wiretap({
    port: 0,
    target: { host: HOST, port: targetPort },
    ...opts,
    onEvents: (batch) => {
      events.push(...batch);
      opts.onEvents?.(batch);
    },
  });
  const port = await tap.listen();
  const select = <T extends WireEvent['type']>(type: T, match?: (e: EventOf<T>) => boolean) =>
    events.filter((e): e is EventOf<T> => e.type === type && (!match || match(e as EventOf<T>)));
  const seen = () => `; saw ${events.length} events: ${events.slice(-12).map((e) => `${e.conn}:${e.type}`).join(' ')}`;
  return {
    tap,
    port,
    url: `ws://${HOST}:${port}`,
    events,
    of: (conn, type) => events.filter((e): e is EventOf<typeof type> => e.conn === conn && e.type === type),
    all: (conn) => events.filter((e) => e.conn === conn),
    waitFor: (type, match, timeoutMs = 5000) => until(() => select(type, match)[0], timeoutMs, () => `a ${type} event${seen()}`),
    waitForCount: (type, count, match, timeoutMs = 10_000) =>
      until(
        () => {
          const found = select(type, match);
          return found.length >= count ? found : undefined;
        },
        timeoutMs,
        () => `${count} ${type} events (have ${select(type, match).length})${seen()}`,
      ),
    close: () => tap.close(),
  };
}

/** A `ws` client with its messages queued, so a test can take them one at a time. */
export interface Client {
  ws: WebSocket;
  messages: string[];
  /** The next message not yet taken, as text. */
  next(timeoutMs?: number): Promise<string>;
  /** Resolves with the client's close event (code, reason) whenever it comes. */
  closed: Promise<{ code: number; reason: string }>;
}

export function connect(url: string, options: ClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const messages: string[] = [];
    let taken = 0;
    ws.on('message', (data: RawData) => messages.push(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8')));
    const closed = new Promise<{ code: number; reason: string }>((done) => {
      ws.on('close', (code, reason) => done({ code, reason: reason.toString('utf8') }));
    });
    // An error before open rejects; after open the close event carries the outcome.
    ws.on('error', (err) => {
      if (ws.readyState !== WebSocket.OPEN) reject(err);
    });
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        closed,
        next: (timeoutMs = 5000) =>
          until(() => (messages.length > taken ? messages[taken++] : undefined), timeoutMs, () => `message #${taken + 1} (have ${messages.length}: ${JSON.stringify(messages)})`),
      }),
    );
  });
}

/** A port on 127.0.0.1 with nothing listening on it (a server took it and let it go). */
export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A plain TCP server holding a port (for "port in use"). */
export function occupyPort(): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(0, HOST, () => {
      resolve({ port: (s.address() as net.AddressInfo).port, close: () => new Promise<void>((done) => s.close(() => done())) });
    });
  });
}

/** A raw TCP socket that has done a real WebSocket handshake; `received` collects what follows. */
export interface RawClient {
  socket: net.Socket;
  /** Bytes received after the 101 response head. */
  received: () => Buffer;
  ended: Promise<void>;
}

export const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='; // RFC 6455 §1.3

export function rawUpgrade(port: number, path = '/'): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let buf = Buffer.alloc(0);
    let headDone = false;
    const ended = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', (err) => {
      if (!headDone) reject(err);
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (headDone) return;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`Upgrade refused: ${head.split('\r\n')[0]}`));
      headDone = true;
      buf = buf.subarray(end + 4);
      resolve({ socket, received: () => buf, ended });
    });
    socket.once('connect', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
  });
}

/** A WebSocket frame as bytes; `mask` is the 4-byte key, or null for an unmasked frame. */
export function frameBytes(opcode: number, payload: Buffer, opts: { fin?: boolean; mask?: Buffer | null } = {}): Buffer {
  const fin = opts.fin ?? true;
  const mask = opts.mask === undefined ? Buffer.from([1, 2, 3, 4]) : opts.mask;
  const len = payload.length;
  const ext = len < 126 ? Buffer.alloc(0) : len < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (len >= 126 && len < 65536) ext.writeUInt16BE(len);
  else if (len >= 65536) ext.writeBigUInt64BE(BigInt(len));
  const b0 = (fin ? 0x80 : 0) | opcode;
  const b1 = (mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  const body = mask ? Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!)) : payload;
  return Buffer.concat([Buffer.from([b0, b1]), ext, mask ?? Buffer.alloc(0), body]);
}

/** The `wsplay` command as a child process, with its output gathered. */
export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first stdout line matching `re` (its match); fails after `timeoutMs`. */
  line(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM (it stops cleanly), SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['server/bin/wsplay.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    line: (re, timeoutMs = 10_000) =>
      until(
        () => out.split('\n').map((l) => l.match(re)).find((m) => m !== null) ?? undefined,
        timeoutMs,
        () => `a line matching ${re}; stdout: ${JSON.stringify(out)} stderr: ${JSON.stringify(err)}`,
      ),
    exited,
    kill,
    stop: async (graceMs = 5000) => {
      kill('SIGTERM');
      const ended = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
      if (!ended) {
        kill('SIGKILL');
        await exited;
      }
    },
  };
}
