import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LessonInfo } from '../../lessons/harness/format.ts';
import type { CheckReport } from './check-reporter.ts';
import { readCheckGoal, type CheckGoal } from '../../lessons/harness/goal.ts';

/**
 * The dashboard's Check button: a lesson's vitest check run against the learner's files, in a
 * child process (`vitest run --config lessons/vitest.config.ts NN`), exactly as `npm run check
 * -- NN` runs it, with WSPLAY_WORKSPACE set to the workspace whose NN-slug folder holds them.
 * The child's reporter (check-reporter.ts) writes each check as JSON; this turns it into what
 * the lesson pane shows: a sentence per check, ✓ or ✗, the failure in the learner's words, and
 * the hint to read.
 */

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = join(PROJECT_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const CONFIG = join(PROJECT_ROOT, 'lessons', 'vitest.config.ts');
const REPORTER = fileURLToPath(new URL('./check-reporter.ts', import.meta.url));

export const CHECK_TIMEOUT_MS = 60_000;

export interface CheckItem {
  /** The check's sentence, a fact about the learner's program. */
  name: string;
  state: 'pass' | 'fail' | 'skip';
  /** Why it failed, in the learner's words. */
  message?: string;
  /** The hint (1-based) that helps when it fails. */
  hint?: number;
}

export interface CheckResult {
  /** The lesson's folder name. */
  lesson: string;
  /** Every check ran and passed. */
  ok: boolean;
  passing: number;
  total: number;
  checks: CheckItem[];
  /** What kept the checks from running (server.js crashed, a file is missing, a timeout). */
  problem?: string;
  timedOut?: boolean;
  /**
   * Lessons with a goal.json: the check's own run compared with it (each goal arrow's state, the
   * first difference), for the pane's goal diagram "from the check's run". Cut to size.
   */
  goal?: CheckGoal;
  /** When it finished (ISO 8601), and how long it took. */
  at: string;
  ms: number;
}

export interface CheckOptions {
  /** The workspace: the parent of the lesson's NN-slug folder. */
  workspaceRoot: string;
  timeoutMs?: number;
}

/** The child's environment: ours, minus what would make a vitest started inside a vitest confused. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(VITEST|TINYPOOL)/.test(k) && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, NO_COLOR: '1', FORCE_COLOR: '0', ...extra };
}

export function runCheck(lesson: LessonInfo, opts: CheckOptions): Promise<CheckResult> {
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'wsplay-check-'));
  const output = join(tmp, 'report.json');
  const timeoutMs = opts.timeoutMs ?? CHECK_TIMEOUT_MS;
  const child = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG, lesson.number, '--reporter', REPORTER], {
    cwd: PROJECT_ROOT,
    env: childEnv({ WSPLAY_WORKSPACE: opts.workspaceRoot, WSPLAY_CHECK_OUTPUT: output }),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a timeout ends the check and the learner's processes it started.
    detached: true,
  });
  let stderr = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout = (stdout + s).slice(-8000)));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-8000)));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };

  return new Promise<CheckResult>((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 2000).unref();
    }, timeoutMs);
    const finish = (spawnError?: Error) => {
      clearTimeout(timer);
      const base = { lesson: lesson.slug, at: new Date().toISOString(), ms: Date.now() - started };
      let report: CheckReport | null = null;
      try {
        report = JSON.parse(readFileSync(output, 'utf8')) as CheckReport;
      } catch {
        report = null;
      }
      rmSync(tmp, { recursive: true, force: true });
      if (timedOut) {
        resolve({
          ...base,
          ok: false,
          passing: 0,
          total: 0,
          checks: [],
          timedOut: true,
          problem: `The check did not finish within ${timeoutMs / 1000} s and was stopped. Does your code wait forever, or loop without end? Run it, look at the console, then check again.`,
        });
        return;
      }
      if (!report) {
        const why = spawnError?.message ?? (stderr.trim() || stdout.trim()).split('\n').slice(-12).join('\n');
        resolve({ ...base, ok: false, passing: 0, total: 0, checks: [], problem: `The check could not run${why ? `:\n${why}` : '.'}` });
        return;
      }
      resolve(summarize(report, base));
    };
    child.once('error', (err) => finish(err));
    child.once('close', () => finish());
  });
}

export function summarize(report: CheckReport, base: { lesson: string; at: string; ms: number }): CheckResult {
  const checks = report.modules.flatMap((m) => m.checks);
  const problems = [...report.modules.flatMap((m) => m.errors), ...report.unhandled];
  const passing = checks.filter((c) => c.state === 'pass').length;
  const result: CheckResult = {
    ...base,
    ok: checks.length > 0 && passing === checks.length && problems.length === 0,
    passing,
    total: checks.length,
    checks: checks.map((c) => ({ ...c })),
  };
  // The report comes from a process that ran the learner's code: the goal is read, not trusted.
  const goal = readCheckGoal(report.modules.map((m) => m.goal).find((g) => g !== undefined));
  if (goal) result.goal = goal;
  if (report.modules.length === 0) result.problem = 'No check was found for this lesson.';
  else if (problems.length > 0) result.problem = problems.join('\n\n');
  return result;
}
