#!/usr/bin/env node
// The `wsplay` command. Two ways to run the same CLI:
// - server/dist/cli.mjs, the bundle `npm install` builds (server/bin/build-server.js): one file of
//   plain JavaScript, so a start does not load tsx nor resolve hundreds of modules. Used while it
//   is newer than every file under server/, so someone editing the sources never runs stale code.
// - the TypeScript sources through tsx otherwise, and always under a debugger (VS Code's launch
//   configurations, --inspect): tsx's inline source maps are what let a breakpoint set in
//   server/**/*.ts bind at once. WSPLAY_TSX=1 picks tsx too.
import inspector from 'node:inspector';
import { BUNDLE, bundleIsFresh } from './bundle-state.js';

const debugging = inspector.url() !== undefined || process.env.VSCODE_INSPECTOR_OPTIONS !== undefined;
const why = debugging
  ? 'under a debugger, so breakpoints in server/**/*.ts bind'
  : process.env.WSPLAY_TSX === '1'
    ? 'WSPLAY_TSX=1'
    : bundleIsFresh()
      ? null
      : 'server/dist/cli.mjs is missing or older than a file in server/; npm run build:server makes it';
// DEBUG=wsplay:start (or wsplay:*) says which one runs, and why.
if ((process.env.DEBUG ?? '').split(/[\s,]+/).some((n) => n === '*' || n === 'wsplay:*' || n === 'wsplay:start')) {
  process.stderr.write(why === null ? 'wsplay: running server/dist/cli.mjs, the bundle of server/\n' : `wsplay: running the TypeScript sources through tsx (${why})\n`);
}
if (why === null) {
  // Stack traces name the .ts lines (the bundle's source map).
  process.setSourceMapsEnabled(true);
  await import(BUNDLE.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli.ts');
}
