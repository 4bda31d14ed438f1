import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type Request, type Response } from 'express';
import { readHints, readLesson, type LessonInfo, type LessonText } from '../../lessons/harness/format.ts';
import { starterFiles } from '../runner/workspace.ts';
import type { ActiveWorkspace } from './active-workspace.ts';
import { runCheck, CHECK_TIMEOUT_MS, type CheckResult } from './lesson-check.ts';
import { goalProblem, predictProblem, type Goal, type Prediction } from '../../lessons/harness/goal.ts';
import { hasTried, MAX_PREDICTIONS, type LessonProgress, type Progress } from './lesson-progress.ts';

/** One lesson in the list (GET /api/lessons). */
export interface LessonSummary {
  /** The folder name, `04-sending-too-early`. */
  id: string;
  number: string;
  /** The title without its `Lesson 04 ·`. */
  title: string;
  steps: number;
  hints: number;
  /** Steps the learner marked done. */
  stepsDone: number[];
  /** The check has passed (when: passedAt). */
  done: boolean;
  passedAt: string | null;
  lastCheck: LessonProgress['check'];
  /** The learner asked for the solution: done with it is "done, solution shown". */
  solutionShown: boolean;
}

export interface LessonList {
  /** The open lesson, or null: the free playground. */
  active: string | null;
  lessons: LessonSummary[];
}

/** One lesson's text (GET /api/lessons/:id): Markdown, rendered by the page as text nodes. */
export interface LessonDoc {
  id: string;
  number: string;
  title: string;
  intro: string;
  steps: Array<{ n: number; title: string; body: string }>;
  /** How many hints there are (their text comes one at a time, from /hints). */
  hints: number;
  /** The starter's files: their names (the editor's tabs) and text (to tell the learner's edits from the lesson's code). */
  starter: Record<string, string>;
  progress: LessonProgress;
  /** The lesson is the one open in the playground. */
  active: boolean;
  /** Where the learner's files for it are (workspace/NN-slug/). */
  dir: string;
  /** The lesson has a solution/ to show (after the learner tried: POST /solution). */
  hasSolution: boolean;
  /** "Predict, then run": the questions of predict.json (empty when it has none). */
  predictions: Prediction[];
  /** The goal diagram of goal.json, or null. */
  goal: Goal | null;
  /** What is wrong with the lesson's predict.json or goal.json (for the lesson's author), if anything. */
  problems: string[];
}

/** POST /api/lessons/:id/solution: the solution's files, by name, and the progress that records it. */
export interface SolutionReply {
  files: Record<string, string>;
  progress: LessonProgress;
}

/** A lesson's JSON file, checked: the value, or null and why. */
function readJson<T>(dir: string, name: string, problem: (raw: unknown) => string | null): { value: T | null; problem: string | null } {
  const file = join(dir, name);
  if (!existsSync(file)) return { value: null, problem: null };
  try {
    const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const why = problem(raw);
    return why ? { value: null, problem: `${name}: ${why}` } : { value: raw as T, problem: null };
  } catch (err) {
    return { value: null, problem: `${name} is not JSON: ${(err as Error).message}` };
  }
}

export function readPredictions(dir: string): { value: Prediction[]; problem: string | null } {
  const r = readJson<{ predictions: Prediction[] }>(dir, 'predict.json', predictProblem);
  return { value: r.value?.predictions ?? [], problem: r.problem };
}

export function readGoal(dir: string): { value: Goal | null; problem: string | null } {
  return readJson<Goal>(dir, 'goal.json', goalProblem);
}

export interface HintsReply {
  total: number;
  /** Hints revealed so far (progress.json keeps it). */
  revealed: number;
  hints: Array<{ n: number; text: string }>;
}

export interface LessonRoutesOptions {
  checkTimeoutMs?: number;
}

const cleanTitle = (t: string) => t.replace(/^Lesson\s+\d+\s*[·:.\-–—]\s*/i, '').trim();

/** lesson.md and hints.md are read on each request: a lesson edited while the playground runs shows at once. */
function textOf(lesson: LessonInfo): LessonText {
  return readLesson(lesson.dir);
}

function summary(lesson: LessonInfo, p: LessonProgress): LessonSummary {
  let title = lesson.slug;
  let steps = 0;
  try {
    const text = textOf(lesson);
    title = cleanTitle(text.title) || lesson.slug;
    steps = text.steps.length;
  } catch {
    // A lesson being written may have no lesson.md yet: it is listed by its folder name.
  }
  return {
    id: lesson.slug,
    number: lesson.number,
    title,
    steps,
    hints: readHints(lesson.dir).length,
    stepsDone: p.steps.filter((n) => n <= steps),
    done: p.passedAt !== null,
    passedAt: p.passedAt,
    lastCheck: p.check,
    solutionShown: p.solutionShownAt !== null,
  };
}

/** `steps` with every step 1..count added (sorted, once each). */
export function stepsWithAll(steps: number[], count: number): number[] {
  return [...new Set([...steps, ...Array.from({ length: count }, (_, i) => i + 1)])].sort((a, b) => a - b);
}

