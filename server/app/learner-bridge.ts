import type { LearnerServer } from '../runner/learner-server.ts';
import type { Workspace } from '../runner/workspace.ts';
import type { Wiretap } from '../tap/wiretap.ts';
import type { EventStream } from './event-stream.ts';
import { ConsoleHistory } from './console-history.ts';
import type { ConsoleLine, FileInfo, RunnerState, StreamMessage, TopologyInfo } from './stream-protocol.ts';

/**
 * Connects the learner's files and server process to the rest: a save of server.js (from the
 * dashboard or another editor) restarts the server; the server's new internal port becomes
 * the wiretap's target; its output and state go to the dashboard's pages.
 */
export class LearnerBridge {
  private readonly history = new ConsoleHistory();
  private stream: EventStream | null = null;
  private ws: Workspace;
  /** The lesson whose folder the learner's files are in (`03-first-conversation`), or null: the free playground. */
  lesson: string | null = null;

  constructor(
    private readonly tap: Wiretap,
    workspace: Workspace,
    readonly learner: LearnerServer,
    private readonly topology: () => TopologyInfo,
    private readonly print: (line: string) => void = () => {},
  ) {
    this.ws = workspace;
    learner.on('output', ({ stream, text, length }: { stream: 'stdout' | 'stderr'; text: string; length?: number }) => {
      this.line({ source: 'server', stream, text, t: tap.now(), ...(length === undefined ? {} : { length }) });
      print(`[server.js] ${text}`);
    });
    learner.on('state', (state: RunnerState) => {
      if (state.message) {
        this.line({ source: 'wsplay', stream: 'info', text: state.message, t: tap.now() });
        print(state.message);
      }
      this.stream?.publish({ kind: 'runner', ...state });
    });
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
    if (info.name === this.learner.state.file) this.learner.scheduleRestart();
  };

  private readonly onChange = (info: FileInfo): void => {
    this.stream?.publish({ kind: 'file', origin: 'disk', ...info });
    this.line({ source: 'wsplay', stream: 'info', text: `${info.name} changed on disk (another editor); the dashboard has the new text.`, t: this.tap.now() });
    if (info.name === this.learner.state.file) this.learner.scheduleRestart();
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
    this.print(text);
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
  }
}
