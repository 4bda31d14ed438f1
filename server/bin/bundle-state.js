// Is server/dist/cli.mjs (the bundle server/bin/build-server.js writes) newer than every file
// under server/ and lessons/harness/ (which the server imports)? Plain JavaScript with only node: imports, so the check costs a few milliseconds
// before anything else loads.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLE = new URL('../dist/cli.mjs', import.meta.url);
const SERVER = fileURLToPath(new URL('../', import.meta.url));
const HARNESS = fileURLToPath(new URL('../../lessons/harness/', import.meta.url));

/** The newest modification time of the files under dir, the bundle's own folder left out. */
function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * True when the bundle exists and no file under server/ changed after it was written. (The
 * arguments are for the tests: another bundle, another source folder.)
 */
export function bundleIsFresh(bundle = BUNDLE, server = [SERVER, HARNESS]) {
  let built;
  try {
    built = statSync(bundle).mtimeMs;
  } catch {
    return false;
  }
  return Math.max(...[server].flat().map((dir) => newest(dir))) <= built;
}
