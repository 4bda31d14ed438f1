import type { LearnerServer } from '../runner/learner-server.ts';
import type { Workspace } from '../runner/workspace.ts';
import type { Wiretap } from '../tap/wiretap.ts';
import type { EventStream } from './event-stream.ts';
import type { ConsoleLine, FileInfo, RunnerState, StreamMessage, TopologyInfo } from './stream-protocol.ts';

/** Output lines a page gets when it (re)loads. */
const CONSOLE_HISTORY = 300;

/**
 * Connects the learner's files and server process to the rest: a save of server.js (from the
 * dashboard or another editor) restarts the server; the server's new internal port becomes
 * the wiretap's target; its output and state go to the dashboard's pages.
 */
export class LearnerBridge {
  private readonly history: ConsoleLine[] = [];
  private stream: EventStream | null = null;

  constructor(
    tap: Wiretap,
    readonly workspace: Workspace,
    readonly learner: LearnerServer,
    private readonly topology: () => TopologyInfo,
    print: (line: string) => void = () => {},
  ) {
    learner.on('output', ({ stream, text }: { stream: 'stdout' | 'stderr'; text: string }) => {
      this.line({ source: 'server', stream, text, t: tap.now() });
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
    workspace.on('saved', (info: FileInfo) => {
      if (info.name === learner.state.file) learner.scheduleRestart();
    });
    workspace.on('change', (info: FileInfo) => {
      this.stream?.publish({ kind: 'file', origin: 'disk', ...info });
      this.line({ source: 'wsplay', stream: 'info', text: `${info.name} changed on disk (another editor); the dashboard has the new text.`, t: tap.now() });
      if (info.name === learner.state.file) learner.scheduleRestart();
    });
    workspace.watch();
  }

  private line(line: ConsoleLine): void {
    this.history.push(line);
    if (this.history.length > CONSOLE_HISTORY) this.history.shift();
    this.stream?.consoleLine(line);
  }

  attach(stream: EventStream): void {
    this.stream = stream;
  }

  /** What a page gets after the history of events: the server's state and recent output. */
  extraHistory(): StreamMessage[] {
    return [
      { kind: 'runner', ...this.learner.state },
      { kind: 'console', lines: [...this.history] },
    ];
  }

  async close(): Promise<void> {
    this.workspace.close();
    await this.learner.stop(false);
  }
}
