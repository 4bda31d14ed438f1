import { closeSync, openSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import type { LearnerServer } from '../runner/learner-server.ts';
import type { Workspace } from '../runner/workspace.ts';
import type { Wiretap } from '../tap/wiretap.ts';
import type { EventStream } from './event-stream.ts';
import { ConsoleHistory } from './console-history.ts';
import { TerminalLines } from './terminal-lines.ts';
import type { LineKind } from './terminal-writer.ts';
import type { ConsoleLine, FileInfo, RunnerState, StreamMessage, TopologyInfo } from './stream-protocol.ts';

/**
 * How much of a workspace file is read to find what it requires. The learner's files are a few
 * kilobytes; a bigger one (pasted data) is read this far, not whole, on every save.
 */
const SCAN_BYTES = 256 * 1024;

/** `require('./accept.js')`, `require("./lib/util")`, `import x from './accept.js'`: relative specifiers only. */
const REQUIRE_RE = /\brequire\s*\(\s*(['"`])(\.{1,2}\/[^'"`\n]+)\1\s*\)|\bfrom\s+(['"])(\.{1,2}\/[^'"\n]+)\3|\bimport\s*\(?\s*(['"])(\.{1,2}\/[^'"\n]+)\5/g;

/**
 * The workspace files `entry` requires, directly or through one another (lesson 02's server.js
 * requires accept.js): saving one of them changes what the running server would load, so it
 * restarts the server as saving server.js does. Read from the text, as Node would resolve the
 * relative specifiers (`./accept` finds accept.js); only the workspace's own files count, so
 * the walk visits each at most once.
 */
export function requiredFiles(entry: string, files: readonly string[], read: (name: string) => string | null): Set<string> {
  const found = new Set<string>();
  const queue = [entry];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const from = queue.shift()!;
    const text = read(from);
    if (text === null) continue;
    for (const m of text.matchAll(REQUIRE_RE)) {
      const spec = m[2] ?? m[4] ?? m[6]!;
      const base = posix.normalize(posix.join(posix.dirname(from), spec));
      const name = [base, `${base}.js`, `${base}/index.js`].find((n) => files.includes(n));
      if (!name || seen.has(name)) continue;
      seen.add(name);
      found.add(name);
      queue.push(name);
    }
  }
  return found;
}

/**
 * Connects the learner's files and server process to the rest: a save of server.js, or of a
 * file it requires (lesson 02's accept.js), from the dashboard or another editor, restarts the
 * server; the server's new internal port becomes
 * the wiretap's target; its output and state go to the dashboard's pages.
 */
export class LearnerBridge {
  private readonly history = new ConsoleHistory();
  private stream: EventStream | null = null;
  private ws: Workspace;
  /** The terminal: server.js's output lines a turn at a time, wsplay's notes after them (terminal-lines.ts). */
  private readonly terminal: TerminalLines;
  /** The lesson whose folder the learner's files are in (`03-first-conversation`), or null: the free playground. */
  lesson: string | null = null;

  constructor(
    private readonly tap: Wiretap,
    workspace: Workspace,
    readonly learner: LearnerServer,
    private readonly topology: () => TopologyInfo,
    print: (text: string, kind: LineKind) => void = () => {},
  ) {
    this.ws = workspace;
    this.terminal = new TerminalLines(print);
    learner.on('output', ({ stream, text, length }: { stream: 'stdout' | 'stderr'; text: string; length?: number }) => {
      const line: ConsoleLine = { source: 'server', stream, text, t: tap.now() };
      if (length !== undefined) line.length = length;
      this.line(line);
      this.terminal.later(`[server.js] ${text}`);
    });
    learner.on('state', (state: RunnerState) => {
      if (state.message) {
        this.line({ source: 'wsplay', stream: 'info', text: state.message, t: tap.now() });
        this.terminal.now(state.message);
      }
      this.stream?.publish({ kind: 'runner', ...state });
    });
    learner.on('stopping', () => tap.serverStopping());
    learner.on('port', (port: number) => {
      tap.setTarget({ host: '127.0.0.1', port });
      this.stream?.publish({ kind: 'topology', topology: this.topology() });
    });
    workspace.on('saved', this.onSaved);
    workspace.on('change', this.onChange);
    workspace.watch();
  }

  /** The learner's files now (the free playground's, or the open lesson's). */
  get workspace(): Workspace {
    return this.ws;
  }

  private readonly onSaved = (info: FileInfo): void => {
    if (this.runsOn(info.name)) this.learner.scheduleRestart();
  };

  /** server.js itself, or a workspace file it requires (accept.js): a save changes what it runs. */
  private runsOn(name: string): boolean {
    const entry = this.learner.state.file;
    if (name === entry) return true;
    if (!this.ws.files.includes(name)) return false;
    return requiredFiles(entry, this.ws.files, (file) => this.head(file)).has(name);
  }

  /** The start of a workspace file (up to SCAN_BYTES), or null when it cannot be read. */
  private head(name: string): string | null {
    let fd: number | null = null;
    try {
      fd = openSync(this.ws.resolve(name), 'r');
      const buf = Buffer.alloc(SCAN_BYTES);
      const n = readSync(fd, buf, 0, SCAN_BYTES, 0);
      return buf.toString('utf8', 0, n);
    } catch {
      return null;
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  private readonly onChange = (info: FileInfo): void => {
    this.stream?.publish({ kind: 'file', origin: 'disk', ...info });
    this.line({ source: 'wsplay', stream: 'info', text: `${info.name} changed on disk (another editor); the dashboard has the new text.`, t: this.tap.now() });
    if (this.runsOn(info.name)) this.learner.scheduleRestart();
  };

  /**
   * Make `next` the learner's files (a lesson opened, or back to the free playground): the old
   * folder is no longer watched, server.js runs in the new one (restarted unless `restart` is
   * false: before the first start), and every page is told to load the new files.
   */
  async switchWorkspace(next: Workspace, lesson: string | null, restart = true): Promise<RunnerState> {
    const old = this.ws;
    if (old !== next) {
      old.off('saved', this.onSaved);
      old.off('change', this.onChange);
      old.close();
      this.ws = next;
      next.on('saved', this.onSaved);
      next.on('change', this.onChange);
      next.watch();
    }
    this.lesson = lesson;
    this.learner.setCwd(next.root);
    this.stream?.publish(this.workspaceMessage());
    const where = lesson ? `Lesson ${lesson}` : 'The free playground';
    const text = `${where}: the files are in ${next.root}${restart ? '; server.js restarts there.' : '.'}`;
    this.line({ source: 'wsplay', stream: 'info', text, t: this.tap.now() });
    this.terminal.now(text);
    return restart ? this.learner.restart() : this.learner.state;
  }

  /** Which files the pages should show. */
  workspaceMessage(): StreamMessage {
    let files: FileInfo[];
    try {
      files = this.ws.list();
    } catch {
      files = this.ws.files.map((name) => ({ name, size: 0, mtime: 0 }));
    }
    return { kind: 'workspace', lesson: this.lesson, files };
  }

  private line(line: ConsoleLine): void {
    this.history.push(line);
    this.stream?.consoleLine(line);
  }

  /** A note of wsplay's in the dashboard's console and the terminal (lesson 13's reverse proxy). */
  info(text: string): void {
    this.line({ source: 'wsplay', stream: 'info', text, t: this.tap.now() });
    this.terminal.now(text);
  }

  /** A line server.js printed in a process of its own besides this one (lesson 20's process b). */
  serverLine(instance: string, stream: 'stdout' | 'stderr', text: string): void {
    this.line({ source: 'server', stream, text: `[${instance}] ${text}`, t: this.tap.now() });
    this.terminal.later(`[server.js ${instance}] ${text}`);
  }

  /** Pages get the topology again (a lesson's proxy started or moved). */
  topologyChanged(): void {
    this.stream?.publish({ kind: 'topology', topology: this.topology() });
  }

  attach(stream: EventStream): void {
    this.stream = stream;
  }

  /** What a page gets after the history of events: the server's state and recent output. */
  extraHistory(): StreamMessage[] {
    return [
      this.workspaceMessage(),
      { kind: 'runner', ...this.learner.state },
      { kind: 'console', lines: this.history.toArray() },
    ];
  }

  async close(): Promise<void> {
    this.workspace.close();
    await this.learner.stop(false);
    this.terminal.flush();
  }
}
