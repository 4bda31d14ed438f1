/**
 * .vscode/launch.json and tasks.json as VS Code reads them (JSON with comments and trailing
 * commas, ${workspaceFolder} and ${input:...} substituted), and the programs they name started
 * the way VS Code would start them, as child processes a test can read and stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './net.ts';

/** What VS Code substitutes for ${workspaceFolder}: the project's folder, no trailing slash. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/**
 * JSON with comments, as VS Code's settings files: `//` and `/* *\/` comments and trailing
 * commas are dropped, except inside strings (`"http://127.0.0.1:9901/"` keeps its `//`).
 */
export function parseJsonc(text: string): unknown {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SyntaxError('unterminated /* comment');
      // Keep line breaks, so JSON.parse's positions still point at the right line.
      out += text.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else if (c === ',') {
      let j = i + 1;
      // A comma followed (past spaces and comments) by } or ] is a trailing comma.
      for (;;) {
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text.startsWith('//', j)) {
          while (j < text.length && text[j] !== '\n') j++;
        } else if (text.startsWith('/*', j)) {
          const end = text.indexOf('*/', j + 2);
          j = end < 0 ? text.length : end + 2;
        } else break;
      }
      if (text[j] !== '}' && text[j] !== ']') out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}

export interface LaunchConfiguration {
  name: string;
  type: string;
  request: 'launch' | 'attach';
  program?: string;
  args?: string[];
  runtimeArgs?: string[];
  runtimeExecutable?: string;
  cwd?: string;
  env?: Record<string, string>;
  port?: number;
  address?: string;
  url?: string;
  webRoot?: string;
  pathMapping?: Record<string, string>;
  preLaunchTask?: string;
  autoAttachChildProcesses?: boolean;
  restart?: boolean;
  presentation?: { hidden?: boolean };
  [key: string]: unknown;
}

export interface LaunchJson {
  version: string;
  configurations: LaunchConfiguration[];
  compounds?: { name: string; configurations: string[]; stopAll?: boolean }[];
  inputs?: { id: string; type: string; description?: string; default?: string }[];
}

export interface Task {
  label: string;
  type: 'shell' | 'process' | 'npm';
  command?: string;
  args?: string[];
  script?: string;
  options?: { cwd?: string; env?: Record<string, string> };
  isBackground?: boolean;
  problemMatcher?: string | unknown[] | { background?: { activeBegins?: boolean; beginsPattern?: string; endsPattern?: string }; pattern?: unknown };
  [key: string]: unknown;
}

export interface TasksJson {
  version: string;
  tasks: Task[];
}

export function readJsonc<T>(relativePath: string): T {
  return parseJsonc(readFileSync(join(PROJECT_ROOT, relativePath), 'utf8')) as T;
}

/**
 * Substitute VS Code's variables the way it would for this project: ${workspaceFolder}, and
 * ${input:ID} with the input's default (what VS Code offers when it prompts). Any other
 * variable is an error: the test would not know what VS Code puts there.
 */
export function substitute<T>(value: T, inputs: LaunchJson['inputs'] = [], answers: Record<string, string> = {}): T {
  if (typeof value === 'string') {
    return value.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
      if (name === 'workspaceFolder') return PROJECT_ROOT;
      const input = /^input:(.+)$/.exec(name)?.[1];
      if (input !== undefined) {
        if (input in answers) return answers[input]!;
        const found = inputs.find((i) => i.id === input);
        if (!found) throw new Error(`${whole} names no input in launch.json's "inputs"`);
        if (found.default === undefined) throw new Error(`${whole} has no default`);
        return found.default;
      }
      throw new Error(`${whole}: a variable these tests do not know how to substitute`);
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, inputs, answers)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, inputs, answers)])) as T;
  }
  return value;
}

/** One configuration by name, variables substituted. */
export function configuration(launch: LaunchJson, name: string, answers: Record<string, string> = {}): LaunchConfiguration {
  const found = launch.configurations.find((c) => c.name === name);
  if (!found) throw new Error(`launch.json has no configuration "${name}"; it has: ${launch.configurations.map((c) => c.name).join(', ')}`);
  return substitute(found, launch.inputs, answers);
}

/**
 * js-debug's mapping of a browser script URL to a file for a Chromium launch configuration:
 * the longest pathMapping prefix of the URL's path (or the whole URL) wins; otherwise the path
 * is taken under webRoot.
 */
export function mapBrowserUrl(config: LaunchConfiguration, url: string): string | null {
  const u = new URL(url);
  const candidates = Object.entries(config.pathMapping ?? {})
    .map(([prefix, dir]) => ({ prefix, dir, rest: url.startsWith(prefix) ? url.slice(prefix.length) : u.pathname.startsWith(prefix) ? u.pathname.slice(prefix.length) : null }))
    .filter((c): c is { prefix: string; dir: string; rest: string } => c.rest !== null)
    .sort((a, b) => b.prefix.length - a.prefix.length);
  if (candidates[0]) return join(candidates[0].dir, decodeURIComponent(candidates[0].rest));
  return config.webRoot ? join(config.webRoot, decodeURIComponent(u.pathname)) : null;
}

/** A program started for a test: its output, line by line, and a stop that ends its whole tree. */
export interface Program {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The first line of `stream` that matches, from the start of the output; fails after `timeoutMs`. */
  line(re: RegExp, opts?: { stream?: 'stdout' | 'stderr'; nth?: number; timeoutMs?: number }): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export function startProgram(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Program {
  // Its own process group, so stop() also ends what it started (npm → sh → node).
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    line: (re, { stream = 'stdout', nth = 1, timeoutMs = 15_000 } = {}) =>
      until(
        () => {
          const matches = (stream === 'stdout' ? out : err)
            .split('\n')
            .map((l) => l.match(re))
            .filter((m): m is RegExpMatchArray => m !== null);
          return matches[nth - 1];
        },
        timeoutMs,
        () => `line #${nth} of ${stream} matching ${re}; stdout: ${JSON.stringify(out.slice(-2000))} stderr: ${JSON.stringify(err.slice(-2000))}`,
      ),
    exited,
    stop: async () => {
      if (alive()) {
        kill('SIGTERM');
        const timer = setTimeout(() => kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      // Whatever is left in the group (npm's shell, a grandchild), once the leader is gone.
      kill('SIGKILL');
    },
  };
}
