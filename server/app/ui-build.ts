import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { LineSplitter } from '../runner/console-lines.ts';

const UI_ROOT = fileURLToPath(new URL('../../ui/', import.meta.url));
const SHARED = fileURLToPath(new URL('../', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function newest(dir: string, filter: (name: string) => boolean): number {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(p, filter));
    else if (filter(entry.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** Is ui/dist missing, or older than any source it is built from? */
export function uiNeedsBuild(): boolean {
  const index = join(UI_ROOT, 'dist', 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  const sources = Math.max(
    newest(UI_ROOT, (n) => /\.(tsx?|css|html)$/.test(n)),
    // The UI imports the event types and a few pure protocol tables from server/.
    newest(join(SHARED, 'capture'), (n) => n === 'events.ts'),
    newest(join(SHARED, 'protocol'), (n) => /^(opcodes|close-codes|violations)\.ts$/.test(n)),
  );
  return sources > built;
}

/**
 * Build the dashboard with vite into ui/dist (once; later starts serve the build). With
 * `progress`, says what it is doing while it works: what was read, then what was written, and
 * every 4 s of silence that it is still at it, so a first start on a slow machine never looks hung.
 */
export async function buildUi(quiet = true, progress?: (line: string) => void): Promise<void> {
  const { build } = await import('vite');
  const started = performance.now();
  const seconds = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  let modules = 0;
  // Monaco's workers are bundled while the sources are read: the module count stalls meanwhile
  // (the TypeScript worker alone is 7 MB), so the line says so rather than look stuck.
  let phase = "reading the sources and bundling Monaco's workers";
  let lastSaid = performance.now();
  const say = (line: string) => {
    lastSaid = performance.now();
    progress?.(line);
  };
  const heartbeat = progress
    ? setInterval(() => {
        if (performance.now() - lastSaid >= 4000) say(`  still building: ${phase}, ${modules} modules so far (${seconds()})`);
      }, 1000)
    : null;
  heartbeat?.unref();
  const plugin: Plugin = {
    name: 'wsplay-build-progress',
    moduleParsed() {
      modules++;
    },
    renderStart() {
      phase = 'bundling and writing ui/dist';
      say(`  read ${modules} modules (${seconds()}); bundling…`);
    },
  };
  try {
    await build({ configFile: join(UI_ROOT, 'vite.config.ts'), logLevel: quiet ? 'error' : 'info', plugins: progress ? [plugin] : [] });
    say(`  built ui/dist in ${seconds()}`);
  } finally {
    if (heartbeat) clearInterval(heartbeat);
  }
}

/**
 * The build of `npm start`, in a child process: vite and Monaco's bundling take about 1.3 GB
 * that a Node process never gives back, and the playground runs for hours after (measured: the
 * start process at 1.36 GB resident after building in-process, 99 MB without). Says the child's
 * progress lines through `progress`; rejects with its last error line.
 */
export function buildUiInChild(progress: (line: string) => void): Promise<void> {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'server', 'bin', 'run-ts.js'), join(PROJECT_ROOT, 'server', 'app', 'ui-build.ts'), '--quiet-start'], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Lines as the console uses them (bounded: a line without end keeps its head and tail only).
  const lines = (stream: NodeJS.ReadableStream, each: (line: string) => void) => {
    const splitter = new LineSplitter((line) => {
      if (line.text.trim()) each(line.text);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => splitter.push(chunk));
    stream.on('end', () => splitter.end());
  };
  let lastError = '';
  lines(child.stdout!, progress);
  lines(child.stderr!, (line) => (lastError = line.slice(0, 500)));
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(lastError || `the build process ended with ${signal ?? `exit code ${code}`}`));
    });
  });
}

/** `npm run build:ui`, and `npm install` (the prepare script): build now, so the first start need not. */
export async function buildUiCommand(args: string[]): Promise<number> {
  const atInstall = args.includes('--if-needed');
  // For npm start (buildUiInChild): it has said what it does; a failure fails, said on stderr.
  if (args.includes('--quiet-start')) {
    try {
      await buildUi(true, (line) => console.log(line));
      return 0;
    } catch (err) {
      console.error((err as Error).message.split('\n')[0]);
      return 1;
    }
  }
  if (atInstall && !uiNeedsBuild()) {
    console.log('The dashboard is built (ui/dist is newer than its sources).');
    return 0;
  }
  console.log('Building the dashboard into ui/dist…');
  try {
    await buildUi(true, (line) => console.log(line));
    return 0;
  } catch (err) {
    console.error(`The dashboard could not be built: ${(err as Error).message}`);
    // At install a failed build must not fail `npm install`: npm start builds again and says why.
    if (atInstall) {
      console.error('npm start will try again (and say why it fails, if it does).');
      return 0;
    }
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  process.exitCode = await buildUiCommand(process.argv.slice(2));
}
