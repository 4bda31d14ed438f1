import type { WireEvent } from './events.ts';

/**
 * The wall-clock time (epoch milliseconds) of t = 0, as the recording itself gives it: `wall - t`
 * of the first open event that has `wall` (README, "Record format"). One wiretap's open events
 * all give the same value. Null when none has it: a recording made before open events carried
 * `wall`, or a part of one (a bounded store) that no longer holds any open event; the exports
 * then fall back to an estimate.
 */
export function recordedStart(events: Iterable<WireEvent>): number | null {
  for (const e of events) {
    if (e.type === 'open' && typeof e.wall === 'number' && Number.isFinite(e.wall)) return e.wall - e.t;
  }
  return null;
}
