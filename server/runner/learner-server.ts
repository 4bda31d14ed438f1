import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import createDebug from 'debug';
import { LineSplitter, type Line } from './console-lines.ts';
import type { RunnerState } from '../app/stream-protocol.ts';
import { newRunTag, RUN_TAG, signalTagged } from './process-tree.ts';

const log = createDebug('wsplay:runner');

export const LISTEN_PRELOAD = fileURLToPath(new URL('./listen-preload.cjs', import.meta.url));
const PROJECT_MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

export type { RunnerState, RunnerStatus } from '../app/stream-protocol.ts';

export interface LearnerServerOptions {
  /** Folder the script runs in (its require() calls resolve from there). */
  cwd: string;
  /** The script, relative to cwd. */
  file?: string;
  /** The port the course's code asks for and the wiretap holds: moved to a free internal port. */
  publicPort: number;
  /** How long a start may take before "it does not listen" is said. */
  listenTimeoutMs?: number;
  /**
   * Run the server with the Node inspector on 127.0.0.1 at this port (0: a free port, printed by
   * Node as "Debugger listening on ws://..."), so VS Code or Chrome DevTools can attach and stop
   * at breakpoints in server.js. Undefined: no inspector.
   */
  inspectPort?: number;
  /** Wait for a debugger before running the first line (--inspect-brk). */
  inspectBrk?: boolean;
  /**
   * Environment variables the script gets besides ours: WSPLAY_DASHBOARD_PORT, the port of the
   * dashboard whose pages the script may allow (lesson 12's Origin allow-list).
   */
  env?: Record<string, string>;
}

/**
 * Runs the learner's server script in its own process group, with the listen preload that
 * moves `port: 9900` to an internal port. It is restarted on demand (a save), its whole
 * process tree is ended on restart so its port is freed, and a crash is reported with its
 * stack instead of taking anything else down.
 *
 * Events: 'stopping' (a stop or restart is about to end the process: not a crash), 'state' (RunnerState), 'output' ({ stream, text, length? }: one line of stdout or
 * stderr; a long one cut in the middle, `length` its true length: console-lines.ts).
 */
export class LearnerServer extends EventEmitter {
  private child: ChildProcess | null = null;
  private stderrTail: string[] = [];
  private listenTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private generation = 0;
  /** This start's tag in server.js's environment, inherited by all it starts (process-tree.ts). */
  private runTag = newRunTag();
  state: RunnerState;
  private asked = 0;

  constructor(private readonly opts: LearnerServerOptions) {
    super();
    this.state = { status: 'stopped', file: opts.file ?? 'server.js' };
  }

  /** The folder the script runs in. */
  get cwd(): string {
    return this.opts.cwd;
  }

  /** Set an environment variable of the script from the next start on (restart() after this); undefined: unset it. */
  setEnv(name: string, value: string | undefined): void {
    const env = { ...this.opts.env };
    if (value === undefined) delete env[name];
    else env[name] = value;
    this.opts.env = env;
  }

  /** Run in another folder from the next start on (a lesson opened: restart() after this). */
  setCwd(cwd: string): void {
    this.opts.cwd = cwd;
  }

  private set(state: Omit<RunnerState, 'file'>): void {
    this.state = { ...state, file: this.opts.file ?? 'server.js' };
    log('%s %s%s', this.state.file, state.status, state.message ? `: ${state.message}` : '');
    this.emit('state', this.state);
  }

