import { defineConfig } from 'vitest/config';

/**
 * `npm run check`: the lesson checks, run against the learner's workspace. Each lesson folder
 * (lessons/NN-slug/) brings its own `check.test.ts`; `npm run check -- 03` runs one lesson.
 */
export default defineConfig({
  test: {
    root: new URL('.', import.meta.url).pathname,
    include: ['*/check.test.ts'],
    passWithNoTests: true,
    testTimeout: 30_000,
  },
});
