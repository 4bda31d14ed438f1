import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `npm run check`: the lesson checks, run against the learner's workspace. Each lesson folder
 * (lessons/NN-slug/) brings its own `check.test.ts`.
 *
 * - `npm run check -- 03` (or `-- 3`) runs lesson 03 only: a bare number picks lessons by their
 *   folder's prefix (vitest alone would match "1" anywhere in a path: 01, 10, 11, 12).
 * - The learner's files are read from `$WSPLAY_WORKSPACE/NN-slug/` (default: `workspace/NN-slug/`),
 *   seeded from the lesson's starter/ when missing.
 * - The output is lessons/reporter.ts: each check as a sentence, what failed and the hint to read.
 */
const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Lesson numbers given on the command line (`vitest run --config ... 03 4`): bare numbers of one
 * or two digits, not the value of an option (`--maxWorkers 2`).
 */
export function lessonNumbers(argv: readonly string[]): string[] {
  const afterRun = argv.slice(argv.findIndex((a) => a === 'run' || a.endsWith('vitest.mjs')) + 1);
  return afterRun
    .filter((a, i) => /^\d{1,2}$/.test(a) && !(i > 0 && /^--?[a-zA-Z][\w-]*$/.test(afterRun[i - 1]!)))
    .map((a) => a.padStart(2, '0'));
}

const only = lessonNumbers(process.argv);

export default defineConfig({
  test: {
    root,
    include: only.length > 0 ? only.map((n) => `${n}-*/check.test.ts`) : ['*/check.test.ts'],
    passWithNoTests: true,
    // A check runs real processes (the learner's server and client): each takes a few seconds.
    // A check ends when what it waits for is on the wire; this is the net under a very busy machine.
    testTimeout: 60_000,
    // Starting the wiretap, server.js and client.js: seconds when the machine is busy.
    hookTimeout: 60_000,
    // Checks mostly wait (for processes, for the wire), so more lessons run at once than there
    // are cores: twelve lessons take a few seconds, not a minute, on a 2-core machine.
    maxWorkers: 4,
    reporters: [fileURLToPath(new URL('./reporter.ts', import.meta.url))],
  },
});
