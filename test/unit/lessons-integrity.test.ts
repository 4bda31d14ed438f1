/**
 * Every lesson is whole and honest: it has its text in steps, its hints, a starter, a solution
 * and a check; the check passes on the solution and fails on a starter that is meant to be
 * incomplete (lesson.json); and every code block a lesson's text loads into the editor parses,
 * and runs (on the lesson's solution, behind the wiretap) without an error it does not announce.
 *
 * The checks are run as the learner runs them (`npm run check`), in two vitest processes: one
 * over a workspace made of every starter, one over a workspace made of every solution.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFiles } from '../../lessons/harness/workspace.ts';
import { listLessons, readHints, readLesson, type CodeBlock } from '../../lessons/harness/format.ts';
import { LessonRun } from '../../lessons/harness/lesson-run.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COURSE_CODE = join(ROOT, 'server/runner/starters');
const lessons = listLessons();
const tmp = mkdtempSync(join(tmpdir(), 'wsplay-lessons-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface JsonAssertion {
  title: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
  failureMessages: string[];
}
interface JsonReport {
  testResults: Array<{ name: string; status: string; message: string; assertionResults: JsonAssertion[] }>;
}

/** `npm run check` over a workspace holding every lesson's `variant` folder; vitest's JSON report. */
function runChecks(variant: 'starter' | 'solution'): Promise<JsonReport> {
  const workspace = join(tmp, variant);
  for (const l of lessons) copyFiles(join(l.dir, variant), join(workspace, l.slug));
  const out = join(tmp, `${variant}.json`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'TEST'));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'lessons/vitest.config.ts', '--reporter=json', `--outputFile=${out}`],
      { cwd: ROOT, env: { ...env, WSPLAY_WORKSPACE: workspace, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('exit', () => {
      if (!existsSync(out)) return reject(new Error(`npm run check (${variant}) wrote no report:\n${stderr.slice(-2000)}`));
      resolve(JSON.parse(readFileSync(out, 'utf8')) as JsonReport);
    });
  });
}

let runs: Record<'starter' | 'solution', Promise<JsonReport>> | null = null;

// Started first and awaited last: the code blocks run meanwhile (both mostly wait on processes).
beforeAll(() => {
  runs = { solution: runChecks('solution'), starter: runChecks('starter') };
  // Awaited by the tests that read them; a failure shows there.
  runs.solution.catch(() => {});
  runs.starter.catch(() => {});
});

async function resultsFor(variant: 'starter' | 'solution', slug: string) {
  const report = await runs![variant];
  const file = report.testResults.find((r) => r.name.includes(`/${slug}/check.test.ts`));
  if (!file) throw new Error(`The ${variant} run has no result for ${slug}.`);
  return file;
}

function summary(r: Awaited<ReturnType<typeof resultsFor>>): string {
  const lines = r.assertionResults.map((a) => `${a.status === 'passed' ? '✓' : '✗'} ${a.title}${a.failureMessages.length ? `\n    ${a.failureMessages[0]!.split('\n').slice(0, 4).join('\n    ')}` : ''}`);
  return [r.message, ...lines].filter(Boolean).join('\n');
}

/** Compile without running: a classic script for the browser client, a CommonJS module otherwise. */
function syntaxError(file: string, code: string): string | null {
  try {
    if (file === 'client.js') new vm.Script(code, { filename: file });
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
      const opened = await run.waitForType('open', undefined, 3000);
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
  }, 15_000);
});

describe.each(lessons)('the check of $slug', (lesson) => {
  it('passes its check on the solution', async () => {
    const r = await resultsFor('solution', lesson.slug);
    expect(r.status, summary(r)).toBe('passed');
    expect(r.assertionResults.length).toBeGreaterThan(0);
  }, 120_000);

  it(lesson.meta.starterPasses ? 'passes its check on the starter too (lesson.json)' : 'fails its check on the starter (lesson.json: starterPasses false)', async () => {
    const r = await resultsFor('starter', lesson.slug);
    if (lesson.meta.starterPasses) expect(r.status, summary(r)).toBe('passed');
    else {
      expect(r.status, summary(r)).toBe('failed');
      // Failed by its checks, not by a lesson that could not start (its checks then do not run).
      expect(r.assertionResults.filter((a) => a.status === 'failed').length, summary(r)).toBeGreaterThan(0);
    }
  }, 120_000);
});
