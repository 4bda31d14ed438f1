import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Express, type Request, type Response } from 'express';
import type { LearnerServer } from '../runner/learner-server.ts';
import { Workspace, WorkspacePathError } from '../runner/workspace.ts';
import type { GuardResult } from './security.ts';

const require = createRequire(import.meta.url);

/** Files of a @types package, for Monaco's checking of the learner's server code. */
function declarations(pkg: string): string {
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return '';
  }
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      // ts5.x folders hold variants for older compilers; Monaco's TypeScript is current.
      if (entry.isDirectory() && !/^ts\d/.test(entry.name)) walk(join(d, entry.name));
      else if (entry.isFile() && entry.name.endsWith('.d.ts')) {
        parts.push(`// ${pkg}/${join(d, entry.name).slice(dir.length + 1)}\n${readFileSync(join(d, entry.name), 'utf8').replace(/^\/\/\/ <reference .*$/gm, '')}`);
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return parts.join('\n');
}

const typeCache = new Map<string, string>();
function types(name: string): string | null {
  const pkg = name === 'ws.d.ts' ? '@types/ws' : name === 'node.d.ts' ? '@types/node' : null;
  if (!pkg) return null;
  if (!typeCache.has(pkg)) typeCache.set(pkg, declarations(pkg));
  return typeCache.get(pkg)!;
}

/** The name after a route prefix, still percent-encoded: Workspace.resolve decodes and checks it. */
function rawName(req: Request, prefix: string): string {
  const path = (req.originalUrl.split('?')[0] ?? '').slice(prefix.length);
  return path.startsWith('/') ? path.slice(1) : path;
}

function fail(res: Response, err: unknown): void {
  if (err instanceof WorkspacePathError) {
    res.status(403).json({ error: `403: ${err.message}` });
  } else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    res.status(404).json({ error: '404: no such file in the workspace' });
  } else {
    // Node's messages name the absolute path ("EACCES: permission denied, open '/home/…'"):
    // a page gets the code only.
    const code = (err as NodeJS.ErrnoException).code;
    res.status(500).json({ error: `500: the workspace file could not be used (${typeof code === 'string' ? code : 'unexpected error'}); see the terminal running wsplay.` });
    console.error('wsplay: a workspace request failed:', err);
  }
}

/**
 * The workspace's API (under /api, behind the token guard) and the learner's client file at a
 * stable URL for the Web Worker (/workspace/client.js, behind a single-use grant or the token):
 * - GET /api/files, GET /api/files/NAME, PUT /api/files/NAME (text), POST /api/files/NAME/reset
 * - POST /api/server/restart
 * - GET /api/types/ws.d.ts, /api/types/node.d.ts
 */
export function mountWorkspaceRoutes(
  app: Express,
  /** The learner's files, or a getter of the files in use now (a lesson's, or the free playground's). */
  files: Workspace | (() => Workspace),
  learner: LearnerServer | null,
  /** May this request read workspace file `name` at /workspace/ (a token, or the Worker's grant for client.js)? */
  authorized: (req: Request, res: Response, name: string) => GuardResult,
): void {
  const current = typeof files === 'function' ? files : () => files;
  app.get('/api/files', (_req, res) => {
    try {
      res.json(current().list());
    } catch (err) {
      fail(res, err);
    }
  });

  app.post('/api/files/:name/reset', (req, res) => {
    try {
      const name = rawName(req, '/api/files').replace(/\/reset$/, '');
      const workspace = current();
      workspace.resolve(name);
      res.json(workspace.reset(decodeURIComponent(name)));
    } catch (err) {
      fail(res, err);
    }
  });

  app.use('/api/files/', express.text({ type: () => true, limit: '2mb' }), (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'PUT') return next();
    const name = rawName(req, '/api/files');
    const workspace = current();
    try {
      workspace.resolve(name);
      const decoded = decodeURIComponent(name);
      if (req.method === 'GET') {
        res.type('text/plain; charset=utf-8').send(workspace.read(decoded));
      } else {
        if (typeof req.body !== 'string') {
          res.status(400).json({ error: '400: send the file as text/plain' });
          return;
        }
        res.json(workspace.write(decoded, req.body));
      }
    } catch (err) {
      fail(res, err);
    }
  });

  app.post('/api/server/restart', async (_req, res) => {
    if (!learner) {
      res.status(409).json({ error: '409: this playground relays to a server it does not run (wsplay tap)' });
      return;
    }
    res.json(await learner.restart());
  });

  app.get('/api/types/:name', (req, res) => {
    const text = types(req.params.name);
    if (text === null) res.status(404).json({ error: '404: types are served for ws.d.ts and node.d.ts' });
    else res.type('text/plain; charset=utf-8').send(text);
  });

  // The client file at a stable URL, for `importScripts` in the runner's Worker: DevTools and
  // VS Code breakpoints bind to this URL and its line numbers are the file's own.
  app.use('/workspace/', (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).end();
      return;
    }
    const name = rawName(req, '/workspace');
    const verdict = authorized(req, res, name);
    if (!verdict.ok) {
      res.status(403).type('text/plain').send(`403: ${verdict.reason}. The Worker loads client.js when the dashboard's Run asks for it; open the dashboard with its token first.`);
      return;
    }
    const workspace = current();
    try {
      workspace.resolve(name);
      res.setHeader('Cache-Control', 'no-store');
      res.type('text/javascript; charset=utf-8').send(workspace.read(decodeURIComponent(name)));
    } catch (err) {
      fail(res, err);
    }
  });
}
