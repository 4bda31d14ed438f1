import type { ClientRequest, IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin, type ProxyOptions } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const dashboard = (process.env.WSPLAY_DASHBOARD ?? 'http://127.0.0.1:9901').replace(/\/$/, '');

/**
 * The dashboard build. `npm start` builds once into ui/dist and serves that; `npm run dev`
 * serves ui/ with hot reload and proxies /api and /workspace to a running playground
 * (WSPLAY_DASHBOARD, default http://127.0.0.1:9901). The Worker's load of /workspace/client.js
 * carries the single-use grant cookie the playground sets on /api/client-grant, through the proxy.
 */

/**
 * The playground answers only its own origin. A request the dev page makes (its Origin is the
 * dev server's own) is presented as coming from the dashboard; any other Origin is passed on as
 * it came, so the playground's guard refuses a foreign page exactly as it would without the proxy.
 */
function ownOriginAsDashboard(proxyReq: ClientRequest, req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin !== undefined && req.headers.host !== undefined && origin.toLowerCase() === `http://${req.headers.host.toLowerCase()}`) {
    proxyReq.setHeader('origin', dashboard);
  }
}

const toPlayground: ProxyOptions = {
  target: dashboard,
  ws: true,
  changeOrigin: true,
  configure: (proxy) => {
    proxy.on('proxyReq', ownOriginAsDashboard);
    proxy.on('proxyReqWs', ownOriginAsDashboard);
  },
};

/**
 * Source maps for the dashboard's own code and the client runtime (whose map tells DevTools to
 * skip its frames, so errors and console lines point at client.js), none for the chunks that are
 * Monaco's code: 15 MB of maps nobody reads, and vite re-traced them in JavaScript on every
 * build, the larger half of the first start's wait. A chunk with more than 90% of its code from
 * node_modules loses its map before vite's import analysis would trace it.
 */
function noMapsForLibraryChunks(): Plugin {
  return {
    name: 'wsplay-no-maps-for-library-chunks',
    generateBundle: {
      order: 'pre',
      handler(_options, bundle) {
        for (const chunk of Object.values(bundle)) {
          // (Not `chunk.map` here: reading it makes rolldown convert the whole map for JavaScript.)
          if (chunk.type !== 'chunk') continue;
          let library = 0;
          let total = 0;
          for (const [id, m] of Object.entries(chunk.modules)) {
            total += m.renderedLength;
            if (/[\\/]node_modules[\\/]/.test(id)) library += m.renderedLength;
          }
          if (total === 0 || library / total <= 0.9) continue;
          chunk.map = null;
          delete bundle[`${chunk.fileName}.map`];
          // Its sourceMappingURL comment would send DevTools looking for the deleted file.
          chunk.code = chunk.code.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
        }
      },
    },
  };
}

export default defineConfig({
  root,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // Monaco's TypeScript worker alone is ~7 MB: it is loaded only with the Editor tab.
  // No gzip sizes: computing them for a report nobody reads cost a second of the first start.
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022', chunkSizeWarningLimit: 8000, reportCompressedSize: false },
  worker: {
    // Classic workers: the client runtime (ui/src/runner/client-runtime.ts) runs the learner's
    // client.js with importScripts, which module workers do not have. Monaco's workers build as IIFE too.
    format: 'iife',
    // Monaco's workers (the TypeScript one is 7 MB) without maps too; the client runtime keeps its.
    plugins: () => [noMapsForLibraryChunks()],
    rolldownOptions: {
      output: {
        // DevTools skips the runtime's frames: an error thrown by the browser's send (called
        // through the runtime's wrapper) and console calls point at the learner's client.js line.
        sourcemapIgnoreList: (source: string) => /node_modules|client-runtime/.test(source),
      },
    },
  },
  plugins: [noMapsForLibraryChunks()],
  server: {
    host: '127.0.0.1',
    proxy: { '/api': toPlayground, '/workspace': toPlayground },
  },
});
