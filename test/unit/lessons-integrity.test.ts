/**
 * Every lesson is whole and honest: it has its text in steps, its hints, a starter, a solution
 * and a check; the check passes on the solution and fails on a starter that is meant to be
 * incomplete (lesson.json); and every code block a lesson's text loads into the editor parses,
 * and runs (on the lesson's solution, behind the wiretap) without an error it does not announce.
 *
 * The checks are run as the learner runs them (`npm run check`), in two vitest processes: one
 * over a workspace made of every starter, one over a workspace made of every solution.
 *
 * The same runs hold correct programs to silence: the harness writes every insight of a run to
 * WSPLAY_INSIGHTS_OUT (lessons/harness/lesson-run.ts), and a solution or right corpus entry may
 * cause none but those its check provokes on purpose with its own peer (EXPECTED).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFiles } from '../../lessons/harness/workspace.ts';
import { listLessons, readHints, readLesson, type CodeBlock, type LessonInfo } from '../../lessons/harness/format.ts';
import { entryFiles, readCorpus } from '../../lessons/harness/corpus.ts';
import { LessonRun } from '../../lessons/harness/lesson-run.ts';
import type { InsightEvent } from '../../server/capture/events.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COURSE_CODE = join(ROOT, 'server/runner/starters');
/**
 * WSPLAY_LESSONS=16,17 narrows the run to those lessons (while writing one: the whole run takes
 * minutes). Never set in CI: with CI=true a narrowed run is refused, so nothing is skipped there.
 */
