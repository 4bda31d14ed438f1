import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The learner's progress through the lessons, saved in the workspace as progress.json (next to
 * the lesson folders), so it survives a reload, a restart, and a new checkout of the playground
 * pointed at the same workspace:
 *
 *   { "version": 1, "current": "04-sending-too-early",
 *     "lessons": { "04-sending-too-early": { "steps": [1, 2], "hints": 1,
 *       "check": { "passed": false, "at": "2025-…", "passing": 1, "total": 4 }, "passedAt": null,
 *       "solutionShownAt": null, "predictions": { "timer-send": { "choice": "none", "at": "2025-…" } } } } }
 */

export interface LastCheck {
  /** Every check passed. */
  passed: boolean;
  /** When it ran (ISO 8601). */
  at: string;
  passing: number;
  total: number;
}

export interface LessonProgress {
  /** Steps the learner marked done (1-based, sorted). */
  steps: number[];
  /** Hints revealed so far (hints 1..N). */
  hints: number;
  /** The last Check. */
  check: LastCheck | null;
  /** When the check last passed: the lesson is done (ISO 8601), or null. */
  passedAt: string | null;
  /**
   * When the learner first asked for the solution (ISO 8601), or null: a lesson passed after
   * that is "done, solution shown", not "done".
   */
  solutionShownAt: string | null;
  /** The learner's answers to the lesson's predictions (predict.json), by prediction id. */
  predictions: Record<string, PredictionAnswer>;
}

export interface PredictionAnswer {
  /** The id of the choice picked. */
  choice: string;
  /** When (ISO 8601). */
  at: string;
}

/** Bounds on what progress.json may hold for predictions: it is read back from disk, and written by pages. */
export const MAX_PREDICTIONS = 32;
export const MAX_PREDICTION_ID = 40;

export interface Progress {
  version: 1;
  /** The lesson open in the dashboard (its folder name), or null: the free playground. */
  current: string | null;
  lessons: Record<string, LessonProgress>;
}

export const PROGRESS_FILE = 'progress.json';

const empty = (): LessonProgress => ({ steps: [], hints: 0, check: null, passedAt: null, solutionShownAt: null, predictions: {} });

const ISO = /^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/;
const isId = (s: unknown): s is string => typeof s === 'string' && s.length > 0 && s.length <= MAX_PREDICTION_ID && /^[\w.-]+$/.test(s);

/** The predictions as read from disk: ids and choices of a sane shape, at most MAX_PREDICTIONS. */
export function cleanPredictions(raw: unknown): Record<string, PredictionAnswer> {
  const out: Record<string, PredictionAnswer> = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [id, a] of Object.entries(raw as Record<string, unknown>).slice(0, MAX_PREDICTIONS)) {
    const ans = a as Record<string, unknown> | null;
    if (!isId(id) || !ans || typeof ans !== 'object' || !isId(ans.choice) || typeof ans.at !== 'string' || !ISO.test(ans.at)) continue;
    out[id] = { choice: ans.choice, at: ans.at };
  }
  return out;
}

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);

/** A lesson's entry as read from disk, with anything malformed dropped. */
function cleanLesson(raw: unknown): LessonProgress {
  const p = empty();
  if (!raw || typeof raw !== 'object') return p;
  const r = raw as Record<string, unknown>;
  if (Array.isArray(r.steps)) p.steps = [...new Set(r.steps.filter((n): n is number => isInt(n) && n >= 1))].sort((a, b) => a - b);
  if (isInt(r.hints) && r.hints >= 0) p.hints = r.hints;
  const c = r.check as Record<string, unknown> | null | undefined;
  if (c && typeof c === 'object' && typeof c.passed === 'boolean' && typeof c.at === 'string') {
    p.check = { passed: c.passed, at: c.at, passing: isInt(c.passing) ? c.passing : 0, total: isInt(c.total) ? c.total : 0 };
  }
  if (typeof r.passedAt === 'string') p.passedAt = r.passedAt;
  if (typeof r.solutionShownAt === 'string' && ISO.test(r.solutionShownAt)) p.solutionShownAt = r.solutionShownAt;
  p.predictions = cleanPredictions(r.predictions);
  return p;
}

export class ProgressStore {
  readonly file: string;
  private data: Progress;

  constructor(workspaceRoot: string) {
    this.file = join(workspaceRoot, PROGRESS_FILE);
    this.data = this.read();
  }

  private read(): Progress {
    const data: Progress = { version: 1, current: null, lessons: {} };
    if (!existsSync(this.file)) return data;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      // Keep the unreadable file for the learner to look at; start afresh.
      try {
        copyFileSync(this.file, `${this.file}.unreadable`);
      } catch {
        // Nothing more to do.
      }
      return data;
    }
    if (!raw || typeof raw !== 'object') return data;
    const r = raw as Record<string, unknown>;
    if (typeof r.current === 'string') data.current = r.current;
    if (r.lessons && typeof r.lessons === 'object') {
      for (const [slug, entry] of Object.entries(r.lessons as Record<string, unknown>)) data.lessons[slug] = cleanLesson(entry);
    }
    return data;
  }

  /** A copy of everything. */
  get(): Progress {
    return structuredClone(this.data);
  }

  /** A copy of one lesson's progress (empty when there is none yet). */
  lesson(slug: string): LessonProgress {
    return structuredClone(this.data.lessons[slug] ?? empty());
  }

  /** Change one lesson's progress and save. */
  update(slug: string, change: (p: LessonProgress) => void): LessonProgress {
    const p = this.data.lessons[slug] ?? empty();
    change(p);
    p.steps = [...new Set(p.steps)].sort((a, b) => a - b);
    this.data.lessons[slug] = p;
    this.save();
    return structuredClone(p);
  }

  setCurrent(slug: string | null): void {
    if (this.data.current === slug) return;
    this.data.current = slug;
    this.save();
  }

  /** Forget a lesson's progress (steps, hints, checks). */
  forget(slug: string): void {
    delete this.data.lessons[slug];
    this.save();
  }

  /** Written to a temporary file first, then renamed: a crash never leaves half a file. */
  private save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.data, null, 2)}\n`);
    renameSync(tmp, this.file);
  }
}

/**
 * The learner has tried the lesson: a check ran on their code, or they read every hint. Only
 * then is "Show the solution" offered, and only then does the playground serve it.
 */
export function hasTried(p: LessonProgress, hintCount: number): boolean {
  return p.check !== null || (hintCount > 0 && p.hints >= hintCount);
}
