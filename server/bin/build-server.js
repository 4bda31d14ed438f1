#!/usr/bin/env node
// Bundles the playground's server (server/cli.ts and everything it imports, express and ws
// included) into one plain JavaScript file, server/dist/cli.mjs, with a source map. `npm install`
// runs it (the `prepare` script); server/bin/wsplay.js runs the bundle while it is newer than
// every file under server/, and the TypeScript sources through tsx otherwise. Why: loading tsx
// and resolving a few hundred small modules made a warm `npm start` take seconds; one file of
// plain JavaScript loads in a fraction of that.
//
// What is not bundled, because it runs by path in another process or is loaded on demand:
// the learner's runner preload (server/runner/listen-preload.cjs), the lesson checks' reporter
// (server/app/check-reporter.ts, run by vitest through tsx), vite (only to build the dashboard),
// and the optional native helpers of ws and debug.
//
// `node server/bin/build-server.js` builds; `--if-needed` builds only when the bundle is missing
// or older than a source. A failed build never fails `npm install`: wsplay falls back to tsx.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE, bundleIsFresh } from './bundle-state.js';


/**
 * Each source keeps its own `import.meta.url`: the bundle lives in server/dist/, so a path such
 * as new URL('./starters/', import.meta.url) in server/runner/workspace.ts must still resolve
 * from server/runner/. The replacement is relative to the bundle, so a moved checkout still works.
 */
const ownUrl = (out) => ({
  name: 'own-import-meta-url',
  setup(build) {
    // The server's sources and the lesson harness they import (lessons/harness: the lesson list,
    // the workspace, the goals), never a package's files.
    build.onLoad({ filter: /[\\/](server|lessons)[\\/].*\.ts$/ }, async (args) => {
      if (/[\\/]node_modules[\\/]/.test(args.path)) return undefined;
      const source = await readFile(args.path, 'utf8');
      const rel = relative(dirname(out), args.path).split(sep).join('/');
      const url = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
});

/** Writes the bundle (and its .map) to `out`: server/dist/cli.mjs unless a test says elsewhere. */
export async function buildServer(out = fileURLToPath(BUNDLE)) {
  const { build } = await import('esbuild');
  const result = await build({
    write: false,
    entryPoints: [fileURLToPath(new URL('../cli.ts', import.meta.url))],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'error',
    // express, debug and their dependencies are CommonJS: their require() calls need one.
    banner: { js: "import { createRequire as __wsplayRequire } from 'node:module'; const require = __wsplayRequire(import.meta.url);" },
    external: ['vite', 'vitest', 'vitest/*', 'tsx', 'tsx/*', 'bufferutil', 'utf-8-validate', 'supports-color'],
    plugins: [ownUrl(out)],
  });
  // Each file is written beside its place and renamed into it: a wsplay starting meanwhile runs
  // the old bundle or the new one, never half of one. The map goes first, so the new bundle
  // finds its own map.
  await mkdir(dirname(out), { recursive: true });
  const files = [...result.outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')));
  for (const f of files) {
    const temp = `${f.path}.${process.pid}.tmp`;
    await writeFile(temp, f.contents);
    await rename(temp, f.path);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--if-needed') && bundleIsFresh()) process.exit(0);
  try {
    await buildServer();
    console.log('Bundled the server into server/dist/cli.mjs (wsplay runs it while it is newer than every file in server/).');
  } catch (err) {
    // Not fatal: wsplay runs the TypeScript sources through tsx when the bundle is missing.
    console.error(`Could not bundle the server (${err instanceof Error ? err.message.split('\n')[0] : err}); wsplay will run it through tsx, which starts slower. Try again: node server/bin/build-server.js`);
  }
}
