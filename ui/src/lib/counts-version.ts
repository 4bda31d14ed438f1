import { signal } from '@preact/signals';
import { version } from '../state.ts';

/**
 * How often the counters that stand beside the views (the status line's "frames captured", the
 * Connections list's frames, messages and bytes) draw while events keep coming: a number that
 * changes 60 times a second cannot be read, and each of its draws lays out and paints its panel,
 * and widens the area the browser repaints around the rows that did change (issue 19).
 */
export const COUNTS_INTERVAL_MS = 250;

/**
 * Follows `version` at most once per COUNTS_INTERVAL_MS: at once when the counters have not
 * changed for that long (a single event shows at once), else at the end of the interval, so the
 * last events of a burst show at most COUNTS_INTERVAL_MS after they were applied, never later.
 */
export const countsVersion = signal(0);

let last = -Infinity;
let timer: ReturnType<typeof setTimeout> | null = null;

function bump(): void {
  timer = null;
  last = performance.now();
  countsVersion.value++;
}

version.subscribe(() => {
  if (timer !== null) return;
  const wait = last + COUNTS_INTERVAL_MS - performance.now();
  if (wait <= 0) bump();
  else timer = setTimeout(bump, wait);
});
