/**
 * `npm run screenshot`: refresh the README's picture, docs/dashboard.png. The dashboard's
 * end-to-end test takes it (test-artifacts/screenshots/readme.png, like its other screenshots, so
 * `npm test` changes no tracked file); this runs that test and copies the picture into docs/.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHOT = path.join(ROOT, 'test-artifacts', 'screenshots', 'readme.png');
const README_PICTURE = path.join(ROOT, 'docs', 'dashboard.png');

rmSync(SHOT, { force: true });
const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
// CI=true: without Chromium the test fails instead of being skipped, and nothing is copied.
const run = spawnSync(process.execPath, [vitest, 'run', 'test/e2e/dashboard.test.ts'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, CI: 'true' } });
if (run.status !== 0 || !existsSync(SHOT)) {
  console.error(`The dashboard's end-to-end test did not pass${existsSync(SHOT) ? '' : ' or took no picture'}: docs/dashboard.png is unchanged.`);
  process.exit(1);
}
copyFileSync(SHOT, README_PICTURE);
console.log(`docs/dashboard.png is the new picture (from ${path.relative(ROOT, SHOT)}).`);
