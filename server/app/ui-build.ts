import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const UI_ROOT = fileURLToPath(new URL('../../ui/', import.meta.url));
const SHARED = fileURLToPath(new URL('../', import.meta.url));

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

/** Build the dashboard with vite into ui/dist (once; later starts serve the build). */
export async function buildUi(quiet = true): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: join(UI_ROOT, 'vite.config.ts'), logLevel: quiet ? 'error' : 'info' });
}