  /** Start the script; resolves once it listens, fails, or the listen timeout passes. */
  start(): Promise<RunnerState> {
    const gen = ++this.generation;
    const file = this.opts.file ?? 'server.js';
    this.stderrTail = [];
    this.set({ status: 'starting', message: `Starting ${file}…` });
    this.runTag = newRunTag();
    const inspect =
      this.opts.inspectPort === undefined ? [] : [`--inspect${this.opts.inspectBrk ? '-brk' : ''}=127.0.0.1:${this.opts.inspectPort}`];
    const child = spawn(process.execPath, [...inspect, '--require', LISTEN_PRELOAD, file], {
      cwd: this.opts.cwd,
      env: {
        ...process.env,
        ...this.opts.env,
        WSPLAY_PUBLIC_PORT: String(this.opts.publicPort),
        // Inherited by all it starts, detached or not: stop() ends them by it (process-tree.ts).
        [RUN_TAG]: this.runTag,
        DEBUG_COLORS: '0',
        // require('ws') works from a workspace anywhere: fall back to the playground's packages.
        NODE_PATH: [PROJECT_MODULES, process.env.NODE_PATH].filter(Boolean).join(delimiter),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: a restart ends everything it started, and frees its port.
      detached: true,
    });
    this.child = child;
    this.pipeLines(child, 'stdout');
    this.pipeLines(child, 'stderr');

    return new Promise((resolve) => {
      let settled = false;
      const settle = () => {
        if (!settled) {
          settled = true;
          resolve(this.state);
        }
      };
      let other: { port: number; requested: number } | null = null;
      child.on('message', (msg: { type?: string; port?: number; requested?: number }) => {
        if (gen !== this.generation || msg?.type !== 'listening' || typeof msg.port !== 'number') return;
        if (msg.requested === this.opts.publicPort) {
          this.clearListenTimer();
          this.set({ status: 'running', port: msg.port, pid: child.pid, message: `${file} listens on port ${this.opts.publicPort}, moved to internal port ${msg.port} behind the wiretap.` });
          this.emit('port', msg.port);
          settle();
        } else if (!other) {
          // `port: 0` asks the system for one: name the port it got, not 0.
          other = { port: msg.port, requested: msg.requested || msg.port };
        }
      });
      this.listenTimer = setTimeout(() => {
        if (gen !== this.generation || this.state.status !== 'starting') return;
        if (other) {
          this.set({
            status: 'not-listening',
            pid: child.pid,
            message: `${file} listens on port ${other.requested}, not ${this.opts.publicPort}: the wiretap forwards port ${this.opts.publicPort} only. Use new WebSocketServer({ port: ${this.opts.publicPort} }).`,
          });
        } else {
          this.set({
            status: 'not-listening',
            pid: child.pid,
            message: `${file} has not listened on any port after ${(this.opts.listenTimeoutMs ?? 5000) / 1000} s. Does it create new WebSocketServer({ port: ${this.opts.publicPort} })?`,
          });
        }
        settle();
      }, this.opts.listenTimeoutMs ?? 5000);
      child.on('exit', (code, signal) => {
        this.clearListenTimer();
        if (gen !== this.generation) return settle();
        this.child = null;
        // The crash's last lines may still be in the pipe at 'exit': report once stderr has
        // ended ('close'), or after a moment if a process the script started keeps it open.
        let reported = false;
        const report = () => {
          if (reported) return;
          reported = true;
          clearTimeout(grace);
          if (gen !== this.generation) return settle();
          this.exited(file, code, signal);
          settle();
        };
        const grace = setTimeout(report, 300);
        child.once('close', report);
      });
      child.on('error', (err) => {
        this.set({ status: 'crashed', message: `${file} could not start: ${err.message}` });
        settle();
      });
    });
  }

  /** The script's process ended: say how, with the end of its error output when it crashed. */
  private exited(file: string, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    if (code === 0 && !signal) {
      this.set({ status: 'stopped', message: `${file} ${how}: it ended on its own. A server keeps running while it listens.` });
    } else {
      this.set({
        status: 'crashed',
        message: `${file} crashed: it ${how}. Fix it and save: it restarts on every save. Its connections ended with it (each one's close shows in the Timeline).`,
        stack: this.stderrTail.join('\n'),
      });
    }
  }

  private pipeLines(child: ChildProcess, stream: 'stdout' | 'stderr'): void {
    const lines = new LineSplitter((line) => this.line(stream, line));
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (chunk: string) => lines.push(chunk));
    child[stream]!.on('end', () => lines.end());
  }

  private line(stream: 'stdout' | 'stderr', line: Line): void {
    if (stream === 'stderr') {
      this.stderrTail.push(line.text);
      if (this.stderrTail.length > 60) this.stderrTail.shift();
    }
    this.emit('output', { stream, ...line });
  }

  private clearListenTimer(): void {
    if (this.listenTimer) clearTimeout(this.listenTimer);
    this.listenTimer = null;
  }

  /** Restart after `delayMs` of quiet (saves come in bursts while the learner types). */
  scheduleRestart(delayMs = 300): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      void this.restart();
    }, delayMs);
  }

  async restart(): Promise<RunnerState> {
    await this.stop(false);
    return this.start();
  }

  /** End the whole process group: SIGTERM, then SIGKILL after a grace period. */
  /**
   * The bytes server.js holds to send on the sockets it accepted (their writable buffers), as
   * its own process reports them over the IPC channel (listen-preload.cjs); null when it does
   * not answer within `timeoutMs` (not running, or busy in a loop).
   */
  bufferedBytes(timeoutMs = 5000): Promise<{ bytes: number; sockets: number } | null> {
    const child = this.child;
    if (!child || !child.connected) return Promise.resolve(null);
    const id = ++this.asked;
    return new Promise((resolve) => {
      const onMessage = (msg: { type?: string; id?: number; bytes?: unknown; sockets?: unknown }) => {
        if (msg?.type !== 'buffered' || msg.id !== id) return;
        done(typeof msg.bytes === 'number' && typeof msg.sockets === 'number' ? { bytes: msg.bytes, sockets: msg.sockets } : null);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      const done = (v: { bytes: number; sockets: number } | null) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(v);
      };
      child.on('message', onMessage);
      try {
        child.send({ type: 'buffered?', id });
      } catch {
        done(null);
      }
    });
  }

  async stop(report = true): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.clearListenTimer();
    const child = this.child;
    this.generation++;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        const tag = this.runTag;
        const kill = (signal: NodeJS.Signals) => {
          try {
            process.kill(-child.pid!, signal);
          } catch {
            // Already gone.
          }
          // And what it started in groups of their own (detached: true).
          signalTagged(tag, signal);
        };
        // Before the kill: its connections are about to end without close frames, on purpose.
        this.emit('stopping');
        kill('SIGTERM');
        setTimeout(() => kill('SIGKILL'), 1500).unref();
      });
    } else if (signalTagged(this.runTag, 'SIGTERM') > 0) {
      // server.js is gone (crashed) but what it started detached is not.
      const tag = this.runTag;
      setTimeout(() => signalTagged(tag, 'SIGKILL'), 1500).unref();
    }
    if (report) this.set({ status: 'stopped', message: 'Stopped.' });
  }
}
