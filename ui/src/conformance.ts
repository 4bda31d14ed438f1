import { signal } from '@preact/signals';
import type { ConformanceResult, ConformanceState } from '../../server/app/conformance-protocol.ts';
import type { FrameKey } from './state.ts';
import { tokenFromUrl } from './state.ts';

/**
 * The Conformance view's state: the ladder's run as GET /api/conformance reports it, polled
 * while the view is open (often while a run goes, seldom otherwise: a save of server.js starts
 * a run on the server's side). Each poll asks only for the results the page does not have yet.
 */

export const ladder = signal<ConformanceState | null>(null);
/** Why the last request failed, in words (empty: it did not). */
export const ladderError = signal('');
/** The case whose details are open (the first failing one opens by itself once per run). */
export const openCase = signal<string | null>(null);
/** The run whose first failing case was already opened for the learner (they may have closed it since). */
export const autoOpened = signal(0);

/**
 * The bytes of a frame a case is about: Frame anatomy marks them (besides what the wiretap's own
 * rules mark) and says which case they belong to.
 */
export const markedBytes = signal<{ key: FrameKey; at: number | null; caseId: string; own: boolean } | null>(null);

async function call(method: string, path: string, json?: unknown): Promise<ConformanceState> {
  const headers: Record<string, string> = { 'X-Wsplay-Token': tokenFromUrl() };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), cache: 'no-store' });
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) throw new Error((body as { error?: string } | null)?.error ?? `${method} ${path}: ${res.status} ${res.statusText}`);
  return body as ConformanceState;
}

/** Fold a poll's answer into what the page holds. */
function merge(next: ConformanceState): void {
  const now = ladder.peek();
  if (now && next.run === now.run && next.cases.length === 0 && now.cases.length > 0) {
    // A poll of the same run: the results from `from` on (new ones, and any whose connection
    // became known since), after those the page holds.
    const results: ConformanceResult[] = now.results.slice(0, next.from).concat(next.results);
    ladder.value = { ...next, cases: now.cases, results };
  } else {
    ladder.value = next;
  }
}

export async function refreshLadder(): Promise<void> {
  const now = ladder.peek();
  const query = now && now.run > 0 && now.cases.length > 0 ? `?run=${now.run}&since=${now.results.length}` : '';
  try {
    merge(await call('GET', `/api/conformance${query}`));
    ladderError.value = '';
  } catch (err) {
    ladderError.value = (err as Error).message;
  }
}

export async function startLadder(cases: string, rerunOnSave: boolean): Promise<void> {
  try {
    markedBytes.value = null;
    openCase.value = null;
    ladder.value = await call('POST', '/api/conformance', { cases, rerunOnSave });
    ladderError.value = '';
  } catch (err) {
    ladderError.value = (err as Error).message;
  }
}

export async function stopLadder(): Promise<void> {
  try {
    merge(await call('POST', '/api/conformance/stop'));
  } catch (err) {
    ladderError.value = (err as Error).message;
  }
}

export async function setRerunOnSave(on: boolean): Promise<void> {
  try {
    merge(await call('PUT', '/api/conformance', { rerunOnSave: on }));
  } catch (err) {
    ladderError.value = (err as Error).message;
  }
}

/** Poll while a view shows the ladder: every 400 ms during a run, every 2 s otherwise. Returns the stop. */
export function pollLadder(): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    await refreshLadder();
    if (stopped) return;
    timer = setTimeout(tick, ladder.peek()?.status === 'running' ? 400 : 2000);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