function fail(res: Response, err: unknown): void {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') res.status(404).json({ error: `404: ${e.message}` });
  else res.status(500).json({ error: `500: ${e.message}` });
}

/**
 * The lessons' API (under /api, behind the token guard):
 * - GET /api/lessons: the list with each lesson's progress, and which one is open
 * - GET /api/lessons/:id: the text (intro, steps as Markdown), hint count, starter files, progress
 * - GET /api/lessons/:id/hints?upto=N: hints 1..N (N is recorded as revealed); without upto, those revealed
 * - POST /api/lessons/:id/open: work in the lesson's folder; POST /api/lessons/free: back to the free playground
 * - POST /api/lessons/:id/check: run the lesson's check on the learner's files (one at a time: 409)
 * - POST /api/lessons/:id/solution: the solution's files, once the learner tried (403 before); recorded in progress
 * - GET /api/progress, PUT /api/progress: { lessons: { ID: { steps?: number[], hints?: number,
 *   predictions?: { PREDICTION_ID: CHOICE_ID }, forget?: true } } }
 */
export function mountLessonRoutes(app: Express, active: ActiveWorkspace, opts: LessonRoutesOptions = {}): void {
  const json = express.json({ limit: '64kb' });
  let checking: string | null = null;

  const lessonOr404 = (req: Request, res: Response): LessonInfo | null => {
    const id = String(req.params.id ?? '');
    const lesson = active.find(id);
    if (!lesson) res.status(404).json({ error: `404: there is no lesson "${id}"` });
    return lesson;
  };

  app.get('/api/lessons', (_req, res) => {
    try {
      const list: LessonList = { active: active.lesson, lessons: active.lessons().map((l) => summary(l, active.progress.lesson(l.slug))) };
      res.json(list);
    } catch (err) {
      fail(res, err);
    }
  });

  app.post('/api/lessons/free', async (_req, res) => {
    try {
      res.json(await active.leave());
    } catch (err) {
      fail(res, err);
    }
  });

  app.get('/api/lessons/:id', (req, res) => {
    const lesson = lessonOr404(req, res);
    if (!lesson) return;
    try {
      const text = textOf(lesson);
      const starterDir = join(lesson.dir, 'starter');
      const starter: Record<string, string> = {};
      for (const name of starterFiles(starterDir)) starter[name] = readFileSync(join(starterDir, name), 'utf8');
      const predictions = readPredictions(lesson.dir);
      const goal = readGoal(lesson.dir);
      const doc: LessonDoc = {
        id: lesson.slug,
        number: lesson.number,
        title: cleanTitle(text.title) || lesson.slug,
        intro: text.intro,
        steps: text.steps.map((s) => ({ n: s.n, title: s.title, body: s.body })),
        hints: readHints(lesson.dir).length,
        starter,
        progress: active.progress.lesson(lesson.slug),
        active: active.lesson === lesson.slug,
        dir: join(active.root, lesson.slug),
        hasSolution: existsSync(join(lesson.dir, 'solution')),
        predictions: predictions.value,
        goal: goal.value,
        problems: [predictions.problem, goal.problem].filter((p): p is string => p !== null),
      };
      res.json(doc);
    } catch (err) {
      fail(res, err);
    }
  });

  app.get('/api/lessons/:id/hints', (req, res) => {
    const lesson = lessonOr404(req, res);
    if (!lesson) return;
    const all = readHints(lesson.dir);
    let revealed = active.progress.lesson(lesson.slug).hints;
    if (req.query.upto !== undefined) {
      const upto = Number(req.query.upto);
      if (!Number.isInteger(upto) || upto < 1) {
        res.status(400).json({ error: '400: upto must be a hint number (1, 2, …)' });
        return;
      }
      if (upto > all.length) {
        res.status(404).json({ error: `404: lesson ${lesson.number} has ${all.length} hint${all.length === 1 ? '' : 's'}` });
        return;
      }
      if (upto > revealed) revealed = active.progress.update(lesson.slug, (p) => (p.hints = upto)).hints;
    }
    revealed = Math.min(revealed, all.length);
    const reply: HintsReply = { total: all.length, revealed, hints: all.slice(0, revealed).map((text, i) => ({ n: i + 1, text })) };
    res.json(reply);
  });

  app.post('/api/lessons/:id/open', async (req, res) => {
    const lesson = lessonOr404(req, res);
    if (!lesson) return;
    try {
      res.json(await active.open(lesson));
    } catch (err) {
      fail(res, err);
    }
  });

  app.post('/api/lessons/:id/check', async (req, res) => {
    const lesson = lessonOr404(req, res);
    if (!lesson) return;
    if (checking) {
      res.status(409).json({ error: `409: the check of lesson ${checking} is still running; wait for its result` });
      return;
    }
    checking = lesson.number;
    let result: CheckResult;
    try {
      active.lessonDir(lesson);
      result = await runCheck(lesson, { workspaceRoot: active.root, timeoutMs: opts.checkTimeoutMs ?? CHECK_TIMEOUT_MS });
    } catch (err) {
      fail(res, err);
      return;
    } finally {
      checking = null;
    }
    let stepCount = 0;
    try {
      stepCount = textOf(lesson).steps.length;
    } catch {
      // No lesson.md to count steps in: only the check is recorded.
    }
    active.progress.update(lesson.slug, (p) => {
      p.check = { passed: result.ok, at: result.at, passing: result.passing, total: result.total };
      if (result.ok) {
        p.passedAt = result.at;
        // The check covers every step (the last one is "Check your work"): a lesson whose check
        // passes has every step done, so the list and the pane never say "passed" beside "0 of 4".
        p.steps = stepsWithAll(p.steps, stepCount);
      }
    });
    res.json(result);
  });

  // The solution is a POST: showing it is recorded ("done, solution shown"), and a page must
  // ask for it on purpose (the pane asks the learner first), never by prefetching a link.
  app.post('/api/lessons/:id/solution', (req, res) => {
    const lesson = lessonOr404(req, res);
    if (!lesson) return;
    const hintCount = readHints(lesson.dir).length;
    const before = active.progress.lesson(lesson.slug);
    if (!hasTried(before, hintCount)) {
      res.status(403).json({
        error: `403: the solution of lesson ${lesson.number} opens once you have tried: run Check on your code${hintCount > 0 ? `, or read all ${hintCount} hints` : ''}, then ask again`,
      });
      return;
    }
    const dir = join(lesson.dir, 'solution');
    try {
      const files: Record<string, string> = {};
      for (const name of starterFiles(dir)) files[name] = readFileSync(join(dir, name), 'utf8');
      const progress = active.progress.update(lesson.slug, (p) => {
        p.solutionShownAt ??= new Date().toISOString();
      });
      const reply: SolutionReply = { files, progress };
      res.json(reply);
    } catch (err) {
      fail(res, err);
    }
  });

  app.get('/api/progress', (_req, res) => {
    res.json(active.progress.get());
  });

  app.put('/api/progress', json, (req, res) => {
    const body = req.body as { lessons?: Record<string, { steps?: unknown; hints?: unknown; predictions?: unknown; forget?: unknown }> } | undefined;
    if (!body || typeof body !== 'object' || !body.lessons || typeof body.lessons !== 'object') {
      res.status(400).json({ error: '400: send { "lessons": { "04-sending-too-early": { "steps": [1, 2] } } } as JSON' });
      return;
    }
    // Everything is checked before anything is written.
    const changes: Array<() => void> = [];
    for (const [id, change] of Object.entries(body.lessons)) {
      const lesson = active.find(id);
      if (!lesson || !change || typeof change !== 'object') {
        res.status(400).json({ error: `400: there is no lesson "${id}"` });
        return;
      }
      if (change.forget === true) {
        changes.push(() => active.progress.forget(lesson.slug));
        continue;
      }
      const stepCount = textOf(lesson).steps.length;
      const hintCount = readHints(lesson.dir).length;
      const { steps, hints } = change;
      if (steps !== undefined && (!Array.isArray(steps) || !steps.every((n) => Number.isInteger(n) && n >= 1 && n <= stepCount))) {
        res.status(400).json({ error: `400: steps of lesson ${lesson.number} are numbered 1 to ${stepCount}` });
        return;
      }
      if (hints !== undefined && !(Number.isInteger(hints) && (hints as number) >= 0 && (hints as number) <= hintCount)) {
        res.status(400).json({ error: `400: lesson ${lesson.number} has ${hintCount} hints` });
        return;
      }
      // An answer names a prediction of the lesson's predict.json and one of its choices: nothing else is kept.
      const answers: Record<string, string> = {};
      if (change.predictions !== undefined) {
        const asked = readPredictions(lesson.dir).value;
        const given = change.predictions;
        if (!given || typeof given !== 'object' || Array.isArray(given) || Object.keys(given).length > MAX_PREDICTIONS) {
          res.status(400).json({ error: `400: predictions is { "prediction-id": "choice-id" } for lesson ${lesson.number}` });
          return;
        }
        for (const [pid, choice] of Object.entries(given as Record<string, unknown>)) {
          const p = asked.find((q) => q.id === pid);
          if (!p) {
            res.status(400).json({ error: `400: lesson ${lesson.number} asks no prediction "${pid.slice(0, 40)}"${asked.length ? ` (it asks: ${asked.map((q) => q.id).join(', ')})` : ''}` });
            return;
          }
          if (typeof choice !== 'string' || !p.choices.some((c) => c.id === choice)) {
            res.status(400).json({ error: `400: prediction "${pid}" of lesson ${lesson.number} has the choices ${p.choices.map((c) => c.id).join(', ')}` });
            return;
          }
          answers[pid] = choice;
        }
      }
      changes.push(() =>
        active.progress.update(lesson.slug, (p) => {
          if (steps !== undefined) p.steps = steps as number[];
          if (hints !== undefined) p.hints = hints as number;
          const at = new Date().toISOString();
          for (const [pid, choice] of Object.entries(answers)) p.predictions[pid] = { choice, at };
        }),
      );
    }
    for (const apply of changes) apply();
    const progress: Progress = active.progress.get();
    res.json(progress);
  });
}
