/**
 * `npm run check`'s output, for a learner: one block per lesson, each check as the sentence it
 * is with ✓ or ✗, what went wrong in the check's own words (no stack traces of the harness),
 * and which hint helps. Vitest's other reporters still work (`npm run check -- --reporter=json`).
 */
import { relative } from 'node:path';
import type { Reporter, SerializedError, TestCase, TestModule, TestRunEndReason, TestSpecification } from 'vitest/node';
import { lessonInfo, readHints, readLesson } from './harness/format.ts';
import { PROJECT_ROOT, workspaceRoot } from './harness/workspace.ts';

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = paint(32);
const red = paint(31);
const dim = paint(2);
const bold = paint(1);
const yellow = paint(33);

const LESSON_FILE = /(?:^|[\\/])(\d{2}-[a-z0-9-]+)[\\/]check\.test\.ts$/;

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');
}

/** A path relative to where the learner stands, or absolute when it lies elsewhere. */
function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

/** An error as the learner should read it: our own failures verbatim, others without vitest's internals. */
function explain(e: SerializedError & { diff?: string }): string {
  if (e.name === 'LessonFailure') return e.message;
  const lines = [e.name && e.name !== 'Error' && e.name !== 'AssertionError' ? `${e.name}: ${e.message}` : e.message];
  if (e.diff) lines.push(e.diff);
  return lines.join('\n');
}

export default class LessonReporter implements Reporter {
  private totals = { passed: 0, failed: 0, lessons: [] as Array<{ number: string; ok: boolean }> };
  /**
   * Lessons finish in whatever order their workers do; the learner reads them in the course's
   * order. Each block is held until every lesson before it has been printed.
   */
  private order: string[] = [];
  private ready = new Map<string, string[]>();

  private print(text = ''): void {
    process.stdout.write(`${text}\n`);
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.order = specifications.map((s) => s.moduleId).sort();
  }

  /** Print the finished blocks that no unfinished lesson comes before (`all`: every finished one). */
  private flush(all = false): void {
    while (this.order.length > 0 && (all || this.ready.has(this.order[0]!))) {
      const id = this.order.shift()!;
      for (const l of this.ready.get(id) ?? []) this.print(l);
      this.ready.delete(id);
    }
  }

  onTestModuleEnd(mod: TestModule): void {
    const m = LESSON_FILE.exec(mod.moduleId);
    const dir = mod.moduleId.replace(/[\\/]check\.test\.ts$/, '');
    let title = m?.[1] ?? relative(PROJECT_ROOT, mod.moduleId);
    let number = '';
    let hintCount = 0;
    try {
      const info = lessonInfo(dir);
      number = info.number;
      const text = readLesson(dir);
      title = `Lesson ${info.number} · ${text.title.replace(/^Lesson\s+\d+\s*[·:.-]\s*/i, '')}`;
      hintCount = readHints(dir).length;
    } catch {
      // Not a lesson folder: print what vitest knows.
    }
    const slug = m?.[1];
    const hintsFile = slug ? shortPath(`${dir}/hints.md`) : '';
    const out: string[] = [];
    out.push('');
    out.push(bold(title) + (slug ? dim(`   your files: ${shortPath(`${workspaceRoot()}/${slug}`)}/`) : ''));

    // The lesson could not start (server.js crashed, a file is missing): say it once, first.
    const moduleErrors = [...mod.errors()];
    for (const e of moduleErrors) out.push(indent(red('✗ ') + explain(e), '  '));

    let passed = 0;
    let failed = 0;
    for (const t of mod.children.allTests()) {
      const r = t.result();
      if (r.state === 'passed') {
        passed++;
        out.push(`  ${green('✓')} ${t.name}`);
      } else if (r.state === 'failed') {
        failed++;
        out.push(`  ${red('✗')} ${t.name}`);
        const errors = r.errors ?? [];
        // A failed beforeAll is reported on every check; it was printed above once.
        const own = errors.filter((e) => !moduleErrors.some((me) => me.message === e.message));
        for (const e of own) out.push(indent(explain(e), '      '));
        out.push(this.hintLine(t, hintCount, hintsFile));
      } else if (r.state === 'skipped') {
        out.push(`  ${dim('-')} ${t.name} ${dim('(not run)')}`);
      }
    }
    const total = passed + failed;
    if (moduleErrors.length > 0 && total === 0) {
      failed = 1;
      out.push(this.hintLine(undefined, hintCount, hintsFile));
      out.push(yellow(`  None of the ${[...mod.children.allTests()].length} checks could run: fix what is said above first.`));
    } else {
      out.push(failed === 0 ? green(`  All ${total} checks pass.`) : yellow(`  ${passed} of ${total} check${total === 1 ? '' : 's'} pass${passed === 1 ? 'es' : ''}.`));
    }
    this.totals.passed += passed;
    this.totals.failed += failed;
    if (number) this.totals.lessons.push({ number, ok: failed === 0 });
    this.ready.set(mod.moduleId, out);
    if (!this.order.includes(mod.moduleId)) this.order = [...this.order, mod.moduleId].sort();
    this.flush();
  }

  private hintLine(t: TestCase | undefined, hintCount: number, hintsFile: string): string {
    if (!hintsFile || hintCount === 0) return '';
    const n = t?.meta().hint;
    const which = n ? `hint ${n} of ${hintCount}` : `the hints (${hintCount})`;
    return dim(`      Stuck? Read ${which} in ${hintsFile}, or press Hint in the lesson pane.`);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    // An interrupted run leaves lessons unfinished: print what did finish, in order.
    this.flush(true);
    for (const e of unhandled) this.print(red(`\nSomething went wrong outside the checks: ${explain(e)}`));
    if (modules.length === 0) {
      this.print(yellow('\nNo lesson matched. Run every check with `npm run check`, or one lesson with `npm run check -- 03`.'));
      return;
    }
    this.totals.lessons.sort((a, b) => a.number.localeCompare(b.number));
    const done = this.totals.lessons.filter((l) => l.ok).map((l) => l.number);
    const todo = this.totals.lessons.filter((l) => !l.ok).map((l) => l.number);
    this.print('');
    if (reason === 'interrupted') this.print(yellow('The run was interrupted.'));
    if (todo.length === 0) this.print(green(bold(`Done: ${done.length === 1 ? `lesson ${done[0]} passes` : `lessons ${done.join(', ')} pass`}.`)));
    else this.print(`${done.length ? green(`Passing: ${done.join(', ')}. `) : ''}${yellow(`Still to do: ${todo.join(', ')}`)} ${dim(`(npm run check -- ${todo[0]} runs one lesson)`)}`);
  }
}
