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
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: {
    host: '127.0.0.1',
    proxy: {
      // The playground only talks to its own origin: present the proxied requests as such.
      '/api': { target: dashboard, ws: true, changeOrigin: true, headers: { origin: dashboard } },
    },
  },
});
