/**
 * Where a lesson's check finds the learner's files: `<workspace>/NN-slug/`, the workspace being
 * WSPLAY_WORKSPACE or the playground's `workspace/` folder. A lesson folder that does not exist
 * yet is seeded from the lesson's starter/ (the dashboard does the same when a lesson opens), so
 * `npm run check -- 03` on a fresh checkout runs, and says what is left to do.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The workspace root: one folder per lesson inside it. */
export function workspaceRoot(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.WSPLAY_WORKSPACE;
  if (!given) return join(PROJECT_ROOT, 'workspace');
  return isAbsolute(given) ? given : resolve(PROJECT_ROOT, given);
}

/**
 * The course's server uses require(): the folder must be CommonJS whatever the folders above it
 * say (the playground's own package.json says "type": "module").
 */
export function ensureCommonJs(dir: string): void {
  const pkg = join(dir, 'package.json');
  if (!existsSync(pkg)) writeFileSync(pkg, `${JSON.stringify({ private: true, type: 'commonjs' }, null, 2)}\n`);
}

/** Copy every file of `from` into `to` (flat: starters and solutions have no subfolders). */
export function copyFiles(from: string, to: string, overwrite = false): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (!statSync(src).isFile()) continue;
    const dst = join(to, name);
    if (overwrite || !existsSync(dst)) copyFileSync(src, dst);
  }
}

/** The learner's folder for a lesson, seeded from its starter when missing. */
export function lessonWorkspace(lessonDir: string, slug: string, env: NodeJS.ProcessEnv = process.env): { dir: string; seeded: boolean } {
  const dir = join(workspaceRoot(env), slug);
  const seeded = !existsSync(dir);
  if (seeded) copyFiles(join(lessonDir, 'starter'), dir);
  ensureCommonJs(dir);
  return { dir, seeded };
}
