/**
 * The vitest reporter of the dashboard's Check button (server/app/lesson-check.ts starts
 * `vitest run --config lessons/vitest.config.ts NN --reporter=<this file>`): writes each check
 * of the run as JSON to $WSPLAY_CHECK_OUTPUT, with the learner-facing message (a LessonFailure's
 * text as it is, no stack of the harness) and the hint the check names.
 */
import { writeFileSync } from 'node:fs';
import type { Reporter, SerializedError, TestModule, TestRunEndReason } from 'vitest/node';
import type { CheckGoal } from '../../lessons/harness/goal.ts';

export interface ReportedCheck {
  name: string;
  state: 'pass' | 'fail' | 'skip';
  message?: string;
  hint?: number;
}

export interface ReportedModule {
  moduleId: string;
  /** Errors outside the checks (server.js did not start, a file is missing). */
  errors: string[];
  checks: ReportedCheck[];
  /** The check's own run compared with the lesson's goal (the last comparison a check made). */
  goal?: CheckGoal;
}

export interface CheckReport {
  modules: ReportedModule[];
  unhandled: string[];
  reason: TestRunEndReason;
}

const TIMED_OUT = /^Test timed out in (\d+)ms\.[\s\S]*/;

/** An error in the learner's words: our own failures verbatim, others without vitest's internals. */
export function explain(e: SerializedError & { diff?: string }): string {
  if (e.name === 'LessonFailure') return e.message;
  const timeout = TIMED_OUT.exec(e.message ?? '');
  if (timeout) return `This check gave up after ${Number(timeout[1]) / 1000} s: what it waited for never happened.`;
  const lines = [e.name && e.name !== 'Error' && e.name !== 'AssertionError' ? `${e.name}: ${e.message}` : e.message];
  if (e.diff) lines.push(e.diff);
  return lines.join('\n');
}

export default class CheckReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    const report: CheckReport = {
      reason,
      unhandled: unhandled.map((e) => explain(e)),
      modules: modules.map((mod) => {
        const errors = mod.errors().map((e) => explain(e));
        const checks: ReportedCheck[] = [];
        let goal: CheckGoal | undefined;
        for (const t of mod.children.allTests()) {
          const r = t.result();
          const hint = t.meta().hint;
          goal = t.meta().goal ?? goal;
          const check: ReportedCheck = { name: t.name, state: r.state === 'passed' ? 'pass' : r.state === 'failed' ? 'fail' : 'skip' };
          if (typeof hint === 'number') check.hint = hint;
          if (r.state === 'failed') {
            // A failed beforeAll is reported on every check; it is said once, for the module.
            const own = (r.errors ?? []).map((e) => explain(e)).filter((m) => !errors.includes(m));
            if (own.length > 0) check.message = own.join('\n');
          }
          checks.push(check);
        }
        return { moduleId: mod.moduleId, errors, checks, ...(goal ? { goal } : {}) };
      }),
    };
    const out = process.env.WSPLAY_CHECK_OUTPUT;
    if (out) writeFileSync(out, JSON.stringify(report));
    else process.stdout.write(`${JSON.stringify(report)}\n`);
  }
}
