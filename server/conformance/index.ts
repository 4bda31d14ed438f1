/**
 * The conformance ladder's entry points for Node callers (the CLI, the dashboard's server
 * side). The browser imports `types.ts` and `cases.ts` directly: they load without Node.
 */
export { CASES, caseById } from './cases.ts';
export { selectCases, SelectionError } from './select.ts';
export { runServerCases, serveClientCases, TargetUrlError, type ClientCasesOptions, type ClientCasesServer, type RunnerTuning } from './runner.ts';
export { caseLine, summaryTable } from './report.ts';
export type * from './types.ts';
