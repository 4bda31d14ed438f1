/**
 * The learner's client.js, run with the browser's WebSocket API (see client-runner.mjs for how
 * and why), in a child process the check can stop at any time, even inside an infinite loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './wait.ts';

const RUNNER = fileURLToPath(new URL('./client-runner.mjs', import.meta.url));

export interface ConsoleLine {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  text: string;
  /** Line of client.js that printed it, when it came from there. */
  line: number | null;
  /** Milliseconds since the client started. */
  t: number;
}

export interface ClientError {
  /** `uncaught`: an exception nobody caught; `rejection`: a promise rejected with no handler. */
  kind: 'uncaught' | 'rejection';
  /** InvalidStateError, TypeError, SyntaxError ... */
  name: string;
  message: string;
  /** Where in client.js, when the error passed through it. */
  line: number | null;
  column: number | null;
  stack: string;
  t: number;
}

/** One call of `socket.send(...)` by the learner's code, as the API saw it. */
export interface SendCall {
  /** Which socket of this client (1 for the first `new WebSocket`). */
  socket: number;
  /** The socket's readyState at the call: 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  readyState: number;
  /** Bytes given to send (UTF-8 length of a string). */
  size: number | null;
  line: number | null;
  t: number;
}

/** A WebSocket's life as the page sees it (its open, error and close events). */
export interface SocketEvent {
  socket: number;
  event: 'create' | 'open' | 'error' | 'close';
  url: string;
  code?: number;
  reason?: string;
  wasClean?: boolean;
  line?: number | null;
  t: number;
}

/** A message event the page received: what `event.data` was (lesson 7: Blob or ArrayBuffer). */
export interface ReceiveEvent {
  socket: number;
  /** `string` for a text message; for a binary one `Blob` or `ArrayBuffer`, as `binaryType` says. */
  dataType: string;
  /** Bytes (UTF-8 length of a string). */
  size: number | null;
  /** The socket's binaryType when the message arrived. */
  binaryType: string;
  t: number;
}

export interface ClientOptions {
  /** The client's file in the lesson workspace (client.js), or an absolute path (a check's own client, `runScript`). */
  file?: string;
  /** A name for messages ("client A"); defaults to the file name. */
  name?: string;
  /** The Origin header to send, as a page served from that origin would (none by default: Node sends none). */
  origin?: string;
  /**
   * Where the client's `ws://localhost:PUBLIC` goes instead of the wiretap (lesson 13: the
   * reverse proxy in front of it), with the public port the code uses for it.
   */
  via?: { port: number; publicPort: number };
}

export const READY_STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;

/** How a browser words the errors the lessons are about (undici's words are shorter). */
const BROWSER_WORDS: Record<string, string> = {
  'Sent before connected.': "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
};

export class ClientRun {
  readonly console: ConsoleLine[] = [];
  readonly errors: ClientError[] = [];
  readonly sends: SendCall[] = [];
  readonly sockets: SocketEvent[] = [];
  /** The message events the page received (the first 2000). */
  readonly received: ReceiveEvent[] = [];
  /** What the process itself wrote to stdout/stderr (Node's own warnings, a crash of the runner). */
  readonly output: string[] = [];
  /** True once the script's first run (its top level) has ended. */
  ran = false;
  exitCode: number | null = null;
  readonly name: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(
    readonly path: string,
    tapPort: number,
    publicPort: number,
    opts: ClientOptions = {},
  ) {
    this.name = opts.name ?? basename(path);
    this.child = spawn(
      process.execPath,
      ['--experimental-websocket', '--disable-warning=ExperimentalWarning', RUNNER, path],
      {
        env: {
          ...process.env,
          WSPLAY_TAP_PORT: String(tapPort),
          WSPLAY_PUBLIC_PORT: String(publicPort),
          WSPLAY_CLIENT_ORIGIN: opts.origin ?? '',
          NODE_OPTIONS: '',
        },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => this.output.push(...text.split('\n').filter(Boolean)));
    }
    this.child.on('message', (msg: { type: string } & Record<string, unknown>) => this.receive(msg));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exitCode = code;
        resolve();
      });
      this.child.on('error', (err) => {
        this.output.push(`could not start the client: ${err.message}`);
        resolve();
      });
    });
  }

  private receive(msg: { type: string } & Record<string, unknown>): void {
    const { type, ...rest } = msg;
    switch (type) {
      case 'console':
        this.console.push(rest as unknown as ConsoleLine);
        break;
      case 'error':
        this.errors.push(rest as unknown as ClientError);
        break;
      case 'send':
        this.sends.push(rest as unknown as SendCall);
        break;
      case 'socket':
        this.sockets.push(rest as unknown as SocketEvent);
        break;
      case 'receive':
        this.received.push(rest as unknown as ReceiveEvent);
        break;
      case 'done':
        this.ran = true;
        break;
    }
  }

  /** The console lines as one text, each `line N: text` (what the learner would see printed). */
  printed(): string {
    return this.console.map((c) => c.text).join('\n');
  }

  /** The first console line matching, waiting up to `timeoutMs`; undefined if none came. */
  waitForConsole(match: RegExp | string | ((line: ConsoleLine) => boolean), timeoutMs = 3000): Promise<ConsoleLine | undefined> {
    const test =
      typeof match === 'function' ? match : typeof match === 'string' ? (c: ConsoleLine) => c.text.includes(match) : (c: ConsoleLine) => match.test(c.text);
    return until(() => this.console.find(test), timeoutMs);
  }

  /** The first error matching (by name, or any error), waiting up to `timeoutMs`. */
  waitForError(name?: string, timeoutMs = 3000): Promise<ClientError | undefined> {
    return until(() => this.errors.find((e) => !name || e.name === name), timeoutMs);
  }

  /** Wait for a socket event of this client (`open`, `close` ...). */
  waitForSocket(event: SocketEvent['event'], timeoutMs = 3000): Promise<SocketEvent | undefined> {
    return until(() => this.sockets.find((s) => s.event === event), timeoutMs);
  }

  /** The first message event matching, waiting up to `timeoutMs`. */
  waitForReceive(match: (r: ReceiveEvent) => boolean = () => true, timeoutMs = 3000): Promise<ReceiveEvent | undefined> {
    return until(() => this.received.find(match), timeoutMs);
  }

  /** Wait until the script's top level has run (or it died first). */
  waitUntilRan(timeoutMs = 3000): Promise<boolean | undefined> {
    return until(() => (this.ran || this.exitCode !== null ? true : undefined), timeoutMs);
  }

  /**
   * An error in words for the learner: where it happened and what a browser would say.
   * `client.js line 7: InvalidStateError: Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.`
   */
  describeError(e: ClientError): string {
    const where = e.line ? `${this.name} line ${e.line}` : this.name;
    const words = BROWSER_WORDS[e.message] ?? e.message;
    return `${where}: ${e.kind === 'rejection' ? 'unhandled rejection: ' : ''}${e.name}: ${words}`;
  }

  get running(): boolean {
    return this.exitCode === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** End the client (its sockets go with it: the server sees the TCP connection end). */
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}
