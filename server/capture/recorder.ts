import { closeSync, openSync, writeSync } from 'node:fs';
import type { WireEvent } from './events.ts';
import { materialize } from './materialize.ts';

/**
 * Writes events as JSON Lines (one event per line, README "Record format"). Lines gathered in
 * one turn of the event loop are written together right after it, so the file is current
 * within a tick; `close()` writes what is left synchronously, which is what makes a recording
 * complete after SIGINT or SIGTERM.
 */
export class Recorder {
  private fd: number | null;
  private pending: string[] = [];
  private scheduled = false;
  lines = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(events: WireEvent[]): void {
    if (this.fd === null) return;
    for (const e of events) this.pending.push(JSON.stringify(materialize(e)));
    this.lines += events.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.fd === null || this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    writeSync(this.fd, text);
  }

  close(): void {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
