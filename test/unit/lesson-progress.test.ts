import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanPredictions, hasTried, MAX_PREDICTIONS, ProgressStore, type LessonProgress } from '../../server/app/lesson-progress.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A ProgressStore over a progress.json holding `raw`, as a learner (or anything) left it. */
function storeWith(raw: unknown): ProgressStore {
  const dir = mkdtempSync(join(tmpdir(), 'wsplay-progress-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'progress.json'), typeof raw === 'string' ? raw : JSON.stringify(raw));
  return new ProgressStore(dir);
}

const AT = '2026-01-02T03:04:05.678Z';

describe('progress.json, read back', () => {
  it('keeps well-formed predictions and the time the solution was shown', () => {
    const s = storeWith({ version: 1, current: null, lessons: { '04-x': { steps: [1], hints: 1, solutionShownAt: AT, predictions: { 'timer-send': { choice: 'none', at: AT } } } } });
    const p = s.lesson('04-x');
    expect(p.solutionShownAt).toBe(AT);
    expect(p.predictions).toEqual({ 'timer-send': { choice: 'none', at: AT } });
  });

  it('drops predictions of the wrong shape instead of failing, and bounds how many are kept', () => {
    const many: Record<string, unknown> = {};
    for (let i = 0; i < MAX_PREDICTIONS + 50; i++) many[`p${i}`] = { choice: 'a', at: AT };
    expect(Object.keys(cleanPredictions(many))).toHaveLength(MAX_PREDICTIONS);
    expect(
      cleanPredictions({
        ok: { choice: 'a', at: AT },
        'no choice': { at: AT },
        number: { choice: 3, at: AT },
        'bad time': { choice: 'a', at: 'yesterday' },
        [`${'x'.repeat(41)}`]: { choice: 'a', at: AT },
        'html<b>': { choice: 'a', at: AT },
        long: { choice: 'c'.repeat(41), at: AT },
      }),
    ).toEqual({ ok: { choice: 'a', at: AT } });
    expect(cleanPredictions(['a'])).toEqual({});
    expect(cleanPredictions(null)).toEqual({});
  });

  it('starts a lesson with no solution shown and no predictions when the file has none, or garbage', () => {
    expect(storeWith({ lessons: { '04-x': { solutionShownAt: 12, predictions: 'none' } } }).lesson('04-x')).toMatchObject({ solutionShownAt: null, predictions: {} });
    const broken = storeWith('{ not json');
    expect(broken.lesson('04-x')).toMatchObject({ steps: [], solutionShownAt: null, predictions: {} });
    // The unreadable file is kept for the learner to look at.
    expect(readFileSync(`${broken.file}.unreadable`, 'utf8')).toBe('{ not json');
  });
});

describe('hasTried: when the solution is offered', () => {
  const base: LessonProgress = { steps: [], hints: 0, check: null, passedAt: null, solutionShownAt: null, predictions: {} };
  it('not before a check ran or every hint was read', () => {
    expect(hasTried(base, 3)).toBe(false);
    expect(hasTried({ ...base, hints: 2 }, 3)).toBe(false);
    expect(hasTried({ ...base, steps: [1, 2, 3] }, 3)).toBe(false);
  });
  it('after a check, or with every hint read', () => {
    expect(hasTried({ ...base, check: { passed: false, at: AT, passing: 1, total: 4 } }, 3)).toBe(true);
    expect(hasTried({ ...base, hints: 3 }, 3)).toBe(true);
    // A lesson with no hints offers it only after a check.
    expect(hasTried(base, 0)).toBe(false);
  });
});
