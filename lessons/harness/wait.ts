/**
 * Waiting in a check. A wait never fails by itself: it returns undefined when what it waited
 * for did not come, and the check then says, in words, what was missing (`must(...)`).
 */

/** Resolve with the first value `check` returns other than undefined, or undefined after `timeoutMs`. */
export function until<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = () => {
      const v = check();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started >= timeoutMs) return resolve(undefined);
      setTimeout(tick, 10);
    };
    tick();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolve once `count()` has not changed for `quietMs` (nothing new on the wire, say), or after
 * `maxMs` in any case. Returns true if it went quiet.
 */
export async function quiet(count: () => number, quietMs: number, maxMs: number): Promise<boolean> {
  const started = Date.now();
  let last = count();
  let since = Date.now();
  while (Date.now() - started < maxMs) {
    await sleep(Math.min(20, quietMs));
    const n = count();
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return true;
    }
  }
  return false;
}
