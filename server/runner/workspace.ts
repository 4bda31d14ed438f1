import { EventEmitter } from 'node:events';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileInfo } from '../app/stream-protocol.ts';

/** The starters: the course's code, verbatim. */
export const STARTERS_DIR = fileURLToPath(new URL('./starters/', import.meta.url));
export const DEFAULT_WORKSPACE = fileURLToPath(new URL('../../workspace/', import.meta.url));

/** The learner's files of the free playground, in the order the editor shows them. */
export const WORKSPACE_FILES = ['client.js', 'server.js'] as const;

/**
 * The files a starter folder gives the learner: its .js files, client.js and server.js first
 * (a lesson may add others, e.g. accept.js).
 */
export function starterFiles(dir: string): string[] {
  const names = readdirSync(dir).filter((n) => n.endsWith('.js') && statSync(join(dir, n)).isFile());
  const rank = (n: string) => (n === 'client.js' ? 0 : n === 'server.js' ? 1 : 2);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export type { FileInfo } from '../app/stream-protocol.ts';

export class WorkspacePathError extends Error {
  readonly status = 403;
}

/**
 * The learner's files on disk. Edits are written as they come (the dashboard saves as the
 * learner types), so nothing is lost on a reload, a restart or a crash; edits made in another
 * editor are noticed (`change` events) and reach the dashboard.
 *
 * Every path is resolved inside the workspace folder: `..` (plain or percent-encoded),
 * absolute paths and symlinks that lead out of it are refused with a WorkspacePathError (403).
 */
export class Workspace extends EventEmitter {
  readonly root: string;
  private watcher: FSWatcher | null = null;
  /** Contents we wrote ourselves, so the watcher does not report our own saves as outside edits. */
  private readonly ownWrites = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** The learner's files here, in the order the editor shows them. */
  readonly files: string[];

  constructor(
    root: string = DEFAULT_WORKSPACE,
    /** Where the starters are: the course's code, or a lesson's starter/ folder. */
    readonly starterDir: string = STARTERS_DIR,
  ) {
    super();
    mkdirSync(root, { recursive: true });
    this.root = realpathSync(root);
    this.files = starterFiles(starterDir);
    this.seed();
  }

  /** Create missing files from the starters; never overwrite the learner's. */
  private seed(): void {
    // The course's server uses require(): the folder must be CommonJS whatever the project is.
    const pkg = join(this.root, 'package.json');
    if (!existsSync(pkg)) writeFileSync(pkg, `${JSON.stringify({ private: true, type: 'commonjs' }, null, 2)}\n`);
    for (const name of this.files) {
      const path = join(this.root, name);
      if (!existsSync(path)) writeFileSync(path, readFileSync(join(this.starterDir, name)));
    }
  }

  /**
   * Resolve a name given by a request to a path inside the workspace, or throw. The name may
   * arrive percent-encoded (`%2e%2e%2f`), so it is decoded first and checked after.
   */
  resolve(name: string): string {
    let decoded: string;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      throw new WorkspacePathError(`"${name}" is not a valid file name.`);
    }
    // Still percent-encoded after one decoding (`%252e%252e%252f`): a name encoded twice is an
    // attempt to slip `..` past a check that decodes once; no workspace file has such a name.
    // Messages never name this.root: they reach pages (403 bodies), and the absolute path of the
    // learner's folder is none of a page's business.
    if (/%[0-9a-f]{2}/i.test(decoded)) throw new WorkspacePathError(`"${name}" is encoded twice: only files inside the workspace folder can be read or written.`);
    if (decoded === '' || isAbsolute(decoded) || decoded.includes('\0') || /(^|[\\/])\.\.([\\/]|$)/.test(decoded) || decoded.includes('\\')) {
      throw new WorkspacePathError(`"${decoded}" is outside the workspace: only files inside the workspace folder can be read or written.`);
    }
    const path = resolve(this.root, decoded);
    const rel = relative(this.root, path);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new WorkspacePathError(`"${decoded}" is outside the workspace.`);
    // A symlinked folder on the way (`link/x`, link → /etc) leads out whether or not `x` exists
    // there: judge by the nearest part of the path that exists, so a file outside and a missing
    // one get the same answer (no probing of what exists outside the workspace).
    let existing = path;
    while (existing !== this.root && !lstatSync(existing, { throwIfNoEntry: false })) existing = dirname(existing);
    if (existing !== path && existing !== this.root) {
      let real: string;
      try {
        real = realpathSync(existing);
      } catch {
        throw new WorkspacePathError(`"${decoded}" is inside a link to a folder that does not exist.`);
      }
      if (real !== this.root && !real.startsWith(this.root + sep)) throw new WorkspacePathError(`"${decoded}" links outside the workspace.`);
    }
    if (lstatSync(path, { throwIfNoEntry: false })) {
      // A symlink inside the workspace that points out of it is refused too, and so is a dangling
      // one (lstat sees it, exists does not): a write would follow it and create its target.
      let real: string;
      try {
        real = realpathSync(path);
      } catch {
        throw new WorkspacePathError(`"${decoded}" is a link to a file that does not exist.`);
      }
      if (real !== this.root && !real.startsWith(this.root + sep)) {
        throw new WorkspacePathError(`"${decoded}" links outside the workspace.`);
      }
    }
    return path;
  }

  list(): FileInfo[] {
    return this.files.map((name) => this.info(name));
  }

  info(name: string): FileInfo {
    const st = statSync(this.resolve(name));
    return { name, size: st.size, mtime: st.mtimeMs };
  }

  read(name: string): string {
    return readFileSync(this.resolve(name), 'utf8');
  }

  write(name: string, content: string): FileInfo {
    const path = this.resolve(name);
    if (!this.files.includes(name)) {
      throw new WorkspacePathError(`"${name}" is not one of the workspace files (${this.files.join(', ')}).`);
    }
    this.ownWrites.set(name, content);
    writeFileSync(path, content);
    const info = this.info(name);
    this.emit('saved', info);
    return info;
  }

  /** Put the starter back (the dashboard asks the learner first). */
  reset(name: string): FileInfo & { content: string } {
    this.resolve(name);
    if (!this.files.includes(name)) throw new WorkspacePathError(`"${name}" has no starter.`);
    const content = readFileSync(join(this.starterDir, name), 'utf8');
    return { ...this.write(name, content), content };
  }

  /** Start noticing edits made outside the dashboard (another editor, git checkout). */
  watch(): void {
    if (this.watcher) return;
    this.watcher = watch(this.root, (_event, filename) => {
      const name = filename?.toString();
      if (!name || !this.files.includes(name)) return;
      // Editors save in several steps (truncate, write, rename): settle first.
      clearTimeout(this.timers.get(name));
      this.timers.set(
        name,
        setTimeout(() => {
          let content: string;
          try {
            content = this.read(name);
          } catch {
            return;
          }
          if (this.ownWrites.get(name) === content) return;
          this.ownWrites.set(name, content);
          this.emit('change', this.info(name));
        }, 100),
      );
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    for (const t of this.timers.values()) clearTimeout(t);
  }
}
