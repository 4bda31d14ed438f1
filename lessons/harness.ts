/**
 * The check harness: what a lesson's check.test.ts imports. See lessons/README.md.
 *
 *   import { check, useLesson } from '../harness.ts';
 *
 *   const lesson = useLesson(import.meta.url, { handshakeDelayMs: 500 });
 *
 *   check("the client's first frame came after the 101", { hint: 2 }, async () => {
 *     const first = await lesson.waitForType('frame', (f) => f.dir === 'client');
 *     must(first, 'The client sent nothing: ...');
 *   });
 *
 * `useLesson` starts the wiretap, the learner's server.js behind it and the learner's client.js
 * (browser WebSocket semantics) before the file's checks, and stops them after. A check is a
 * vitest test named by a sentence the learner reads; `must(condition, message)` fails it with a
 * message in the learner's words; `hint` names the hint (hints.md) the reporter points at.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, test } from 'vitest';
import { LessonRun, type LessonOptions } from './harness/lesson-run.ts';
import { checkGoalOf, compareGoal, goalProblem, type CheckGoal, type CompareOptions, type Goal } from './harness/goal.ts';
import type { WireEvent } from '../server/capture/events.ts';

declare module 'vitest' {
  interface TaskMeta {
    /** The hint (1-based, in the lesson's hints.md) that helps with this check when it fails. */
    hint?: number;
    /** The check's own run compared with the lesson's goal.json (the Check result carries it to the pane). */
    goal?: CheckGoal;
  }
}

export { LessonRun, LessonFailure, must, indent, PUBLIC_PORT, DASHBOARD_PORT, type LessonOptions } from './harness/lesson-run.ts';
export { ClientRun, READY_STATES, type ClientError, type ClientOptions, type ConsoleLine, type ReceiveEvent, type SendCall, type SocketEvent } from './harness/client.ts';
export { Wire, frameBytes, upgradedAt, type Connection, type EventOf } from './harness/wire.ts';
export { until, sleep, quiet } from './harness/wait.ts';
export { listLessons, readLesson, readHints, parseLesson, parseHints, type LessonInfo, type LessonStep, type CodeBlock } from './harness/format.ts';
export { workspaceRoot, lessonWorkspace } from './harness/workspace.ts';
export { compareGoal, describeDifference, type Goal, type GoalResult } from './harness/goal.ts';
export { bytesArg, bytesOf, callExport, type CallResult } from './harness/module-call.ts';

/**
 * The lesson this check file belongs to (its folder), run for the whole file: started before the
 * first check, stopped after the last. Pass `import.meta.url`.
 */
export function useLesson(checkFileUrl: string, opts: LessonOptions = {}): LessonRun {
  const lesson = new LessonRun(dirname(fileURLToPath(checkFileUrl)), opts);
  beforeAll(() => lesson.start());
  afterAll(() => lesson.close());
  return lesson;
}

export interface CheckOptions {
  /** The hint in hints.md that helps when this check fails (1-based). */
  hint?: number;
  /** Milliseconds before vitest gives up on this check (default: the config's 15 s). */
  timeout?: number;
}

/** The lesson's goal.json (the conversation its pane draws), next to the check file. */
export function lessonGoal(checkFileUrl: string): Goal {
  const file = join(dirname(fileURLToPath(checkFileUrl)), 'goal.json');
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const problem = goalProblem(raw);
  if (problem) throw new Error(`${file}: ${problem}`);
  return raw as Goal;
}

/** A goal comparison waiting for the check that made it to end (then it goes into that check's meta). */
let reported: CheckGoal | undefined;

/**
 * Compares the check's own events with the goal, keeps the result for the Check button's report
 * (the pane marks the first differing arrow "from the check's run"), and returns the sentence
 * naming the first difference, or null when the wire followed the goal. `run` says which run
 * of the check it was. Call it inside a check; the last call of a file is the one reported.
 */
export function compareWithGoal(goal: Goal, events: readonly WireEvent[], run: string, opts: CompareOptions = {}): string | null {
  const result = compareGoal(goal, events, opts);
  const summary = checkGoalOf(goal, result, run);
  reported = summary;
  return summary.sentence;
}

/** One check: a sentence the learner reads, passed or failed. */
export function check(sentence: string, opts: CheckOptions, fn: () => unknown): void {
  test(sentence, { meta: opts.hint === undefined ? {} : { hint: opts.hint }, timeout: opts.timeout }, async ({ task }) => {
    try {
      await fn();
    } finally {
      if (reported) task.meta.goal = reported;
      reported = undefined;
    }
  });
}
