import { buildUi, uiNeedsBuild } from '../server/app/ui-build.ts';

/**
 * Once per `vitest run`, before any test file: build the dashboard into ui/dist if it is missing
 * or older than its sources. Test files run in parallel processes, and each used to build a stale
 * UI on its own, several vite builds writing ui/dist at once; now the files find it built (their
 * own ensureUiBuilt() checks stay as a safety net for a file run with another config).
 */
export default async function setup(): Promise<void> {
  if (uiNeedsBuild()) await buildUi(true);
}