const only = (process.env.WSPLAY_LESSONS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
if (only.length > 0 && process.env.CI === 'true') throw new Error('WSPLAY_LESSONS narrows the lessons integrity test; CI runs every lesson.');
const lessons = listLessons().filter((l) => only.length === 0 || only.some((n) => l.slug.startsWith(n)));
const tmp = mkdtempSync(join(tmpdir(), 'wsplay-lessons-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface JsonAssertion {
  title: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
  failureMessages: string[];
  meta?: { hint?: number };
}
interface JsonReport {
  testResults: Array<{ name: string; status: string; message: string; assertionResults: JsonAssertion[] }>;
  /** Every insight the run raised, with the lesson it ran in. */
  insights: Array<{ slug: string; insight: InsightEvent }>;
}

/**
 * Insights a check provokes on purpose with its own peer, by lesson: the rule and why it is
 * right. Anything else on a correct program is a false alarm. (The conformance runner of lesson
 * 15 sends reserved close codes on purpose too, but the engine knows its User-Agent.)
 */
const EXPECTED: Record<string, Array<{ rule: InsightEvent['rule']; why: string }>> = {
  '10-heartbeats': [{ rule: 'no-pong', why: "the check freezes its second client (SIGSTOP): the server's pings go unanswered, and its heartbeat ends the connection" }],
};

/**
 * `npm run check` over `workspace` (its NN-slug folders filled by the caller), for the given
 * lessons (all when `numbers` is empty); vitest's JSON report.
 */
function runChecks(name: string, workspace: string, numbers: string[]): Promise<JsonReport> {
  const out = join(tmp, `${name}.json`);
  const insightsOut = join(tmp, `${name}.insights.jsonl`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'TEST'));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      // Three lessons at a time: the checks' margins are for a busy machine, not for one this
      // test makes busier than a learner's ever is.
      [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'lessons/vitest.config.ts', ...numbers, '--maxWorkers=3', '--reporter=json', `--outputFile=${out}`],
      { cwd: ROOT, env: { ...env, WSPLAY_WORKSPACE: workspace, WSPLAY_INSIGHTS_OUT: insightsOut, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    child.on('exit', () => {
      if (!existsSync(out)) return reject(new Error(`npm run check (${name}) wrote no report:\n${stderr.slice(-2000)}`));
      const report = JSON.parse(readFileSync(out, 'utf8')) as Omit<JsonReport, 'insights'>;
      const lines = existsSync(insightsOut) ? readFileSync(insightsOut, 'utf8').split('\n').filter(Boolean) : [];
      resolve({ ...report, insights: lines.map((l) => JSON.parse(l) as JsonReport['insights'][number]) });
    });
  });
}

/**
 * The runs, one at a time: each is a whole `npm run check` (three lessons at once), and more
 * would turn the checks' margins into a test of the machine's load.
 */
const pool = { running: 0, queue: [] as Array<() => void> };
async function pooled<T>(fn: () => Promise<T>): Promise<T> {
  if (pool.running >= 1) await new Promise<void>((go) => pool.queue.push(go));
  pool.running++;
  try {
    return await fn();
  } finally {
    pool.running--;
    pool.queue.shift()?.();
  }
}

/** A workspace in which each lesson's folder is `variant` of that lesson (starter/ or solution/). */
function variantRun(variant: 'starter' | 'solution'): Promise<JsonReport> {
  const workspace = join(tmp, variant);
  for (const l of lessons) copyFiles(join(l.dir, variant), join(workspace, l.slug));
  return pooled(() => runChecks(variant, workspace, []));
}

/**
 * A workspace in which each lesson that has an entry for `pick` holds solution/ with that entry's
 * files put over it; the lessons without one are not run.
 */
function corpusRun(name: string, pick: (l: LessonInfo) => string | undefined): Promise<JsonReport> {
  const workspace = join(tmp, name);
  const numbers: string[] = [];
  for (const l of lessons) {
    const entry = pick(l);
    if (!entry) continue;
    const dir = join(workspace, l.slug);
    copyFiles(join(l.dir, 'solution'), dir);
    copyFiles(join(l.dir, 'corpus', entry), dir, true);
    numbers.push(l.number);
  }
  return numbers.length === 0 ? Promise.resolve({ testResults: [], insights: [] }) : pooled(() => runChecks(name, workspace, numbers));
}

const corpora = new Map(lessons.map((l) => [l.slug, readCorpus(l.dir)] as const));
const most = (key: 'wrong' | 'right') => Math.max(0, ...[...corpora.values()].map((c) => c.corpus[key].length));
/** Each right entry must pass this many runs in a row: a check that passes it by luck is flaky. */
const RIGHT_RUNS = 3;

let runs: {
  starter: Promise<JsonReport>;
  solution: Promise<JsonReport>;
  wrong: Promise<JsonReport>[];
  right: Promise<JsonReport>[][];
} | null = null;

// Started first and awaited last: the code blocks run meanwhile (both mostly wait on processes).
beforeAll(() => {
  const solution = variantRun('solution');
  const starter = variantRun('starter');
  const wrong = Array.from({ length: most('wrong') }, (_, i) => corpusRun(`wrong-${i}`, (l) => corpora.get(l.slug)!.corpus.wrong[i]?.name));
  const right = Array.from({ length: most('right') }, (_, i) =>
    Array.from({ length: RIGHT_RUNS }, (_, r) => corpusRun(`right-${i}-run-${r}`, (l) => corpora.get(l.slug)!.corpus.right[i]?.name)),
  );
  runs = { solution, starter, wrong, right };
  // Awaited by the tests that read them; a failure shows there.
  for (const p of [solution, starter, ...wrong, ...right.flat()]) p.catch(() => {});
});

async function resultsIn(report: Promise<JsonReport>, what: string, slug: string) {
  const file = (await report).testResults.find((r) => r.name.includes(`/${slug}/check.test.ts`));
  if (!file) throw new Error(`The ${what} run has no result for ${slug}.`);
  return file;
}

function resultsFor(variant: 'starter' | 'solution', slug: string) {
  return resultsIn(runs![variant], variant, slug);
}

function summary(r: Awaited<ReturnType<typeof resultsIn>>): string {
  const lines = r.assertionResults.map((a) => `${a.status === 'passed' ? '✓' : '✗'} ${a.title}${a.failureMessages.length ? `\n    ${a.failureMessages[0]!.split('\n').slice(0, 4).join('\n    ')}` : ''}`);
  return [r.message, ...lines].filter(Boolean).join('\n');
}

/** Compile without running: a classic script for the browser client, a CommonJS module otherwise. */
function syntaxError(file: string, code: string): string | null {
  try {
    if (file.endsWith('.json')) JSON.parse(code);
    else if (file === 'client.js') new vm.Script(code, { filename: file });
    else vm.compileFunction(code, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
    return null;
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

const blockName = (b: CodeBlock) => `${b.file} (lesson.md line ${b.line})`;

describe.each(lessons)('lesson $slug', (lesson) => {
  const text = readLesson(lesson.dir);
  const blocks = text.steps.flatMap((s) => s.blocks.filter((b) => b.file !== null).map((b) => ({ step: s.n, block: b })));
  const files = new Set([...readdirSync(join(lesson.dir, 'starter')), ...readdirSync(join(lesson.dir, 'solution'))]);

  it('has a title and at least two steps, numbered 1, 2, 3 …', () => {
    expect(text.title).not.toBe('');
    expect(text.steps.length).toBeGreaterThanOrEqual(2);
    expect(text.steps.map((s) => s.n)).toEqual(text.steps.map((_, i) => i + 1));
    for (const s of text.steps) expect(s.body, `step ${s.n} has no text`).not.toBe('');
  });

  it('has at least two hints', () => {
    expect(readHints(lesson.dir).length).toBeGreaterThanOrEqual(2);
  });

  it('has a starter, a solution (each with client.js and server.js) and a check', () => {
    for (const dir of ['starter', 'solution']) {
      for (const f of ['client.js', 'server.js']) expect(existsSync(join(lesson.dir, dir, f)), `${dir}/${f}`).toBe(true);
    }
    expect(existsSync(join(lesson.dir, 'check.test.ts'))).toBe(true);
    expect(readdirSync(join(lesson.dir, 'starter')).sort()).toEqual(readdirSync(join(lesson.dir, 'solution')).sort());
  });

  it.runIf(lesson.meta.courseStarter)("starts from the course's code, verbatim", () => {
    for (const f of ['client.js', 'server.js']) {
      expect(readFileSync(join(lesson.dir, 'starter', f), 'utf8'), f).toBe(readFileSync(join(COURSE_CODE, f), 'utf8'));
    }
  });

  // The learner writes the fix: a block may show the problem, a part, or a skeleton with a gap,
  // never every line the solution adds to the starter (comments and spacing aside).
  it('keeps its answer back: no code block holds every line the solution adds to the starter', () => {
    const norm = (t: string) =>
      t
        .split('\n')
        .map((l) => l.replace(/\/\/.*$/, '').trim().replace(/\s+/g, ' '))
        .filter(Boolean);
    const read = (dir: string, f: string) => (existsSync(join(lesson.dir, dir, f)) ? norm(readFileSync(join(lesson.dir, dir, f), 'utf8')) : []);
    for (const { step, block } of blocks) {
      const start = read('starter', block.file!);
      const answer = read('solution', block.file!).filter((l) => !start.includes(l));
      const shown = norm(block.code);
      if (answer.length === 0) continue;
      const missing = answer.filter((l) => !shown.includes(l));
      expect(missing.length, `step ${step}: ${blockName(block)} holds the whole fix of ${block.file} (${answer.length} lines the solution adds)`).toBeGreaterThan(0);
    }
  });

  it('has code blocks that load files the lesson has, and that parse', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const { block } of blocks) {
      expect(files.has(block.file!), `${blockName(block)}: no ${block.file} in starter/ or solution/`).toBe(true);
      expect(syntaxError(block.file!, block.code), blockName(block)).toBeNull();
    }
    for (const dir of ['starter', 'solution']) {
      for (const f of files) expect(syntaxError(f, readFileSync(join(lesson.dir, dir, f), 'utf8')), `${dir}/${f}`).toBeNull();
    }
  });
});

// Every code button's file, put in a copy of the lesson's solution, runs: the server listens,
// the client connects through the wiretap, and raises no error the block does not announce
// (`throws=InvalidStateError`: lessons that show the error on purpose).
const runnable = lessons.flatMap((lesson) =>
  readLesson(lesson.dir).steps.flatMap((s) =>
    s.blocks.filter((b) => b.file !== null && !b.attrs.norun).map((block) => ({ lesson, step: s.n, block, name: `${lesson.slug} step ${s.n}: ${blockName(block)}` })),
  ),
);

describe('code blocks', () => {
  it.concurrent.each(runnable.map((r) => [r.name, r] as const))('%s runs with the solution behind the wiretap', async (_name, { lesson, block }) => {
    const dir = mkdtempSync(join(tmp, `${lesson.slug}-`));
    copyFiles(join(lesson.dir, 'solution'), dir);
    writeFileSync(join(dir, block.file!), block.code);
    const run = new LessonRun(lesson.dir, { workspaceDir: dir, client: false });
    try {
      await run.start();
      const client = await run.runClient();
      const opened = await run.waitForType('open', undefined, 15_000);
      await run.settle(250, 1500);
      expect(run.server?.state.status, run.trouble()).toBe('running');
      expect(client.ran, `client.js did not run: ${client.output.join('\n')}`).toBe(true);
      expect(opened, `the client made no connection to port 9900\n${run.trouble()}`).toBeDefined();
      // The client's errors are the block's when the block is the client (the solution's own
      // client may throw on purpose, as lesson 3's does).
      if (block.file === 'client.js') {
        const expected = typeof block.attrs.throws === 'string' ? block.attrs.throws : null;
        const unexpected = client.errors.filter((e) => e.name !== expected).map((e) => client.describeError(e));
        expect(unexpected, 'errors the block does not announce (throws=...)').toEqual([]);
        if (expected) expect(client.errors.map((e) => e.name), `the block announces ${expected}`).toContain(expected);
      }
    } finally {
      await run.close();
    }
  }, 60_000);
});

/** The insights of `report` raised in `slug`'s run that its check does not provoke on purpose. */
async function falseAlarms(report: Promise<JsonReport>, slug: string): Promise<string[]> {
  const expected = EXPECTED[slug] ?? [];
  return (await report).insights
    .filter((i) => i.slug === slug && !expected.some((x) => x.rule === i.insight.rule))
    .map(({ insight }) => `#${insight.conn} ${insight.rule}: ${insight.message}`);
}

describe.each(lessons)('the check of $slug', (lesson) => {
  it('passes its check on the solution', async () => {
    const r = await resultsFor('solution', lesson.slug);
    expect(r.status, summary(r)).toBe('passed');
    expect(r.assertionResults.length).toBeGreaterThan(0);
  }, 1_800_000);

  it('raises no insight on the solution, but those its check provokes on purpose', async () => {
    expect(await falseAlarms(runs!.solution, lesson.slug)).toEqual([]);
  }, 1_800_000);

  it(lesson.meta.starterPasses ? 'passes its check on the starter too (lesson.json)' : 'fails its check on the starter (lesson.json: starterPasses false)', async () => {
    const r = await resultsFor('starter', lesson.slug);
    if (lesson.meta.starterPasses) expect(r.status, summary(r)).toBe('passed');
    else {
      expect(r.status, summary(r)).toBe('failed');
      // Failed by its checks, not by a lesson that could not start (its checks then do not run).
      expect(r.assertionResults.filter((a) => a.status === 'failed').length, summary(r)).toBeGreaterThan(0);
    }
  }, 1_800_000);
});

// The corpus: the realistic wrong attempts each fail, and fail first on the check that names
// their mistake (so the learner reads about what they did, and the hint that teaches it); the
// right ones, written differently from solution/, pass every time.
describe.each(lessons)('the corpus of $slug', (lesson) => {
  const { corpus, problems } = corpora.get(lesson.slug)!;
  const hints = readHints(lesson.dir).length;

  it('holds at least three wrong and two right solutions, each with its note', () => {
    expect(problems, 'corpus/corpus.json').toEqual([]);
    expect(corpus.wrong.length, 'wrong solutions').toBeGreaterThanOrEqual(3);
    expect(corpus.right.length, 'right solutions').toBeGreaterThanOrEqual(2);
    for (const w of corpus.wrong) expect(w.hint, `${w.name}: hint ${w.hint} of ${hints}`).toBeLessThanOrEqual(hints);
    for (const e of [...corpus.wrong, ...corpus.right]) {
      const files = entryFiles(lesson.dir, e.name);
      for (const f of files) {
        expect(existsSync(join(lesson.dir, 'solution', f)), `${e.name}/${f}: the lesson has no ${f}`).toBe(true);
        expect(syntaxError(f, readFileSync(join(lesson.dir, 'corpus', e.name, f), 'utf8')), `${e.name}/${f}`).toBeNull();
      }
    }
    // A right entry that is solution/ again proves nothing new.
    for (const r of corpus.right) {
      const same = entryFiles(lesson.dir, r.name).every((f) => readFileSync(join(lesson.dir, 'corpus', r.name, f), 'utf8') === readFileSync(join(lesson.dir, 'solution', f), 'utf8'));
      expect(same, `${r.name} is the same as solution/`).toBe(false);
    }
  });

  it.each(corpus.wrong.map((w, i) => [w.name, w, i] as const))('fails the wrong solution %s first on the check that names its mistake', async (_name, w, i) => {
    const r = await resultsIn(runs!.wrong[i]!, `wrong-${i}`, lesson.slug);
    expect(r.status, `${w.name} (${w.mistake}) passed the check:\n${summary(r)}`).toBe('failed');
    const first = r.assertionResults.find((a) => a.status === 'failed');
    expect(first, `${w.name}: no check failed; the lesson could not start:\n${summary(r)}`).toBeDefined();
    expect(first!.title, `${w.name} (${w.mistake}): the first failing check should be the one about "${w.check}"\n${summary(r)}`).toContain(w.check);
    expect(first!.meta?.hint, `${w.name}: the failing check points at hint ${first!.meta?.hint}, not ${w.hint}`).toBe(w.hint);
  }, 2_400_000);

  it.each(corpus.right.map((e, i) => [e.name, e, i] as const))(`passes the right solution %s ${RIGHT_RUNS} runs in a row`, async (_name, e, i) => {
    for (let run = 0; run < RIGHT_RUNS; run++) {
      const r = await resultsIn(runs!.right[i]![run]!, `right-${i} run ${run + 1}`, lesson.slug);
      expect(r.status, `${e.name} (${e.note}), run ${run + 1} of ${RIGHT_RUNS}:\n${summary(r)}`).toBe('passed');
    }
  }, 2_400_000);

  it.each(corpus.right.map((e, i) => [e.name, e, i] as const))('raises no insight on the right solution %s, but those its check provokes on purpose', async (_name, _e, i) => {
    const alarms = await Promise.all(runs!.right[i]!.map((run) => falseAlarms(run, lesson.slug)));
    expect([...new Set(alarms.flat())]).toEqual([]);
  }, 2_400_000);
});
