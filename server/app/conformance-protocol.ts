import type { CaseDef, CaseResult } from '../conformance/types.ts';

/**
 * What GET/POST /api/conformance answer: the dashboard's ladder (server/app/conformance-routes.ts)
 * as the page reads it. Types only, shared by the server and the UI.
 */
export type ConformanceCase = Pick<CaseDef, 'id' | 'group' | 'title' | 'description' | 'expectation' | 'rfc' | 'hint'>;

/** A case's result, and the wiretap's connection that carried it (absent until the wiretap reported it). */
export type ConformanceResult = CaseResult & { conn?: number };

export interface ConformanceState {
  /** Runs started since the playground started (0: none yet); a page's results belong to one. */
  run: number;
  /** The cases asked for ("1-7"). */
  spec: string;
  status: 'idle' | 'running' | 'done' | 'stopped' | 'error';
  /** `save`: started by a save of server.js (re-run on save). */
  trigger: 'button' | 'save';
  rerunOnSave: boolean;
  /** Epoch ms; 0 when not yet. */
  startedAt: number;
  finishedAt: number;
  /** Why the run stopped before its end, in words. */
  error?: string;
  /**
   * server.js crashed (or stopped) during the run: the case under way then (null: after the last
   * one), and the runner's sentence. Every case after it met no server.
   */
  crash?: { caseId: string | null; message: string };
  /** Every case of the run, in order (empty in a poll that names the run: only new results, from `from`). */
  cases: ConformanceCase[];
  /** The index of `results[0]` among the run's results, and how many there are in all. */
  from: number;
  total: number;
  results: ConformanceResult[];
}
