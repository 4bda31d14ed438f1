/**
 * The counters beside the views (status line, Connections list) draw at most four times a
 * second under a stream of draws, a single event after a quiet spell at once, and the last
 * draw of a burst within COUNTS_INTERVAL_MS of it, never later (ui/src/lib/counts-version.ts).
 * The page's clock and timers are vitest's fake ones: the test steps time, it does not wait.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

describe('countsVersion', () => {
  let version: typeof import('../../ui/src/state.ts').version;
  let countsVersion: typeof import('../../ui/src/lib/counts-version.ts').countsVersion;
  let interval: number;
  /** The views' version each counters' draw saw. */
  const seen: number[] = [];

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    ({ version } = await import('../../ui/src/state.ts'));
    const counts = await import('../../ui/src/lib/counts-version.ts');
    countsVersion = counts.countsVersion;
    interval = counts.COUNTS_INTERVAL_MS;
    countsVersion.subscribe(() => seen.push(version.peek()));
  });

  afterAll(() => {
    vi.useRealTimers();
  });

  it('draws a single event after a quiet spell at once', () => {
    vi.advanceTimersByTime(5 * interval);
    const drawn = seen.length;
    version.value++;
    expect(seen.length).toBe(drawn + 1);
    expect(seen.at(-1)).toBe(version.value);
  });

  it('draws 60 draws a second at most once per interval, and the last within the interval after it', () => {
    vi.advanceTimersByTime(5 * interval);
    const drawn = seen.length;
    // Two seconds of a view drawn every animation frame.
    for (let i = 0; i < 120; i++) {
      vi.advanceTimersByTime(1000 / 60);
      version.value++;
    }
    const during = seen.length - drawn;
    expect(during).toBeGreaterThanOrEqual(2000 / interval - 1);
    expect(during).toBeLessThanOrEqual(2000 / interval + 1);
    // The burst is over: its last draw shows within one interval, and nothing is drawn after.
    vi.advanceTimersByTime(interval);
    expect(seen.at(-1)).toBe(version.value);
    const settled = seen.length;
    vi.advanceTimersByTime(10 * interval);
    expect(seen.length).toBe(settled);
  });
});
