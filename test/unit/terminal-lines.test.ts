// wsplay's terminal gets server.js's output a turn of the event loop at a time (one write, not
// one per line: the course's server prints a line per message), in order with wsplay's own notes.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LearnerBridge } from '../../server/app/learner-bridge.ts';
import { TERMINAL_BATCH_LINES, TerminalLines } from '../../server/app/terminal-lines.ts';
import type { LearnerServer } from '../../server/runner/learner-server.ts';
import type { Workspace } from '../../server/runner/workspace.ts';
import type { Wiretap } from '../../server/tap/wiretap.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('TerminalLines', () => {
  it('writes the lines of one turn as one write, in order, after the turn', async () => {
    const writes: string[] = [];
    const t = new TerminalLines((text) => writes.push(text));
    t.later('a');
    t.later('b');
    t.later('c');
    expect(writes).toEqual([]);
    await turn();
    expect(writes).toEqual(['a\nb\nc']);
    t.later('d');
    await turn();
    expect(writes).toEqual(['a\nb\nc', 'd']);
  });

  it('writes what waits before a note printed now', () => {
    const writes: string[] = [];
    const t = new TerminalLines((text) => writes.push(text));
    t.later('received: 1');
    t.now('server.js crashed');
    expect(writes).toEqual(['received: 1', 'server.js crashed']);
  });

  it("hands server.js's lines on as the server's output and a note as wsplay's own (the terminal writer drops the first, not the second)", async () => {
    const writes: [string, string][] = [];
    const t = new TerminalLines((text, kind) => writes.push([text, kind]));
    t.later('received: 1');
    t.now('server.js crashed');
    t.later('received: 2');
    await turn();
    expect(writes).toEqual([
      ['received: 1', 'server'],
      ['server.js crashed', 'note'],
      ['received: 2', 'server'],
    ]);
  });

  it('holds at most its bound of lines: a burst is written at the bound, not kept', () => {
    const writes: string[] = [];
    const t = new TerminalLines((text) => writes.push(text));
    for (let i = 0; i < TERMINAL_BATCH_LINES * 3 + 5; i++) t.later(`line ${i}`);
    expect(writes.length).toBe(3);
    expect(writes[0]!.split('\n').length).toBe(TERMINAL_BATCH_LINES);
    expect(t.waiting).toBe(5);
    t.flush();
    expect(writes.join('\n').split('\n')).toEqual(Array.from({ length: TERMINAL_BATCH_LINES * 3 + 5 }, (_, i) => `line ${i}`));
  });
});

describe('LearnerBridge and the terminal', () => {
  it("prints server.js's lines of one turn in one write, then its state message after them", async () => {
    const learner = Object.assign(new EventEmitter(), { state: { status: 'running', file: 'server.js' } });
    const workspace = Object.assign(new EventEmitter(), { watch: () => {}, close: () => {}, files: [] });
    const tap = { now: () => 1, serverStopping: () => {}, setTarget: () => {} };
    const writes: string[] = [];
    new LearnerBridge(tap as unknown as Wiretap, workspace as unknown as Workspace, learner as unknown as LearnerServer, () => ({ tap: { host: '127.0.0.1', port: 1 }, target: { host: '127.0.0.1', port: 2 }, targetLabel: 'server.js' }), (line) => writes.push(line));
    for (let i = 0; i < 3; i++) learner.emit('output', { stream: 'stdout', text: `received: tick ${i}` });
    await turn();
    expect(writes).toEqual(['[server.js] received: tick 0\n[server.js] received: tick 1\n[server.js] received: tick 2']);
    learner.emit('output', { stream: 'stderr', text: 'Error: boom' });
    learner.emit('state', { status: 'crashed', file: 'server.js', message: 'server.js crashed (exit code 1).' });
    expect(writes.slice(1)).toEqual(['[server.js] Error: boom', 'server.js crashed (exit code 1).']);
  });
});
