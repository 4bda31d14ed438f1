import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import createDebug from 'debug';
import { newRunTag, RUN_TAG, signalTagged } from './process-tree.ts';

const log = createDebug('wsplay:runner');

export interface ServerProcessOptions {
  /** The server script (TypeScript or JavaScript). */
  script: string;
  /** Port for the script to listen on; 0 lets the system pick one. */
  port?: number;
  /** Lines the process prints, and lines about it (crashes, restarts). */
  onOutput?: (line: string, stream: 'stdout' | 'stderr' | 'wsplay') => void;
  /** Restart after a crash, after this many ms; never when undefined. */
  restartAfterMs?: number;
}

/** tsx's loader, by absolute URL so a child started from any folder finds it. */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Runs a WebSocket server script in a child process (never inside the wiretap), learns the port
 * it listens on over IPC, and reports a crash with its output instead of going down with it.
 */
export class ServerProcess {
  private child: ChildProcess | null = null;
  private stopping = false;
  /** This start's tag in the script's environment, inherited by all it starts (process-tree.ts). */
  private runTag = newRunTag();
  port = 0;

  constructor(private readonly opts: ServerProcessOptions) {}

  /** Start the script; resolves with its port once it listens, rejects if it exits first. */
  start(): Promise<number> {
    this.stopping = false;
    this.runTag = newRunTag();
    return new Promise((resolve, reject) => {
      const child = fork(this.opts.script, [], {
        execArgv: ['--import', TSX_LOADER],
        env: { ...process.env, WSPLAY_PORT: String(this.opts.port ?? 0), [RUN_TAG]: this.runTag },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      this.child = child;
      const out = this.opts.onOutput ?? (() => {});
      const lines = (stream: 'stdout' | 'stderr') => (buf: Buffer) => {
        for (const line of buf.toString().split('\n')) if (line.trim()) out(line, stream);
      };
      child.stdout!.on('data', lines('stdout'));
      child.stderr!.on('data', lines('stderr'));
      let listening = false;
      child.on('message', (msg: { type?: string; port?: number }) => {
        if (msg?.type === 'listening' && typeof msg.port === 'number') {
          listening = true;
          this.port = msg.port;
          log('server %s listening on %d (pid %d)', this.opts.script, msg.port, child.pid);
          resolve(msg.port);
        }
      });
      child.on('exit', (code, signal) => {
        this.child = null;
        if (!listening) {
          reject(new Error(`The server script ${this.opts.script} exited (${signal ?? `code ${code}`}) before it listened.`));
          return;
        }
        if (this.stopping) return;
        out(`The server process exited (${signal ?? `code ${code}`}); connections to it end with 1006.`, 'wsplay');
        if (this.opts.restartAfterMs !== undefined) {
          setTimeout(() => {
            if (this.stopping) return;
            out('Restarting the server.', 'wsplay');
            this.start().catch((err: Error) => out(err.message, 'wsplay'));
          }, this.opts.restartAfterMs).unref();
        }
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * End the script and everything it started, children that made their own process group
   * (`detached: true`) included: SIGTERM, then SIGKILL after a grace period.
   */
  stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    const tag = this.runTag;
    const kill = (signal: NodeJS.Signals) => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
      return signalTagged(tag, signal);
    };
    if (!child) {
      if (kill('SIGTERM') > 0) setTimeout(() => kill('SIGKILL'), 2000).unref();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 2000).unref();
    });
  }
}
