import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const dashboard = process.env.WSPLAY_DASHBOARD ?? 'http://127.0.0.1:9901';

/**
 * The dashboard build. `npm start` builds once into ui/dist and serves that; `npm run dev`
 * serves ui/ with hot reload and proxies /api to a running playground (WSPLAY_DASHBOARD,
 * default http://127.0.0.1:9901).
 */
export default defineConfig({
  root,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // Monaco's TypeScript worker alone is ~7 MB: it is loaded only with the Editor tab.
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022', chunkSizeWarningLimit: 8000 },
  worker: {
    // Classic workers: the client runtime (ui/src/runner/client-runtime.ts) runs the learner's
    // client.js with importScripts, which module workers do not have. Monaco's workers build as IIFE too.
    format: 'iife',
    rolldownOptions: {
      output: {
        // DevTools skips the runtime's frames: an error thrown by the browser's send (called
        // through the runtime's wrapper) and console calls point at the learner's client.js line.
        sourcemapIgnoreList: (source: string) => /node_modules|client-runtime/.test(source),
      },
    },
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      // The playground only talks to its own origin: present the proxied requests as such.
      '/api': { target: dashboard, ws: true, changeOrigin: true, headers: { origin: dashboard } },
    },
  },
});
