import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';

/** How to get Redis where it is missing: one line, said by the playground and the check alike. */
export const REDIS_MISSING =
  'redis-server is not installed, and lesson 20 joins its two server processes through Redis: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), or set WSPLAY_REDIS_SERVER to its path, then reopen the lesson.';

/** Where redis-server is: WSPLAY_REDIS_SERVER, else the first on PATH, else Debian's; null when none. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.WSPLAY_REDIS_SERVER) return existsSync(env.WSPLAY_REDIS_SERVER) ? env.WSPLAY_REDIS_SERVER : null;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin', '/opt/homebrew/bin'];
  for (const dir of dirs) {
    const file = join(dir, 'redis-server');
    if (existsSync(file)) return file;
  }
  return null;
}

/** A port nobody listens on now, on 127.0.0.1 (redis-server takes no port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Lines of redis-server's own output kept for an error message (its last ones). */
const TAIL_LINES = 20;

/**
 * A throwaway redis-server for lesson 20: on a free port of 127.0.0.1, no persistence (no
 * dump.rdb, no append-only file: nothing written anywhere), ended with the lesson. Not a
 * daemon: it is our child, so it goes when stop() is called or when wsplay's process group does.
 */
export class RedisServer {
  private child: ChildProcess | null = null;
  private tail: string[] = [];
  /** redis-server's own pid (the child is the shell that watches our pipe). */
  private redisPid: number | undefined;
  port = 0;

  constructor(private readonly binary: string) {}

  /** redis://127.0.0.1:PORT, for REDIS_URL. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** redis-server's pid while it runs. */
  get pid(): number | undefined {
    return this.child ? this.redisPid : undefined;
  }

  /**
   * Start it and wait until it accepts connections (it says "Ready to accept connections");
   * rejects with its last lines when it exits first or says nothing within `timeoutMs`. A port
   * taken between our probe and its bind (another program was faster) is tried again, twice.
   */
  async start(timeoutMs = 10_000): Promise<void> {
    let last: Error | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.startOnce(await freePort(), timeoutMs);
        return;
      } catch (err) {
        last = err as Error;
        if (!/Address already in use/i.test(last.message)) break;
      }
    }
    throw last!;
  }

  private startOnce(port: number, timeoutMs: number): Promise<void> {
    this.port = port;
    this.tail = [];
    // --dir: a folder that exists; with --save '' and appendonly no nothing is written there.
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp', '--protected-mode', 'yes'];
    // redis-server runs under a small shell that holds our pipe on its stdin: when that pipe
    // closes, because stop() closed it or because wsplay died (even killed outright, with no
    // chance to clean up), the shell ends redis-server. No orphan keeps a port and memory.
    const child = spawn('/bin/sh', ['-c', `"$0" "$@" & pid=$!; echo "wsplay: redis-server pid $pid"; read _ignored; kill $pid 2>/dev/null; wait $pid`, this.binary, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin!.on('error', () => {});
    this.child = child;
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          this.kill(child);
          reject(err);
        } else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`redis-server said nothing about being ready within ${timeoutMs / 1000} s. Its last lines:\n${this.tail.join('\n')}`)), timeoutMs);
      const onData = (buf: Buffer) => {
        for (const line of buf.toString('utf8').split('\n')) {
          if (!line.trim()) continue;
          const pid = /^wsplay: redis-server pid (\d+)$/.exec(line);
          if (pid) {
            this.redisPid = Number(pid[1]);
            continue;
          }
          this.tail.push(line.slice(0, 300));
          if (this.tail.length > TAIL_LINES) this.tail.shift();
          if (/Ready to accept connections/.test(line)) finish(null);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (err) => finish(new Error(`redis-server (${this.binary}) could not start: ${err.message}`)));
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        finish(new Error(`redis-server exited (${signal ?? `code ${code}`}) before it was ready. Its last lines:\n${this.tail.join('\n')}`));
      });
    });
  }

  /** Kill redis-server and its shell outright. */
  private kill(child: ChildProcess): void {
    if (this.redisPid !== undefined) {
      try {
        process.kill(this.redisPid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** End it (its shell's stdin closes: it stops redis-server and waits; SIGKILL after 2 s) and wait until it has exited. */
  stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.stdin!.end();
      setTimeout(() => this.kill(child), 2000).unref();
    });
  }
}
